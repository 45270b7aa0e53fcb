"""The API's JSON shapes, as pydantic models: they write the OpenAPI document's schemas,
and the tests hold what the handlers answer (job_view's job among them) to them.

Optional fields are left out of an answer when unknown, never null: `SkipJsonSchema[None]`
keeps null out of the schema while the model still accepts a missing field.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

Time = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class JobLinks(_Strict):
    self_: str = Field(alias="self", description="This job: GET it for its status.")
    result: str | SkipJsonSchema[None] = Field(
        default=None, description="The job's result, once the job is COMPLETED."
    )


class JobWebhook(_Strict):
    url: str = Field(description="Where the job's events are delivered.")
    events: list[Literal["completed", "failed"]] = Field(description="The events delivered.")
    status: Literal["PENDING", "DELIVERING", "DELIVERED", "FAILED"] | SkipJsonSchema[None] = None
    attempts: Annotated[int, Field(ge=0)] | SkipJsonSchema[None] = None
    lastError: str | SkipJsonSchema[None] = None
    eventId: str | SkipJsonSchema[None] = Field(
        default=None, description="The event's webhook-id, the same on every retry."
    )
    deliveredAt: Time | SkipJsonSchema[None] = None


class Job(_Strict):
    id: str = Field(description="The job's id: SageMaker's inference id.")
    status: Literal["PENDING", "COMPLETED", "FAILED"]
    endpoint: str | SkipJsonSchema[None] = Field(
        default=None, description="The endpoint's name in the system (the `endpoint` parameter)."
    )
    createdAt: Time | SkipJsonSchema[None] = None
    completedAt: Time | SkipJsonSchema[None] = None
    latencyMs: Annotated[float, Field(ge=0)] | SkipJsonSchema[None] = Field(
        default=None, description="From SageMaker accepting the request to its result."
    )
    failureReason: str | SkipJsonSchema[None] = None
    contentType: str | SkipJsonSchema[None] = Field(
        default=None, description="The payload's media type."
    )
    resultContentType: str | SkipJsonSchema[None] = Field(
        default=None, description="The result's media type (what GET .../result answers with)."
    )
    links: JobLinks
    webhook: JobWebhook | SkipJsonSchema[None] = None


class JobList(_Strict):
    jobs: list[Job] = Field(description="Newest first.")
    next: str | SkipJsonSchema[None] = Field(
        default=None, description="Pass as `next` for the following page; absent on the last."
    )


class Upload(_Strict):
    uploadUrl: str = Field(
        description="A presigned S3 PUT for exactly one object: `curl -T file '<uploadUrl>'`."
    )
    method: Literal["PUT"] = "PUT"
    inputLocation: str = Field(
        description="Send as the `Input-Location` header of POST /v1/jobs (with no body)."
    )
    expiresAt: Time = Field(description="The upload URL works until then.")


class ProblemDetails(_Strict):
    """RFC 9457 problem details."""

    type: str = Field(description='Always "about:blank": the status code says it all.')
    title: str = Field(description="The status code's reason phrase.")
    status: int
    detail: str = Field(description="One sentence naming what was wrong.")
