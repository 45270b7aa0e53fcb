"""`request_redelivery(job_id)`: what `POST /v1/jobs/{id}/webhook` calls (the API's function).

It sends a redelivery request to the delivery queue; the dispatcher then delivers the job's
event again under its own `webhook-id`, with a new retry window. It needs only
sqs:SendMessage on the delivery queue and the queue's key (Webhooks.grant_request_redelivery),
and the queue's URL in WEBHOOK_DELIVERY_QUEUE_URL (Webhooks.redelivery_environment).
Standard library and boto3 only, so any function's asset can carry this file.
"""

from __future__ import annotations

import os
from typing import Any

from asyncinfer_runtime.environment import WEBHOOK_DELIVERY_QUEUE_URL
from webhook_delivery.messages import redelivery_message


def request_redelivery(job_id: str, *, sqs: Any = None, queue_url: str | None = None) -> str:
    """Ask for the job's webhook event to be delivered again; returns the request's
    message id. The job's webhookStatus shows how it went."""
    url = queue_url or os.environ.get(WEBHOOK_DELIVERY_QUEUE_URL, "")
    if not url:
        raise RuntimeError(
            f"Environment variable {WEBHOOK_DELIVERY_QUEUE_URL} must name the webhook delivery "
            f"queue; received nothing."
        )
    if sqs is None:
        import boto3

        sqs = boto3.client("sqs")
    response = sqs.send_message(QueueUrl=url, MessageBody=redelivery_message(job_id))
    return str(response["MessageId"])
