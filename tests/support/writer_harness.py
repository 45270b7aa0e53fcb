"""Test and bench harness for the results writer, shared by tests/results_writer and bench/.

- create_results_table (tests/support/results_table.py): the results table the stack deploys.
- FaultProxy: a loopback HTTP proxy in front of the DynamoDB stand-in that counts every
  request and answers a seeded fraction of them with real DynamoDB error responses.
- deliver: local mode's Lambda SQS event source (batches, partial batch failures) over an
  in-memory queue (redelivery, maxReceiveCount, dead-letter queue).
- build_replay: notifications made from ../shared/vectors/ with duplicates, shuffling,
  malformed messages and TestNotifications mixed in.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import uuid
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3

from asyncinfer.local.event_source import EventSource, Handler, lambda_record
from asyncinfer_runtime.contract import iso_time

# The stack's event source and queue settings (stacks/config.py defaults).
BATCH_SIZE = 100
MAX_RECEIVE_COUNT = 5
REGION = "us-east-1"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:123456789012:ResultsQueue"


def scan_records(endpoint_url: str, table: str) -> dict[str, dict[str, Any]]:
    """Every record in the table by inference id (numbers as Decimal, as boto3 reads them)."""
    resource = boto3.resource("dynamodb", endpoint_url=endpoint_url).Table(table)
    records: dict[str, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {}
    while True:
        page = resource.scan(**kwargs)
        for item in page["Items"]:
            inference_id = str(item["inferenceId"])
            if inference_id in records:
                raise AssertionError(f"inference id {inference_id!r} is stored twice")
            records[inference_id] = item
        if "LastEvaluatedKey" not in page:
            return records
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def sqs_message(body: str, message_id: str | None = None, receive_count: int = 1) -> dict[str, Any]:
    """One message as SQS's ReceiveMessage returns it."""
    return {
        "MessageId": message_id or str(uuid.uuid4()),
        "ReceiptHandle": f"handle-{uuid.uuid4().hex[:8]}",
        "Body": body,
        "Attributes": {"ApproximateReceiveCount": str(receive_count)},
    }


def sqs_event(bodies: list[str]) -> dict[str, Any]:
    """The SQS event Lambda's event source mapping hands the writer for these bodies."""
    return {"Records": [lambda_record(sqs_message(body), QUEUE_ARN, REGION) for body in bodies]}


def sns_envelope(message: str) -> str:
    """The SNS envelope around a message (a subscription without raw delivery)."""
    return json.dumps({"Type": "Notification", "MessageId": str(uuid.uuid4()), "Message": message})


# -- fault injection -------------------------------------------------------------------

# Real DynamoDB error responses (status, __type); the writer must retry every one of them.
DYNAMODB_FAULTS = (
    (400, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"),
    (400, "com.amazon.coral.availability#ThrottlingException"),
    (500, "com.amazonaws.dynamodb.v20120810#InternalServerError"),
    (503, "com.amazon.coral.availability#ServiceUnavailableException"),
)


@dataclass
class ProxyCounts:
    requests: Counter[str] = field(default_factory=Counter)  # by operation, faults included
    faults: Counter[str] = field(default_factory=Counter)  # by error type
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    @property
    def total_faults(self) -> int:
        return sum(self.faults.values())


class FaultProxy:
    """A loopback proxy to the DynamoDB stand-in that injects DynamoDB errors.

    `fault_rate` of the requests to `operations` (all when None) get one of
    DYNAMODB_FAULTS instead of reaching the stand-in; which ones is decided by a
    random.Random(seed), so a run's fault sequence is reproducible. Every request is
    counted, so the proxy also measures DynamoDB requests per notification.
    """

    def __init__(
        self,
        target: str,
        *,
        fault_rate: float = 0.0,
        seed: int = 0,
        operations: frozenset[str] | None = None,
    ) -> None:
        self.target = target
        self.fault_rate = fault_rate
        self.operations = operations
        self.counts = ProxyCounts()
        self._random = random.Random(seed)
        self._server: ThreadingHTTPServer | None = None
        self._upstream = threading.local()

    @property
    def url(self) -> str:
        assert self._server is not None, "the proxy is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        proxy = self

        class ProxyHandler(BaseHTTPRequestHandler):
            # HTTP/1.1 keeps botocore's pooled connections open, as DynamoDB does.
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                operation = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
                fault = proxy._choose_fault(operation)
                if fault is None:
                    status, headers, answer = proxy._forward(self.path, self.headers, body)
                else:
                    status, error_type = fault
                    headers = [("Content-Type", "application/x-amz-json-1.0")]
                    answer = json.dumps(
                        {"__type": error_type, "message": "Injected by the test's fault proxy."}
                    ).encode()
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), ProxyHandler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def _choose_fault(self, operation: str) -> tuple[int, str] | None:
        with self.counts.lock:
            self.counts.requests[operation] += 1
            if self.operations is not None and operation not in self.operations:
                return None
            if self._random.random() >= self.fault_rate:
                return None
            fault = self._random.choice(DYNAMODB_FAULTS)
            self.counts.faults[fault[1].rpartition("#")[2]] += 1
            return fault

    def _forward(
        self, path: str, request_headers: Any, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        # One persistent upstream connection per proxy thread.
        connection = getattr(self._upstream, "connection", None)
        if connection is None:
            host = self.target.split("//", 1)[1]
            connection = self._upstream.connection = http.client.HTTPConnection(host, timeout=30)
        headers = {
            key: value
            for key, value in request_headers.items()
            if key.lower() not in ("host", "content-length", "connection")
        }
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
        except (OSError, http.client.HTTPException):
            connection.close()
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
        answer = response.read()
        passed = [
            (key, value)
            for key, value in response.getheaders()
            if key.lower() not in ("content-length", "transfer-encoding", "connection")
        ]
        return response.status, passed, answer


@contextmanager
def fault_proxy(target: str, **options: Any) -> Iterator[FaultProxy]:
    with FaultProxy(target, **options) as proxy:
        yield proxy


# -- the Lambda SQS event source over an in-memory queue --------------------------------


@dataclass
class DeadLetter:
    message_id: str
    body: str
    receive_count: int


@dataclass
class ReplayResult:
    invocations: int = 0
    receives: Counter[str] = field(default_factory=Counter)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    whole_batch_failures: int = 0


class MemoryQueue:
    """An SQS queue with a redrive policy, in memory (a MessageQueue for the EventSource).

    A received message is out of the queue until it is deleted or retried; a retried one
    goes to the back, unless its receive count has reached `max_receive_count`: then it
    moves to `dead_letters`, as the queue's redrive policy moves it to the dead-letter queue.
    """

    def __init__(self, messages: list[tuple[str, str]], *, max_receive_count: int) -> None:
        self.max_receive_count = max_receive_count
        self.receives: Counter[str] = Counter()
        self.dead_letters: list[DeadLetter] = []
        self._waiting: deque[tuple[str, str]] = deque(messages)

    def receive(self, max_messages: int, wait_seconds: int) -> list[dict[str, Any]]:
        count = min(max_messages, len(self._waiting))
        batch = [self._waiting.popleft() for _ in range(count)]
        self.receives.update(message_id for message_id, _ in batch)
        return [
            sqs_message(body, message_id, self.receives[message_id]) for message_id, body in batch
        ]

    def delete(self, messages: list[dict[str, Any]]) -> None:
        return None  # received messages are out of the queue already

    def retry(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            message_id, body = message["MessageId"], message["Body"]
            count = self.receives[message_id]
            if count >= self.max_receive_count:
                self.dead_letters.append(DeadLetter(message_id, body, count))
            else:
                self._waiting.append((message_id, body))


def deliver(
    handler: Handler,
    messages: list[tuple[str, str]],
    *,
    batch_size: int = BATCH_SIZE,
    max_receive_count: int = MAX_RECEIVE_COUNT,
) -> ReplayResult:
    """Deliver (messageId, body) pairs through local mode's event source until each is
    deleted or dead-lettered. The writer gets no Lambda context, so no deadline."""
    queue = MemoryQueue(messages, max_receive_count=max_receive_count)
    source = EventSource(
        queue=queue, handler=handler, batch_size=batch_size, function_timeout_seconds=None
    )
    while source.poll_once():
        pass
    return ReplayResult(
        invocations=source.invocations,
        receives=queue.receives,
        dead_letters=queue.dead_letters,
        whole_batch_failures=source.whole_batch_failures,
    )


# -- replay workloads built from the vectors ---------------------------------------------

RESULT_VECTORS = (
    "success.json",
    "success-with-response-body.json",
    "error.json",
    "error-with-failure-location.json",
)

MALFORMED_BODIES = (
    ("not json at all", "is not JSON"),
    ('["a", "list"]', "must be a JSON object"),
    (
        '{"eventName": "InferenceResult", "invocationStatus": "Completed", '
        '"eventTime": "2024-01-01T00:00:00.000Z"}',
        "Field 'inferenceId'",
    ),
    (
        '{"eventName": "InferenceResult", "inferenceId": "bad-status", "invocationStatus": '
        '"Exploded", "eventTime": "2024-01-01T00:00:00.000Z"}',
        "Field 'invocationStatus'",
    ),
    ('{"eventName": "SomethingElse"}', "Field 'eventName'"),
    ('{"Type": "Notification", "Message": "{broken"}', "SNS envelope's Message is not JSON"),
)


@dataclass
class Replay:
    messages: list[tuple[str, str]]  # (messageId, body) in delivery order
    # The message each valid inference id must end up recorded from (its newest event).
    expected: dict[str, dict[str, Any]]
    malformed: dict[str, str]  # messageId -> a fragment of the reason that must be logged
    test_notifications: set[str]
    duplicates: int


def build_replay(
    vectors_dir: Path,
    total: int = 10_000,
    *,
    seed: int = 7,
    duplicate_rate: float = 0.10,
    malformed_rate: float = 0.01,
    test_notification_rate: float = 0.02,
    reused_id_rate: float = 0.05,
) -> Replay:
    """`total` SQS messages: unique results, duplicates, malformed, TestNotifications, shuffled.

    A `reused_id_rate` share of the inference ids get two different results (a client
    re-using an id): the newer eventTime must win whatever the delivery order. Half the
    bodies come in the SNS envelope, half raw.
    """
    rng = random.Random(seed)
    vectors = {name: json.loads((vectors_dir / name).read_text()) for name in RESULT_VECTORS}
    test_notification = (vectors_dir / "test-notification.json").read_text()
    malformed_count = round(total * malformed_rate)
    test_count = round(total * test_notification_rate)
    duplicate_count = round(total * duplicate_rate)
    result_count = total - malformed_count - test_count - duplicate_count
    start = datetime(2025, 6, 1, tzinfo=UTC)

    results: list[dict[str, Any]] = []
    expected: dict[str, dict[str, Any]] = {}
    while len(results) < result_count:
        inference_id = str(uuid.UUID(int=rng.getrandbits(128)))
        events = 2 if rng.random() < reused_id_rate and result_count - len(results) >= 2 else 1
        for _ in range(events):
            message = json.loads(json.dumps(vectors[rng.choice(RESULT_VECTORS)]))
            received = start + timedelta(milliseconds=rng.randrange(86_400_000))
            message["inferenceId"] = inference_id
            message["receivedTime"] = iso_time(received)
            message["eventTime"] = iso_time(
                received + timedelta(milliseconds=rng.randrange(1, 60_000))
            )
            message["requestParameters"]["endpointName"] = f"endpoint-{rng.randrange(3)}"
            results.append(message)
            current = expected.get(inference_id)
            if current is None or current["eventTime"] < message["eventTime"]:
                expected[inference_id] = message

    def body_of(message: dict[str, Any]) -> str:
        text = json.dumps(message)
        return sns_envelope(text) if rng.random() < 0.5 else text

    messages = [(str(uuid.UUID(int=rng.getrandbits(128))), body_of(m)) for m in results]
    for _ in range(duplicate_count):
        # SNS re-delivers the same message (same body); SQS gives it a new message id.
        messages.append((str(uuid.UUID(int=rng.getrandbits(128))), rng.choice(messages)[1]))
    malformed: dict[str, str] = {}
    for index in range(malformed_count):
        message_id = str(uuid.UUID(int=rng.getrandbits(128)))
        body, reason = MALFORMED_BODIES[index % len(MALFORMED_BODIES)]
        malformed[message_id] = reason
        messages.append((message_id, body))
    tests: set[str] = set()
    for _ in range(test_count):
        message_id = str(uuid.UUID(int=rng.getrandbits(128)))
        tests.add(message_id)
        messages.append((message_id, test_notification))
    rng.shuffle(messages)
    return Replay(messages, expected, malformed, tests, duplicate_count)
