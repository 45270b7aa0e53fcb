"""The job as the HTTP job API shows it: `GET /v1/jobs/{id}` answers with this object, a
listing with one per job, and a webhook delivers it as its body.

`job_view` is the one place that turns a results record (what SageMaker said) and a jobs
item (what the API recorded at submit, and the webhook's delivery) into that object, so
the API and the webhook dispatcher can never disagree about a job. The `Job` schema of the
OpenAPI document (lambda/job_api/openapi.json) describes what it returns.

Standard library only: every function's asset carries this package.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final
from urllib.parse import quote

from asyncinfer_runtime.contract import COMPLETED, PENDING, TERMINAL, Attribute
from asyncinfer_runtime.jobs import JobAttribute

# The API's own paths, as the OpenAPI document names them: links are these paths, to be
# appended to the API's base URL (the stack output `ApiUrl`, local.json's `apiUrl`).
JOBS_PATH: Final = "/v1/jobs"


def job_path(job_id: str) -> str:
    """`/v1/jobs/<id>`, the id percent-encoded (an inference id may hold any printable
    character)."""
    return f"{JOBS_PATH}/{quote(job_id, safe='')}"


def job_view(
    record: Mapping[str, Any] | None,
    job_item: Mapping[str, Any] | None,
    endpoint_names: Mapping[str, str],
) -> dict[str, Any]:
    """The job object of `record` (a results-table item, deserialised: plain values) and
    `job_item` (its jobs-table item, deserialised), either of which may be missing: a
    request the Python client submitted has no jobs item, a job whose PENDING record was
    not written yet has no record.

    `endpoint_names` maps each SageMaker endpoint name to the endpoint's name in the
    system, which is what a job shows (`default`, `sentiment`). Attributes that are not
    known are left out, never null.
    """
    if record is None and job_item is None:
        raise ValueError("job_view needs a results record, a jobs item, or both; received neither.")
    record = record or {}
    job_item = job_item or {}
    job_id = str(job_item.get(JobAttribute.JOB_ID) or record.get(Attribute.INFERENCE_ID))
    status = str(record.get(Attribute.STATUS) or PENDING)
    sagemaker_name = record.get(Attribute.ENDPOINT_NAME)
    endpoint = job_item.get(JobAttribute.ENDPOINT) or (
        endpoint_names.get(sagemaker_name, sagemaker_name) if sagemaker_name else None
    )
    # When the job began: the API's own submit time, else when SageMaker accepted the
    # request, else (a client's PENDING record) the submit time the client recorded.
    created = (
        job_item.get(JobAttribute.CREATED_AT)
        or record.get(Attribute.RECEIVED_TIME)
        or (record.get(Attribute.EVENT_TIME) if status == PENDING else None)
    )
    links = {"self": job_path(job_id)}
    if status == COMPLETED:
        links["result"] = f"{job_path(job_id)}/result"
    view: dict[str, Any] = {
        "id": job_id,
        "status": status,
        "endpoint": endpoint,
        "createdAt": created,
        "completedAt": record.get(Attribute.COMPLETED_TIME)
        or (record.get(Attribute.EVENT_TIME) if status in TERMINAL else None),
        "latencyMs": _number(record.get(Attribute.LATENCY_MS)),
        "failureReason": record.get(Attribute.FAILURE_REASON),
        "contentType": record.get(Attribute.REQUEST_CONTENT_TYPE),
        "resultContentType": record.get(Attribute.RESPONSE_CONTENT_TYPE),
        "links": links,
        "webhook": _webhook(job_item),
    }
    return {name: value for name, value in view.items() if value is not None}


def _webhook(job_item: Mapping[str, Any]) -> dict[str, Any] | None:
    url = job_item.get(JobAttribute.WEBHOOK_URL)
    if not url:
        return None
    webhook = {
        "url": url,
        "events": sorted(job_item.get(JobAttribute.WEBHOOK_EVENTS) or ()),
        "status": job_item.get(JobAttribute.WEBHOOK_STATUS),
        "attempts": _number(job_item.get(JobAttribute.WEBHOOK_ATTEMPTS)),
        "lastError": job_item.get(JobAttribute.WEBHOOK_LAST_ERROR),
        "eventId": job_item.get(JobAttribute.WEBHOOK_EVENT_ID),
        "deliveredAt": job_item.get(JobAttribute.WEBHOOK_DELIVERED_AT),
    }
    return {name: value for name, value in webhook.items() if value is not None}


def _number(value: Any) -> int | float | None:
    """A DynamoDB number (Decimal) as JSON's: whole numbers as int."""
    if value is None:
        return None
    number = Decimal(str(value)) if not isinstance(value, Decimal) else value
    return int(number) if number == number.to_integral_value() else float(number)
