"""The webhook's body: the job as `GET /v1/jobs/{id}` returns it (the shared contract: helper
A's `job_view(record, job_item, endpoint_names)` builds it for both).

Until A's function is on this branch, `job_view` here builds the fields the contract names
(id, status, endpoint, times, latency, failure reason); the merge replaces it with A's.
"""

from __future__ import annotations

import json
from typing import Any

from asyncinfer_runtime.contract import Attribute
from webhook_delivery import job_fields as F


def job_view(
    record: dict[str, Any], job_item: dict[str, Any], endpoint_names: dict[str, str]
) -> dict[str, Any]:
    endpoint = job_item.get(F.ENDPOINT) or endpoint_names.get(
        str(record.get(Attribute.ENDPOINT_NAME)), record.get(Attribute.ENDPOINT_NAME)
    )
    view: dict[str, Any] = {
        "id": record[Attribute.INFERENCE_ID],
        "status": record[Attribute.STATUS],
        "endpoint": endpoint,
        "createdAt": job_item.get("createdAt"),
        "completedAt": record.get(Attribute.COMPLETED_TIME),
        "latencyMs": record.get(Attribute.LATENCY_MS),
        "failureReason": record.get(Attribute.FAILURE_REASON),
    }
    return {key: value for key, value in view.items() if value is not None}


def job_body(
    record: dict[str, Any], job_item: dict[str, Any], endpoint_names: dict[str, str]
) -> str:
    """The body's exact text: it is what the signature covers, so it is built once per
    event and every attempt sends these bytes."""
    return json.dumps(job_view(record, job_item, endpoint_names), default=_number)


def _number(value: Any) -> Any:
    # DynamoDB numbers arrive as Decimal.
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
