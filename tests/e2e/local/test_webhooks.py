"""Signed webhooks end to end on local mode: jobs submitted through the job API (signed
POST /v1/jobs with Webhook-Url), the dispatcher (the template's own function) gets each
notification from its queue, reads the job's webhook from the API's jobs table, and POSTs
the job, signed, to a receiver on loopback; a receiver that is down is retried under one
event id, and what cannot be delivered ends in the webhook dead-letter queue without
touching the job's result. Redelivery through the API: tests/e2e/local/test_job_api_curl.py.

The app is the project's, with a retry schedule shortened by `webhook_retry_delay_scale`
(a day of retries in ~17 s).
"""

from __future__ import annotations

import io
import itertools
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from asyncinfer.cli import main
from asyncinfer.local.model_server import ModelServer
from asyncinfer_runtime.jobs import JobAttribute
from tests.support.local_mode import Local, csv_rows, start_local, wait_record
from tests.support.node_tools import run_node_tool
from tests.support.webhooks import (
    Receiver,
    call_api,
    job_item,
    parsed,
    submit_job,
    synth_app,
    wait_job,
)

pytestmark = pytest.mark.slow

DELAY_SCALE = "0.0002"  # retries ~1 s apart (SQS delays are whole seconds), window 17.3 s


@pytest.fixture(scope="module")
def hooked(tmp_path_factory: pytest.TempPathFactory, model: ModelServer) -> Iterator[Local]:
    root = tmp_path_factory.mktemp("webhooks-app")
    cdk_out = synth_app(root, f"webhook_retry_delay_scale={DELAY_SCALE}")
    running = start_local(root / "state", "--model-url", model.url, cdk_out=cdk_out)
    yield running
    running.stop()


def submit(local: Local, url: str, *, body: str | None = None, events: tuple[str, ...] = ()) -> str:
    """A job with a webhook, through the job API."""
    payload = (body if body is not None else csv_rows(1)[0]).encode()
    return submit_job(local, payload, webhook_url=url, events=events)


def jobs(local: Local) -> tuple[Any, str]:
    return local.client("dynamodb"), local.outputs["JobsTableName"]


# docs/webhooks.md's Node receiver, reduced to the verification: the `standardwebhooks`
# npm package (pinned in package.json) on the raw body bytes and the delivery's headers.
NODE_VERIFIER = """
import { readFileSync } from "node:fs";
import { Webhook } from "standardwebhooks";

const body = readFileSync(process.env.WEBHOOK_BODY_FILE);
const headers = JSON.parse(process.env.WEBHOOK_HEADERS);
const job = new Webhook(process.env.WEBHOOK_SECRET).verify(body, headers);
process.stdout.write(JSON.stringify(job));
"""


def verified_in_node(secret: str, body: str, headers: dict[str, str]) -> Any:
    """The job Node's verifier returns; a bad signature fails the test with its error."""
    with tempfile.NamedTemporaryFile(suffix=".json") as body_file:
        body_file.write(body.encode())  # the receiver's bytes, UTF-8 as they came
        body_file.flush()
        verified = run_node_tool(
            "node",
            *("--input-type=module", "--eval", NODE_VERIFIER),
            timeout=60,
            env={
                "WEBHOOK_BODY_FILE": body_file.name,
                "WEBHOOK_HEADERS": json.dumps(headers),
                "WEBHOOK_SECRET": secret,
            },
        )
    assert verified.returncode == 0, verified.stderr
    return json.loads(verified.stdout)


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
    # The same delivery verifies in Node with the npm package, as docs/webhooks.md shows.
    assert verified_in_node(hooked.info["webhookSecret"], delivery.body, headers) == job
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
    # Through the API: the job is COMPLETED with its result; only its webhook FAILED.
    job = call_api(hooked, "GET", f"v1/jobs/{job_id}").json()
    assert job["status"] == "COMPLETED" and job["webhook"]["status"] == "FAILED"
    assert job["webhook"]["lastError"].startswith("HTTP 404")
    assert call_api(hooked, "GET", f"v1/jobs/{job_id}/result").status in (200, 303)


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
    # The API takes any https URL; the dispatcher refuses the address when it connects.
    job_id = submit(hooked, "https://10.1.2.3/hook")
    item = wait_job(*jobs(hooked), job_id, "FAILED")
    assert "10.1.2.3 is a private address" in item[JobAttribute.WEBHOOK_LAST_ERROR]
    # Plain http is loopback's alone in local mode, refused at submit.
    reply = call_api(
        hooked,
        "POST",
        "v1/jobs",
        b"1,2",
        {"Content-Type": "text/csv", "Webhook-Url": "http://10.1.2.3/"},
    )
    assert reply.status == 400 and "Webhook-Url" in reply.json()["detail"]


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
    assert job_item(*jobs(hooked), failing)[JobAttribute.WEBHOOK_ATTEMPTS] == 0


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
