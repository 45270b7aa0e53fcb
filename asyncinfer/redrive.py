"""Send dead-letter notifications back through the results writer after a fix.

A notification lands in the dead-letter queue when the results writer failed it
`maxReceiveCount` times (malformed, or DynamoDB kept failing); the writer logged why.
Once the cause is fixed, this moves the messages back to the results queue, where the
writer's conditional write makes a second delivery harmless.

On AWS it starts an SQS message-move task (StartMessageMoveTask) from the dead-letter
queue and follows it to the end. A service that does not implement message-move tasks
(moto, which the tests and local mode use) gets the same effect by receive -> send ->
delete, used only when the API answers that it is unavailable. A message is deleted
from the dead-letter queue only after it was sent, so an interrupted redrive loses
nothing (at worst a message is delivered twice, which the writer absorbs).

    python -m asyncinfer.redrive --dead-letter-queue-arn ARN \\
        [--destination-queue-arn ARN] [--max-messages-per-second N] \\
        [--endpoint-url URL] [--region REGION] [--profile PROFILE]
    asyncinfer redrive           # the CLI, queues read from the stack's outputs
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from asyncinfer.errors import AsyncInferenceError

MOVE_TASK = "message-move-task"
RECEIVE_SEND_DELETE = "receive-send-delete"
METHODS = ("auto", MOVE_TASK, RECEIVE_SEND_DELETE)
# Error codes with which a service says it does not implement an action at all.
UNSUPPORTED_ERROR_CODES = frozenset(
    {
        "InvalidAction",
        "UnknownOperationException",
        "UnsupportedOperation",
        "AWS.SimpleQueueService.UnsupportedOperation",
        "NotImplemented",
    }
)
TERMINAL_TASK_STATES = frozenset({"COMPLETED", "CANCELLED", "FAILED"})


class RedriveError(AsyncInferenceError):
    """A redrive could not be done; the message is one sentence saying why."""


@dataclass(frozen=True)
class RedriveResult:
    method: str  # MOVE_TASK or RECEIVE_SEND_DELETE
    moved: int  # messages moved (the task's approximate count for a move task)
    task_handle: str | None = None
    status: str = "COMPLETED"  # the move task's last status; RUNNING when not waited for


def parse_queue_arn(arn: str, what: str = "queue ARN") -> tuple[str, str, str]:
    """(region, account, queue name) of an SQS queue ARN."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs" or not all(parts[3:]):
        raise RedriveError(
            f"The {what} must look like arn:aws:sqs:REGION:ACCOUNT:NAME; received {arn!r}."
        )
    return parts[3], parts[4], parts[5]


def is_unavailable(error: ClientError) -> bool:
    """True when the service does not implement the action (not: the call was refused).

    Real SQS answers with a typed error code; a bare HTTP status as the code means the
    endpoint did not understand the action at all (moto answers unimplemented actions
    with an HTML 500 page).
    """
    code = str(error.response.get("Error", {}).get("Code", ""))
    return code in UNSUPPORTED_ERROR_CODES or code.isdigit()


def redrive_dead_letters(
    sqs: Any,
    dead_letter_queue_arn: str,
    destination_queue_arn: str | None = None,
    max_messages_per_second: int | None = None,
    *,
    method: str = "auto",
    wait: bool = True,
    poll_seconds: float = 5.0,
    timeout_seconds: float = 3600.0,
    progress: Callable[[str], None] = lambda _: None,
) -> RedriveResult:
    """Move every message of the dead-letter queue back to a queue the writer reads.

    `destination_queue_arn` None means the queue(s) the messages came from (SQS's own
    default for move tasks; the fallback looks the source queue up). `method` "auto"
    tries the move task and falls back only when the service does not implement it.
    """
    parse_queue_arn(dead_letter_queue_arn, "dead-letter queue ARN")
    if destination_queue_arn is not None:
        parse_queue_arn(destination_queue_arn, "destination queue ARN")
    if method not in METHODS:
        raise RedriveError(f"The method must be one of {', '.join(METHODS)}; received {method!r}.")
    if max_messages_per_second is not None and not 1 <= max_messages_per_second <= 500:
        raise RedriveError(
            "The rate must be from 1 to 500 messages per second (the SQS limit); "
            f"received {max_messages_per_second!r}."
        )
    if method in ("auto", MOVE_TASK):
        try:
            return _move_task(
                sqs,
                dead_letter_queue_arn,
                destination_queue_arn,
                max_messages_per_second,
                wait=wait,
                poll_seconds=poll_seconds,
                timeout_seconds=timeout_seconds,
                progress=progress,
            )
        except ClientError as error:
            if method == MOVE_TASK or not is_unavailable(error):
                raise
            progress("message-move tasks are not available here; moving messages one by one")
    return _receive_send_delete(
        sqs, dead_letter_queue_arn, destination_queue_arn, max_messages_per_second, progress
    )


def _move_task(
    sqs: Any,
    source_arn: str,
    destination_arn: str | None,
    max_messages_per_second: int | None,
    *,
    wait: bool,
    poll_seconds: float,
    timeout_seconds: float,
    progress: Callable[[str], None],
) -> RedriveResult:
    request: dict[str, Any] = {"SourceArn": source_arn}
    if destination_arn:
        request["DestinationArn"] = destination_arn
    if max_messages_per_second:
        request["MaxNumberOfMessagesPerSecond"] = max_messages_per_second
    handle = sqs.start_message_move_task(**request)["TaskHandle"]
    progress(f"message-move task started: {handle}")
    if not wait:
        return RedriveResult(MOVE_TASK, 0, handle, "RUNNING")
    deadline = time.monotonic() + timeout_seconds
    while True:
        # The newest task comes first; a finished task no longer shows its handle.
        tasks = sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=10).get("Results", [])
        task = next((t for t in tasks if t.get("TaskHandle") == handle), tasks[0] if tasks else {})
        status = task.get("Status", "RUNNING")
        moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
        progress(f"message-move task {status}: {moved} moved")
        if status in TERMINAL_TASK_STATES:
            if status != "COMPLETED":
                raise RedriveError(
                    f"Message-move task {handle} ended {status} after moving {moved} message(s): "
                    f"{task.get('FailureReason', 'no reason given')}."
                )
            return RedriveResult(MOVE_TASK, moved, handle, status)
        if time.monotonic() > deadline:
            raise RedriveError(
                f"Message-move task {handle} is still {status} after {timeout_seconds:.0f} s; "
                "it goes on in SQS (see list-message-move-tasks)."
            )
        time.sleep(poll_seconds)


def _queue_url(sqs: Any, arn: str) -> str:
    _, account, name = parse_queue_arn(arn)
    return str(sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])


def _receive_send_delete(
    sqs: Any,
    source_arn: str,
    destination_arn: str | None,
    max_messages_per_second: int | None,
    progress: Callable[[str], None],
) -> RedriveResult:
    source = _queue_url(sqs, source_arn)
    if destination_arn:
        destination = _queue_url(sqs, destination_arn)
    else:
        # What a move task does without a destination: back to where the messages came
        # from, which is knowable only when exactly one queue uses this dead-letter queue.
        sources = sqs.list_dead_letter_source_queues(QueueUrl=source).get("queueUrls", [])
        if len(sources) != 1:
            raise RedriveError(
                f"The dead-letter queue {source_arn} is used by {len(sources)} queues; "
                "expected exactly one, or a --destination-queue-arn."
            )
        destination = sources[0]
    moved = 0
    started = time.monotonic()
    while True:
        received = sqs.receive_message(
            QueueUrl=source,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
            VisibilityTimeout=60,
        ).get("Messages", [])
        if not received:
            progress(f"{moved} moved")
            return RedriveResult(RECEIVE_SEND_DELETE, moved)
        entries = []
        for index, message in enumerate(received):
            entry = {"Id": str(index), "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = message["MessageAttributes"]
            entries.append(entry)
        answer = sqs.send_message_batch(QueueUrl=destination, Entries=entries)
        sent = {entry["Id"] for entry in answer.get("Successful", [])}
        done = [
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
            for index, message in enumerate(received)
            if str(index) in sent
        ]
        if done:
            sqs.delete_message_batch(QueueUrl=source, Entries=done)
        moved += len(done)
        if len(done) < len(received):
            reasons = [failure.get("Message", "") for failure in answer.get("Failed", [])]
            raise RedriveError(
                f"{len(received) - len(done)} message(s) could not be sent to {destination} "
                f"and stay in the dead-letter queue ({moved} moved): {reasons[:3]}."
            )
        progress(f"{moved} moved")
        if max_messages_per_second:
            # Pace so that the results writer (and DynamoDB) see at most this rate.
            ahead = moved / max_messages_per_second - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m asyncinfer.redrive",
        description="Move notifications from the results dead-letter queue back to the "
        "results queue, so the results writer processes them again.",
    )
    # The short aliases are the flags `asyncinfer redrive` passes.
    parser.add_argument(
        "--dead-letter-queue-arn", "--dlq-arn", required=True, help="the dead-letter queue"
    )
    parser.add_argument(
        "--destination-queue-arn",
        "--queue-arn",
        help="where to send the messages (default: the queue they came from)",
    )
    parser.add_argument(
        "--max-messages-per-second", type=int, help="rate limit (1-500; default: SQS decides)"
    )
    parser.add_argument(
        "--method",
        choices=METHODS,
        default="auto",
        help="auto: a message-move task, or receive/send/delete where tasks are unavailable",
    )
    parser.add_argument("--no-wait", action="store_true", help="do not wait for the move task")
    parser.add_argument("--region", help="AWS region (default: the dead-letter queue's)")
    parser.add_argument("--profile", help="AWS profile")
    parser.add_argument("--endpoint-url", help="SQS endpoint (a stand-in, local mode)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        region = (
            args.region or parse_queue_arn(args.dead_letter_queue_arn, "dead-letter queue ARN")[0]
        )
        session = boto3.Session(profile_name=args.profile, region_name=region)
        sqs = session.client(
            "sqs",
            endpoint_url=args.endpoint_url,
            # Enough for a transient error; an unimplemented action is given up on quickly.
            config=Config(retries={"mode": "standard", "total_max_attempts": 3}),
        )
        result = redrive_dead_letters(
            sqs,
            args.dead_letter_queue_arn,
            args.destination_queue_arn,
            args.max_messages_per_second,
            method=args.method,
            wait=not args.no_wait,
            progress=lambda line: print(line, file=sys.stderr),
        )
    except (RedriveError, ClientError, BotoCoreError) as error:
        print(f"redrive: {error}", file=sys.stderr)
        return 1
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
