"""GET /v1/jobs/{id}/result: the model's output, from the record when it is small enough to
be kept there, else a 303 to a presigned GET of the output object."""

from __future__ import annotations

import base64
from typing import Any, Final

from aws_lambda_powertools.event_handler import Response

from asyncinfer_runtime.contract import COMPLETED, FAILED, Attribute
from asyncinfer_runtime.job_view import job_path
from job_api.aws import client
from job_api.limits import UPLOAD_URL_SECONDS
from job_api.problems import Problem

_BINARY: Final = "application/octet-stream"


def result_response(job_id: str, record: dict[str, Any] | None) -> Response[Any]:
    if record is None:
        raise Problem(404, f"There is no job {job_id!r}.")
    status = record.get(Attribute.STATUS)
    if status == FAILED:
        reason = str(record.get(Attribute.FAILURE_REASON) or "no reason given").rstrip(".")
        raise Problem(
            409,
            f"Job {job_id} FAILED ({reason}), so it has no result; GET {job_path(job_id)} "
            f"shows the failure.",
        )
    if status != COMPLETED:
        raise Problem(
            409,
            f"Job {job_id} is {status}: its result is not there yet; GET {job_path(job_id)} "
            f"until it is COMPLETED.",
        )
    content_type = str(record.get(Attribute.RESPONSE_CONTENT_TYPE) or _BINARY)
    body = record.get(Attribute.RESPONSE_BODY)
    if body is not None and not record.get(Attribute.RESPONSE_BODY_OMITTED):
        if isinstance(body, str) and str(record.get(Attribute.RESPONSE_BODY_ENCODING)) == "BASE64":
            body = base64.b64decode(body)  # a body the writer kept as sent
        # bytes go out base64-encoded and API Gateway decodes them (every type is binary).
        return Response(status_code=200, content_type=content_type, body=body)
    location = record.get(Attribute.OUTPUT_LOCATION)
    if not location:
        raise Problem(
            409, f"Job {job_id} is COMPLETED but its record names no output; SageMaker wrote none."
        )
    bucket, _, key = str(location).removeprefix("s3://").partition("/")
    url = client("s3").generate_presigned_url(
        "get_object",
        Params={"Bucket": bucket, "Key": key},
        ExpiresIn=UPLOAD_URL_SECONDS,
        HttpMethod="GET",
    )
    return Response(status_code=303, headers={"Location": url}, body="")
