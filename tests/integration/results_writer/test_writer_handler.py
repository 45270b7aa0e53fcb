"""The results writer against DynamoDB on a loopback moto server, fed every vector."""

from __future__ import annotations

import base64
import io
import json
import socket
from collections.abc import Iterator
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from asyncinfer.results import ResultsTable
from asyncinfer_runtime.contract import INDEX_SHARDS, shard_of
from results_writer import handler
from results_writer.settings import SettingsError
from tests.support.dynamodb_sizing import KB, item_size, write_units
from tests.support.results_table import create_results_table
from tests.support.writer_harness import (
    fault_proxy,
    scan_records,
    sns_envelope,
    sqs_event,
)


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
    return scan_records(moto_server, table)


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
    # Stored decoded, as a Binary attribute: DynamoDB counts its raw bytes, not the base64.
    assert record["responseBody"].value == base64.b64decode(message["responseBody"]["content"])
    assert json.loads(record["responseBody"].value) == [{"label": "LABEL_2", "score": 0.8808}]
    assert "responseBodyOmitted" not in record
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
    success = load(vectors_dir, "success.json")
    error = load(vectors_dir, "error-with-failure-location.json")
    bodies = [
        json.dumps(success),
        "not json at all",
        json.dumps(error),
        (vectors_dir / "test-notification.json").read_text(),
    ]
    with fault_proxy(moto_server, fault_rate=1.0, operations=frozenset({"PutItem"})) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.url)
        monkeypatch.setenv("RESULTS_WRITE_MAX_ATTEMPTS", "3")
        handler.runtime.cache_clear()
        event = sqs_event(bodies)
        output = io.StringIO()
        with redirect_stdout(output):
            result = handler.lambda_handler(event, None)
    ids = [record["messageId"] for record in event["Records"]]
    # The two throttled writes and the malformed message; the TestNotification is done.
    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == sorted(ids[:3])
    assert proxy.counts.requests["PutItem"] == proxy.counts.total_faults == 6  # 2 writes x 3
    assert items(moto_server, table) == {}
    reasons = [
        json.loads(line) for line in output.getvalue().splitlines() if "will be redelivered" in line
    ]
    assert {r["inferenceId"] for r in reasons} == {success["inferenceId"], error["inferenceId"]}
    assert {r["messageId"] for r in reasons} == {ids[0], ids[2]}


def test_throttled_writes_are_retried_inside_the_invocation(
    moto_server: str, table: str, vectors_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Half of the writes fail with DynamoDB throttling/5xx errors; eight attempts each
    # get every one through within the invocation.
    with fault_proxy(moto_server, fault_rate=0.5, seed=3) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.url)
        handler.runtime.cache_clear()
        messages = []
        for index in range(20):
            message = load(vectors_dir, "success.json")
            message["inferenceId"] = f"retried-{index}"
            messages.append(json.dumps(message))
        result, _ = run(*messages)
    assert result == {"batchItemFailures": []}
    assert proxy.counts.total_faults > 0
    assert proxy.counts.requests["PutItem"] == 20 + proxy.counts.total_faults
    assert set(items(moto_server, table)) == {f"retried-{index}" for index in range(20)}


class _Context:
    """The part of the Lambda context the writer uses."""

    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_retries_stop_before_the_function_times_out(
    moto_server: str, table: str, vectors_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With less time left than the safety margin, no backoff wait is started: the item
    # is reported at once instead of the invocation timing out with the whole batch.
    with fault_proxy(moto_server, fault_rate=1.0) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.url)
        handler.runtime.cache_clear()
        event = sqs_event([(vectors_dir / "success.json").read_text()])
        with redirect_stdout(io.StringIO()):
            result = handler.lambda_handler(event, _Context(remaining_ms=1000))
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert proxy.counts.requests["PutItem"] == 1


def test_an_unexpected_error_fails_only_its_message(
    moto_server: str, table: str, vectors_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = handler.to_item

    def to_item_failing_for_one(notification: Any, **kwargs: Any) -> dict[str, Any]:
        if notification.inference_id == "breaks":
            raise KeyError("a bug")
        return original(notification, **kwargs)

    monkeypatch.setattr(handler, "to_item", to_item_failing_for_one)
    broken = {**load(vectors_dir, "success.json"), "inferenceId": "breaks"}
    event = sqs_event([json.dumps(broken), (vectors_dir / "error.json").read_text()])
    with redirect_stdout(io.StringIO()):
        result = handler.lambda_handler(event, None)
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert list(items(moto_server, table)) == ["11111111-2222-3333-4444-555555555555"]


def test_log_lines_are_json_objects_naming_the_inference_id(
    moto_server: str, table: str, vectors_dir: Path
) -> None:
    message = load(vectors_dir, "error.json")
    output = io.StringIO()
    with redirect_stdout(output):
        handler.lambda_handler(sqs_event([json.dumps(message)]), None)
    lines = [json.loads(line) for line in output.getvalue().splitlines()]
    written = [line for line in lines if line["message"] == "record written"]
    assert written == [
        {
            "timestamp": written[0]["timestamp"],
            "level": "INFO",
            "logger": "results_writer",
            "message": "record written",
            "messageId": written[0]["messageId"],
            "inferenceId": message["inferenceId"],
            "status": "FAILED",
        }
    ]


def test_handler_without_table_name_fails_with_that_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RESULTS_TABLE_NAME", raising=False)
    handler.runtime.cache_clear()
    with pytest.raises(SettingsError, match="RESULTS_TABLE_NAME must name the results table"):
        handler.lambda_handler(sqs_event(["{}"]), None)
    handler.runtime.cache_clear()


def with_body(message: dict[str, Any], size: int, inference_id: str) -> dict[str, Any]:
    """`message` carrying a BASE64 response body of `size` raw bytes."""
    body = bytes(index % 251 for index in range(size))
    return {
        **message,
        "inferenceId": inference_id,
        "responseBody": {
            "content": base64.b64encode(body).decode(),
            "message": "",
            "encoding": "BASE64",
        },
    }


def test_a_128_kb_response_is_omitted_and_the_record_stays_one_write_unit(
    moto_server: str, table: str, vectors_dir: Path
) -> None:
    # 128 KiB is the most a notification carries (about 171 KiB as base64). Inline, the
    # record would cost ~171 write units per write; without the body it is one.
    message = with_body(load(vectors_dir, "success-with-response-body.json"), 128 * KB, "big")
    result, _ = run(json.dumps(message))
    assert result == {"batchItemFailures": []}
    stored = boto3.client("dynamodb", endpoint_url=moto_server).get_item(
        TableName=table, Key={"inferenceId": {"S": "big"}}
    )["Item"]
    assert "responseBody" not in stored and "responseBodyEncoding" not in stored
    assert stored["responseBodyOmitted"] == {"BOOL": True}
    assert stored["outputLocation"] == {"S": message["responseParameters"]["outputLocation"]}
    assert item_size(stored) <= KB
    assert write_units(item_size(stored)) == 1


def test_a_body_at_the_limit_is_kept_and_one_byte_more_is_omitted(
    moto_server: str, table: str, vectors_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESULTS_INLINE_BODY_MAX_BYTES", "1000")
    handler.runtime.cache_clear()
    vector = load(vectors_dir, "success-with-response-body.json")
    run(
        json.dumps(with_body(vector, 1000, "at-limit")),
        json.dumps(with_body(vector, 1001, "over-limit")),
    )
    records = items(moto_server, table)
    assert len(records["at-limit"]["responseBody"].value) == 1000
    assert "responseBodyOmitted" not in records["at-limit"]
    assert "responseBody" not in records["over-limit"]
    assert records["over-limit"]["responseBodyOmitted"] is True


def test_a_failures_body_stays_in_its_failure_document(
    moto_server: str, table: str, vectors_dir: Path
) -> None:
    # The error document is in S3 at failureLocation; a FAILED record goes into both
    # indexes, so it keeps no copy. Without a failure document the usual limit applies.
    documented = with_body(load(vectors_dir, "error-with-failure-location.json"), 100, "doc")
    undocumented = with_body(load(vectors_dir, "error.json"), 100, "no-doc")
    run(json.dumps(documented), json.dumps(undocumented))
    records = items(moto_server, table)
    assert "responseBody" not in records["doc"] and records["doc"]["responseBodyOmitted"] is True
    assert records["doc"]["failureLocation"]
    assert len(records["no-doc"]["responseBody"].value) == 100


def test_a_body_that_is_not_base64_is_kept_as_sent(
    moto_server: str, table: str, vectors_dir: Path
) -> None:
    message = load(vectors_dir, "success-with-response-body.json")
    message["inferenceId"] = "text-body"
    message["responseBody"] = {"content": '{"label": "ok"}', "message": "", "encoding": ""}
    run(json.dumps(message))
    assert items(moto_server, table)["text-body"]["responseBody"] == '{"label": "ok"}'


def test_pending_records_are_in_no_index_and_finished_ones_in_their_shard(
    moto_server: str, table: str, vectors_dir: Path
) -> None:
    results = ResultsTable(boto3.client("dynamodb", endpoint_url=moto_server), table)
    submitted = datetime(2025, 6, 1, 9, 59, tzinfo=UTC)
    for inference_id in ("done", "broken", "waiting"):
        results.put_pending(
            inference_id=inference_id,
            endpoint_name="example-endpoint",
            input_location="s3://in/x",
            submitted=submitted,
        )
    done = load(vectors_dir, "success.json") | {"inferenceId": "done"}
    broken = load(vectors_dir, "error.json") | {"inferenceId": "broken"}
    run(json.dumps(done), json.dumps(broken))
    records = items(moto_server, table)
    assert "endpointShard" not in records["waiting"] and "failureShard" not in records["waiting"]
    assert records["done"]["endpointShard"] == f"example-endpoint#{shard_of('done')}"
    assert "failureShard" not in records["done"]
    assert records["broken"]["failureShard"] == f"FAILED#{shard_of('broken')}"
    history = results.query_endpoint("example-endpoint", submitted - timedelta(days=9000))
    assert {record.inference_id for record in history} == {"done", "broken"}
    failures = results.query_failures(submitted - timedelta(days=9000))
    assert [record.inference_id for record in failures] == ["broken"]


def test_failures_and_endpoint_history_are_a_fixed_number_of_queries(
    moto_server: str, table: str, vectors_dir: Path
) -> None:
    # Records spread over every shard; each listing is one query per shard, whatever the
    # number of records, and comes back merged in time order.
    bodies = []
    names = ["success.json", "error.json", "error-with-failure-location.json"]
    for index in range(30):
        message = load(vectors_dir, names[index % 3])
        message["inferenceId"] = f"query-{index:02d}"
        message["eventTime"] = f"2025-06-01T10:{index:02d}:00.000Z"
        message["receivedTime"] = "2025-06-01T09:59:00.000Z"
        bodies.append(json.dumps(message))
    run(*bodies)
    assert len({shard_of(f"query-{index:02d}") for index in range(30)}) == INDEX_SHARDS
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_server)
    queries: list[str] = []
    dynamodb.meta.events.register(
        "before-parameter-build.dynamodb.Query",
        lambda params, **_: queries.append(params["IndexName"]),
    )
    results = ResultsTable(dynamodb, table)
    since = datetime(2025, 6, 1, 10, 10, 30, tzinfo=UTC)
    failures = list(results.query_failures(since, endpoint_name="example-endpoint"))
    expected_failures = [f"query-{i:02d}" for i in range(29, 10, -1) if i % 3]
    assert [record.inference_id for record in failures] == expected_failures
    assert all(record.failure_reason for record in failures)  # projected into the index
    assert queries == ["Failures"] * INDEX_SHARDS
    queries.clear()
    history = list(
        results.query_endpoint(
            "example-endpoint",
            datetime(2025, 6, 1, 10, 5, tzinfo=UTC),
            datetime(2025, 6, 1, 10, 20, tzinfo=UTC),
        )
    )
    assert [record.inference_id for record in history] == [f"query-{i:02d}" for i in range(5, 21)]
    assert {record.status for record in history} == {"COMPLETED", "FAILED"}
    assert queries == ["EndpointHistory"] * INDEX_SHARDS
    # Another endpoint's failures are listed only when asked for every endpoint.
    other = load(vectors_dir, "error.json")
    other["inferenceId"] = "elsewhere"
    other["eventTime"] = "2025-06-01T10:30:00.000Z"
    other["requestParameters"] = {**other["requestParameters"], "endpointName": "other"}
    run(json.dumps(other))
    mine = {r.inference_id for r in results.query_failures(since, endpoint_name="example-endpoint")}
    everywhere = {r.inference_id for r in results.query_failures(since)}
    assert everywhere - mine == {"elsewhere"}


def test_every_vector_file_is_recorded_or_skipped_never_failed(
    moto_server: str, table: str, vectors_dir: Path
) -> None:
    # Any vector added to ../shared/vectors/ is covered: a result becomes a record
    # with the vector's status, a TestNotification is acknowledged without one.
    vectors = sorted(vectors_dir.glob("*.json"))
    assert len(vectors) >= 5
    results = 0
    for path in vectors:
        message = json.loads(path.read_text())
        if "inferenceId" in message:
            message["inferenceId"] = f"{path.stem}-{message['inferenceId']}"
        for body in (json.dumps(message), sns_envelope(json.dumps(message))):
            result, _ = run(body)
            assert result == {"batchItemFailures": []}, path.name
        records = items(moto_server, table)
        if message.get("eventName") == "TestNotification":
            assert not any(key.startswith(path.stem) for key in records), path.name
        else:
            results += 1
            record = records[message["inferenceId"]]
            expected = {"Completed": "COMPLETED", "Failed": "FAILED"}[message["invocationStatus"]]
            assert (record["status"], record["eventTime"]) == (expected, message["eventTime"])
    assert len(items(moto_server, table)) == results


def test_an_unreachable_table_is_retried_then_reported(
    table: str, vectors_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{closed}")
    monkeypatch.setenv("RESULTS_WRITE_MAX_ATTEMPTS", "3")
    handler.runtime.cache_clear()
    _, store = handler.runtime()
    attempts: list[str] = []
    store._dynamodb.meta.events.register(
        "before-send.dynamodb.PutItem", lambda **_: attempts.append("PutItem")
    )
    event = sqs_event([(vectors_dir / "success.json").read_text()])
    output = io.StringIO()
    with redirect_stdout(output):
        result = handler.lambda_handler(event, None)
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert len(attempts) == 3
    errors = [json.loads(line) for line in output.getvalue().splitlines() if '"ERROR"' in line]
    assert [e["message"] for e in errors] == ["record not written; will be redelivered"]
    assert "Could not connect" in errors[0]["reason"]
