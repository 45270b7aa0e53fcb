"""Records the real writer stores, read back through the client (both against moto).

A body above the inline limit is not in the record: the client must read it from the
record's outputLocation; a small one it reads from the record without touching S3.
"""

from __future__ import annotations

import base64
import io
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from asyncinfer.client import AsyncInferenceClient
from asyncinfer_runtime.contract import iso_time
from results_writer import handler
from tests.support.results_table import create_results_table
from tests.support.writer_harness import sqs_event

ENDPOINT = "example-endpoint"


@pytest.fixture
def stack(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    table = create_results_table(moto_server)
    bucket = f"output-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto_server).create_bucket(Bucket=bucket)
    monkeypatch.setenv("RESULTS_TABLE_NAME", table)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", moto_server)
    handler.runtime.cache_clear()
    yield {"table": table, "bucket": bucket}
    handler.runtime.cache_clear()


def deliver(vectors_dir: Path, moto_server: str, bucket: str, body: bytes) -> str:
    """SageMaker's part: the output object, then its notification through the writer."""
    inference_id = str(uuid.uuid4())
    key = f"output/{inference_id}.out"
    boto3.client("s3", endpoint_url=moto_server).put_object(
        Bucket=bucket, Key=key, Body=body, ContentType="application/json"
    )
    message = json.loads((vectors_dir / "success-with-response-body.json").read_text())
    message["inferenceId"] = inference_id
    message["eventTime"] = iso_time(datetime.now(UTC))
    message["requestParameters"]["endpointName"] = ENDPOINT
    message["responseParameters"]["outputLocation"] = f"s3://{bucket}/{key}"
    message["responseBody"] = {
        "content": base64.b64encode(body).decode(),
        "message": "",
        "encoding": "BASE64",
    }
    with redirect_stdout(io.StringIO()):
        result = handler.lambda_handler(sqs_event([json.dumps(message)]), None)
    assert result == {"batchItemFailures": []}
    return inference_id


def client_for(moto_server: str, stack: dict[str, str]) -> tuple[AsyncInferenceClient, Counter]:
    client = AsyncInferenceClient(
        endpoint_name=ENDPOINT,
        input_bucket=stack["bucket"],
        results_table=stack["table"],
        endpoint_url=moto_server,
    )
    calls: Counter[str] = Counter()

    def count(event_name: str, **_: Any) -> None:
        calls[event_name.rsplit(".", 1)[-1]] += 1

    client.aws("s3").meta.events.register("before-call.s3", count)
    return client, calls


def test_an_omitted_body_is_read_from_the_output_location(
    moto_server: str, stack: dict[str, str], vectors_dir: Path
) -> None:
    body = json.dumps([{"label": "LABEL_1", "score": 0.5}] * 4000).encode()  # ~150 KB
    assert len(body) > 128 * 1024
    inference_id = deliver(vectors_dir, moto_server, stack["bucket"], body[: 128 * 1024])
    client, calls = client_for(moto_server, stack)
    record = client.records([client.handle(inference_id)])[inference_id]
    assert record is not None and record.response_body_omitted and record.response_body is None
    assert client.result(inference_id, deserialize=False) == body[: 128 * 1024]
    assert calls == Counter({"GetObject": 1})


def test_a_small_body_is_read_from_the_record_alone(
    moto_server: str, stack: dict[str, str], vectors_dir: Path
) -> None:
    body = json.dumps([{"label": "LABEL_2", "score": 0.9}]).encode()
    inference_id = deliver(vectors_dir, moto_server, stack["bucket"], body)
    client, calls = client_for(moto_server, stack)
    assert client.result(inference_id) == [{"label": "LABEL_2", "score": 0.9}]
    assert calls == Counter()  # no S3 read


def test_many_outstanding_ids_are_polled_with_one_query_per_shard(
    moto_server: str, stack: dict[str, str], vectors_dir: Path
) -> None:
    # Above QUERY_THRESHOLD outstanding ids a poll queries each shard of EndpointHistory
    # once, then reads the whole records of what finished (bodies included) in one batch.
    from asyncinfer.results import QUERY_THRESHOLD
    from asyncinfer_runtime.contract import INDEX_SHARDS

    finished = [
        deliver(vectors_dir, moto_server, stack["bucket"], f'"{n}"'.encode()) for n in range(6)
    ]
    client, _ = client_for(moto_server, stack)
    assert client.table is not None
    calls: Counter[str] = Counter()
    client.table.dynamodb.meta.events.register(
        "before-call.dynamodb", lambda event_name, **_: calls.update([event_name.split(".")[-1]])
    )
    since = datetime.now(UTC) - timedelta(minutes=1)
    pending = {inference_id: since for inference_id in finished}
    pending.update({f"unknown-{n}": since for n in range(QUERY_THRESHOLD)})
    found = client.table.poll(pending, ENDPOINT)
    assert set(found) == set(finished)
    assert all(isinstance(record.response_body, bytes) for record in found.values())
    assert calls == Counter({"Query": INDEX_SHARDS, "BatchGetItem": 1})
