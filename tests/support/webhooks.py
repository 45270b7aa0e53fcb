"""What the webhook tests and the bench share: the project's app synthesized with settings
(its job API's jobs table and webhooks included), jobs submitted through local mode's job
API, signed as an AWS SDK signs, and a loopback receiver that verifies nothing itself (it
records)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from asyncinfer_runtime.jobs import JobAttribute
from tests.support.local_mode import Local
from tests.support.node_tools import run_node_tool

REPO_ROOT = Path(__file__).resolve().parents[2]
# What local mode prints and checks (asyncinfer/local/sigv4.py).
LOCAL_CREDENTIALS = Credentials("local", "local")


def synth_app(root: Path, *context: str) -> Path:
    """The project's app (cdk.json's) synthesized into `root`/cdk.out with `-c` `context`
    items, e.g. a shortened `webhook_retry_delay_scale`."""
    out = root / "cdk.out"
    args = [arg for item in context for arg in ("-c", item)]
    synth = run_node_tool(
        "cdk",
        *("synth", "--quiet", "--no-notices", "--output", str(out), *args),
        timeout=300,
        env={"CDK_DISABLE_CLI_TELEMETRY": "true"},
    )
    assert synth.returncode == 0, synth.stderr
    return out


@dataclass
class ApiReply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call_api(
    local: Local, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> ApiReply:
    """One request to local mode's job API (`path` relative to local.json's apiUrl), signed
    with SigV4 for execute-api."""
    url = str(local.info["apiUrl"]) + path.lstrip("/")
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    SigV4Auth(LOCAL_CREDENTIALS, "execute-api", "us-east-1").add_auth(request)
    prepared = urllib.request.Request(
        url, data=body or None, method=method, headers=dict(request.headers.items())
    )
    try:
        with urllib.request.urlopen(prepared, timeout=30) as reply:
            return ApiReply(reply.status, dict(reply.headers.items()), reply.read())
    except urllib.error.HTTPError as error:
        return ApiReply(error.code, dict(error.headers.items()), error.read())


def submit_job(
    local: Local, body: bytes, *, webhook_url: str | None, events: tuple[str, ...] = ()
) -> str:
    """POST /v1/jobs of a CSV payload, with its webhook; the job's id."""
    headers = {"Content-Type": "text/csv"}
    if webhook_url is not None:
        headers["Webhook-Url"] = webhook_url
    if events:
        headers["Webhook-Events"] = ",".join(events)
    reply = call_api(local, "POST", "v1/jobs", body, headers)
    assert reply.status == 202, reply.body
    return str(reply.json()["id"])


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
    """The job's item in the jobs table (deserialised)."""
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
