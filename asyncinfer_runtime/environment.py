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
# The job API (lambda/job_api/settings.py); it reads RESULTS_TABLE_NAME and
# RESULTS_RETENTION_DAYS above too.
JOBS_TABLE_NAME: Final = "JOBS_TABLE_NAME"
INPUT_BUCKET_NAME: Final = "INPUT_BUCKET_NAME"
# JSON object: each endpoint's name in the system -> its SageMaker endpoint name.
API_ENDPOINTS: Final = "API_ENDPOINTS"
# Set ("1") by local mode for every function it runs, never by a construct: what only local
# mode allows (webhooks to loopback http URLs) asks for it.
LOCAL_MODE: Final = "ASYNCINFER_LOCAL_MODE"
