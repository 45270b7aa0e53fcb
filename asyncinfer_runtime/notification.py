"""Reading one SQS message body as a SageMaker async inference notification.

The body is the SageMaker message itself (raw message delivery), or the SNS envelope
around it (a subscription without raw delivery, or a message that went through an SNS
subscription's dead-letter queue). Anything that is not a well-formed inference result
raises MalformedNotification with the reason, so the message can be reported and,
after its retries, kept in the dead-letter queue. The results writer builds its record from
it; any other consumer of the notifications (a webhook, an audit trail) can read it the same
way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asyncinfer_runtime.contract import COMPLETED, FAILED, parse_iso_time

# SageMaker's invocationStatus -> the record's status.
STATUSES = {"Completed": COMPLETED, "Failed": FAILED}


class MalformedNotification(ValueError):
    """The message is not an inference result; str() is the reason, one sentence."""


@dataclass(frozen=True)
class Notification:
    """The fields of an inference result that become a record."""

    inference_id: str
    status: str
    event_time: datetime
    received_time: datetime | None
    aws_region: str | None
    request: dict[str, Any]
    response: dict[str, Any]
    failure_reason: str | None
    response_body: dict[str, Any] | None


def parse(body: object) -> Notification | None:
    """The notification in an SQS message body.

    None for a TestNotification: SageMaker sends one on endpoint create/update; it
    carries no result and is acknowledged, not recorded.
    """
    message = _load(body, "message body")
    if isinstance(message, dict) and message.get("Type") == "Notification" and "Message" in message:
        message = _load(message["Message"], "SNS envelope's Message")
    if not isinstance(message, dict):
        raise MalformedNotification(
            f"Notification must be a JSON object; received {type(message).__name__}."
        )
    event_name = message.get("eventName")
    if event_name == "TestNotification":
        return None
    if event_name != "InferenceResult":
        raise MalformedNotification(
            f"Field 'eventName' must be 'InferenceResult' or 'TestNotification'; "
            f"received {event_name!r}."
        )
    inference_id = message.get("inferenceId")
    if not isinstance(inference_id, str) or not inference_id.strip():
        raise MalformedNotification(
            f"Field 'inferenceId' must be a non-empty string; received {inference_id!r}."
        )
    status = message.get("invocationStatus")
    if status not in STATUSES:
        raise MalformedNotification(
            f"Field 'invocationStatus' must be one of {', '.join(STATUSES)}; received {status!r}."
        )
    event_time = _time(message, "eventTime", required=True)
    assert event_time is not None
    # An inline request (InvokeEndpointAsync with Body, June 2026) has no input object; AWS
    # does not document its notification, so requestParameters.inputLocation may be absent,
    # null, empty or anything else: the record then has no inputLocation and is still whole
    # (to_item keeps only non-empty strings).
    request = message.get("requestParameters") or {}
    response = message.get("responseParameters") or {}
    body_field = message.get("responseBody")
    for name, value in (("requestParameters", request), ("responseParameters", response)):
        if not isinstance(value, dict):
            raise MalformedNotification(
                f"Field {name!r} must be a JSON object; received {type(value).__name__}."
            )
    if body_field is not None and not isinstance(body_field, dict):
        raise MalformedNotification(
            f"Field 'responseBody' must be a JSON object; received {type(body_field).__name__}."
        )
    reason = message.get("failureReason")
    return Notification(
        inference_id=inference_id,
        status=STATUSES[status],
        event_time=event_time,
        received_time=_time(message, "receivedTime", required=False),
        aws_region=message.get("awsRegion") if isinstance(message.get("awsRegion"), str) else None,
        request=request,
        response=response,
        failure_reason=reason if isinstance(reason, str) and reason else None,
        response_body=body_field,
    )


def _load(text: Any, what: str) -> Any:
    if not isinstance(text, str):
        raise MalformedNotification(
            f"The {what} must be a JSON string; received {type(text).__name__}."
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise MalformedNotification(
            f"The {what} is not JSON ({error.msg} at position {error.pos}); received {text[:60]!r}."
        ) from None


def _time(message: dict[str, Any], field: str, *, required: bool) -> datetime | None:
    raw = message.get(field)
    if raw is None and not required:
        return None
    if not isinstance(raw, str):
        raise MalformedNotification(
            f"Field {field!r} must be an ISO-8601 UTC time; received {raw!r}."
        )
    try:
        return parse_iso_time(raw)
    except ValueError:
        raise MalformedNotification(
            f"Field {field!r} must be an ISO-8601 UTC time; received {raw!r}."
        ) from None
