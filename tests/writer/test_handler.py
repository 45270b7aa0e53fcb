"""The results writer against DynamoDB on a loopback moto server, fed every vector."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import boto3
import pytest
from results_writer import handler
from results_writer.settings import SettingsError, WriterSettings

from tests.writer.harness import create_results_table, sns_envelope, sqs_event, throttling_proxy


def load(vectors_dir: Path, name: str) -> dict[str, Any]:
    return json.loads((vectors_dir / name).read_text())


@pytest.fixture
def table(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = create_results_table(moto_server)
    monkeypatch.setenv("RESULTS_TABLE_NAME", name)
    monkeypatch.setenv("RESULTS_RETENTION_DAYS", "30")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", moto_server)
    handler.runtime.cache_clear()
    yield name
    handler.runtime.cache_clear()


def items(moto_server: str, table: str) -> dict[str, dict[str, Any]]:
    client = boto3.resource("dynamodb", endpoint_url=moto_server).Table(table)
    return {item["inferenceId"]: item for item in client.scan()["Items"]}


def run(*bodies: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    output = io.StringIO()
    with redirect_stdout(output):
        result = handler.lambda_handler(sqs_event(list(bodies)), None)
    logs = [json.loads(line) for line in output.getvalue().splitlines() if line.startswith("{")]
    return result, logs


def test_success_vector_becomes_a_completed_record(
    moto_server: str, table: str, vectors_dir: Path
) -> None:
    message = load(vectors_dir, "success.json")
    result, logs = run(json.dumps(message))
    assert result == {"batchItemFailures": []}
    record = items(moto_server, table)["11111111-2222-3333-4444-555555555555"]
    assert record["status"] == "COMPLETED"
    assert record["endpointName"] == "example-endpoint"
    assert record["inputLocation"] == "s3://example-input-bucket/input/input-data.csv"
    assert record["outputLocation"] == "s3://example-output-bucket/output/prediction.out"
    assert record["requestContentType"] == "text/csv"
    assert record["responseContentType"] == "text/csv; charset=utf-8"
    assert record["receivedTime"] == "2022-01-25T22:46:00.455Z"
    assert record["eventTime"] == record["completedTime"] == "2022-01-25T22:46:00.608Z"
    assert record["latencyMs"] == 153
    assert record["awsRegion"] == "us-east-1"
    # TTL counts from the event: 30 days after eventTime.
    assert record["expiresAt"] == 1643150760 + 30 * 86400
    assert "failureReason" not in record and "responseBody" not in record
    written = [entry for entry in logs if entry.get("inferenceId") == record["inferenceId"]]
    assert written and written[0]["message"] == "record written"


def test_error_vector_becomes_a_failed_record_with_reason(
    moto_server: str, table: str, vectors_dir: Path
) -> None:
    message = load(vectors_dir, "error-with-failure-location.json")
    result, _ = run(json.dumps(message))
    assert result == {"batchItemFailures": []}
    record = items(moto_server, table)[message["inferenceId"]]
    assert record["status"] == "FAILED"
    assert record["failureReason"] == message["failureReason"]
    assert record["failureLocation"] == message["responseParameters"]["failureLocation"]
    assert record["accept"] == "application/json"
    assert record["requestContentType"] == "application/x-npy"
    assert record["customAttributes"] == "trace=abc123"
    assert "outputLocation" not in record


def test_error_without_failure_location(moto_server: str, table: str, vectors_dir: Path) -> None:
    message = load(vectors_dir, "error.json")
    run(json.dumps(message))
    record = items(moto_server, table)[message["inferenceId"]]
    assert record["status"] == "FAILED"
    assert record["failureReason"].startswith("ClientError: Received server error (500)")
    assert "failureLocation" not in record


def test_inline_response_body_is_kept(moto_server: str, table: str, vectors_dir: Path) -> None:
    message = load(vectors_dir, "success-with-response-body.json")
    run(sns_envelope(json.dumps(message)))  # enveloped delivery works too
    record = items(moto_server, table)[message["inferenceId"]]
    assert record["responseBodyEncoding"] == "BASE64"
    assert json.loads(base64.b64decode(record["responseBody"])) == [
        {"label": "LABEL_2", "score": 0.8808}
    ]
    assert "responseBodyMessage" not in record  # empty in the vector: left out, not stored empty


def test_test_notification_is_acknowledged_and_not_recorded(
    moto_server: str, table: str, vectors_dir: Path
) -> None:
    result, _ = run((vectors_dir / "test-notification.json").read_text())
    assert result == {"batchItemFailures": []}
    assert items(moto_server, table) == {}


def test_duplicates_leave_one_unchanged_record(
    moto_server: str, table: str, vectors_dir: Path
) -> None:
    body = (vectors_dir / "success.json").read_text()
    run(body)
    first = items(moto_server, table)
    result, logs = run(body, body, sns_envelope(body))
    assert result == {"batchItemFailures": []}
    assert items(moto_server, table) == first  # not even writtenAt changed
    assert sum(entry["message"] == "newer or equal record kept" for entry in logs) == 3


def test_older_event_never_overwrites_and_newer_event_wins(
    moto_server: str, table: str, vectors_dir: Path
) -> None:
    completed = load(vectors_dir, "success.json")
    older_failure = {**load(vectors_dir, "error.json"), "eventTime": "2022-01-25T22:45:59.000Z"}
    run(json.dumps(completed), json.dumps(older_failure))
    assert items(moto_server, table)[completed["inferenceId"]]["status"] == "COMPLETED"
    # A client re-using the id: the newer event replaces the record, stale fields go.
    newer_failure = {**load(vectors_dir, "error.json"), "eventTime": "2022-01-26T08:00:00.000Z"}
    run(json.dumps(newer_failure))
    record = items(moto_server, table)[completed["inferenceId"]]
    assert record["status"] == "FAILED"
    assert record["eventTime"] == "2022-01-26T08:00:00.000Z"
    assert "outputLocation" not in record


def test_pending_record_is_completed_and_never_regresses_a_terminal_one(
    moto_server: str, table: str, vectors_dir: Path
) -> None:
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_server)
    message = load(vectors_dir, "success.json")
    pending = {
        "inferenceId": {"S": message["inferenceId"]},
        "status": {"S": "PENDING"},
        "endpointName": {"S": "example-endpoint"},
        # A client clock ahead of SageMaker's must not block the completion.
        "eventTime": {"S": "2030-01-01T00:00:00.000Z"},
    }
    dynamodb.put_item(
        TableName=table, Item=pending, ConditionExpression="attribute_not_exists(inferenceId)"
    )
    run(json.dumps(message))
    assert items(moto_server, table)[message["inferenceId"]]["status"] == "COMPLETED"
    # The client's conditional PENDING write after the fact changes nothing.
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.put_item(
            TableName=table, Item=pending, ConditionExpression="attribute_not_exists(inferenceId)"
        )
    assert items(moto_server, table)[message["inferenceId"]]["status"] == "COMPLETED"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json at all", "The message body is not JSON"),
        ('["a", "list"]', "Notification must be a JSON object; received list."),
        (
            '{"eventName": "SomethingElse"}',
            "Field 'eventName' must be 'InferenceResult' or 'TestNotification'",
        ),
        (
            '{"eventName": "InferenceResult", "invocationStatus": "Completed", "eventTime": "2024-01-01T00:00:00.000Z"}',
            "Field 'inferenceId' must be a non-empty string; received None.",
        ),
        (
            '{"eventName": "InferenceResult", "inferenceId": "x", "invocationStatus": "Exploded", "eventTime": "2024-01-01T00:00:00.000Z"}',
            "Field 'invocationStatus' must be one of Completed, Failed; received 'Exploded'.",
        ),
        (
            '{"eventName": "InferenceResult", "inferenceId": "x", "invocationStatus": "Completed", "eventTime": "yesterday"}',
            "Field 'eventTime' must be an ISO-8601 UTC time; received 'yesterday'.",
        ),
        (
            '{"Type": "Notification", "Message": "{broken"}',
            "The SNS envelope's Message is not JSON",
        ),
    ],
)
def test_malformed_message_is_reported_with_reason_and_the_rest_is_written(
    moto_server: str, table: str, vectors_dir: Path, body: str, reason: str
) -> None:
    good = (vectors_dir / "success.json").read_text()
    event = sqs_event([good, body, (vectors_dir / "test-notification.json").read_text()])
    output = io.StringIO()
    with redirect_stdout(output):
        result = handler.lambda_handler(event, None)
    bad_id = event["Records"][1]["messageId"]
    assert result == {"batchItemFailures": [{"itemIdentifier": bad_id}]}
    assert list(items(moto_server, table)) == ["11111111-2222-3333-4444-555555555555"]
    errors = [json.loads(line) for line in output.getvalue().splitlines() if '"ERROR"' in line]
    assert [(e["messageId"], e["reason"][: len(reason)]) for e in errors] == [(bad_id, reason)]


def test_writes_that_stay_throttled_fail_exactly_those_items(
    moto_server: str, table: str, vectors_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with throttling_proxy(moto_server) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{proxy['port']}")
        monkeypatch.setenv("RESULTS_WRITE_MAX_ATTEMPTS", "2")
        handler.runtime.cache_clear()
        success = load(vectors_dir, "success.json")
        error = load(vectors_dir, "error-with-failure-location.json")
        event = sqs_event(
            [
                json.dumps(success),
                json.dumps(error),
                (vectors_dir / "test-notification.json").read_text(),
            ]
        )
        output = io.StringIO()
        with redirect_stdout(output):
            result = handler.lambda_handler(event, None)
    failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
    assert failed == {event["Records"][0]["messageId"], event["Records"][1]["messageId"]}
    assert proxy["throttled"] == 4  # two writes, each tried twice with backoff
    assert items(moto_server, table) == {}
    reasons = [
        json.loads(line) for line in output.getvalue().splitlines() if "will be redelivered" in line
    ]
    assert {r["inferenceId"] for r in reasons} == {success["inferenceId"], error["inferenceId"]}
    assert all("ProvisionedThroughputExceeded" in r["reason"] for r in reasons)


def test_transient_throttling_is_retried_inside_the_invocation(
    moto_server: str, table: str, vectors_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler.runtime.cache_clear()
    _, store = handler.runtime()
    with throttling_proxy(moto_server) as proxy:
        # Throttle every write once, then let the retry through to the stand-in.
        client = store._dynamodb
        calls = {"n": 0}

        def throttle_first(request: Any, **_: Any) -> None:
            calls["n"] += 1
            if calls["n"] == 1:
                request.url = f"http://127.0.0.1:{proxy['port']}/"

        client.meta.events.register("before-send.dynamodb.PutItem", throttle_first)
        result, _ = run((vectors_dir / "success.json").read_text())
    assert result == {"batchItemFailures": []}
    assert proxy["throttled"] == 1 and calls["n"] == 2
    assert "11111111-2222-3333-4444-555555555555" in items(moto_server, table)


def test_missing_table_setting_is_one_clear_sentence() -> None:
    with pytest.raises(SettingsError) as raised:
        WriterSettings.from_environment({})
    assert str(raised.value) == (
        "Environment variable RESULTS_TABLE_NAME must name the results table; received nothing."
    )
    with pytest.raises(SettingsError, match="RESULTS_RETENTION_DAYS must be a whole number"):
        WriterSettings.from_environment(
            {"RESULTS_TABLE_NAME": "t", "RESULTS_RETENTION_DAYS": "ninety"}
        )


def test_records_are_listable_by_endpoint_and_by_status(
    moto_server: str, table: str, vectors_dir: Path
) -> None:
    run(*(p.read_text() for p in sorted(vectors_dir.glob("*.json"))))
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_server)
    failures = dynamodb.query(
        TableName=table,
        IndexName="ByStatus",
        KeyConditionExpression="#s = :failed AND eventTime >= :since",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":failed": {"S": "FAILED"},
            ":since": {"S": "2024-01-01T00:00:00.000Z"},
        },
    )["Items"]
    assert [f["inferenceId"]["S"] for f in failures] == ["2c9d3a8e-5f41-4b7e-9c0d-7e1f2a3b4c5d"]
    by_endpoint = dynamodb.query(
        TableName=table,
        IndexName="ByEndpoint",
        KeyConditionExpression="endpointName = :e",
        ExpressionAttributeValues={":e": {"S": "example-endpoint"}},
    )["Items"]
    assert len(by_endpoint) == 3  # 11111111 (success then error: one record), 7b1e0c2d, 2c9d3a8e
