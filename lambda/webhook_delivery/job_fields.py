"""The jobs table's attribute names this dispatcher reads and writes (the shared contract of
issue 21: docs/design.md, "Jobs table"). Helper A's API owns the table and the module both
sides import; until that module is on this branch, the names are kept here, once."""

from __future__ import annotations

from typing import Final

JOB_ID: Final = "jobId"
ENDPOINT: Final = "endpoint"
WEBHOOK_URL: Final = "webhookUrl"
WEBHOOK_EVENTS: Final = "webhookEvents"
WEBHOOK_STATUS: Final = "webhookStatus"
WEBHOOK_ATTEMPTS: Final = "webhookAttempts"
WEBHOOK_LAST_ERROR: Final = "webhookLastError"
WEBHOOK_EVENT_ID: Final = "webhookEventId"
WEBHOOK_DELIVERED_AT: Final = "webhookDeliveredAt"

# webhookStatus values.
PENDING: Final = "PENDING"
DELIVERING: Final = "DELIVERING"
DELIVERED: Final = "DELIVERED"
FAILED: Final = "FAILED"

# webhookEvents values; a job without the attribute gets both.
COMPLETED_EVENT: Final = "completed"
FAILED_EVENT: Final = "failed"
ALL_EVENTS: Final = frozenset({COMPLETED_EVENT, FAILED_EVENT})
