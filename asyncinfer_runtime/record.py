"""The results-table items (attributes in docs/design.md), as the low-level DynamoDB client
takes them: the record the results writer stores for a notification (`to_item`) and the
PENDING record a client stores at submit time (`pending_item`)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta
from typing import Any

from asyncinfer_runtime.contract import (
    FAILED,
    PENDING,
    Attribute,
    endpoint_shard_key,
    failure_shard_key,
    iso_time,
    shard_of,
)
from asyncinfer_runtime.notification import Notification

# The largest `inline_body_max_bytes` a record may keep: above the largest body a
# notification carries, and far below DynamoDB's 400 KB item limit. The pipeline's props
# validate the same bound (asyncinfer_constructs/pipeline_props.py).
INLINE_BODY_LIMIT = 262144

# Request/response parameters copied to the record: (source field, record attribute).
_REQUEST_FIELDS = (
    ("endpointName", Attribute.ENDPOINT_NAME),
    ("inputLocation", Attribute.INPUT_LOCATION),
    ("contentType", Attribute.REQUEST_CONTENT_TYPE),
    ("accept", Attribute.ACCEPT),
    ("customAttributes", Attribute.CUSTOM_ATTRIBUTES),
)
_RESPONSE_FIELDS = (
    ("outputLocation", Attribute.OUTPUT_LOCATION),
    ("failureLocation", Attribute.FAILURE_LOCATION),
    ("contentType", Attribute.RESPONSE_CONTENT_TYPE),
)
_BODY_FIELDS = (  # the content itself is stored by _body_value's rule
    ("encoding", Attribute.RESPONSE_BODY_ENCODING),
    ("message", Attribute.RESPONSE_BODY_MESSAGE),
)


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
    event_time = iso_time(notification.event_time)
    values: dict[str, Any] = {
        Attribute.INFERENCE_ID: notification.inference_id,
        Attribute.STATUS: notification.status,
        Attribute.EVENT_TIME: event_time,
        Attribute.COMPLETED_TIME: event_time,
        Attribute.AWS_REGION: notification.aws_region,
        Attribute.FAILURE_REASON: notification.failure_reason,
        Attribute.WRITTEN_AT: iso_time(now),
    }
    body = dict(notification.response_body or {})
    content = _body_value(body)
    # A failure's body is the error document SageMaker also writes to failureLocation, and
    # nothing reads it from the record (failureReason carries the reason); a FAILED record
    # goes into both indexes, so it keeps no copy when that document exists.
    in_failure_document = notification.status == FAILED and bool(
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
    # Sharded, sparse index keys (the indexes are defined in contract.py). Only
    # records this writer stores carry them: a client's PENDING record is in no index, so
    # replacing it adds index entries instead of moving them (one index write, not two:
    # Developer Guide, "Global secondary indexes in DynamoDB", Write capacity units).
    shard = shard_of(notification.inference_id)
    endpoint = values.get(Attribute.ENDPOINT_NAME)
    if isinstance(endpoint, str) and endpoint:
        values[Attribute.ENDPOINT_SHARD] = endpoint_shard_key(endpoint, shard)
    if notification.status == FAILED:
        values[Attribute.FAILURE_SHARD] = failure_shard_key(shard)
    item: dict[str, Any] = {
        name: {"S": value} for name, value in values.items() if isinstance(value, str) and value
    }
    if omitted:
        item[Attribute.RESPONSE_BODY_OMITTED] = {"BOOL": True}
    elif content:
        item[Attribute.RESPONSE_BODY] = (
            {"B": content} if isinstance(content, bytes) else {"S": content}
        )
    if notification.received_time is not None:
        item[Attribute.RECEIVED_TIME] = {"S": iso_time(notification.received_time)}
        latency = notification.event_time - notification.received_time
        item[Attribute.LATENCY_MS] = {"N": str(max(0, round(latency.total_seconds() * 1000)))}
    # TTL counts from the event, not from when it was written, so a redriven or
    # duplicated notification expires with its original.
    expires = notification.event_time + timedelta(days=retention_days)
    item[Attribute.EXPIRES_AT] = {"N": str(int(expires.timestamp()))}
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


def pending_item(
    *,
    inference_id: str,
    endpoint_name: str,
    input_location: str | None,
    submitted: datetime,
    retention_days: int,
    request_content_type: str | None = None,
    accept: str | None = None,
    custom_attributes: str | None = None,
) -> dict[str, Any]:
    """The PENDING item of docs/design.md: what a client stores when it submits, so a status
    read answers before the notification arrives. It carries no index key, so it is in no
    index and the writer's record adds index entries instead of moving them."""
    item: dict[str, Any] = {
        Attribute.INFERENCE_ID: {"S": inference_id},
        Attribute.STATUS: {"S": PENDING},
        Attribute.ENDPOINT_NAME: {"S": endpoint_name},
        Attribute.EVENT_TIME: {"S": iso_time(submitted)},
        Attribute.EXPIRES_AT: {
            "N": str(int((submitted + timedelta(days=retention_days)).timestamp()))
        },
    }
    # Absent when unknown, never empty strings (design contract). An inline request (Body)
    # has no input object, so no inputLocation.
    for name, value in (
        (Attribute.INPUT_LOCATION, input_location),
        (Attribute.REQUEST_CONTENT_TYPE, request_content_type),
        (Attribute.ACCEPT, accept),
        (Attribute.CUSTOM_ATTRIBUTES, custom_attributes),
    ):
        if value:
            item[name] = {"S": value}
    return item
