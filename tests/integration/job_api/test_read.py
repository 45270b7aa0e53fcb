"""GET /v1/jobs/{id}, GET /v1/jobs/{id}/result and GET /v1/jobs: the function on moto, over
records the results writer's own record builder makes."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from asyncinfer_runtime.contract import iso_time
from asyncinfer_runtime.notification import parse
from asyncinfer_runtime.record import pending_item, to_item
from job_api.models import Job, JobList
from tests.integration.job_api.conftest import ENDPOINTS, JobApi
from tests.integration.job_api.test_submit import CSV, problem, submit

NOW = datetime.now(UTC).replace(microsecond=0)


def finish(
    job_api: JobApi,
    vectors_dir: Path,
    job_id: str,
    *,
    failed: bool = False,
    at: datetime = NOW,
    endpoint: str = ENDPOINTS["default"],
    body: bytes | None = None,
    inline_body_max_bytes: int = 4096,
) -> dict[str, Any]:
    """Store the record the results writer stores for a notification about `job_id`."""
    vector = json.loads((vectors_dir / ("error.json" if failed else "success.json")).read_text())
    vector["inferenceId"] = job_id
    vector["eventTime"] = iso_time(at)
    vector["receivedTime"] = iso_time(at - timedelta(milliseconds=250))
    vector["requestParameters"]["endpointName"] = endpoint
    if not failed:
        vector["responseParameters"] = {
            "contentType": "text/csv",
            "outputLocation": f"s3://{job_api.output_bucket}/output/{job_id}.out",
        }
        if body is not None:
            import base64

            vector["responseBody"] = {
                "content": base64.b64encode(body).decode(),
                "encoding": "BASE64",
                "message": "",
            }
    notification = parse(json.dumps(vector))
    assert notification is not None
    item = to_item(
        notification, retention_days=1, now=at, inline_body_max_bytes=inline_body_max_bytes
    )
    job_api.client("dynamodb").put_item(TableName=job_api.results_table, Item=item)
    return item


def test_a_job_submitted_then_finished(job_api: JobApi, vectors_dir: Path) -> None:
    job_id = submit(job_api, CSV, **{"Webhook-Url": "https://hooks.example.com/a"}).json()["id"]
    pending = job_api.call("GET", f"/v1/jobs/{job_id}")
    assert pending.status == 200
    assert Job.model_validate(pending.json()).status == "PENDING"
    assert pending.json()["webhook"] == {
        "url": "https://hooks.example.com/a",
        "events": ["completed", "failed"],
        "status": "PENDING",
        "attempts": 0,
    }
    finish(job_api, vectors_dir, job_id, body=b"0.98\n0.02\n")
    done = job_api.call("GET", f"/v1/jobs/{job_id}").json()
    assert Job.model_validate(done).status == "COMPLETED"
    assert done["links"]["result"] == f"/v1/jobs/{job_id}/result"
    assert done["latencyMs"] == 250
    result = job_api.call("GET", f"/v1/jobs/{job_id}/result")
    assert result.status == 200
    assert result.body == b"0.98\n0.02\n"
    assert result.headers["Content-Type"] == "text/csv"


def test_a_job_of_the_python_client_is_found_too(job_api: JobApi) -> None:
    record = pending_item(
        inference_id="client-1",
        endpoint_name=ENDPOINTS["default"],
        input_location="s3://in/requests/client-1",
        submitted=NOW,
        retention_days=1,
    )
    job_api.client("dynamodb").put_item(TableName=job_api.results_table, Item=record)
    answer = job_api.call("GET", "/v1/jobs/client-1").json()
    assert answer["status"] == "PENDING" and answer["endpoint"] == "default"


def test_no_such_job_and_a_too_long_id(job_api: JobApi) -> None:
    assert "'nope'" in problem(job_api.call("GET", "/v1/jobs/nope"), 404)
    assert "'nope'" in problem(job_api.call("GET", "/v1/jobs/nope/result"), 404)
    assert "Path parameter 'id'" in problem(job_api.call("GET", f"/v1/jobs/{'x' * 65}"), 400)


def test_a_result_too_large_for_the_record_is_a_redirect_to_s3(
    job_api: JobApi, vectors_dir: Path
) -> None:
    output = b"9" * 5000
    finish(job_api, vectors_dir, "big", body=output, inline_body_max_bytes=4096)
    job_api.client("s3").put_object(Bucket=job_api.output_bucket, Key="output/big.out", Body=output)
    answer = job_api.call("GET", "/v1/jobs/big/result")
    assert answer.status == 303
    with urllib.request.urlopen(answer.headers["Location"], timeout=10) as reply:
        assert reply.read() == output


def test_no_result_while_pending_nor_after_a_failure(job_api: JobApi, vectors_dir: Path) -> None:
    job_id = submit(job_api, CSV).json()["id"]
    assert "is PENDING" in problem(job_api.call("GET", f"/v1/jobs/{job_id}/result"), 409)
    finish(job_api, vectors_dir, job_id, failed=True)
    detail = problem(job_api.call("GET", f"/v1/jobs/{job_id}/result"), 409)
    assert "FAILED (ClientError: Received server error (500) from model" in detail
    assert (
        job_api.call("GET", f"/v1/jobs/{job_id}").json()["failureReason"].startswith("ClientError")
    )


def listed(job_api: JobApi, **query: str) -> list[dict[str, Any]]:
    """Every page of a listing, following `next`."""
    jobs: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        params = list(query.items()) + ([("next", token)] if token else [])
        page = job_api.call("GET", "/v1/jobs", query=params)
        assert page.status == 200, page.body
        body = JobList.model_validate(page.json())
        jobs.extend(page.json()["jobs"])
        token = body.next
        if token is None:
            return jobs


def test_listings_page_newest_first_without_repeats(job_api: JobApi, vectors_dir: Path) -> None:
    # Seven results over the shards, three of them in the same millisecond; two failures;
    # one result of another endpoint and one older than the listing.
    times = [NOW - timedelta(minutes=m) for m in (1, 2, 2, 2, 3, 4, 5)]
    for number, at in enumerate(times):
        finish(job_api, vectors_dir, f"job-{number}", at=at, failed=number in (2, 5))
    finish(job_api, vectors_dir, "other", endpoint=ENDPOINTS["tabular"])
    finish(job_api, vectors_dir, "old", at=NOW - timedelta(days=3))

    every = listed(job_api, limit="2")
    ids = [job["id"] for job in every]
    assert sorted(ids) == sorted(f"job-{n}" for n in range(7))
    order = [(job["completedAt"], job["id"]) for job in every]
    assert order == sorted(order, reverse=True)

    completed = listed(job_api, status="COMPLETED", limit="3")
    assert {job["id"] for job in completed} == {f"job-{n}" for n in (0, 1, 3, 4, 6)}
    failed = listed(job_api, status="FAILED", limit="1")
    assert [job["id"] for job in failed] == ["job-2", "job-5"]
    assert all(job["failureReason"] for job in failed)
    since = iso_time(NOW - timedelta(days=4))
    assert "old" in {job["id"] for job in listed(job_api, since=since)}


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ({"limit": "0"}, "Query parameter 'limit'"),
        ({"status": "PENDING"}, "Query parameter 'status'"),
        ({"since": "yesterday"}, "Query parameter 'since'"),
        ({"next": "bm90LWEtdG9rZW4"}, "not a page token"),
        ({"endpoint": "Nope"}, "Query parameter 'endpoint'"),
    ],
)
def test_a_wrong_listing_names_its_parameter(
    job_api: JobApi, query: dict[str, str], names: str
) -> None:
    assert names in problem(job_api.call("GET", "/v1/jobs", query=list(query.items())), 400)


def test_a_page_token_belongs_to_its_listing(job_api: JobApi, vectors_dir: Path) -> None:
    for number in range(3):
        finish(job_api, vectors_dir, f"t-{number}", at=NOW - timedelta(seconds=number))
    first = job_api.call("GET", "/v1/jobs", query=[("limit", "1")]).json()
    other = job_api.call(
        "GET", "/v1/jobs", query=[("limit", "1"), ("status", "COMPLETED"), ("next", first["next"])]
    )
    assert "belongs to a listing" in problem(other, 400)


def test_redelivery_waits_for_the_webhooks_branch(job_api: JobApi) -> None:
    plain = submit(job_api, CSV).json()["id"]
    assert "has no webhook" in problem(job_api.call("POST", f"/v1/jobs/{plain}/webhook"), 409)
    hooked = submit(job_api, CSV, **{"Webhook-Url": "https://h.example.com"}).json()["id"]
    problem(job_api.call("POST", f"/v1/jobs/{hooked}/webhook"), 501)


def test_the_document_is_served_and_unknown_routes_are_404(job_api: JobApi) -> None:
    document = job_api.call("GET", "/v1/openapi.json")
    assert document.status == 200 and document.json()["openapi"] == "3.1.0"
