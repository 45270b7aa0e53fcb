"""POST /v1/jobs and POST /v1/uploads: the function on moto, as API Gateway invokes it."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from asyncinfer_runtime.contract import MAX_INLINE_BYTES
from asyncinfer_runtime.jobs import idempotency_item_id
from job_api import aws, settings
from job_api.limits import MAX_BODY_BYTES
from job_api.models import Job, ProblemDetails
from tests.integration.job_api.conftest import ALICE, BOB, ENDPOINTS, Answer, JobApi

CSV = b"17.99,10.38,122.8\n20.57,17.77,132.9\n"


def problem(answer: Answer, status: int) -> str:
    """The answer's problem detail, after checking it is an RFC 9457 problem of `status`."""
    assert answer.status == status, answer.body
    assert answer.headers["Content-Type"] == "application/problem+json"
    details = ProblemDetails.model_validate(answer.json())
    assert details.status == status and details.type == "about:blank"
    assert details.detail.endswith(".") and "\n" not in details.detail
    return details.detail


def submit(job_api: JobApi, body: bytes, content_type: str = "text/csv", **headers: str) -> Answer:
    return job_api.call(
        "POST", "/v1/jobs", body=body, headers={"Content-Type": content_type, **headers}
    )


def test_an_inline_payload_is_one_transaction_and_one_invoke(job_api: JobApi) -> None:
    answer = submit(job_api, CSV, Accept="application/json")
    assert answer.status == 202, answer.body
    job = Job.model_validate(answer.json())
    assert job.status == "PENDING" and job.endpoint == "default"
    assert job.contentType == "text/csv"
    assert answer.headers["Location"] == f"https://api.example.com/prod/v1/jobs/{job.id}"
    record = job_api.record(job.id)
    assert record is not None
    assert record["status"] == {"S": "PENDING"}
    assert record["endpointName"] == {"S": ENDPOINTS["default"]}
    assert record["accept"] == {"S": "application/json"}
    assert "inputLocation" not in record  # inline: sent as Body
    item = job_api.job_item(job.id)
    assert item is not None
    assert item["caller"] == {"S": ALICE} and item["endpoint"] == {"S": "default"}


def test_curl_s_default_accept_asks_the_model_for_nothing(job_api: JobApi) -> None:
    answer = submit(job_api, CSV, Accept="*/*")
    record = job_api.record(answer.json()["id"])
    assert record is not None and "accept" not in record


def test_a_body_above_the_inline_limit_goes_through_the_input_bucket(job_api: JobApi) -> None:
    body = b"1.0," * (MAX_INLINE_BYTES // 4 + 1)
    answer = submit(job_api, body)
    assert answer.status == 202, answer.body
    job_id = answer.json()["id"]
    record = job_api.record(job_id)
    assert record is not None
    location = record["inputLocation"]["S"]
    assert location == f"s3://{job_api.input_bucket}/api/{job_id}"
    stored = job_api.client("s3").get_object(Bucket=job_api.input_bucket, Key=f"api/{job_id}")
    assert stored["Body"].read() == body
    assert stored["ContentType"] == "text/csv"


def test_a_body_above_the_api_limit_is_413(job_api: JobApi) -> None:
    detail = problem(submit(job_api, b"x" * (MAX_BODY_BYTES + 1)), 413)
    assert "4,500,000" in detail and "POST /v1/uploads" in detail


@pytest.mark.parametrize(
    ("headers", "body", "status", "names"),
    [
        ({}, b"", 400, "body is empty"),
        ({"Content-Type": ""}, CSV, 415, "Content-Type"),
        ({"Content-Type": "not a media type"}, CSV, 415, "Content-Type"),
        ({"Content-Type": "text/csv", "Input-Location": "s3://x/y"}, CSV, 400, "Input-Location"),
        (
            {"Content-Type": "text/csv", "X-Amzn-SageMaker-InvocationTimeoutSeconds": "0"},
            CSV,
            400,
            "X-Amzn-SageMaker-InvocationTimeoutSeconds",
        ),
        ({"Content-Type": "text/csv", "Idempotency-Key": "a key"}, CSV, 400, "Idempotency-Key"),
        ({"Content-Type": "text/csv", "Webhook-Url": "http://example.com"}, CSV, 400, "https"),
        (
            {"Content-Type": "text/csv", "Webhook-Url": "https://x.io", "Webhook-Events": "done"},
            CSV,
            400,
            "Webhook-Events",
        ),
    ],
)
def test_a_wrong_request_is_one_sentence_naming_what_is_wrong(
    job_api: JobApi, headers: dict[str, str], body: bytes, status: int, names: str
) -> None:
    headers = {k: v for k, v in headers.items() if v}
    answer = job_api.call("POST", "/v1/jobs", body=body, headers=headers)
    assert names in problem(answer, status)


def test_several_endpoints_need_a_name(two_endpoints: JobApi) -> None:
    assert "default, tabular" in problem(submit(two_endpoints, CSV), 400)
    unknown = two_endpoints.call(
        "POST",
        "/v1/jobs",
        body=CSV,
        headers={"Content-Type": "text/csv"},
        query=[("endpoint", "nope")],
    )
    assert "'nope'" in problem(unknown, 400)
    named = two_endpoints.call(
        "POST",
        "/v1/jobs",
        body=CSV,
        headers={"Content-Type": "text/csv"},
        query=[("endpoint", "tabular")],
    )
    assert named.status == 202 and named.json()["endpoint"] == "tabular"
    record = two_endpoints.record(named.json()["id"])
    assert record is not None and record["endpointName"] == {"S": ENDPOINTS["tabular"]}


def test_the_same_idempotency_key_is_the_same_job_per_caller(job_api: JobApi) -> None:
    first = submit(job_api, CSV, **{"Idempotency-Key": "order-17"})
    again = submit(job_api, CSV, **{"Idempotency-Key": "order-17"})
    assert first.status == again.status == 202
    assert again.json()["id"] == first.json()["id"]
    assert job_api.job_item(idempotency_item_id(ALICE, "order-17")) is not None
    # Another caller's key of the same name is another job.
    other = job_api.call(
        "POST",
        "/v1/jobs",
        body=CSV,
        headers={"Content-Type": "text/csv", "Idempotency-Key": "order-17"},
        caller=BOB,
    )
    assert other.status == 202 and other.json()["id"] != first.json()["id"]
    changed = submit(job_api, CSV + b"1,2,3\n", **{"Idempotency-Key": "order-17"})
    assert "order-17" in problem(changed, 409)
    assert "another request" in problem(
        submit(job_api, CSV, "application/json", **{"Idempotency-Key": "order-17"}), 409
    )


def test_an_upload_then_its_input_location(job_api: JobApi) -> None:
    created = job_api.call("POST", "/v1/uploads")
    assert created.status == 201, created.body
    upload = created.json()
    assert upload["method"] == "PUT"
    location = upload["inputLocation"]
    assert location.startswith(f"s3://{job_api.input_bucket}/uploads/")

    empty = submit(job_api, b"", **{"Input-Location": location})
    assert "holds no object yet" in problem(empty, 400)

    # urllib would send form-encoded by default, which the stand-in parses away.
    request = urllib.request.Request(
        upload["uploadUrl"], data=CSV * 1000, method="PUT", headers={"Content-Type": "text/csv"}
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 200

    # Another caller cannot use it, nor any other key of the bucket.
    stolen = job_api.call(
        "POST",
        "/v1/jobs",
        headers={"Input-Location": location, "Content-Type": "text/csv"},
        caller=BOB,
    )
    assert "POST /v1/uploads gave you" in problem(stolen, 400)
    elsewhere = submit(job_api, b"", **{"Input-Location": f"s3://{job_api.input_bucket}/api/x"})
    assert "POST /v1/uploads gave you" in problem(elsewhere, 400)

    answer = submit(job_api, b"", **{"Input-Location": location})
    assert answer.status == 202, answer.body
    record = job_api.record(answer.json()["id"])
    assert record is not None
    assert record["inputLocation"] == {"S": location}
    assert record["requestContentType"] == {"S": "text/csv"}


class _RefusingSageMaker(BaseHTTPRequestHandler):
    """SageMaker's runtime refusing every request, as it refuses a bad one."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"message": "Endpoint sagemaker-default of account 1 not found."})
        self.send_response(400)
        self.send_header("x-amzn-ErrorType", "ValidationError")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *values: Any) -> None:
        pass


@pytest.fixture
def refusing_sagemaker(job_api: JobApi, monkeypatch: pytest.MonkeyPatch) -> Iterator[JobApi]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RefusingSageMaker)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", f"http://127.0.0.1:{server.server_address[1]}"
    )
    aws.client.cache_clear()
    settings.settings.cache_clear()
    yield job_api
    server.shutdown()
    server.server_close()


def test_a_refused_invoke_leaves_no_job_and_frees_the_key(refusing_sagemaker: JobApi) -> None:
    api = refusing_sagemaker
    answer = submit(api, CSV, **{"Idempotency-Key": "k1"})
    assert "SageMaker refused the request: Endpoint sagemaker-default" in problem(answer, 400)
    scan = api.client("dynamodb").scan(TableName=api.results_table)["Items"]
    assert scan == []
    assert api.client("dynamodb").scan(TableName=api.jobs_table)["Items"] == []
