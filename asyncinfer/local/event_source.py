"""Drive a Lambda function from a queue, like Lambda's SQS event source mapping.

``EventSource`` long-polls the queue, gathers up to ``BatchSize`` messages or waits at most
``MaximumBatchingWindowInSeconds`` (both from the template's EventSourceMapping), calls the
mapping's own function (its ``Handler``, imported from its code folder: local/functions.py
finds both in the template) with an SQS event, deletes the messages the handler did not
report in ``batchItemFailures`` and leaves the reported ones to become visible again.
The queue's RedrivePolicy (``maxReceiveCount``) then moves a message that keeps failing to
the dead-letter queue, as on AWS.

Local mode runs it over the SQS stand-in (``SqsQueue``), where failed messages become visible
again after ``retry_visibility_seconds`` (default 2 s) instead of the queue's
VisibilityTimeout (360 s on AWS), so local retries take seconds. The results writer's tests
run the same driver over an in-memory queue (tests/support/writer_harness.py).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

Handler = Callable[[dict[str, Any], Any], Any]


def load_handler(code_dir: Path, handler: str) -> Handler:
    """``handler`` (a function's Handler, ``module.function``) imported from ``code_dir``,
    which goes first on sys.path, as Lambda's Python runtime puts the asset root first (and
    reads a "/" in the module as a ".")."""
    module, _, function = handler.rpartition(".")
    if str(code_dir) not in sys.path:
        sys.path.insert(0, str(code_dir))
    loaded: Handler = getattr(importlib.import_module(module.replace("/", ".")), function)
    return loaded


class _Context:
    """The bits of Lambda's context object a handler reads (the writer: its deadline)."""

    def __init__(self, timeout_seconds: float, function_name: str) -> None:
        self._deadline = time.monotonic() + timeout_seconds
        self.function_name = function_name
        self.aws_request_id = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class MessageQueue(Protocol):
    """What the event source needs of a queue; messages are shaped as ReceiveMessage
    returns them (MessageId, ReceiptHandle, Body, Attributes)."""

    def receive(self, max_messages: int, wait_seconds: int) -> list[dict[str, Any]]: ...

    def delete(self, messages: list[dict[str, Any]]) -> None: ...

    def retry(self, messages: list[dict[str, Any]]) -> None:
        """Make the messages visible again, to be received (or dead-lettered) later."""
        ...


SQS_BATCH_LIMIT = 10  # ReceiveMessage, DeleteMessageBatch and ChangeMessageVisibilityBatch


class SqsQueue:
    """A queue of the SQS stand-in (or of SQS itself), through a boto3 client."""

    def __init__(self, sqs: Any, queue_url: str, *, retry_visibility_seconds: int = 2) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.retry_visibility_seconds = retry_visibility_seconds

    def receive(self, max_messages: int, wait_seconds: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(SQS_BATCH_LIMIT, max_messages),
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        return messages

    def delete(self, messages: list[dict[str, Any]]) -> None:
        for chunk in _chunks(messages):
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )

    def retry(self, messages: list[dict[str, Any]]) -> None:
        for chunk in _chunks(messages):
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {
                        "Id": str(i),
                        "ReceiptHandle": m["ReceiptHandle"],
                        "VisibilityTimeout": self.retry_visibility_seconds,
                    }
                    for i, m in enumerate(chunk)
                ],
            )


def _chunks(messages: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(messages), SQS_BATCH_LIMIT):
        yield messages[start : start + SQS_BATCH_LIMIT]


def lambda_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One received SQS message as a record of the SQS event Lambda hands the function."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


@dataclass(kw_only=True)
class EventSource:
    """Lambda's SQS event source mapping with ReportBatchItemFailures, over ``queue``."""

    queue: MessageQueue
    handler: Handler
    function_name: str = "function"
    queue_arn: str = ""
    region: str = "us-east-1"
    batch_size: int = 10
    batching_window_seconds: float = 0.0
    # The function's timeout, which a handler reads from its context (the writer, to stop
    # retrying in time); None hands it no context, so the writer retries without a deadline.
    function_timeout_seconds: float | None = 60.0
    invocations: int = field(default=0, init=False)
    deleted: int = field(default=0, init=False)
    reported_failures: int = field(default=0, init=False)
    whole_batch_failures: int = field(default=0, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="event-source", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the batch in hand (its messages are written and deleted), then stop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def drain(self, timeout: float = 30.0) -> None:
        """Poll until the queue looks empty or ``timeout`` passes (used at shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.poll_once(wait_seconds=1):
                return

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once(wait_seconds=1)
            except Exception as error:  # the stand-in restarting must not end the loop
                print(f"local event source: {type(error).__name__}: {error}", file=sys.stderr)
                self._stop.wait(1.0)

    def _receive(self, wait_seconds: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        window_end = time.monotonic() + self.batching_window_seconds
        # Bounded: at most batch_size receives, and never past the batching window.
        for _ in range(self.batch_size):
            want = self.batch_size - len(messages)
            if want <= 0:
                break
            got = self.queue.receive(want, wait_seconds if not messages else 0)
            messages.extend(got)
            if time.monotonic() >= window_end or (not got and messages):
                if not got and messages and time.monotonic() < window_end:
                    time.sleep(min(0.05, window_end - time.monotonic()))
                    continue
                break
            if not got and not messages:
                break
        return messages

    def poll_once(self, wait_seconds: int = 0) -> int:
        """Receive one batch and hand it to the function; returns how many messages it held."""
        messages = self._receive(wait_seconds)
        if not messages:
            return 0
        failed = self._invoke(messages)
        done = [m for m in messages if m["MessageId"] not in failed]
        self.queue.delete(done)
        self.deleted += len(done)
        retry = [m for m in messages if m["MessageId"] in failed]
        self.reported_failures += len(retry)
        self.queue.retry(retry)
        return len(messages)

    def _invoke(self, messages: list[dict[str, Any]]) -> set[str]:
        """Call the function with one batch; returns the ids of the messages that failed."""
        event = {"Records": [lambda_record(m, self.queue_arn, self.region) for m in messages]}
        in_batch = {message["MessageId"] for message in messages}
        timeout = self.function_timeout_seconds
        self.invocations += 1
        try:
            context = None if timeout is None else _Context(timeout, self.function_name)
            response = self.handler(event, context) or {}
            failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
            if not failed <= in_batch:
                # Lambda takes an identifier that is not in the batch as a failure of the
                # whole batch, as it does a function error.
                raise ValueError(f"batchItemFailures names messages not in the batch: {failed}")
        except Exception as error:
            print(
                f"local function {self.function_name} raised {type(error).__name__}: {error}",
                file=sys.stderr,
            )
            self.whole_batch_failures += 1
            return in_batch
        return failed


# -- as its own process -----------------------------------------------------------------
#
# Local mode runs each function in a child process, as Lambda runs functions apart from
# SQS: the results writer's boto3 client, JSON logging and record building then use the
# second core instead of competing with the stand-ins and the endpoint for one GIL, and
# each function imports its own code folder.


def main(argv: list[str] | None = None) -> int:
    """`python -m asyncinfer.local.event_source`: poll one queue until SIGTERM, then drain.

    The AWS endpoint and credentials come from the environment, and so do the function's
    own variables (local mode sets the template's Environment), as a function reads them
    on Lambda. Ctrl-C (SIGINT, sent to the whole process group) is ignored: local mode
    stops the endpoint first and then sends SIGTERM, so notifications of the last requests
    are still consumed. The process also ends if local mode dies.
    """
    parser = argparse.ArgumentParser(prog="python -m asyncinfer.local.event_source")
    parser.add_argument("--queue-url", required=True)
    parser.add_argument("--queue-arn", required=True)
    parser.add_argument("--code-dir", type=Path, required=True, help="the function's asset root")
    parser.add_argument("--handler", required=True, help="the function's Handler")
    parser.add_argument("--function-name", default="function")
    parser.add_argument("--timeout-seconds", type=float, default=60.0)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--batching-window-seconds", type=float, default=0.0)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--drain-seconds", type=float, default=30.0)
    parser.add_argument(
        "--parent-pid", type=int, help="exit when this process (local mode) is gone"
    )
    args = parser.parse_args(argv)

    import boto3
    from botocore.config import Config

    stopping = threading.Event()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    # Given, not read here: local mode may already be gone by the time this line runs.
    parent = args.parent_pid if args.parent_pid is not None else os.getppid()
    sqs = boto3.client("sqs", region_name=args.region, config=Config(retries={"mode": "standard"}))
    source = EventSource(
        queue=SqsQueue(sqs, args.queue_url),
        handler=load_handler(args.code_dir, args.handler),
        function_name=args.function_name,
        queue_arn=args.queue_arn,
        region=args.region,
        batch_size=args.batch_size,
        batching_window_seconds=args.batching_window_seconds,
        function_timeout_seconds=args.timeout_seconds,
    )
    source.start()
    while not stopping.wait(0.5):
        if os.getppid() != parent:
            source.stop()
            return 1
    source.stop()
    source.drain(timeout=args.drain_seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
