"""Redrive: dead-letter notifications go back to the results queue and become records."""

from __future__ import annotations

import io
import json
import uuid
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from asyncinfer import redrive
from results_writer import handler
from tests.support.writer_harness import fault_proxy, scan_records

DLQ_ARN = "arn:aws:sqs:us-east-1:123456789012:results-dlq"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:results"


@pytest.fixture
def queues(moto_server: str) -> dict[str, str]:
    """A results queue whose redrive policy sends a message to its DLQ on the 2nd receive."""
    sqs = boto3.client("sqs", endpoint_url=moto_server)
    suffix = uuid.uuid4().hex[:8]
    dlq_url = sqs.create_queue(QueueName=f"results-dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName=f"results-{suffix}",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"})
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    return {"dlq_url": dlq_url, "dlq_arn": dlq_arn, "url": queue_url, "arn": queue_arn}


def drain_through_writer(sqs: Any, queue_url: str) -> int:
    """Lambda's SQS trigger, on the real queue: receive, invoke, delete what succeeded.

    Failed messages are made visible again at once; returns how many were deleted.
    """
    deleted = 0
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=30
        ).get("Messages", [])
        if not messages:
            return deleted
        event = {
            "Records": [
                {"messageId": m["MessageId"], "body": m["Body"], "eventSource": "aws:sqs"}
                for m in messages
            ]
        }
        with redirect_stdout(io.StringIO()):
            answer = handler.lambda_handler(event, None)
        failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] in failed:
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                deleted += 1


def count_messages(sqs: Any, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_outage_dead_letters_are_redriven_and_become_records(
    moto_server: str,
    queues: dict[str, str],
    table: str,
    vectors_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sqs = boto3.client("sqs", endpoint_url=moto_server)
    names = ["success.json", "error-with-failure-location.json", "success-with-response-body.json"]
    messages = [json.loads((vectors_dir / name).read_text()) for name in names]
    for message in messages:
        sqs.send_message(QueueUrl=queues["url"], MessageBody=json.dumps(message))

    # A DynamoDB outage: every write fails, so after maxReceiveCount (1 here) receives
    # SQS moves each message to the dead-letter queue.
    with fault_proxy(moto_server, fault_rate=1.0, operations=frozenset({"PutItem"})) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.url)
        monkeypatch.setenv("RESULTS_WRITE_MAX_ATTEMPTS", "1")
        handler.runtime.cache_clear()
        assert drain_through_writer(sqs, queues["url"]) == 0
    assert count_messages(sqs, queues["dlq_url"]) == 3
    assert scan_records(moto_server, table) == {}

    # The fix: DynamoDB is back. moto has no message-move tasks, so the CLI falls back.
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", moto_server)
    handler.runtime.cache_clear()
    stdout = io.StringIO()
    with redirect_stdout(stdout):
        code = redrive.main(
            [
                "--dead-letter-queue-arn",
                queues["dlq_arn"],
                "--destination-queue-arn",
                queues["arn"],
                "--endpoint-url",
                moto_server,
            ]
        )
    assert code == 0
    assert json.loads(stdout.getvalue()) == {
        "method": "receive-send-delete",
        "moved": 3,
        "task_handle": None,
        "status": "COMPLETED",
    }
    assert count_messages(sqs, queues["dlq_url"]) == 0
    assert drain_through_writer(sqs, queues["url"]) == 3
    records = scan_records(moto_server, table)
    assert {i: r["status"] for i, r in records.items()} == {
        messages[0]["inferenceId"]: "COMPLETED",
        messages[1]["inferenceId"]: "FAILED",
        messages[2]["inferenceId"]: "COMPLETED",
    }
    assert records[messages[1]["inferenceId"]]["failureReason"] == messages[1]["failureReason"]


def test_without_destination_the_messages_go_back_where_they_came_from(
    moto_server: str, queues: dict[str, str]
) -> None:
    sqs = boto3.client("sqs", endpoint_url=moto_server)
    sqs.send_message(QueueUrl=queues["dlq_url"], MessageBody="after the fix")
    progress: list[str] = []
    result = redrive.redrive_dead_letters(sqs, queues["dlq_arn"], progress=progress.append)
    assert result == redrive.RedriveResult("receive-send-delete", 1)
    assert progress[0] == "message-move tasks are not available here; moving messages one by one"
    bodies = [
        m["Body"]
        for m in sqs.receive_message(QueueUrl=queues["url"], MaxNumberOfMessages=10)["Messages"]
    ]
    assert bodies == ["after the fix"]


def test_the_fallback_is_not_used_when_move_tasks_are_asked_for(
    moto_server: str, queues: dict[str, str]
) -> None:
    sqs = boto3.client(
        "sqs", endpoint_url=moto_server, config=Config(retries={"total_max_attempts": 1})
    )
    sqs.send_message(QueueUrl=queues["dlq_url"], MessageBody="stays")
    with pytest.raises(sqs.exceptions.ClientError):
        redrive.redrive_dead_letters(sqs, queues["dlq_arn"], method="message-move-task")
    assert count_messages(sqs, queues["dlq_url"]) == 1


def _stubbed_sqs() -> tuple[Any, Stubber]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    return sqs, Stubber(sqs)


def test_on_aws_a_message_move_task_is_started_and_followed_to_completion() -> None:
    # moto has no message-move tasks; the requests and the polling are checked against
    # botocore's own model of the SQS API instead.
    sqs, stub = _stubbed_sqs()
    stub.add_response(
        "start_message_move_task",
        {"TaskHandle": "handle-1"},
        {"SourceArn": DLQ_ARN, "DestinationArn": QUEUE_ARN, "MaxNumberOfMessagesPerSecond": 50},
    )
    stub.add_response(
        "list_message_move_tasks",
        {
            "Results": [
                {
                    "TaskHandle": "handle-1",
                    "Status": "RUNNING",
                    "SourceArn": DLQ_ARN,
                    "ApproximateNumberOfMessagesMoved": 3,
                }
            ]
        },
        {"SourceArn": DLQ_ARN, "MaxResults": 10},
    )
    stub.add_response(
        "list_message_move_tasks",
        {
            "Results": [
                {"Status": "COMPLETED", "SourceArn": DLQ_ARN, "ApproximateNumberOfMessagesMoved": 7}
            ]
        },
        {"SourceArn": DLQ_ARN, "MaxResults": 10},
    )
    with stub:
        result = redrive.redrive_dead_letters(
            sqs, DLQ_ARN, QUEUE_ARN, max_messages_per_second=50, poll_seconds=0
        )
    stub.assert_no_pending_responses()
    assert result == redrive.RedriveResult("message-move-task", 7, "handle-1", "COMPLETED")


def test_a_failed_move_task_is_one_clear_error() -> None:
    sqs, stub = _stubbed_sqs()
    stub.add_response("start_message_move_task", {"TaskHandle": "h"}, {"SourceArn": DLQ_ARN})
    stub.add_response(
        "list_message_move_tasks",
        {
            "Results": [
                {
                    "Status": "FAILED",
                    "ApproximateNumberOfMessagesMoved": 2,
                    "FailureReason": "AccessDenied",
                }
            ]
        },
    )
    with stub, pytest.raises(redrive.RedriveError) as raised:
        redrive.redrive_dead_letters(sqs, DLQ_ARN, poll_seconds=0)
    assert str(raised.value) == (
        "Message-move task h ended FAILED after moving 2 message(s): AccessDenied."
    )


def test_a_refused_move_task_is_not_mistaken_for_a_missing_api() -> None:
    sqs, stub = _stubbed_sqs()
    stub.add_client_error("start_message_move_task", "AccessDenied", http_status_code=403)
    with stub, pytest.raises(sqs.exceptions.ClientError, match="AccessDenied"):
        redrive.redrive_dead_letters(sqs, DLQ_ARN, QUEUE_ARN)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--dead-letter-queue-arn", "results-dlq"],
            "redrive: The dead-letter queue ARN must look like arn:aws:sqs:REGION:ACCOUNT:NAME; "
            "received 'results-dlq'.",
        ),
        (
            ["--dlq-arn", DLQ_ARN, "--max-messages-per-second", "0"],
            "redrive: The rate must be from 1 to 500 messages per second (the SQS limit); "
            "received 0.",
        ),
    ],
)
def test_bad_arguments_are_one_clear_error(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert redrive.main(argv) == 1
    assert capsys.readouterr().err.strip() == message


def test_the_cli_flags_of_asyncinfer_redrive_are_accepted() -> None:
    # `asyncinfer redrive` passes --dlq-arn/--queue-arn (asyncinfer/cli.py).
    args = redrive.build_parser().parse_args(["--dlq-arn", DLQ_ARN, "--queue-arn", QUEUE_ARN])
    assert (args.dead_letter_queue_arn, args.destination_queue_arn) == (DLQ_ARN, QUEUE_ARN)
