"""Drive the project's results writer from the SQS stand-in, like Lambda's SQS event source.

``EventSource`` long-polls the queue, gathers up to ``BatchSize`` messages or waits at most
``MaximumBatchingWindowInSeconds`` (both from the template's EventSourceMapping), calls
``results_writer.handler.lambda_handler`` with an SQS event, deletes the messages the handler
did not report in ``batchItemFailures`` and leaves the reported ones to become visible again.
The queue's RedrivePolicy (``maxReceiveCount``) then moves a message that keeps failing to
the dead-letter queue, as on AWS. One difference: failed messages become visible again after
``retry_visibility_seconds`` (default 2 s) instead of the queue's VisibilityTimeout (360 s on
AWS), so local retries take seconds.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


def require_writer(lambda_dir: Path = REPO_ROOT / "lambda") -> Path:
    """``lambda_dir``, once it holds the results writer; its one-line error otherwise."""
    if not (lambda_dir / "results_writer" / "handler.py").is_file():
        raise FileNotFoundError(
            f"results writer not found at {lambda_dir}/results_writer; run from the repository"
        )
    return lambda_dir


def load_handler(lambda_dir: Path = REPO_ROOT / "lambda") -> Callable[[dict[str, Any], Any], Any]:
    """The real results writer handler; lambda/ is put on sys.path as Lambda's asset root."""
    require_writer(lambda_dir)
    if str(lambda_dir) not in sys.path:
        sys.path.insert(0, str(lambda_dir))
    from results_writer.handler import lambda_handler

    return lambda_handler


class _Context:
    """The bits of Lambda's context object the writer reads (its deadline)."""

    def __init__(self, timeout_seconds: float) -> None:
        self._deadline = time.monotonic() + timeout_seconds
        self.function_name = "ResultsWriter-local"
        self.aws_request_id = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class EventSource:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        handler: Callable[[dict[str, Any], Any], Any],
        *,
        batch_size: int = 10,
        batching_window_seconds: float = 0.0,
        function_timeout_seconds: float = 60.0,
        retry_visibility_seconds: int = 2,
        region: str = "us-east-1",
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.handler = handler
        self.batch_size = batch_size
        self.window = batching_window_seconds
        self.function_timeout = function_timeout_seconds
        self.retry_visibility = retry_visibility_seconds
        self.region = region
        self.invocations = 0
        self.deleted = 0
        self.reported_failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

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
        window_end = time.monotonic() + self.window
        # Bounded: at most batch_size / 1 receives, and never past the batching window.
        for _ in range(self.batch_size):
            want = min(10, self.batch_size - len(messages))
            if want <= 0:
                break
            got = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=want,
                WaitTimeSeconds=wait_seconds if not messages else 0,
                MessageSystemAttributeNames=["All"],
            ).get("Messages", [])
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
        """Receive one batch and hand it to the writer; returns how many messages it held."""
        messages = self._receive(wait_seconds)
        if not messages:
            return 0
        event = {
            "Records": [
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": message.get("Attributes", {}),
                    "messageAttributes": {},
                    "md5OfBody": message.get("MD5OfBody", ""),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": self.region,
                }
                for message in messages
            ]
        }
        self.invocations += 1
        try:
            response = self.handler(event, _Context(self.function_timeout)) or {}
            failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        except Exception as error:
            # A function error fails the whole batch: every message is retried.
            print(f"local results writer raised {type(error).__name__}: {error}", file=sys.stderr)
            failed = {message["MessageId"] for message in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )
        self.deleted += len(done)
        retry = [m for m in messages if m["MessageId"] in failed]
        self.reported_failures += len(retry)
        for start in range(0, len(retry), 10):
            chunk = retry[start : start + 10]
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {
                        "Id": str(i),
                        "ReceiptHandle": m["ReceiptHandle"],
                        "VisibilityTimeout": self.retry_visibility,
                    }
                    for i, m in enumerate(chunk)
                ],
            )
        return len(messages)


# -- as its own process -----------------------------------------------------------------
#
# Local mode runs the results writer in a child process, as Lambda runs functions apart
# from SQS: its boto3 client, JSON logging and record building then use the second core
# instead of competing with the stand-ins and the endpoint for one GIL.


def main(argv: list[str] | None = None) -> int:
    """`python -m asyncinfer.local.event_source`: poll one queue until SIGTERM, then drain.

    The AWS endpoint, credentials and RESULTS_TABLE_NAME come from the environment, as
    the writer reads them on Lambda. Ctrl-C (SIGINT, sent to the whole process group) is
    ignored: local mode stops the endpoint first and then sends SIGTERM, so notifications
    of the last requests still become records. The process also ends if local mode dies.
    """
    parser = argparse.ArgumentParser(prog="python -m asyncinfer.local.event_source")
    parser.add_argument("--queue-url", required=True)
    parser.add_argument("--queue-arn", required=True)
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
        sqs,
        args.queue_url,
        args.queue_arn,
        load_handler(),
        batch_size=args.batch_size,
        batching_window_seconds=args.batching_window_seconds,
        region=args.region,
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
