"""The job API on local mode, driven with curl itself: signed with `--aws-sigv4` and local
mode's printed credentials, as the docs tell a user to."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from asyncinfer.local.model_server import ModelServer
from tests.support.local_mode import Local, csv_rows, read_s3

pytestmark = pytest.mark.slow
SIGV4 = ("--aws-sigv4", "aws:amz:us-east-1:execute-api", "--user", "local:local")
DONE_TIMEOUT = 60.0


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def curl(
    local: Local,
    tmp_path: Path,
    method: str,
    path: str,
    *args: str,
    signed: tuple[str, ...] = SIGV4,
    url: str | None = None,
) -> Reply:
    """One curl call; `path` is relative to the API's base URL (local.json's apiUrl)."""
    target = url or str(local.info["apiUrl"]) + path.lstrip("/")
    headers_file, body_file = tmp_path / "headers.txt", tmp_path / "body.bin"
    done = subprocess.run(
        [
            "curl",
            "-sS",
            "-X",
            method,
            *signed,
            "-D",
            str(headers_file),
            "-o",
            str(body_file),
            "-w",
            "%{http_code}",
            *args,
            target,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    headers: dict[str, str] = {}
    for line in headers_file.read_text().splitlines()[1:]:
        name, _, value = line.partition(":")
        if value:
            headers[name.strip().lower()] = value.strip()
    return Reply(int(done.stdout), headers, body_file.read_bytes())


def problem(reply: Reply, status: int) -> str:
    assert reply.status == status, reply.body
    assert reply.headers["content-type"] == "application/problem+json"
    document = reply.json()
    assert document["status"] == status and document["type"] == "about:blank"
    return str(document["detail"])


def wait_done(local: Local, tmp_path: Path, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + DONE_TIMEOUT
    while time.monotonic() < deadline:
        job = curl(local, tmp_path, "GET", f"v1/jobs/{job_id}").json()
        if job["status"] != "PENDING":
            return dict(job)
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still PENDING after {DONE_TIMEOUT:.0f} s")


def accepted(local: Local) -> int:
    """Requests the endpoint accepted so far (local mode's own count)."""
    with urllib.request.urlopen(f"{local.url}/local/metrics", timeout=10) as reply:
        metrics = json.loads(reply.read())
    return int(metrics[local.outputs["EndpointName"]]["AcceptedRequests"])


def test_local_json_names_the_api_and_unsigned_requests_are_refused(
    local: Local, tmp_path: Path
) -> None:
    assert str(local.info["apiUrl"]).endswith("/prod/")
    assert "Missing Authentication Token" in problem(
        curl(local, tmp_path, "GET", "v1/jobs", signed=()), 403
    )
    wrong = ("--aws-sigv4", "aws:amz:us-east-1:execute-api", "--user", "local:not-the-secret")
    assert "signature we calculated does not match" in problem(
        curl(local, tmp_path, "GET", "v1/jobs", signed=wrong), 403
    )
    assert "Missing Authentication Token" in problem(
        curl(local, tmp_path, "GET", "v1/nothing-here"), 403
    )


def test_csv_and_json_payloads_complete_and_their_results_come_back(
    local: Local, model: ModelServer, tmp_path: Path
) -> None:
    rows = "\n".join(csv_rows(2)).encode()
    payload = tmp_path / "rows.csv"
    payload.write_bytes(rows)
    submitted = curl(
        local, tmp_path, "POST", "v1/jobs", "--data-binary", f"@{payload}",
        "-H", "Content-Type: text/csv",
    )  # fmt: skip
    assert submitted.status == 202, submitted.body
    job = submitted.json()
    assert submitted.headers["location"] == f"{local.info['apiUrl']}v1/jobs/{job['id']}"
    assert wait_done(local, tmp_path, job["id"])["status"] == "COMPLETED"
    result = curl(local, tmp_path, "GET", f"v1/jobs/{job['id']}/result")
    assert result.status == 200
    assert result.body == model.predict(rows)
    assert result.headers["content-type"].startswith("text/csv")

    document = json.dumps([[float(v) for v in row.split(",")] for row in csv_rows(2)])
    as_json = curl(
        local, tmp_path, "POST", "v1/jobs", "--data-binary", document,
        "-H", "Content-Type: application/json", "-H", "Accept: application/json",
    )  # fmt: skip
    finished = wait_done(local, tmp_path, as_json.json()["id"])
    assert finished["status"] == "COMPLETED" and finished["resultContentType"] == "application/json"
    scores = curl(local, tmp_path, "GET", f"v1/jobs/{finished['id']}/result").json()
    assert len(scores) == 2


def test_a_binary_payload_arrives_byte_for_byte_and_its_failure_is_listed(
    local: Local, tmp_path: Path
) -> None:
    # Query parameters in alphabetical order: curl before 8 signs the query as written, and
    # SigV4 wants it sorted (curl/curl#9717); local mode, like API Gateway, refuses it so.
    # Above InvokeEndpointAsync's inline limit, so the API stores it in the input bucket,
    # where its bytes can be compared; the XGBoost model refuses the media type.
    payload = tmp_path / "image.bin"
    payload.write_bytes(os.urandom(200_000))
    submitted = curl(
        local, tmp_path, "POST", "v1/jobs", "--data-binary", f"@{payload}",
        "-H", "Content-Type: application/octet-stream",
    )  # fmt: skip
    assert submitted.status == 202, submitted.body
    job_id = submitted.json()["id"]
    bucket = local.outputs["InputBucketName"]
    assert read_s3(local, f"s3://{bucket}/api/{job_id}") == payload.read_bytes()
    failed = wait_done(local, tmp_path, job_id)
    assert failed["status"] == "FAILED" and "unsupported content type" in failed["failureReason"]
    listed = curl(local, tmp_path, "GET", "v1/jobs?limit=100&status=FAILED").json()["jobs"]
    assert job_id in {job["id"] for job in listed}
    assert "FAILED" in problem(curl(local, tmp_path, "GET", f"v1/jobs/{job_id}/result"), 409)


def test_a_large_payload_goes_through_an_upload_and_its_result_through_s3(
    local: Local, model: ModelServer, tmp_path: Path
) -> None:
    rows = "\n".join(csv_rows(24_000)).encode()
    assert len(rows) > 4_500_000  # more than a request body may be
    payload = tmp_path / "large.csv"
    payload.write_bytes(rows)
    # Just over the API's limit, the function itself answers; further over, the event no
    # longer fits Lambda's 6 MB request and Lambda's refusal comes back as API Gateway's 413.
    just_over = tmp_path / "just-over.csv"
    just_over.write_bytes(rows[:4_600_000])
    for body, function_answers in ((just_over, True), (payload, False)):
        too_large = curl(
            local, tmp_path, "POST", "v1/jobs", "--data-binary", f"@{body}",
            "-H", "Content-Type: text/csv",
        )  # fmt: skip
        if function_answers:
            assert "POST /v1/uploads" in problem(too_large, 413)
        else:
            assert too_large.status == 413 and too_large.json() == {"message": "Request Too Long"}

    upload = curl(local, tmp_path, "POST", "v1/uploads")
    assert upload.status == 201, upload.body
    url, location = upload.json()["uploadUrl"], upload.json()["inputLocation"]
    put = curl(local, tmp_path, "PUT", "", "-T", str(payload), signed=(), url=url)
    assert put.status == 200, put.body
    submitted = curl(
        local, tmp_path, "POST", "v1/jobs", "-H", f"Input-Location: {location}",
        "-H", "Content-Type: text/csv",
    )  # fmt: skip
    assert submitted.status == 202, submitted.body
    job_id = submitted.json()["id"]
    assert wait_done(local, tmp_path, job_id)["status"] == "COMPLETED"
    # 24,000 scores are far more than a record keeps: a redirect to the output object.
    result = curl(local, tmp_path, "GET", f"v1/jobs/{job_id}/result")
    assert result.status == 303
    output = curl(local, tmp_path, "GET", "", signed=(), url=result.headers["location"])
    assert output.status == 200 and output.body == model.predict(rows)


def test_an_idempotent_retry_is_the_same_job_and_one_inference(
    local: Local, tmp_path: Path
) -> None:
    rows = "\n".join(csv_rows(1))
    request = (
        "--data-binary", rows, "-H", "Content-Type: text/csv",
        "-H", f"Idempotency-Key: retry-{time.time_ns()}",
    )  # fmt: skip
    before = accepted(local)
    first = curl(local, tmp_path, "POST", "v1/jobs", *request)
    again = curl(local, tmp_path, "POST", "v1/jobs", *request)
    assert first.status == again.status == 202
    assert again.json()["id"] == first.json()["id"]
    assert accepted(local) == before + 1
    other = curl(local, tmp_path, "POST", "v1/jobs", *request[:-2], "-H", request[-1] + "x")
    assert other.json()["id"] != first.json()["id"]
    changed = curl(
        local, tmp_path, "POST", "v1/jobs", "--data-binary", rows + "\n" + rows,
        *request[2:],
    )  # fmt: skip
    assert "Idempotency-Key" in problem(changed, 409)


def test_the_in_account_caller_signs_as_an_sdk_does(
    local: Local, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tests/integ/signed_caller.py, which the in-account proof deploys, on local mode."""
    from tests.integ.signed_caller import handler

    for name, value in local.info["environment"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("API_URL", str(local.info["apiUrl"]))
    event = {
        "body": "\n".join(csv_rows(1)),
        "contentType": "text/csv",
        "idempotencyKey": f"caller-{time.time_ns()}",
    }
    first = handler(event, None)
    assert first["submitStatus"] == 202 and first["getStatus"] == 200, first
    finished = wait_done(local, tmp_path, first["job"]["id"])
    again = handler(event, None)
    assert again["job"]["id"] == first["job"]["id"]
    assert again["job"]["status"] == finished["status"] == "COMPLETED"
