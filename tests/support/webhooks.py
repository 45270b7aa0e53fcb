"""What the webhook tests and the bench share: an app with a jobs table, a loopback receiver
that verifies nothing itself (it records), and the job item the job API writes at submit."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from asyncinfer_runtime.contract import iso_time
from asyncinfer_runtime.jobs import JobAttribute
from tests.support.node_tools import run_node_tool

REPO_ROOT = Path(__file__).resolve().parents[2]

# The project's app with the job API's jobs table as its contract describes it (partition
# key jobId), and the webhooks on it (stack.add_webhooks). Settings come as -c context.
APP_WITH_WEBHOOKS = """\
from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb

from app import build_app
from asyncinfer_runtime.contract import DEFAULT_STACK_NAME

app = build_app()
stack = app.node.find_child(DEFAULT_STACK_NAME)
jobs = dynamodb.Table(
    stack,
    "Jobs",
    partition_key=dynamodb.Attribute(name="jobId", type=dynamodb.AttributeType.STRING),
    billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
    removal_policy=RemovalPolicy.DESTROY,
)
from aws_cdk import CfnOutput

CfnOutput(stack, "JobsTableName", value=jobs.table_name)
stack.add_webhooks(jobs)
app.synth()
"""


def synth_app_with_webhooks(root: Path, *context: str) -> Path:
    """Synthesize APP_WITH_WEBHOOKS into `root`/cdk.out with `-c` `context` items."""
    script = root / "app_with_webhooks.py"
    script.write_text(APP_WITH_WEBHOOKS)
    out = root / "cdk.out"
    args = [arg for item in context for arg in ("-c", item)]
    synth = run_node_tool(
        "cdk",
        *("synth", "--quiet", "--no-notices", "--output", str(out), *args),
        *("--app", f"{sys.executable} {script}"),
        timeout=300,
        env={"CDK_DISABLE_CLI_TELEMETRY": "true", "PYTHONPATH": str(REPO_ROOT)},
    )
    assert synth.returncode == 0, synth.stderr
    return out


def put_job(dynamodb: Any, table: str, job_id: str, url: str, events: tuple[str, ...] = ()) -> None:
    """The jobs item the job API writes at submit (asyncinfer_runtime.jobs)."""
    item: dict[str, Any] = {
        JobAttribute.JOB_ID: {"S": job_id},
        JobAttribute.ENDPOINT: {"S": "default"},
        JobAttribute.CALLER: {"S": "arn:aws:iam::123456789012:user/local"},
        JobAttribute.CREATED_AT: {"S": iso_time(time_now())},
        JobAttribute.WEBHOOK_URL: {"S": url},
        JobAttribute.WEBHOOK_STATUS: {"S": "PENDING"},
    }
    if events:
        item[JobAttribute.WEBHOOK_EVENTS] = {"SS": list(events)}
    dynamodb.put_item(TableName=table, Item=item)


def time_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


@dataclass
class Delivery:
    headers: dict[str, str]
    body: str
    status: int
    received: float  # time.time()


@dataclass
class Receiver:
    """A webhook receiver on loopback: `answer(n)` gives the status of the n-th request
    (0-based); `deliveries` has every request, accepted or not."""

    answer: Callable[[int], int] = lambda n: 200
    deliveries: list[Delivery] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8")
                with receiver._lock:
                    status = receiver.answer(len(receiver.deliveries))
                    receiver.deliveries.append(
                        Delivery(dict(self.headers.items()), body, status, time.time())
                    )
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def accepted(self) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if 200 <= d.status < 300]

    def wait_accepted(self, count: int, timeout: float = 60.0) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.accepted()
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(
            f"the receiver accepted {len(self.accepted())} of {count} deliveries in {timeout} s "
            f"({len(self.deliveries)} requests)"
        )


def job_item(dynamodb: Any, table: str, job_id: str) -> dict[str, Any]:
    from asyncinfer_runtime.inference_record import deserialize

    found = dynamodb.get_item(
        TableName=table, Key={"jobId": {"S": job_id}}, ConsistentRead=True
    ).get("Item")
    return deserialize(found) if found else {}


def wait_job(
    dynamodb: Any, table: str, job_id: str, status: str, timeout: float = 60.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    item: dict[str, Any] = {}
    while time.monotonic() < deadline:
        item = job_item(dynamodb, table, job_id)
        if item.get(JobAttribute.WEBHOOK_STATUS) == status:
            return item
        time.sleep(0.1)
    raise AssertionError(f"job {job_id}'s webhook is not {status} after {timeout} s: {item}")


def parsed(delivery: Delivery) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(delivery.body)
    return document
