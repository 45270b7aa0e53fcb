"""The results-table items asyncinfer_runtime builds: a notification's record and the
PENDING record, both as the low-level DynamoDB client takes them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asyncinfer_runtime.contract import Attribute, endpoint_shard_key, shard_of
from asyncinfer_runtime.notification import parse
from asyncinfer_runtime.record import pending_item, to_item

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def record_of(vectors_dir: Path, name: str, *, inline_body_max_bytes: int = 4096) -> dict:
    notification = parse((vectors_dir / name).read_text())
    assert notification is not None
    return to_item(
        notification, retention_days=30, now=NOW, inline_body_max_bytes=inline_body_max_bytes
    )


def test_a_success_becomes_an_indexed_record_with_its_decoded_body(vectors_dir: Path) -> None:
    message = json.loads((vectors_dir / "success-with-response-body.json").read_text())
    item = record_of(vectors_dir, "success-with-response-body.json")
    inference_id = message["inferenceId"]
    assert item[Attribute.STATUS] == {"S": "COMPLETED"}
    assert item[Attribute.ENDPOINT_SHARD] == {
        "S": endpoint_shard_key("example-endpoint", shard_of(inference_id))
    }
    assert Attribute.FAILURE_SHARD not in item
    assert item[Attribute.RESPONSE_BODY] == {"B": b'[{"label": "LABEL_2", "score": 0.8808}]'}
    assert item[Attribute.LATENCY_MS] == {"N": "270"}
    # TTL counts from the event, so a redelivered notification expires with its original.
    event = datetime(2024, 5, 10, 8, 0, 1, 250000, tzinfo=UTC)
    assert item[Attribute.EXPIRES_AT] == {"N": str(int((event + timedelta(days=30)).timestamp()))}
    assert Attribute.RESPONSE_BODY_MESSAGE not in item  # empty in the notification: absent


def test_a_body_above_the_inline_limit_is_left_out_and_said_so(vectors_dir: Path) -> None:
    item = record_of(vectors_dir, "success-with-response-body.json", inline_body_max_bytes=10)
    assert Attribute.RESPONSE_BODY not in item
    assert Attribute.RESPONSE_BODY_ENCODING not in item
    assert item[Attribute.RESPONSE_BODY_OMITTED] == {"BOOL": True}


def test_a_failure_is_in_the_failures_index(vectors_dir: Path) -> None:
    item = record_of(vectors_dir, "error-with-failure-location.json")
    assert item[Attribute.STATUS] == {"S": "FAILED"}
    assert item[Attribute.FAILURE_SHARD]["S"].startswith("FAILED#")
    assert item[Attribute.CUSTOM_ATTRIBUTES] == {"S": "trace=abc123"}


def test_a_pending_record_carries_no_index_key_and_no_empty_value() -> None:
    item = pending_item(
        inference_id="id-1",
        endpoint_name="endpoint",
        input_location=None,  # an inline request has no input object
        submitted=NOW,
        retention_days=7,
        request_content_type="text/csv",
        accept="",
    )
    assert item == {
        Attribute.INFERENCE_ID: {"S": "id-1"},
        Attribute.STATUS: {"S": "PENDING"},
        Attribute.ENDPOINT_NAME: {"S": "endpoint"},
        Attribute.EVENT_TIME: {"S": "2026-06-01T12:00:00.000Z"},
        Attribute.EXPIRES_AT: {"N": str(int((NOW + timedelta(days=7)).timestamp()))},
        Attribute.REQUEST_CONTENT_TYPE: {"S": "text/csv"},
    }
