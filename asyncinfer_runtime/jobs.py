"""The jobs table's contract: one item per job submitted through the HTTP job API.

The results table holds what SageMaker said about an inference; the results writer
replaces that record with one conditional PutItem per notification, so state of the job
that must outlive the notification (who submitted it, which endpoint of the system, its
webhook and the webhook's delivery) lives in a table of its own: the jobs table, created
by the job API's construct (asyncinfer_constructs/job_api.py).

- Partition key `jobId` (S) = the SageMaker inference id (the results record's
  `inferenceId`), so one id finds both items.
- The job API writes the item at submit time; the webhook dispatcher updates the webhook
  attributes. Both import these names from here.
- Idempotency items share the table under `idempotency#<caller hash>#<key>`, which no
  inference id the API generates (a UUID) can equal.

Standard library only: every function's asset carries this package.
"""

from __future__ import annotations

import hashlib
from typing import Final


class JobAttribute:
    """Names of the jobs table's attributes (camelCase, as DynamoDB stores them)."""

    JOB_ID: Final = "jobId"
    # The endpoint's name in the system (`default`, `sentiment`), not SageMaker's name.
    ENDPOINT: Final = "endpoint"
    # The authenticated principal: an IAM user or role ARN, or a Cognito user's `sub`.
    CALLER: Final = "caller"
    CREATED_AT: Final = "createdAt"  # ISO-8601 with ms (contract.iso_time)
    EXPIRES_AT: Final = "expiresAt"  # TTL, epoch seconds (N)
    # Written by the job API at submit; updated by the webhook dispatcher.
    WEBHOOK_URL: Final = "webhookUrl"
    WEBHOOK_EVENTS: Final = "webhookEvents"  # SS of WEBHOOK_EVENTS
    WEBHOOK_STATUS: Final = "webhookStatus"  # one of WEBHOOK_STATUSES
    WEBHOOK_ATTEMPTS: Final = "webhookAttempts"  # N
    WEBHOOK_LAST_ERROR: Final = "webhookLastError"
    # The event's `webhook-id`: stable across retries and redeliveries of one event.
    WEBHOOK_EVENT_ID: Final = "webhookEventId"
    WEBHOOK_DELIVERED_AT: Final = "webhookDeliveredAt"


class IdempotencyAttribute:
    """The idempotency item's own attributes (its key is `jobId`, like a job's)."""

    # The job the first request with this key created.
    JOB: Final = "idempotentJobId"
    # SHA-256 of what the request asked for: the same key with another request is a 409.
    REQUEST_HASH: Final = "requestHash"


JOBS_PARTITION_KEY: Final = JobAttribute.JOB_ID
JOBS_TTL_ATTRIBUTE: Final = JobAttribute.EXPIRES_AT

# The events a job's webhook may ask for (header `Webhook-Events`); both by default.
WEBHOOK_COMPLETED: Final = "completed"
WEBHOOK_FAILED: Final = "failed"
WEBHOOK_EVENTS: Final = (WEBHOOK_COMPLETED, WEBHOOK_FAILED)

# webhookStatus values.
WEBHOOK_PENDING: Final = "PENDING"
WEBHOOK_DELIVERING: Final = "DELIVERING"
WEBHOOK_DELIVERED: Final = "DELIVERED"
WEBHOOK_FAILED_STATUS: Final = "FAILED"
WEBHOOK_STATUSES: Final = (
    WEBHOOK_PENDING,
    WEBHOOK_DELIVERING,
    WEBHOOK_DELIVERED,
    WEBHOOK_FAILED_STATUS,
)

IDEMPOTENCY_PREFIX: Final = "idempotency#"
# How long an Idempotency-Key keeps answering with its job (issue 21: "for 24 h").
IDEMPOTENCY_SECONDS: Final = 24 * 3600


def idempotency_item_id(caller: str, key: str) -> str:
    """The jobs-table key of `caller`'s Idempotency-Key `key`: keys are per caller, and the
    caller (an ARN of up to 2,048 characters) enters as a fixed-length hash."""
    caller_hash = hashlib.sha256(caller.encode("utf-8")).hexdigest()
    return f"{IDEMPOTENCY_PREFIX}{caller_hash}#{key}"
