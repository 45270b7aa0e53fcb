"""Local mode runs each event source mapping's own function (found in the template), never
the results writer by default: an app with an extra consumer of the success notifications
(its own queue, function and handler) gets its handler run on its queue, and the results
writer keeps to the results queue."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from asyncinfer.local.model_server import ModelServer
from tests.conftest import REPO_ROOT
from tests.support.local_mode import Local, csv_rows, start_local, wait_record
from tests.support.node_tools import run_node_tool

pytestmark = pytest.mark.slow

# A user's own consumer: it logs what it receives, and from which queue, to a file.
AUDIT_HANDLER = """\
import json
import os


def handler(event, context):
    with open(os.environ["AUDIT_LOG"], "a", encoding="utf-8") as log:
        for record in event["Records"]:
            entry = {"queue": record["eventSourceARN"], "body": record["body"]}
            log.write(json.dumps(entry) + "\\n")
    return {"batchItemFailures": []}
"""

# The project's app, plus an audit queue receiving the notifications too
# (add_notification_consumer) and a function of its own consuming it, synthesized by the
# pinned CDK CLI as a user's `cdk synth` would.
APP_WITH_AN_AUDIT_CONSUMER = """\
import sys

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs

from app import build_app
from asyncinfer_runtime.contract import DEFAULT_STACK_NAME

code_dir, audit_log = sys.argv[1], sys.argv[2]
app = build_app()
stack = app.node.find_child(DEFAULT_STACK_NAME)
queue = sqs.Queue(stack, "AuditQueue")
stack.system.add_notification_consumer(queue=queue)
audit = lambda_.Function(
    stack,
    "Audit",
    runtime=lambda_.Runtime.PYTHON_3_14,
    handler="audit.handler",
    code=lambda_.Code.from_asset(code_dir),
    environment={"AUDIT_LOG": audit_log},
)
audit.add_event_source_mapping(
    "AuditSource", event_source_arn=queue.queue_arn, report_batch_item_failures=True
)
queue.grant_consume_messages(audit)
app.synth()
"""


@pytest.fixture(scope="module")
def audited(
    tmp_path_factory: pytest.TempPathFactory, model: ModelServer
) -> Iterator[tuple[Local, Path]]:
    root = tmp_path_factory.mktemp("audited-app")
    code_dir = root / "audit_code"
    code_dir.mkdir()
    (code_dir / "audit.py").write_text(AUDIT_HANDLER)
    audit_log = root / "audit.jsonl"
    script = root / "audited_app.py"
    script.write_text(APP_WITH_AN_AUDIT_CONSUMER)
    synth = run_node_tool(
        "cdk",
        *("synth", "--quiet", "--no-notices", "--output", str(root / "cdk.out")),
        *("--app", f"{sys.executable} {script} {code_dir} {audit_log}"),
        timeout=300,
        env={"CDK_DISABLE_CLI_TELEMETRY": "true", "PYTHONPATH": str(REPO_ROOT)},
    )
    assert synth.returncode == 0, synth.stderr
    running = start_local(root / "state", "--model-url", model.url, cdk_out=root / "cdk.out")
    yield running, audit_log
    running.stop()


def audit_entries(audit_log: Path, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if audit_log.is_file():
            lines = audit_log.read_text(encoding="utf-8").splitlines()
            if len(lines) >= count:
                return [json.loads(line) for line in lines]
        time.sleep(0.2)
    raise AssertionError(f"the audit consumer logged fewer than {count} messages in {timeout} s")


def test_each_queue_is_consumed_by_its_own_mappings_function(
    audited: tuple[Local, Path],
) -> None:
    local, audit_log = audited
    sources = {(s["function"], s["handler"], s["queueArn"]) for s in local.info["eventSources"]}
    results_queue = local.outputs["ResultsQueueArn"]
    writer = {source for source in sources if source[1] == "results_writer.handler.lambda_handler"}
    audit = {source for source in sources if source[1] == "audit.handler"}
    # The app's webhooks are a consumer too: their dispatcher reads its own two queues.
    webhooks = {source for source in sources if source[1].startswith("webhook_delivery.")}
    assert {queue for _, _, queue in writer} == {results_queue}
    assert len(audit) == 1 and next(iter(audit))[2] != results_queue
    webhook_queues = {queue for _, _, queue in webhooks}
    assert len(webhook_queues) == 2 and all("Webhooks" in queue for queue in webhook_queues)
    assert not webhook_queues & {results_queue, next(iter(audit))[2]}
    assert sources == writer | audit | webhooks

    runtime = local.client("sagemaker-runtime")
    ids = [
        str(
            runtime.invoke_endpoint_async(
                EndpointName=local.outputs["EndpointName"],
                Body=row.encode(),
                ContentType="text/csv",
                InferenceId=str(uuid.uuid4()),
            )["InferenceId"]
        )
        for row in csv_rows(3)
    ]
    # The results writer still records every result from the results queue ...
    for inference_id in ids:
        assert wait_record(local, inference_id)["status"] == "COMPLETED"
    # ... and every notification reaches the audit handler, from its own queue.
    entries = audit_entries(audit_log, len(ids))
    assert sorted(json.loads(entry["body"])["inferenceId"] for entry in entries) == sorted(ids)
    assert {entry["queue"] for entry in entries} == {next(iter(audit))[2]}
