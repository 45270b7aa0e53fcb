"""Records read back without boto3 (asyncinfer_runtime/inference_record.py), checked
against boto3's own TypeDeserializer, which the client used before."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest
from boto3.dynamodb.types import Binary, TypeDeserializer

from asyncinfer_runtime.inference_record import InferenceRecord, deserialize
from asyncinfer_runtime.notification import parse
from asyncinfer_runtime.record import to_item

EVERY_TYPE: dict[str, Any] = {
    "text": {"S": "héllo"},
    "whole": {"N": "42"},
    "fraction": {"N": "-0.125"},
    "body": {"B": b"\x00\xffraw"},
    "flag": {"BOOL": True},
    "nothing": {"NULL": True},
    "map": {"M": {"inner": {"L": [{"S": "a"}, {"N": "1"}, {"BOOL": False}]}}},
    "strings": {"SS": ["a", "b"]},
    "numbers": {"NS": ["1", "2.5"]},
}


def boto3_values(item: dict[str, Any]) -> dict[str, Any]:
    """What asyncinfer.results did before: boto3's values, a top-level Binary as bytes."""
    values = {key: TypeDeserializer().deserialize(value) for key, value in item.items()}
    # boto3-stubs omit Binary.value (the raw bytes); boto3 has it.
    return {k: (cast(Any, v).value if isinstance(v, Binary) else v) for k, v in values.items()}


def test_every_attribute_type_reads_as_boto3_reads_it() -> None:
    assert deserialize(EVERY_TYPE) == boto3_values(EVERY_TYPE)
    assert isinstance(deserialize(EVERY_TYPE)["whole"], Decimal)


def test_binary_sets_and_base64_text_read_as_bytes() -> None:
    values = deserialize(
        {"set": {"BS": [b"a", b"b"]}, "streamed": {"B": base64.b64encode(b"x").decode()}}
    )
    assert values == {"set": {b"a", b"b"}, "streamed": b"x"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"X": "1"},
            "A DynamoDB attribute value's type must be one of S, N, B, BOOL, NULL, M, L, SS, "
            "NS, BS; received 'X'.",
        ),
        (
            {"S": "a", "N": "1"},
            "A DynamoDB attribute value must be an object with one type key; received "
            "{'S': 'a', 'N': '1'}.",
        ),
    ],
)
def test_a_value_that_is_not_dynamodb_json_is_one_sentence(value: Any, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        deserialize({"field": value})
    assert str(raised.value) == message


def test_the_writers_record_reads_back_as_the_client_sees_it(vectors_dir: Path) -> None:
    notification = parse((vectors_dir / "success-with-response-body.json").read_text())
    assert notification is not None
    item = to_item(
        notification, retention_days=30, now=datetime.now(UTC), inline_body_max_bytes=4096
    )
    record = InferenceRecord.from_item(deserialize(item))
    assert record.done and record.status == "COMPLETED"
    assert record.response_body == b'[{"label": "LABEL_2", "score": 0.8808}]'
    assert record.latency_ms == 270.0
    assert record.endpoint_name == "example-endpoint"
    shown = record.to_json()
    assert shown["responseBody"] == "W3sibGFiZWwiOiAiTEFCRUxfMiIsICJzY29yZSI6IDAuODgwOH1d"
    assert shown["latencyMs"] == 270.0
