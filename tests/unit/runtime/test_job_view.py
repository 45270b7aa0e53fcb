"""The job object (asyncinfer_runtime/job_view.py): what GET /v1/jobs/{id} answers and a
webhook delivers, built from a results record and a jobs item."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from asyncinfer_runtime.inference_record import deserialize
from asyncinfer_runtime.job_view import job_path, job_view
from asyncinfer_runtime.jobs import IDEMPOTENCY_PREFIX, idempotency_item_id
from asyncinfer_runtime.notification import parse
from asyncinfer_runtime.record import pending_item, to_item

NAMES = {"SageMakerAsyncInference-Endpoint-1": "default"}


def written(vectors_dir: Path, vector: str) -> dict[str, Any]:
    """The record the results writer stores for one of the notification vectors."""
    notification = parse((vectors_dir / vector).read_text())
    assert notification is not None
    item = to_item(
        notification,
        retention_days=1,
        now=datetime(2026, 1, 1, tzinfo=UTC),
        inline_body_max_bytes=4096,
    )
    return deserialize(item)


def test_a_completed_record_with_its_jobs_item(vectors_dir: Path) -> None:
    record = written(vectors_dir, "success-with-response-body.json")
    job = {
        "jobId": record["inferenceId"],
        "endpoint": "sentiment",
        "caller": "arn:aws:iam::123456789012:user/alice",
        "createdAt": "2026-01-01T00:00:00.000Z",
        "expiresAt": Decimal("1767312000"),
    }
    view = job_view(record, job, NAMES)
    assert view["id"] == record["inferenceId"]
    assert view["status"] == "COMPLETED"
    # The jobs item names the endpoint as the system knows it, not as SageMaker does.
    assert view["endpoint"] == "sentiment"
    assert view["createdAt"] == "2026-01-01T00:00:00.000Z"
    assert view["completedAt"] == record["completedTime"]
    assert isinstance(view["latencyMs"], int)
    assert view["links"] == {
        "self": f"/v1/jobs/{record['inferenceId']}",
        "result": f"/v1/jobs/{record['inferenceId']}/result",
    }
    # Who submitted a job is the API's business, not the job's readers'.
    assert "caller" not in view and "webhook" not in view
    assert None not in view.values()


def test_a_failed_record_of_the_python_client_has_no_jobs_item(vectors_dir: Path) -> None:
    record = written(vectors_dir, "error.json")
    view = job_view(record, None, {record["endpointName"]: "tabular"})
    assert view["status"] == "FAILED"
    assert view["endpoint"] == "tabular"
    assert view["failureReason"] == record["failureReason"]
    assert view["createdAt"] == record["receivedTime"]
    assert "result" not in view["links"]


def test_a_pending_record_and_a_webhook_being_delivered() -> None:
    submitted = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    record = deserialize(
        pending_item(
            inference_id="job 1/ü",
            endpoint_name="unknown-sagemaker-name",
            input_location=None,
            submitted=submitted,
            retention_days=1,
            request_content_type="text/csv",
        )
    )
    job = {
        "jobId": "job 1/ü",
        "webhookUrl": "https://example.com/hook",
        "webhookEvents": {"failed", "completed"},
        "webhookStatus": "DELIVERING",
        "webhookAttempts": Decimal("2"),
        "webhookLastError": "HTTP 503 from example.com",
        "webhookEventId": "msg_1",
    }
    view = job_view(record, job, NAMES)
    assert view["status"] == "PENDING"
    # An endpoint name the mapping does not know is shown as SageMaker's.
    assert view["endpoint"] == "unknown-sagemaker-name"
    assert view["createdAt"] == "2026-01-02T03:04:05.678Z"
    assert view["contentType"] == "text/csv"
    assert "completedAt" not in view
    assert view["links"] == {"self": "/v1/jobs/job%201%2F%C3%BC"}
    assert view["webhook"] == {
        "url": "https://example.com/hook",
        "events": ["completed", "failed"],
        "status": "DELIVERING",
        "attempts": 2,
        "lastError": "HTTP 503 from example.com",
        "eventId": "msg_1",
    }


def test_a_job_whose_record_is_not_written_yet_is_pending() -> None:
    view = job_view(None, {"jobId": "a", "endpoint": "default"}, NAMES)
    assert view == {
        "id": "a",
        "status": "PENDING",
        "endpoint": "default",
        "links": {"self": "/v1/jobs/a"},
    }


def test_neither_record_nor_item_is_refused() -> None:
    with pytest.raises(ValueError, match="received neither"):
        job_view(None, None, NAMES)


def test_idempotency_items_cannot_collide_with_a_job_and_are_per_caller() -> None:
    alice = idempotency_item_id("arn:aws:iam::1:user/alice", "k")
    bob = idempotency_item_id("arn:aws:iam::1:user/bob", "k")
    assert alice.startswith(IDEMPOTENCY_PREFIX) and alice != bob
    assert alice.endswith("#k")
    assert job_path("a/b") == "/v1/jobs/a%2Fb"
