"""A results-table item read back: DynamoDB's attribute values as Python values
(`deserialize`), and those as an `InferenceRecord` with Python attribute names.

Standard library only, so a function's asset reads records without the client package:
`deserialize` follows boto3's TypeDeserializer (S str, N Decimal, BOOL, NULL None, M dict,
L list, SS/NS sets) except that Binary values are plain bytes (the client's form), and
tests/unit/test_inference_record.py holds the two together.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from asyncinfer_runtime.contract import PENDING, TERMINAL, Attribute


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    """Plain Python values of a low-level item (as GetItem, Query and Scan return it)."""
    return {name: attribute_value(value) for name, value in item.items()}


def attribute_value(value: dict[str, Any]) -> Any:
    """One low-level attribute value ({"S": "text"}, {"N": "12"}, ...) as a Python value."""
    if not isinstance(value, dict) or len(value) != 1:
        raise ValueError(
            f"A DynamoDB attribute value must be an object with one type key; received {value!r}."
        )
    ((kind, content),) = value.items()
    match kind:
        case "S" | "BOOL":
            return content
        case "N":
            return Decimal(content)
        case "B":
            return _binary(content)
        case "NULL":
            return None
        case "M":
            return {key: attribute_value(inner) for key, inner in content.items()}
        case "L":
            return [attribute_value(inner) for inner in content]
        case "SS":
            return set(content)
        case "NS":
            return {Decimal(number) for number in content}
        case "BS":
            return {_binary(inner) for inner in content}
    raise ValueError(
        f"A DynamoDB attribute value's type must be one of S, N, B, BOOL, NULL, M, L, SS, NS, "
        f"BS; received {kind!r}."
    )


def _binary(content: bytes | bytearray | str) -> bytes:
    # boto3's client hands over bytes; DynamoDB JSON elsewhere (stream events) is base64 text.
    return base64.b64decode(content) if isinstance(content, str) else bytes(content)


@dataclass(frozen=True, kw_only=True)
class InferenceRecord:
    """One results-table item, with the attribute names turned into Python ones."""

    inference_id: str
    status: str
    endpoint_name: str | None = None
    input_location: str | None = None
    output_location: str | None = None
    failure_location: str | None = None
    failure_reason: str | None = None
    response_content_type: str | None = None
    # bytes when the writer stored a BASE64 body decoded (a Binary attribute), else the text
    # as sent (records written before that, or bodies that were not base64).
    response_body: bytes | str | None = None
    response_body_encoding: str | None = None
    # The body was too large to keep in the record (results_inline_body_max_bytes): read it
    # from output_location.
    response_body_omitted: bool = False
    event_time: str | None = None
    received_time: str | None = None
    latency_ms: float | None = None
    item: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> InferenceRecord:
        """Build from a deserialised DynamoDB item (plain Python values)."""
        latency = item.get(Attribute.LATENCY_MS)
        return cls(
            inference_id=str(item[Attribute.INFERENCE_ID]),
            status=str(item.get(Attribute.STATUS, PENDING)),
            endpoint_name=item.get(Attribute.ENDPOINT_NAME),
            input_location=item.get(Attribute.INPUT_LOCATION),
            output_location=item.get(Attribute.OUTPUT_LOCATION),
            failure_location=item.get(Attribute.FAILURE_LOCATION),
            failure_reason=item.get(Attribute.FAILURE_REASON),
            response_content_type=item.get(Attribute.RESPONSE_CONTENT_TYPE),
            response_body=item.get(Attribute.RESPONSE_BODY),
            response_body_encoding=item.get(Attribute.RESPONSE_BODY_ENCODING),
            response_body_omitted=bool(item.get(Attribute.RESPONSE_BODY_OMITTED, False)),
            event_time=item.get(Attribute.EVENT_TIME),
            received_time=item.get(Attribute.RECEIVED_TIME),
            latency_ms=float(latency) if latency is not None else None,
            item=item,
        )

    def to_json(self) -> dict[str, Any]:
        """The item as JSON-friendly values: DynamoDB numbers arrive as Decimal, and a Binary
        body is shown base64-encoded, as the notification carried it."""
        return {key: _json_value(value) for key, value in self.item.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value
