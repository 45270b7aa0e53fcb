"""A webhook redelivery request: what `POST /v1/jobs/{id}/webhook` (the job API's function)
sends to the webhook delivery queue, and how the dispatcher tells it from a retry.

    {"webhookDelivery": "redeliver", "jobId": "..."}

The dispatcher (lambda/webhook_delivery) then delivers the job's finished event again under
its own `webhook-id`, with a new retry window. Sending needs sqs:SendMessage on the delivery
queue and its key (Webhooks.grant_request_redelivery) and the queue's URL in
WEBHOOK_DELIVERY_QUEUE_URL (Webhooks.redelivery_environment). Standard library only: the
caller hands over its own SQS client.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, Final

from asyncinfer_runtime.environment import WEBHOOK_DELIVERY_QUEUE_URL

# The member naming a delivery-queue message's kind (a retry or a redelivery request).
KIND: Final = "webhookDelivery"
REDELIVER: Final = "redeliver"


def redelivery_message(job_id: str) -> str:
    return json.dumps({KIND: REDELIVER, "jobId": job_id})


def delivery_queue_url(environ: Mapping[str, str] = os.environ) -> str | None:
    """The delivery queue a redelivery request goes to; None without webhooks."""
    return environ.get(WEBHOOK_DELIVERY_QUEUE_URL, "").strip() or None


def request_redelivery(job_id: str, *, sqs: Any, queue_url: str | None = None) -> str:
    """Ask for the job's webhook event to be delivered again; returns the request's message
    id. The job's webhookStatus shows how it went."""
    url = queue_url or delivery_queue_url()
    if not url:
        raise RuntimeError(
            f"Environment variable {WEBHOOK_DELIVERY_QUEUE_URL} must name the webhook delivery "
            f"queue; received nothing."
        )
    response = sqs.send_message(QueueUrl=url, MessageBody=redelivery_message(job_id))
    return str(response["MessageId"])
