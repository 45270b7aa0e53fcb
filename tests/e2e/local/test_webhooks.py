"""Signed webhooks end to end on local mode: the dispatcher (the template's own function) gets
each notification from its queue, reads the job's webhook from the jobs table, and POSTs
the job, signed, to a receiver on loopback; a receiver that is down is retried under one
event id, a redelivery sends the same event again, and what cannot be delivered ends in
the webhook dead-letter queue without touching the job's result.

The app is the project's, with the jobs table the job API creates and a retry schedule
shortened by `webhook_retry_delay_scale` (a day of retries in ~17 s).
"""

from __future__ import annotations

import io
import itertools
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from asyncinfer.cli import main
from asyncinfer.local.model_server import ModelServer
from asyncinfer_runtime.jobs import JobAttribute
from asyncinfer_runtime.webhook_redelivery import request_redelivery
from tests.support.local_mode import Local, csv_rows, start_local, wait_record
from tests.support.webhooks import (
    Receiver,
    job_item,
    parsed,
    put_job,
    synth_app_with_webhooks,
    wait_job,
)

pytestmark = pytest.mark.slow

DELAY_SCALE = "0.0002"  # retries ~1 s apart (SQS delays are whole seconds), window 17.3 s


@pytest.fixture(scope="module")
def hooked(tmp_path_factory: pytest.TempPathFactory, model: ModelServer) -> Iterator[Local]:
    root = tmp_path_factory.mktemp("webhooks-app")
    cdk_out = synth_app_with_webhooks(root, f"webhook_retry_delay_scale={DELAY_SCALE}")
    running = start_local(root / "state", "--model-url", model.url, cdk_out=cdk_out)
    yield running
    running.stop()


def submit(local: Local, url: str, *, body: str | None = None, events: tuple[str, ...] = ()) -> str:
    """A job as the job API submits it: its jobs item, then the invoke under its id."""
    job_id = str(uuid.uuid4())
    put_job(local.client("dynamodb"), local.outputs["JobsTableName"], job_id, url, events)
    local.client("sagemaker-runtime").invoke_endpoint_async(
        EndpointName=local.outputs["EndpointName"],
        Body=(body if body is not None else csv_rows(1)[0]).encode(),
        ContentType="text/csv",
        InferenceId=job_id,
    )
    return job_id


def jobs(local: Local) -> tuple[Any, str]:
    return local.client("dynamodb"), local.outputs["JobsTableName"]


def test_local_json_names_the_signing_secret(hooked: Local) -> None:
    secret = hooked.info["webhookSecret"]
    assert secret.startswith("whsec_")
    Webhook(secret)  # a key the package takes


def test_a_delivery_verifies_with_the_standardwebhooks_package(hooked: Local) -> None:
    receiver = Receiver().start()
    try:
        job_id = submit(hooked, receiver.url)
        (delivery,) = receiver.wait_accepted(1)
    finally:
        receiver.stop()
    headers = {name.lower(): value for name, value in delivery.headers.items()}
    job = Webhook(hooked.info["webhookSecret"]).verify(delivery.body, headers)
    assert job["id"] == job_id and job["status"] == "COMPLETED"
    assert job["endpoint"] == "default" and job["links"]["result"].endswith("/result")
    assert headers["content-type"] == "application/json"
    assert abs(int(headers["webhook-timestamp"]) - delivery.received) < 5
    item = wait_job(*jobs(hooked), job_id, "DELIVERED")
    assert item[JobAttribute.WEBHOOK_EVENT_ID] == headers["webhook-id"]
    assert item[JobAttribute.WEBHOOK_ATTEMPTS] == 1
    assert JobAttribute.WEBHOOK_DELIVERED_AT in item


def test_a_receiver_down_then_up_gets_the_event_once_under_one_id(hooked: Local) -> None:
    receiver = Receiver().start()
    receiver.stop()  # its port now refuses connections
    job_id = submit(hooked, receiver.url)
    dynamodb, table = jobs(hooked)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        item = job_item(dynamodb, table, job_id)
        if item.get(JobAttribute.WEBHOOK_ATTEMPTS, 0) >= 2:
            break
        time.sleep(0.1)
    assert item[JobAttribute.WEBHOOK_STATUS] == "DELIVERING"
    assert "could not reach the receiver" in item[JobAttribute.WEBHOOK_LAST_ERROR]
    receiver.start()  # the same port, up again
    try:
        (delivery,) = receiver.wait_accepted(1, timeout=30)
        time.sleep(2)  # no second delivery follows
        assert len(receiver.deliveries) == 1
    finally:
        receiver.stop()
    item = wait_job(dynamodb, table, job_id, "DELIVERED")
    assert delivery.headers["webhook-id"] == item[JobAttribute.WEBHOOK_EVENT_ID]
    assert item[JobAttribute.WEBHOOK_ATTEMPTS] >= 3


def test_retries_on_5xx_and_429_keep_the_event_id(hooked: Local) -> None:
    answers = [503, 429, 500, 200]
    receiver = Receiver(answer=lambda n: answers[min(n, len(answers) - 1)]).start()
    try:
        job_id = submit(hooked, receiver.url)
        receiver.wait_accepted(1, timeout=30)
    finally:
        receiver.stop()
    assert [d.status for d in receiver.deliveries] == answers
    assert len({d.headers["webhook-id"] for d in receiver.deliveries}) == 1
    bodies = {d.body for d in receiver.deliveries}
    assert len(bodies) == 1  # the same bytes every time; only timestamp and signature change
    gaps = [b.received - a.received for a, b in itertools.pairwise(receiver.deliveries)]
    assert all(gap >= 0.9 for gap in gaps)  # each retry waited its (whole-second) delay
    assert wait_job(*jobs(hooked), job_id, "DELIVERED")[JobAttribute.WEBHOOK_ATTEMPTS] == 4


def test_redelivery_sends_the_same_event_again(hooked: Local) -> None:
    receiver = Receiver().start()
    try:
        job_id = submit(hooked, receiver.url)
        (first,) = receiver.wait_accepted(1)
        wait_job(*jobs(hooked), job_id, "DELIVERED")
        # The API redelivers finished jobs only: their record is in the results table.
        wait_record(hooked, job_id)
        request_redelivery(job_id, sqs=hooked.client("sqs"), queue_url=delivery_queue(hooked))
        second = receiver.wait_accepted(2)[1]
    finally:
        receiver.stop()
    assert second.headers["webhook-id"] == first.headers["webhook-id"]
    assert parsed(second)["id"] == parsed(first)["id"] == job_id
    Webhook(hooked.info["webhookSecret"]).verify(
        second.body, {k.lower(): v for k, v in second.headers.items()}
    )
    deadline = time.monotonic() + 10
    while job_item(*jobs(hooked), job_id).get(JobAttribute.WEBHOOK_ATTEMPTS) != 2:
        assert time.monotonic() < deadline, "the redelivery was not counted"
        time.sleep(0.1)


def test_a_4xx_stops_at_once_and_the_job_keeps_its_result(hooked: Local) -> None:
    receiver = Receiver(answer=lambda n: 404).start()
    try:
        job_id = submit(hooked, receiver.url)
        item = wait_job(*jobs(hooked), job_id, "FAILED")
        time.sleep(2)
    finally:
        receiver.stop()
    assert len(receiver.deliveries) == 1
    assert item[JobAttribute.WEBHOOK_ATTEMPTS] == 1
    assert item[JobAttribute.WEBHOOK_LAST_ERROR].startswith("HTTP 404")
    assert wait_record(hooked, job_id)["status"] == "COMPLETED"
    assert job_id in given_up(hooked)


def test_a_receiver_that_never_recovers_ends_in_the_dead_letter_queue(hooked: Local) -> None:
    receiver = Receiver(answer=lambda n: 500).start()
    try:
        job_id = submit(hooked, receiver.url)
        item = wait_job(*jobs(hooked), job_id, "FAILED", timeout=60)
    finally:
        receiver.stop()
    # The shortened window (17.3 s) passed with a retry about every second.
    assert item[JobAttribute.WEBHOOK_ATTEMPTS] >= 5
    assert len(receiver.deliveries) == item[JobAttribute.WEBHOOK_ATTEMPTS]
    span = receiver.deliveries[-1].received - receiver.deliveries[0].received
    assert span >= 17
    assert job_id in given_up(hooked)
    assert wait_record(hooked, job_id)["status"] == "COMPLETED"


def test_a_webhook_to_a_private_address_is_refused(hooked: Local) -> None:
    job_id = submit(hooked, "http://10.1.2.3/hook")
    item = wait_job(*jobs(hooked), job_id, "FAILED")
    assert "10.1.2.3 is a private address" in item[JobAttribute.WEBHOOK_LAST_ERROR]


def test_only_the_events_a_job_asks_for_are_delivered(hooked: Local) -> None:
    receiver = Receiver().start()
    try:
        failing = submit(hooked, receiver.url, body="not,a,row", events=("completed",))
        wanted = submit(hooked, receiver.url, body="not,a,row", events=("failed",))
        (delivery,) = receiver.wait_accepted(1)
        assert wait_record(hooked, failing)["status"] == "FAILED"
        time.sleep(2)
    finally:
        receiver.stop()
    assert len(receiver.deliveries) == 1
    job = parsed(delivery)
    assert job["id"] == wanted and job["status"] == "FAILED" and job["failureReason"]
    assert job_item(*jobs(hooked), failing).get(JobAttribute.WEBHOOK_ATTEMPTS) is None


def delivery_queue(local: Local) -> str:
    return queue_named(local, "WebhooksDeliveryQueue")


def queue_named(local: Local, logical_prefix: str) -> str:
    urls = local.client("sqs").list_queues().get("QueueUrls", [])
    (url,) = [u for u in urls if f"-{logical_prefix}" in u.rsplit("/", 1)[-1]]
    return str(url)


def given_up(local: Local) -> set[str]:
    """Job ids in the webhook dead-letter queue (read without consuming them for long)."""
    sqs = local.client("sqs")
    url = local.outputs["WebhookDeadLetterQueueUrl"]
    found: set[str] = set()
    for _ in range(5):
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=1, WaitTimeSeconds=1
        ).get("Messages", [])
        found |= {json.loads(m["Body"])["jobId"] for m in messages}
        if messages:
            break
    return found


def run_cli(local: Local, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    connection = ["--endpoint-url", local.url, "--outputs-file", str(local.outputs_file)]
    code = main([*connection, *argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_the_cli_submits_with_a_webhook_and_prints_the_secret(
    hooked: Local, tmp_path: Path
) -> None:
    code, secret, _ = run_cli(hooked, "webhook-secret")
    assert code == 0 and secret.strip() == hooked.info["webhookSecret"]
    payload = tmp_path / "row.csv"
    payload.write_text(csv_rows(1)[0])
    receiver = Receiver().start()
    try:
        code, out, err = run_cli(
            hooked, "submit", str(payload), "--content-type", "text/csv",
            "--webhook", receiver.url, "--webhook-events", "completed",
        )  # fmt: skip
        assert code == 0, err
        (delivery,) = receiver.wait_accepted(1)
    finally:
        receiver.stop()
    headers = {k.lower(): v for k, v in delivery.headers.items()}
    job = Webhook(secret.strip()).verify(delivery.body, headers)
    assert job["id"] == out.strip() and job["status"] == "COMPLETED"
    assert job["webhook"]["events"] == ["completed"]


def test_the_cli_refuses_a_bad_webhook_in_one_sentence(hooked: Local, tmp_path: Path) -> None:
    payload = tmp_path / "row.csv"
    payload.write_text(csv_rows(1)[0])
    code, _, err = run_cli(hooked, "submit", str(payload), "--webhook", "ftp://x/")
    assert code != 0 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "webhook URL must be an https URL" in err
    code, _, err = run_cli(
        hooked, "submit", str(payload), "--webhook", "https://x/", "--webhook-events", "done"
    )
    assert code != 0 and "webhook events must be one or more of completed, failed" in err
