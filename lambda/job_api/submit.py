"""POST /v1/jobs: one job from one request, in two AWS calls for an inline payload.

    1. BatchWriteItem: the jobs item and the PENDING record (with an Idempotency-Key, one
       TransactWriteItems that takes the key too: store.py);
    2. (a body above 128,000 bytes: PutObject into the input bucket first)
    3. InvokeEndpointAsync, the payload inline (Body) or by InputLocation.

SageMaker refusing the request removes what step 1 wrote, so the key is free again and no
job is left that will never finish.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from asyncinfer_runtime.contract import iso_time
from asyncinfer_runtime.inference_record import deserialize
from asyncinfer_runtime.job_view import job_view
from asyncinfer_runtime.jobs import (
    IDEMPOTENCY_SECONDS,
    WEBHOOK_PENDING,
    IdempotencyAttribute,
    JobAttribute,
    idempotency_item_id,
)
from asyncinfer_runtime.record import pending_item
from job_api.aws import client, error_code, error_message
from job_api.job_request import JobRequest
from job_api.problems import Problem
from job_api.settings import ApiSettings
from job_api.store import KeyTaken, read_job, remove_job, write_job
from job_api.uploads import API_PREFIX, uploaded_object

log = logging.getLogger(__name__)
# S3's stand-in media type for an object uploaded without one: it says nothing about the
# payload, so the job leaves ContentType to the endpoint's default.
_S3_DEFAULT_MEDIA_TYPE = "binary/octet-stream"


@dataclass(frozen=True)
class Submitted:
    job: dict[str, Any]
    # True when an earlier request with the same Idempotency-Key made the job.
    replayed: bool = False


def submit(
    request: JobRequest,
    *,
    caller: str,
    idempotency_key: str | None,
    settings: ApiSettings,
    now: datetime | None = None,
) -> Submitted:
    now = now or datetime.now(UTC)
    job_id = str(uuid.uuid4())
    sagemaker_endpoint = settings.endpoints[request.endpoint]
    content_type = request.content_type
    input_location = request.input_location
    if input_location is not None:
        uploaded = uploaded_object(input_location, settings.input_bucket, caller)
        if content_type is None and uploaded.content_type != _S3_DEFAULT_MEDIA_TYPE:
            content_type = uploaded.content_type
    elif not request.inline:
        input_location = f"s3://{settings.input_bucket}/{API_PREFIX}{job_id}"

    pending = pending_item(
        inference_id=job_id,
        endpoint_name=sagemaker_endpoint,
        input_location=input_location,
        submitted=now,
        retention_days=settings.retention_days,
        request_content_type=content_type,
        accept=request.accept,
        custom_attributes=request.custom_attributes,
    )
    job_item = _job_item(job_id, request, caller=caller, now=now, settings=settings)
    key_id = idempotency_item_id(caller, idempotency_key) if idempotency_key else None
    try:
        write_job(
            jobs_table=settings.jobs_table,
            results_table=settings.results_table,
            job_item=job_item,
            pending_record=pending,
            idempotency_item=_idempotency_item(key_id, job_id, request, caller, now)
            if key_id
            else None,
            now=now.timestamp(),
        )
    except KeyTaken as taken:
        return _replay(taken, request, idempotency_key or "", settings)

    try:
        if input_location is not None and request.input_location is None:
            _, _, key = input_location.removeprefix("s3://").partition("/")
            client("s3").put_object(
                Bucket=settings.input_bucket,
                Key=key,
                Body=request.body,
                ContentType=content_type or "application/octet-stream",
            )
        _invoke(job_id, sagemaker_endpoint, request, content_type, input_location)
    except BaseException:
        _undo(job_id, key_id, settings)
        raise
    return Submitted(job_view(deserialize(pending), deserialize(job_item), settings.endpoint_names))


def _job_item(
    job_id: str, request: JobRequest, *, caller: str, now: datetime, settings: ApiSettings
) -> dict[str, Any]:
    expires = now + timedelta(days=settings.retention_days)
    item: dict[str, Any] = {
        JobAttribute.JOB_ID: {"S": job_id},
        JobAttribute.ENDPOINT: {"S": request.endpoint},
        JobAttribute.CALLER: {"S": caller},
        JobAttribute.CREATED_AT: {"S": iso_time(now)},
        JobAttribute.EXPIRES_AT: {"N": str(int(expires.timestamp()))},
    }
    if request.webhook_url:
        item[JobAttribute.WEBHOOK_URL] = {"S": request.webhook_url}
        item[JobAttribute.WEBHOOK_EVENTS] = {"SS": list(request.webhook_events)}
        item[JobAttribute.WEBHOOK_STATUS] = {"S": WEBHOOK_PENDING}
        item[JobAttribute.WEBHOOK_ATTEMPTS] = {"N": "0"}
    return item


def _idempotency_item(
    key_id: str, job_id: str, request: JobRequest, caller: str, now: datetime
) -> dict[str, Any]:
    return {
        JobAttribute.JOB_ID: {"S": key_id},
        IdempotencyAttribute.JOB: {"S": job_id},
        IdempotencyAttribute.REQUEST_HASH: {"S": request.fingerprint()},
        JobAttribute.CALLER: {"S": caller},
        JobAttribute.CREATED_AT: {"S": iso_time(now)},
        JobAttribute.EXPIRES_AT: {"N": str(int(now.timestamp()) + IDEMPOTENCY_SECONDS)},
    }


def _replay(taken: KeyTaken, request: JobRequest, key: str, settings: ApiSettings) -> Submitted:
    if taken.taken.request_hash != request.fingerprint():
        raise Problem(
            409,
            f"Idempotency-Key {key!r} was used in the last 24 hours for another request "
            f"(payload or headers differ); send a new key for a new job.",
        )
    record, job_item = read_job(
        jobs_table=settings.jobs_table,
        results_table=settings.results_table,
        job_id=taken.taken.job_id,
    )
    if record is None and job_item is None:
        # The first request is being undone (SageMaker refused it); it will answer why.
        raise Problem(
            409,
            f"Idempotency-Key {key!r} belongs to a request that did not start a job; send "
            f"the request again in a moment.",
        )
    return Submitted(job_view(record, job_item, settings.endpoint_names), replayed=True)


def _invoke(
    job_id: str,
    endpoint: str,
    request: JobRequest,
    content_type: str | None,
    input_location: str | None,
) -> None:
    params: dict[str, Any] = {
        "EndpointName": endpoint,
        "InferenceId": job_id,
        "ContentType": content_type,
        "Accept": request.accept,
        "CustomAttributes": request.custom_attributes,
        "InvocationTimeoutSeconds": request.invocation_timeout_seconds,
        "RequestTTLSeconds": request.request_ttl_seconds,
    }
    if input_location is None:
        params["Body"] = request.body
    else:
        params["InputLocation"] = input_location
    try:
        client("sagemaker-runtime").invoke_endpoint_async(
            **{name: value for name, value in params.items() if value is not None}
        )
    except Exception as error:
        code = error_code(error)
        if not code:
            raise
        message = error_message(error).rstrip(".")
        if code == "ValidationError":
            raise Problem(400, f"SageMaker refused the request: {message}.") from None
        if code in ("ThrottlingException", "TooManyRequestsException"):
            raise Problem(
                429,
                "SageMaker throttled the request; send it again after a pause.",
                headers={"Retry-After": "1"},
            ) from None
        raise Problem(
            503, f"SageMaker could not take the request ({code}: {message}); send it again."
        ) from None


def _undo(job_id: str, key_id: str | None, settings: ApiSettings) -> None:
    try:
        remove_job(
            jobs_table=settings.jobs_table,
            results_table=settings.results_table,
            job_id=job_id,
            idempotency_key_id=key_id,
        )
    except Exception:  # the request's own error is what the caller needs to hear
        log.exception("could not remove job %s after SageMaker refused it", job_id)
