"""The job API's OpenAPI 3.1 document: committed, written from the resolver, and true to
what the function answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from asyncinfer_runtime.inference_record import deserialize
from asyncinfer_runtime.job_view import job_view
from asyncinfer_runtime.notification import parse
from asyncinfer_runtime.record import pending_item, to_item
from job_api import openapi
from job_api.models import Job
from job_api.routes import OPENAPI_FILE, refused_parameter


def test_the_committed_document_is_the_resolver_s() -> None:
    assert OPENAPI_FILE.read_text() == openapi.text(), (
        "lambda/job_api/openapi.json drifted from the routes; regenerate it with `make openapi`"
    )


def test_every_operation_documents_api_gateway_s_own_answers_as_problems() -> None:
    document = json.loads(OPENAPI_FILE.read_text())
    assert document["openapi"] == "3.1.0"
    operations = [op for path in document["paths"].values() for op in path.values()]
    assert len(operations) == 7
    for operation in operations:
        responses = operation["responses"]
        assert {"403", "429"} <= set(responses), operation["operationId"]
        assert "422" not in responses
        for status, response in responses.items():
            if int(status) >= 400:
                assert list(response["content"]) == ["application/problem+json"], status
    submit = document["paths"]["/v1/jobs"]["post"]
    assert {"413", "415", "409", "202"} <= set(submit["responses"])
    headers = {p["name"] for p in submit["parameters"] if p["in"] == "header"}
    assert {"Idempotency-Key", "Input-Location", "Webhook-Url", "Webhook-Events"} <= headers
    assert document["components"]["securitySchemes"]["sigv4"]["in"] == "header"


def test_the_job_object_is_what_the_document_says(vectors_dir: Path) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for vector in sorted(vectors_dir.glob("*.json")):
        notification = parse(vector.read_text())
        if notification is None:
            continue  # the test notification SageMaker sends on subscription
        record = deserialize(
            to_item(notification, retention_days=1, now=now, inline_body_max_bytes=4096)
        )
        Job.model_validate(job_view(record, None, {}))
    pending = deserialize(
        pending_item(
            inference_id="a",
            endpoint_name="e",
            input_location=None,
            submitted=now,
            retention_days=1,
        )
    )
    Job.model_validate(job_view(pending, {"jobId": "a", "webhookUrl": "https://h"}, {}))


def test_a_refused_parameter_is_one_sentence_naming_it() -> None:
    problem = refused_parameter(
        [
            {
                "loc": ("header", "x-amzn-sagemaker-invocationtimeoutseconds"),
                "msg": "Input should be greater than or equal to 1",
                "input": "0",
            }
        ]
    )
    assert problem.status == 400
    assert problem.detail == (
        "Header 'X-Amzn-SageMaker-InvocationTimeoutSeconds': input should be greater than or "
        "equal to 1; received '0'."
    )
