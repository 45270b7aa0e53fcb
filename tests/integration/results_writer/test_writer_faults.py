"""Fault injection: 10,000 notifications through the writer, with duplicates, shuffling,
malformed messages, TestNotifications and injected DynamoDB errors; every inference must
still end with exactly one correct record."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator
from contextlib import redirect_stdout
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import Binary

from asyncinfer_runtime.contract import shard_of  # the client's copy: writer and client must agree
from results_writer import handler
from tests.support.results_table import create_results_table
from tests.support.writer_harness import (
    BATCH_SIZE,
    MAX_RECEIVE_COUNT,
    Replay,
    ReplayResult,
    build_replay,
    deliver,
    fault_proxy,
    scan_records,
)

FAULT_RATE = 0.06  # comfortably above the 5% of DynamoDB calls the writer must survive

STATUSES = {"Completed": "COMPLETED", "Failed": "FAILED"}


class _Collect(logging.Handler):
    """Keeps the writer's log records, to check what it said about each message."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def expected_record(message: dict[str, Any]) -> dict[str, Any]:
    """What the record must hold, read straight off the notification (docs/design.md)."""
    request = message["requestParameters"]
    response = message.get("responseParameters", {})
    body = message.get("responseBody", {})
    fields = {
        "inferenceId": message["inferenceId"],
        "status": STATUSES[message["invocationStatus"]],
        "eventTime": message["eventTime"],
        "completedTime": message["eventTime"],
        "receivedTime": message["receivedTime"],
        "endpointName": request["endpointName"],
        "inputLocation": request["inputLocation"],
        "requestContentType": request.get("contentType"),
        "accept": request.get("accept"),
        "customAttributes": request.get("customAttributes"),
        "outputLocation": response.get("outputLocation"),
        "failureLocation": response.get("failureLocation"),
        "responseContentType": response.get("contentType"),
        "failureReason": message.get("failureReason"),
        # A BASE64 body is stored decoded, as a Binary attribute (its raw size counts).
        "responseBody": Binary(base64.b64decode(body["content"]))
        if body.get("content") and body.get("encoding") == "BASE64"
        else body.get("content"),
        "responseBodyEncoding": body.get("encoding"),
        "awsRegion": message["awsRegion"],
        # The sharded index keys: every finished record in EndpointHistory, FAILED ones
        # in Failures too, in the shard computed from the id.
        "endpointShard": f"{request['endpointName']}#{shard_of(message['inferenceId'])}",
        "failureShard": f"FAILED#{shard_of(message['inferenceId'])}"
        if message["invocationStatus"] == "Failed"
        else None,
    }
    return {name: value for name, value in fields.items() if value}


@pytest.fixture(scope="module")
def replay(vectors_dir: Path) -> Replay:
    return build_replay(vectors_dir, 10_000)


@pytest.fixture(scope="module")
def outcome(
    moto_server: str, replay: Replay
) -> Iterator[tuple[ReplayResult, list[logging.LogRecord], dict[str, dict[str, Any]], Any]]:
    table = create_results_table(moto_server)
    patch = pytest.MonkeyPatch()
    collect = _Collect()
    logger = logging.getLogger("results_writer")
    with fault_proxy(moto_server, fault_rate=FAULT_RATE, seed=11) as proxy:
        patch.setenv("RESULTS_TABLE_NAME", table)
        patch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.url)
        handler.runtime.cache_clear()
        logger.addHandler(collect)
        try:
            with redirect_stdout(io.StringIO()):
                result = deliver(
                    handler.lambda_handler,
                    replay.messages,
                    batch_size=BATCH_SIZE,
                    max_receive_count=MAX_RECEIVE_COUNT,
                )
        finally:
            logger.removeHandler(collect)
            handler.runtime.cache_clear()
            patch.undo()
    yield result, collect.records, scan_records(moto_server, table), proxy.counts


def test_faults_were_injected_on_at_least_five_percent_of_dynamodb_calls(outcome: Any) -> None:
    _, _, _, counts = outcome
    assert counts.total_faults >= 0.05 * counts.total_requests
    # Every kind of fault happened, throttling and 5xx alike.
    assert set(counts.faults) == {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "InternalServerError",
        "ServiceUnavailableException",
    }


def test_every_valid_inference_has_exactly_one_correct_record(outcome: Any, replay: Replay) -> None:
    _, _, records, _ = outcome
    assert set(records) == set(replay.expected)  # no missing id and no stray record
    wrong = {}
    for inference_id, message in replay.expected.items():
        record = records[inference_id]
        stored = {name: record.get(name) for name in expected_record(message)}
        if stored != expected_record(message):
            wrong[inference_id] = (stored, expected_record(message))
        latency = record["latencyMs"]
        assert isinstance(latency, Decimal) and latency >= 1
    assert wrong == {}


def test_malformed_messages_and_only_those_reach_the_dead_letter_queue(
    outcome: Any, replay: Replay
) -> None:
    result, logs, _, _ = outcome
    assert {dead.message_id for dead in result.dead_letters} == set(replay.malformed)
    # Each tried exactly maxReceiveCount times, as the queue's redrive policy says.
    assert {dead.receive_count for dead in result.dead_letters} == {MAX_RECEIVE_COUNT}
    assert result.whole_batch_failures == 0
    reasons: dict[str, set[str]] = {}
    for record in logs:
        if record.levelno == logging.ERROR and record.getMessage() == "malformed notification":
            reasons.setdefault(record.messageId, set()).add(record.reason)
    assert set(reasons) == set(replay.malformed)
    for message_id, fragment in replay.malformed.items():
        assert all(fragment in reason for reason in reasons[message_id]), reasons[message_id]


def test_nothing_else_is_lost_or_retried_without_cause(outcome: Any, replay: Replay) -> None:
    result, logs, _, _ = outcome
    # Every message was received; valid ones and TestNotifications were deleted.
    assert len(result.receives) == len(replay.messages)
    failed_writes = [r for r in logs if r.getMessage() == "record not written; will be redelivered"]
    # A write is only reported after its retries ran out; with 6% faults and eight
    # attempts that should not happen at all, so any such line is a retry bug.
    assert failed_writes == []
    assert {m for m, count in result.receives.items() if count > 1} == set(replay.malformed)


def test_test_notifications_are_acknowledged_without_records(outcome: Any, replay: Replay) -> None:
    result, logs, _, _ = outcome
    skipped = {r.messageId for r in logs if r.getMessage() == "test notification skipped"}
    assert skipped == replay.test_notifications
    assert all(result.receives[m] == 1 for m in replay.test_notifications)


def test_the_replay_has_the_intended_mix(replay: Replay) -> None:
    total = len(replay.messages)
    assert total == 10_000
    assert len(replay.malformed) == 100 and len(replay.test_notifications) == 200
    assert replay.duplicates == 1000
    bodies = [json.loads(body) for _, body in replay.messages if body.startswith("{")]
    assert any(b.get("Type") == "Notification" for b in bodies)  # SNS envelopes
    assert any("inferenceId" in b for b in bodies)  # raw messages
