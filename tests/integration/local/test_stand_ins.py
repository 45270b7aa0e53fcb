"""The pieces local mode puts between the endpoint service and moto, against moto itself."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from asyncinfer.local import moto_speedups
from asyncinfer.local.platform_io import ObjectUnavailable, StandInPlatform
from asyncinfer.local.provision import ACCOUNT_ID
from tests.support.local_mode import topic_to_queue

REGION = "us-east-1"


def test_platform_writes_objects_boto3_reads_back_with_their_content_type(
    moto_in_process: None,
) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="outputs")
    platform = StandInPlatform(REGION)
    platform.put_object("outputs", "output/a.out", b"0.5\n", "text/csv; charset=utf-8")
    got = s3.get_object(Bucket="outputs", Key="output/a.out")
    assert got["Body"].read() == b"0.5\n"
    assert got["ContentType"] == "text/csv; charset=utf-8"
    s3.put_object(Bucket="outputs", Key="input.csv", Body=b"1,2,3", ContentType="text/csv")
    # The input object's Content-Type comes back too: a request without ContentType
    # passes it on to the container.
    assert platform.get_object("outputs", "input.csv") == (b"1,2,3", "text/csv")


@pytest.mark.parametrize(
    ("bucket", "key", "code"),
    [("outputs", "missing.csv", "NoSuchKey"), ("nowhere", "input.csv", "NoSuchBucket")],
)
def test_platform_reports_s3s_error_code_for_a_missing_input(
    moto_in_process: None, bucket: str, key: str, code: str
) -> None:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="outputs")
    with pytest.raises(ObjectUnavailable) as raised:
        StandInPlatform(REGION).get_object(bucket, key)
    assert raised.value.code == code


def test_platform_publish_reaches_a_raw_sqs_subscription(moto_in_process: None) -> None:
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic, queue = topic_to_queue(sns, sqs)
    StandInPlatform(REGION).publish(topic, json.dumps({"inferenceId": "a"}))
    messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    assert [json.loads(m["Body"]) for m in messages] == [{"inferenceId": "a"}]


def test_moto_speedups_keep_sqs_visibility_delay_and_counts(moto_in_process: None) -> None:
    moto_speedups.apply()
    moto_speedups.apply()  # idempotent
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="q")["QueueUrl"]
    for index in range(5):
        sqs.send_message(QueueUrl=queue, MessageBody=str(index))
    sqs.send_message(QueueUrl=queue, MessageBody="later", DelaySeconds=60)
    sent = time.time() * 1000
    received = sqs.receive_message(
        QueueUrl=queue,
        MaxNumberOfMessages=2,
        VisibilityTimeout=1,
        MessageSystemAttributeNames=["SentTimestamp"],
    )["Messages"]
    assert len(received) == 2
    assert abs(int(received[0]["Attributes"]["SentTimestamp"]) - sent) < 5000
    counts = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == "3"
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "2"
    assert counts["ApproximateNumberOfMessagesDelayed"] == "1"
    time.sleep(1.2)  # the visibility timeout passes: both come back
    counts = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == "5"
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_moto_speedups_keep_the_retention_period(moto_in_process: None) -> None:
    from moto.sqs.models import sqs_backends

    moto_speedups.apply()
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="short", Attributes={"MessageRetentionPeriod": "60"})[
        "QueueUrl"
    ]
    for body in ("fresh", "old"):
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    backend: Any = sqs_backends[ACCOUNT_ID][REGION]
    fresh, old = backend.get_queue("short")._messages
    old.sent_timestamp -= 61_000  # sent 61 s ago: past the queue's 60 s retention
    assert backend.is_message_valid_based_on_retention_period("short", fresh)
    assert not backend.is_message_valid_based_on_retention_period("short", old)
    # moto's receive stops at the first expired message; the patch keeps that behaviour.
    received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in received] == ["fresh"]


def test_moto_speedups_send_without_counting_the_queue(
    moto_in_process: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.sqs.models import Queue

    moto_speedups.apply()
    counted: list[str] = []
    counting: property = Queue.__dict__["approximate_number_of_messages"]

    def count(queue: Queue) -> int:
        counted.append(queue.name)
        return int(counting.__get__(queue))

    monkeypatch.setattr(Queue, "approximate_number_of_messages", property(count))
    sqs = boto3.client("sqs", region_name=REGION)
    sns = boto3.client("sns", region_name=REGION)
    queue = sqs.create_queue(QueueName="deep")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    topic = sns.create_topic(Name="t")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["QueueArn"])
    counted.clear()  # reading QueueArn above counted, as GetQueueAttributes does
    for index in range(20):
        sqs.send_message(QueueUrl=queue, MessageBody=str(index))
        sns.publish(TopicArn=topic, Message=str(index))
    sqs.send_message_batch(
        QueueUrl=queue, Entries=[{"Id": str(n), "MessageBody": str(n)} for n in range(5)]
    )
    assert counted == []  # no send counted the queue's messages
    counts = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == "45"
    assert counted == ["deep"]


def test_moto_speedups_keep_fifo_content_based_deduplication(moto_in_process: None) -> None:
    moto_speedups.apply()
    sqs = boto3.client("sqs", region_name=REGION)
    by_content = sqs.create_queue(
        QueueName="by-content.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    for _ in range(2):
        sqs.send_message(QueueUrl=by_content, MessageBody="same", MessageGroupId="g")
    counts = sqs.get_queue_attributes(QueueUrl=by_content, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == "1"
    by_id = sqs.create_queue(QueueName="by-id.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    with pytest.raises(sqs.exceptions.ClientError, match="MessageDeduplicationId"):
        sqs.send_message(QueueUrl=by_id, MessageBody="same", MessageGroupId="g")


def test_moto_speedups_delete_by_any_receipt_handle_as_moto_does(
    moto_in_process: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.sqs.models import Message

    moto_speedups.apply()

    def scanned(message: Message, receipt_handle: str) -> bool:
        raise AssertionError("delete built every message's receipt-handle list")

    monkeypatch.setattr(Message, "had_receipt_handle", scanned)
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="deletes")["QueueUrl"]
    for index in range(5):
        sqs.send_message(QueueUrl=queue, MessageBody=str(index))

    def receive(count: int) -> dict[str, str]:
        messages = sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=count, VisibilityTimeout=0
        )["Messages"]
        return {m["Body"]: m["ReceiptHandle"] for m in messages}

    first = receive(2)
    again = receive(10)  # visible at once: each message again, under a new handle
    assert set(again) == {"0", "1", "2", "3", "4"}
    stale = first["0"]
    assert stale != again["0"]
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=stale)  # an older handle still deletes
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=again["0"])  # deleted before: no error
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=queue, ReceiptHandle="not-a-handle")
    reply = sqs.delete_message_batch(
        QueueUrl=queue,
        Entries=[
            {"Id": "a", "ReceiptHandle": again["1"]},
            {"Id": "b", "ReceiptHandle": "not-a-handle"},
            {"Id": "c", "ReceiptHandle": again["2"]},
        ],
    )
    assert sorted(entry["Id"] for entry in reply["Successful"]) == ["a", "c"]
    assert [(entry["Id"], entry["Code"]) for entry in reply["Failed"]] == [
        ("b", "ReceiptHandleIsInvalid")
    ]
    assert set(receive(10)) == {"3", "4"}


def test_moto_speedups_remember_each_handlers_methods() -> None:
    import inspect

    from moto.core import responses
    from moto.sqs.responses import SQSResponse

    moto_speedups.apply()
    expected = [name for name, _ in inspect.getmembers(SQSResponse, inspect.isfunction)]
    assert responses.method_names_from_class(SQSResponse) == expected
    assert responses.method_names_from_class(SQSResponse) is responses.method_names_from_class(
        SQSResponse
    )


def test_dispatcher_routes_each_host_as_moto_does() -> None:
    from moto.server import DomainDispatcherApplication, create_backend_app

    plain = DomainDispatcherApplication(create_backend_app)
    cached = moto_speedups.dispatcher()
    hosts = [
        "s3.us-east-1.amazonaws.com",
        "sqs.us-east-1.amazonaws.com",
        "sns.us-east-1.amazonaws.com",
        "dynamodb",
        "runtime.sagemaker.us-east-1.amazonaws.com",
        "moto_api",
        None,
    ]
    for _ in range(2):  # the second round answers from the cache
        assert [cached.get_backend_for_host(h) for h in hosts] == [
            plain.get_backend_for_host(h) for h in hosts
        ]
    assert cached.get_backend_for_host("sqs.us-east-1.amazonaws.com") == "sqs"
