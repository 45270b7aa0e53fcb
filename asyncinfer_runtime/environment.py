"""Names of the environment variables the constructs set and the functions read.

One name, one constant: a construct that set `RESULT_TABLE_NAME` for a function that reads
`RESULTS_TABLE_NAME` would deploy and then fail on its first message.
"""

from __future__ import annotations

from typing import Final

# The results writer (lambda/results_writer/settings.py).
RESULTS_TABLE_NAME: Final = "RESULTS_TABLE_NAME"
RESULTS_RETENTION_DAYS: Final = "RESULTS_RETENTION_DAYS"
RESULTS_WRITE_MAX_ATTEMPTS: Final = "RESULTS_WRITE_MAX_ATTEMPTS"
RESULTS_INLINE_BODY_MAX_BYTES: Final = "RESULTS_INLINE_BODY_MAX_BYTES"
# Every function: the level of its own log lines.
LOG_LEVEL: Final = "LOG_LEVEL"
# The webhook dispatcher (lambda/webhook_delivery/settings.py); WEBHOOK_DELIVERY_QUEUE_URL
# also tells the API's function where to send a redelivery request.
WEBHOOK_JOBS_TABLE_NAME: Final = "WEBHOOK_JOBS_TABLE_NAME"
WEBHOOK_SECRET_ARN: Final = "WEBHOOK_SECRET_ARN"
WEBHOOK_DELIVERY_QUEUE_URL: Final = "WEBHOOK_DELIVERY_QUEUE_URL"
WEBHOOK_DEAD_LETTER_QUEUE_URL: Final = "WEBHOOK_DEAD_LETTER_QUEUE_URL"
WEBHOOK_ENDPOINTS: Final = "WEBHOOK_ENDPOINTS"
WEBHOOK_ATTEMPT_TIMEOUT_SECONDS: Final = "WEBHOOK_ATTEMPT_TIMEOUT_SECONDS"
WEBHOOK_RETRY_FIRST_DELAY_SECONDS: Final = "WEBHOOK_RETRY_FIRST_DELAY_SECONDS"
WEBHOOK_RETRY_MAX_DELAY_SECONDS: Final = "WEBHOOK_RETRY_MAX_DELAY_SECONDS"
WEBHOOK_RETRY_WINDOW_HOURS: Final = "WEBHOOK_RETRY_WINDOW_HOURS"
WEBHOOK_RETRY_DELAY_SCALE: Final = "WEBHOOK_RETRY_DELAY_SCALE"
# Set by local mode only, never by a template: webhooks may use http to loopback addresses.
WEBHOOK_ALLOW_LOOPBACK_HTTP: Final = "WEBHOOK_ALLOW_LOOPBACK_HTTP"
# The secret's rotation function: how long the previous key keeps signing after a rotation.
WEBHOOK_SECRET_OVERLAP_HOURS: Final = "WEBHOOK_SECRET_OVERLAP_HOURS"
