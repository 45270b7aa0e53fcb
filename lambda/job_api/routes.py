"""The API's routes on Powertools' REST event handler, with what the OpenAPI document says of
each (openapi.py writes the document from this resolver).

Every route answers JSON or, for an error, application/problem+json with one sentence. The
resolver validates the query, path and header parameters it declares (enable_validation);
a value it refuses is a 400 naming the parameter (`refused_parameter`).
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path as FilePath
from typing import Annotated, Any, Final, Literal, cast

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from asyncinfer_runtime.job_view import job_path, job_view
from asyncinfer_runtime.jobs import JobAttribute
from job_api.caller import caller_of
from job_api.job_request import MAX_WEBHOOK_URL, job_request
from job_api.listing import Listing, list_jobs
from job_api.models import Job, JobList, ProblemDetails, Upload
from job_api.problems import PROBLEM_MEDIA_TYPE, Problem, problem_response
from job_api.result import result_response
from job_api.settings import ApiSettings, settings
from job_api.store import read_job, read_record
from job_api.submit import submit
from job_api.uploads import new_upload

log = logging.getLogger(__name__)

OPENAPI_FILE: Final = FilePath(__file__).with_name("openapi.json")
ENDPOINT_NAME: Final = r"^[a-z][a-z0-9-]{0,30}$"
# SageMaker's InferenceId: 1-64 characters, the first not a space (botocore's model).
JOB_ID_MAX: Final = 64
DEFAULT_LISTING_HOURS: Final = 24
# The request headers POST /v1/jobs reads, by the names the document gives them.
CUSTOM_ATTRIBUTES: Final = "X-Amzn-SageMaker-Custom-Attributes"
INVOCATION_TIMEOUT: Final = "X-Amzn-SageMaker-InvocationTimeoutSeconds"
REQUEST_TTL: Final = "X-Amzn-SageMaker-RequestTTLSeconds"
INPUT_LOCATION: Final = "Input-Location"
IDEMPOTENCY_KEY: Final = "Idempotency-Key"
WEBHOOK_URL: Final = "Webhook-Url"
WEBHOOK_EVENTS: Final = "Webhook-Events"
HEADERS: Final = (
    CUSTOM_ATTRIBUTES,
    INVOCATION_TIMEOUT,
    REQUEST_TTL,
    INPUT_LOCATION,
    IDEMPOTENCY_KEY,
    WEBHOOK_URL,
    WEBHOOK_EVENTS,
)

app = APIGatewayRestResolver(enable_validation=True)

# -- what the document says of answers ---------------------------------------------------

_REASONS: Final = {
    400: "A parameter, header or the body is wrong; `detail` names it.",
    403: "The request is not signed (SigV4), or not by a principal allowed to call this "
    "method (API Gateway).",
    404: "No such job.",
    409: "The request conflicts with the job's state, or its Idempotency-Key was used for "
    "another request.",
    413: "The body is larger than the API takes (4,500,000 bytes); use POST /v1/uploads.",
    415: "The body's Content-Type is missing or not a media type.",
    429: "Too many requests: the stage's throttling (API Gateway) or SageMaker's.",
    501: "Redelivery is not available in this deployment yet.",
}
_GATEWAY: Final = (403, 429)  # any method may get these from API Gateway itself


def _answers(*statuses: int) -> dict[int, OpenAPIResponse]:
    return {
        status: _response(
            description=_REASONS[status],
            content={PROBLEM_MEDIA_TYPE: {"model": ProblemDetails}},
        )
        for status in sorted({*statuses, *_GATEWAY})
    }


def _response(**fields: Any) -> OpenAPIResponse:
    return cast(OpenAPIResponse, fields)


def _json(description: str, model: Any, **extra: Any) -> OpenAPIResponse:
    return _response(
        description=description, content={"application/json": {"model": model}}, **extra
    )


_PAYLOAD_SCHEMA: Final = {"type": "string", "format": "binary"}
_SUBMIT_BODY: Final = {
    "requestBody": {
        "description": "The payload as is, with its own Content-Type (any media type); at "
        "most 4,500,000 bytes. Leave it empty when Input-Location names an upload.",
        "required": False,
        "content": {
            "application/json": {"schema": {}},
            "text/csv": {"schema": {"type": "string"}},
            "application/octet-stream": {"schema": _PAYLOAD_SCHEMA},
            "*/*": {"schema": _PAYLOAD_SCHEMA},
        },
    }
}

# -- errors ------------------------------------------------------------------------------


@app.exception_handler(Problem)
def _problem(problem: Problem) -> Response[str]:
    return problem_response(problem)


@app.exception_handler(RequestValidationError)
def _invalid(error: RequestValidationError) -> Response[str]:
    return problem_response(refused_parameter(error.errors()))


@app.not_found
def _no_route(_: NotFoundError) -> Response[str]:
    event = app.current_event
    return problem_response(
        Problem(404, f"This API has no {event.http_method} {event.path}; see /v1/openapi.json.")
    )


@app.exception_handler(Exception)
def _unexpected(error: Exception) -> Response[str]:
    log.exception("unexpected error")
    request_id = app.current_event.request_context.request_id
    return problem_response(
        Problem(500, f"The job API failed on this request (request id {request_id}).")
    )


def refused_parameter(errors: Any) -> Problem:
    """The first refused value as one sentence: where it was, what came, what is expected."""
    first = errors[0] if errors else {}
    location = list(first.get("loc") or ())
    where = {"query": "Query parameter", "header": "Header", "path": "Path parameter"}.get(
        str(location[0]) if location else "", "Parameter"
    )
    name = str(location[1]) if len(location) > 1 else "?"
    if where == "Header":
        name = {header.lower(): header for header in HEADERS}.get(name.lower(), name)
    message = str(first.get("msg") or "is not valid").rstrip(".")
    received = first.get("input")
    shown = f"; received {received!r}" if isinstance(received, str | int | float) else ""
    return Problem(400, f"{where} '{name}': {message[0].lower()}{message[1:]}{shown}.")


# -- helpers -----------------------------------------------------------------------------


def _settings() -> ApiSettings:
    return settings()


def _endpoint(name: str | None, config: ApiSettings) -> str:
    """The endpoint a request names (`?endpoint=`), or the only one."""
    names = list(config.endpoints)
    if name is None:
        if len(names) == 1:
            return names[0]
        raise Problem(
            400,
            f"Query parameter 'endpoint' is required: this API serves {', '.join(names)}.",
        )
    if name not in config.endpoints:
        raise Problem(
            400,
            f"Query parameter 'endpoint' names no endpoint of this API ({name!r}); expected "
            f"one of {', '.join(names)}.",
        )
    return name


def _body() -> bytes:
    event = app.current_event
    body = event.body or ""
    return base64.b64decode(body) if event.is_base64_encoded else body.encode("utf-8")


def _api_base_url() -> str:
    """The API's base URL as the caller reached it: scheme and host from the request, the
    stage (or custom domain base path) from requestContext.path less the route's path."""
    event = app.current_event
    headers = {name.lower(): value for name, value in (event.headers or {}).items()}
    scheme = headers.get("x-forwarded-proto", "https")
    host = headers.get("host") or event.request_context.domain_name or ""
    full = event.request_context.path or event.path
    base = full[: len(full) - len(event.path)] if full.endswith(event.path) else ""
    return f"{scheme}://{host}{base}"


def _json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body, separators=(",", ":")),
        headers=headers or {},
    )


# -- routes ------------------------------------------------------------------------------


@app.post(
    "/v1/jobs",
    summary="Submit a job",
    description="The body is the payload as is (curl --data-binary @image.jpg -H "
    "'Content-Type: image/jpeg'); up to 128,000 bytes go to SageMaker inline, larger ones "
    "through the input bucket. `Accept` (unless */*) is passed to the model as SageMaker's "
    "Accept. Answers 202 with the job and its Location.",
    operation_id="submitJob",
    tags=["jobs"],
    responses={
        202: _json(
            "Accepted: the job, PENDING (or, for a repeated Idempotency-Key, as it is now).",
            Job,
            headers={
                "Location": {
                    "description": "The job's URL.",
                    "schema": {"type": "string", "format": "uri"},
                }
            },
        ),
        **_answers(400, 409, 413, 415),
    },
    openapi_extensions=_SUBMIT_BODY,
)
def submit_job(
    endpoint: Annotated[
        str | None,
        Query(
            description="The endpoint's name in the system; required when there are several.",
            pattern=ENDPOINT_NAME,
        ),
    ] = None,
    content_type: Annotated[str | None, Header(alias="Content-Type")] = None,
    accept: Annotated[str | None, Header(alias="Accept", include_in_schema=False)] = None,
    custom_attributes: Annotated[
        str | None,
        Header(
            alias=CUSTOM_ATTRIBUTES,
            description="Passed to the model as SageMaker's CustomAttributes.",
            max_length=1024,
        ),
    ] = None,
    invocation_timeout_seconds: Annotated[
        int | None,
        Header(
            alias=INVOCATION_TIMEOUT,
            description="How long the model may take (SageMaker's InvocationTimeoutSeconds).",
            ge=1,
            le=3600,
        ),
    ] = None,
    request_ttl_seconds: Annotated[
        int | None,
        Header(
            alias=REQUEST_TTL,
            description="How long the request may wait in the queue (SageMaker's "
            "RequestTTLSeconds).",
            ge=60,
            le=21600,
        ),
    ] = None,
    input_location: Annotated[
        str | None,
        Header(
            alias=INPUT_LOCATION,
            description="The inputLocation of POST /v1/uploads, with an empty body.",
            max_length=1024,
        ),
    ] = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=IDEMPOTENCY_KEY,
            description="The same key (per caller, for 24 h) answers with the same job and "
            "never starts a second inference; with another request it is a 409.",
            min_length=1,
            max_length=255,
            pattern=r"^[\x21-\x7e]+$",
        ),
    ] = None,
    webhook_url: Annotated[
        str | None,
        Header(
            alias=WEBHOOK_URL,
            description="Where to deliver the job's events (https).",
            max_length=MAX_WEBHOOK_URL,
        ),
    ] = None,
    webhook_events: Annotated[
        str | None,
        Header(
            alias=WEBHOOK_EVENTS,
            description="completed and/or failed, comma-separated; both when absent.",
            max_length=64,
        ),
    ] = None,
) -> Response[str]:
    config = _settings()
    request = job_request(
        endpoint=_endpoint(endpoint, config),
        body=_body(),
        content_type=content_type,
        accept=accept,
        custom_attributes=custom_attributes,
        invocation_timeout_seconds=invocation_timeout_seconds,
        request_ttl_seconds=request_ttl_seconds,
        input_location=input_location,
        webhook_url=webhook_url,
        webhook_events=webhook_events,
        local_mode=config.local_mode,
    )
    submitted = submit(
        request,
        caller=caller_of(app.current_event.raw_event["requestContext"]),
        idempotency_key=idempotency_key,
        settings=config,
    )
    location = _api_base_url() + job_path(submitted.job["id"])
    return _json_response(202, submitted.job, {"Location": location})


JobId = Annotated[str, Path(description="The job's id.", min_length=1, max_length=JOB_ID_MAX)]


@app.get(
    "/v1/jobs/<id>",
    summary="A job's status",
    description="Status (PENDING, COMPLETED, FAILED, as in the results table), times, latency, "
    "failure reason, endpoint, and the webhook's delivery. Jobs the Python client submitted "
    "are found too.",
    operation_id="getJob",
    tags=["jobs"],
    responses={200: _json("The job.", Job), **_answers(400, 404)},
)
def get_job(id: JobId) -> Response[str]:
    config = _settings()
    record, job_item = read_job(
        jobs_table=config.jobs_table, results_table=config.results_table, job_id=id
    )
    if record is None and job_item is None:
        raise Problem(404, f"There is no job {id!r}.")
    return _json_response(200, job_view(record, job_item, config.endpoint_names))


@app.get(
    "/v1/jobs/<id>/result",
    summary="A job's result",
    description="The model's output with its content type when the results record holds "
    "it, else a 303 to a presigned GET of the output object.",
    operation_id="getJobResult",
    tags=["jobs"],
    responses={
        200: _response(
            description="The model's output, as the model answered it.",
            content={"*/*": {"schema": _PAYLOAD_SCHEMA}},
        ),
        303: _response(
            description="The output is in S3: follow Location (a presigned GET, valid 15 minutes).",
            headers={
                "Location": {
                    "description": "A presigned GET of the output object.",
                    "schema": {"type": "string", "format": "uri"},
                }
            },
        ),
        **_answers(400, 404, 409),
    },
)
def get_job_result(id: JobId) -> Response[Any]:
    return result_response(id, read_record(_settings().results_table, id))


@app.get(
    "/v1/jobs",
    summary="List finished jobs",
    description="Newest first, from the results table's indexes: without `status`, what the "
    "endpoint finished (COMPLETED and FAILED); `status=FAILED` lists failures of every "
    "endpoint (or of `endpoint`). Jobs still PENDING are in no index.",
    operation_id="listJobs",
    tags=["jobs"],
    responses={200: _json("A page of jobs.", JobList), **_answers(400)},
)
def list_finished_jobs(
    status: Annotated[Literal["COMPLETED", "FAILED"] | None, Query()] = None,
    endpoint: Annotated[str | None, Query(pattern=ENDPOINT_NAME)] = None,
    since: Annotated[
        datetime | None,
        Query(description=f"ISO-8601 time; {DEFAULT_LISTING_HOURS} hours ago when absent."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    next: Annotated[
        str | None,
        Query(description="The previous page's `next`.", max_length=512, pattern=r"^[\w-]+$"),
    ] = None,
) -> Response[str]:
    config = _settings()
    name = endpoint if status == "FAILED" and endpoint is None else _endpoint(endpoint, config)
    listing = Listing(
        status=status,
        endpoint=name,
        sagemaker_endpoint=config.endpoints[name] if name else None,
        since=since if since is None or since.tzinfo else since.replace(tzinfo=UTC),
        limit=limit,
    )
    return _json_response(
        200,
        list_jobs(
            listing,
            table=config.results_table,
            page_token=next,
            endpoint_names=config.endpoint_names,
            default_since=datetime.now(UTC) - timedelta(hours=DEFAULT_LISTING_HOURS),
        ),
    )


@app.post(
    "/v1/uploads",
    summary="Upload a large payload",
    description="A presigned PUT for one exact key in the input bucket (SSE-KMS by the "
    "bucket), valid 15 minutes, for payloads up to SageMaker's 1 GB. Then POST /v1/jobs with "
    "an empty body and `Input-Location: <inputLocation>`.",
    operation_id="createUpload",
    tags=["uploads"],
    responses={201: _json("The upload URL and the inputLocation it fills.", Upload), **_answers()},
)
def create_upload() -> Response[str]:
    config = _settings()
    upload = new_upload(
        config.input_bucket, caller_of(app.current_event.raw_event["requestContext"])
    )
    return _json_response(201, upload)


@app.post(
    "/v1/jobs/<id>/webhook",
    summary="Redeliver a job's webhook",
    operation_id="redeliverWebhook",
    tags=["jobs"],
    responses={
        202: _json("Redelivery queued; the job as it is now.", Job),
        **_answers(400, 404, 409, 501),
    },
)
def redeliver_webhook(id: JobId) -> Response[str]:
    config = _settings()
    record, job_item = read_job(
        jobs_table=config.jobs_table, results_table=config.results_table, job_id=id
    )
    if record is None and job_item is None:
        raise Problem(404, f"There is no job {id!r}.")
    if not (job_item or {}).get(JobAttribute.WEBHOOK_URL):
        raise Problem(409, f"Job {id} has no webhook (submit it with Webhook-Url).")
    # The delivery queue is the webhooks branch's (issue21-split.md: request_redelivery).
    raise Problem(
        501,
        "Webhook redelivery is not part of this deployment yet; the job's webhook status "
        "shows its delivery.",
    )


@app.get(
    "/v1/openapi.json",
    summary="This document",
    operation_id="getOpenApi",
    tags=["meta"],
    responses={200: _json("The OpenAPI 3.1 document of this API.", dict[str, Any]), **_answers()},
)
def openapi_document() -> Response[str]:
    return Response(status_code=200, content_type="application/json", body=OPENAPI_FILE.read_text())
