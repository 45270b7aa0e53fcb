"""A notification as a results-table item (attributes in docs/design.md)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from results_writer.notification import Notification, iso

# Request/response parameters copied to the record: (source field, record attribute).
_REQUEST_FIELDS = (
    ("endpointName", "endpointName"),
    ("inputLocation", "inputLocation"),
    ("contentType", "requestContentType"),
    ("accept", "accept"),
    ("customAttributes", "customAttributes"),
)
_RESPONSE_FIELDS = (
    ("outputLocation", "outputLocation"),
    ("failureLocation", "failureLocation"),
    ("contentType", "responseContentType"),
)
_BODY_FIELDS = (
    ("content", "responseBody"),
    ("encoding", "responseBodyEncoding"),
    ("message", "responseBodyMessage"),
)


def to_item(notification: Notification, *, retention_days: int, now: datetime) -> dict[str, Any]:
    """The DynamoDB item (low-level attribute values) that records `notification`.

    Deterministic in the notification (but for `writtenAt`), so a duplicate delivery
    builds the same record; absent or empty values are left out, never stored empty.
    """
    event_time = iso(notification.event_time)
    values: dict[str, Any] = {
        "inferenceId": notification.inference_id,
        "status": notification.status,
        "eventTime": event_time,
        "completedTime": event_time,
        "awsRegion": notification.aws_region,
        "failureReason": notification.failure_reason,
        "writtenAt": iso(now),
    }
    for source, attributes in (
        (notification.request, _REQUEST_FIELDS),
        (notification.response, _RESPONSE_FIELDS),
        (notification.response_body or {}, _BODY_FIELDS),
    ):
        for field, attribute in attributes:
            values[attribute] = source.get(field)
    item: dict[str, Any] = {
        name: {"S": value} for name, value in values.items() if isinstance(value, str) and value
    }
    if notification.received_time is not None:
        item["receivedTime"] = {"S": iso(notification.received_time)}
        latency = notification.event_time - notification.received_time
        item["latencyMs"] = {"N": str(max(0, round(latency.total_seconds() * 1000)))}
    # TTL counts from the event, not from when it was written, so a redriven or
    # duplicated notification expires with its original.
    expires = notification.event_time + timedelta(days=retention_days)
    item["expiresAt"] = {"N": str(int(expires.timestamp()))}
    return item
