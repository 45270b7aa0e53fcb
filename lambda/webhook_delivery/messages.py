"""The delivery queue's messages: a retry due at a time, or a redelivery request.

    {"webhookDelivery": "retry", "jobId", "event", "eventId", "url", "body", "attempts",
     "firstAttemptAt", "dueAt"}
    {"webhookDelivery": "redeliver", "jobId"}

A retry carries the body it retries, so every attempt of an event sends the same bytes
under the same id (only the timestamp and signature change); a redelivery request carries
the job id alone (asyncinfer_runtime/webhook_redelivery.py, which the job API's function
sends), and the dispatcher builds the event from the job's record.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from asyncinfer_runtime.webhook_redelivery import KIND

RETRY = "retry"


@dataclass(frozen=True)
class PendingEvent:
    """An event still to be delivered, and where it stands."""

    jobId: str
    event: str
    eventId: str
    url: str
    body: str
    attempts: int
    firstAttemptAt: str
    dueAt: str

    def first_attempt_at(self) -> datetime:
        return datetime.fromisoformat(self.firstAttemptAt)

    def due_at(self) -> datetime:
        return datetime.fromisoformat(self.dueAt)

    def to_message(self) -> str:
        return json.dumps({KIND: RETRY, **asdict(self)})


def delivery_message(body: Any) -> dict[str, Any] | None:
    """The delivery message in an SQS body, or None when the body is something else (a
    SageMaker notification)."""
    if not isinstance(body, str) or f'"{KIND}"' not in body:
        return None
    try:
        document = json.loads(body)
    except json.JSONDecodeError:
        return None
    return document if isinstance(document, dict) and KIND in document else None


def pending_event(document: dict[str, Any]) -> PendingEvent:
    """A retry message's event; KeyError/TypeError/ValueError when a field is missing."""
    return PendingEvent(
        jobId=str(document["jobId"]),
        event=str(document["event"]),
        eventId=str(document["eventId"]),
        url=str(document["url"]),
        body=str(document["body"]),
        attempts=int(document["attempts"]),
        firstAttemptAt=str(document["firstAttemptAt"]),
        dueAt=str(document["dueAt"]),
    )
