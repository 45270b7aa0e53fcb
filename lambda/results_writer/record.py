"""A notification as a results-table item (attributes in docs/design.md)."""

from __future__ import annotations

import base64
import binascii
import zlib
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
_BODY_FIELDS = (  # the content itself is stored by _body_value's rule
    ("encoding", "responseBodyEncoding"),
    ("message", "responseBodyMessage"),
)

# Sharded, sparse index keys (stacks/results.py holds the index definitions; the client's
# asyncinfer/results.py queries every shard). Only records this writer stores carry them:
# a client's PENDING record is in no index, so replacing it adds index entries instead of
# moving them (one index write, not two: Developer Guide, "Global secondary indexes in
# DynamoDB", Write capacity units).
INDEX_SHARDS = 4
ENDPOINT_SHARD = "endpointShard"  # "<endpointName>#<shard>", every finished record
FAILURE_SHARD = "failureShard"  # "FAILED#<shard>", FAILED records only


def shard_of(inference_id: str) -> int:
    """The index shard of an id: computed from the id (not random), so every delivery of a
    notification builds the same item, and spread evenly over the shards."""
    return zlib.crc32(inference_id.encode("utf-8")) % INDEX_SHARDS


def to_item(
    notification: Notification,
    *,
    retention_days: int,
    now: datetime,
    inline_body_max_bytes: int,
) -> dict[str, Any]:
    """The DynamoDB item (low-level attribute values) that records `notification`.

    Deterministic in the notification (but for `writtenAt`), so a duplicate delivery
    builds the same record; absent or empty values are left out, never stored empty.
    A response body longer than `inline_body_max_bytes` is left out and the record says
    so (`responseBodyOmitted`); the body is in S3 at outputLocation (failureLocation for a
    failure). Inline, a 128 KB body would cost ~171 write units per record.
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
    body = dict(notification.response_body or {})
    content = _body_value(body)
    # A failure's body is the error document SageMaker also writes to failureLocation, and
    # nothing reads it from the record (failureReason carries the reason); a FAILED record
    # goes into both indexes, so it keeps no copy when that document exists.
    in_failure_document = notification.status == "FAILED" and bool(
        notification.response.get("failureLocation")
    )
    omitted = content is not None and (
        in_failure_document or _body_length(content) > inline_body_max_bytes
    )
    body.pop("content", None)
    if omitted:
        body.pop("encoding", None)
    for source, attributes in (
        (notification.request, _REQUEST_FIELDS),
        (notification.response, _RESPONSE_FIELDS),
        (body, _BODY_FIELDS),
    ):
        for field, attribute in attributes:
            values[attribute] = source.get(field)
    shard = shard_of(notification.inference_id)
    endpoint = values.get("endpointName")
    if isinstance(endpoint, str) and endpoint:
        values[ENDPOINT_SHARD] = f"{endpoint}#{shard}"
    if notification.status == "FAILED":
        values[FAILURE_SHARD] = f"FAILED#{shard}"
    item: dict[str, Any] = {
        name: {"S": value} for name, value in values.items() if isinstance(value, str) and value
    }
    if omitted:
        item["responseBodyOmitted"] = {"BOOL": True}
    elif content:
        item["responseBody"] = {"B": content} if isinstance(content, bytes) else {"S": content}
    if notification.received_time is not None:
        item["receivedTime"] = {"S": iso(notification.received_time)}
        latency = notification.event_time - notification.received_time
        item["latencyMs"] = {"N": str(max(0, round(latency.total_seconds() * 1000)))}
    # TTL counts from the event, not from when it was written, so a redriven or
    # duplicated notification expires with its original.
    expires = notification.event_time + timedelta(days=retention_days)
    item["expiresAt"] = {"N": str(int(expires.timestamp()))}
    return item


def _body_value(body: dict[str, Any]) -> bytes | str | None:
    """The response body as the record stores it: a BASE64 body decoded (a Binary value
    counts its raw bytes, not its base64 text: a third smaller; Developer Guide, "DynamoDB
    item sizes and formats"), any other as the text SageMaker sent."""
    content = body.get("content")
    if not isinstance(content, str) or not content:
        return None
    if str(body.get("encoding") or "").upper() == "BASE64":
        try:
            return base64.b64decode(content, validate=True)
        except binascii.Error:
            return content  # kept as sent; the client decodes it as before
    return content


def _body_length(content: bytes | str) -> int:
    return len(content) if isinstance(content, bytes) else len(content.encode("utf-8"))
