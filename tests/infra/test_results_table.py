"""The results table's write budget, checked on the synthesized template.

DynamoDB limits one partition key value of a GSI to 1,000 write units per second, and a
GSI that cannot keep up throttles writes to the table itself (Developer Guide:
"Understanding GSI write throttling and back pressure in DynamoDB"). Each index write
costs 1 write unit per KB of the projected entry ("Global secondary indexes in DynamoDB",
Write capacity units). So: no index may project whole records (response bodies), and a
realistic stream of results must spread over enough key values of every index that none
of them passes 1,000 write units per second.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from asyncinfer.results import ResultsTable
from asyncinfer_runtime import contract
from asyncinfer_runtime.notification import parse
from asyncinfer_runtime.record import to_item
from tests.infra.conftest import Synthesized
from tests.support.dynamodb_sizing import (
    IndexDefinition,
    index_entry,
    item_size,
    put_item_cost,
    write_units,
)
from tests.support.results_table import global_secondary_indexes

# The rate the table must absorb for one endpoint without an index key value passing its
# 1,000 write units per second: e.g. 30 instances x 100 results per second. With one key
# value per endpoint (the old ByEndpoint) an index takes 1,000 small records per second at
# most; with 171 KB bodies projected, about 6.
RESULTS_PER_SECOND = 3_000
KEY_VALUE_WRITE_UNITS_PER_SECOND = 1_000
# Fewest distinct key values a stream must spread over in every index.
MIN_KEY_VALUES = 4
FAILURE_SHARE = 0.1  # a bad model version can make every result a failure; see below


def indexes_of(synthesized: Synthesized) -> list[IndexDefinition]:
    table = synthesized.results_table()
    return [
        IndexDefinition.from_template(index)
        for index in table["Properties"]["GlobalSecondaryIndexes"]
    ]


def realistic_stream(count: int, failure_share: float) -> list[dict[str, Any]]:
    """Items the writer stores for `count` results of one endpoint within a minute."""
    chooser = random.Random(11)
    start = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    items = []
    for index in range(count):
        inference_id = str(uuid.UUID(int=chooser.getrandbits(128), version=4))
        failed = chooser.random() < failure_share
        event = start + timedelta(milliseconds=index * 6)
        message: dict[str, Any] = {
            "eventName": "InferenceResult",
            "inferenceId": inference_id,
            "invocationStatus": "Failed" if failed else "Completed",
            "eventTime": contract.iso_time(event),
            "receivedTime": contract.iso_time(start),
            "awsRegion": "us-east-1",
            "requestParameters": {
                "endpointName": "SageMakerAsyncInference-Endpoint-1A2B3C4D5E6F",
                "inputLocation": f"s3://input-bucket/requests/{inference_id}",
                "contentType": "application/json",
            },
            "responseParameters": {
                "contentType": "application/json",
                "outputLocation": f"s3://output-bucket/output/{inference_id}.out",
            },
        }
        if failed:
            message["failureReason"] = "ClientError: Received server error (500) from model"
            message["responseParameters"] = {
                "failureLocation": f"s3://output-bucket/failure/{inference_id}-error.out"
            }
        else:
            body = chooser.randbytes(chooser.choice([64, 1024, 128 * 1024]))
            message["responseBody"] = {
                "content": base64.b64encode(body).decode(),
                "encoding": "BASE64",
            }
        notification = parse(json.dumps(message))
        assert notification is not None
        items.append(
            to_item(notification, retention_days=90, now=event, inline_body_max_bytes=4096)
        )
    return items


@pytest.fixture(scope="module")
def stream() -> list[dict[str, Any]]:
    return realistic_stream(4_000, FAILURE_SHARE)


@pytest.mark.parametrize("config", ["default", "gpu", "artifact"])
def test_no_index_projects_whole_records(
    synthesized: Callable[[str], Synthesized], config: str
) -> None:
    indexes = indexes_of(synthesized(config))
    assert indexes
    for index in indexes:
        assert index.projection in ("KEYS_ONLY", "INCLUDE"), index
        assert not {"responseBody", "responseBodyMessage"} & set(index.non_key_attributes)


def test_every_index_spreads_a_realistic_stream_over_enough_key_values(
    default: Synthesized, stream: list[dict[str, Any]]
) -> None:
    for index in indexes_of(default):
        entries = [index_entry(item, index, ("inferenceId",)) for item in stream]
        keys = Counter(
            json.dumps(entry[index.key_attributes[0]]) for entry in entries if entry is not None
        )
        assert len(keys) >= MIN_KEY_VALUES, (index.name, keys)
        # Evenly: no key value takes more than 1.25 times its fair share.
        assert max(keys.values()) <= 1.25 * sum(keys.values()) / len(keys), (index.name, keys)


@pytest.mark.parametrize("failure_share", [FAILURE_SHARE, 1.0])
def test_no_index_key_value_passes_its_write_limit_at_the_design_rate(
    default: Synthesized, failure_share: float
) -> None:
    # At 100% failures (a broken model) the Failures index takes every result.
    stream = realistic_stream(2_000, failure_share)
    for index in indexes_of(default):
        units: Counter[str] = Counter()
        for item in stream:
            entry = index_entry(item, index, ("inferenceId",))
            if entry is not None:
                units[json.dumps(entry[index.key_attributes[0]])] += write_units(item_size(entry))
        if not units:
            continue
        hottest_share = max(units.values()) / len(stream)  # write units per result
        assert hottest_share * RESULTS_PER_SECOND <= KEY_VALUE_WRITE_UNITS_PER_SECOND, (
            index.name,
            hottest_share,
        )


def test_a_record_stays_small_whatever_the_response(stream: list[dict[str, Any]]) -> None:
    # Bodies above the inline limit (4096 bytes by default) are not stored: a record with
    # a 128 KiB response costs the same few write units as one with a tiny response.
    assert max(write_units(item_size(item)) for item in stream) <= 5
    completed = [item for item in stream if item["status"] == {"S": "COMPLETED"}]
    assert completed and all("responseBody" in i or "responseBodyOmitted" in i for i in completed)


def test_the_stack_deploys_the_contracts_keys_and_indexes(default: Synthesized) -> None:
    # Writer and client share the one contract (asyncinfer_runtime): tests/unit/runtime/.
    def key_schema(partition_key: str, sort_key: str | None = None) -> list[dict[str, str]]:
        keys = [{"AttributeName": partition_key, "KeyType": "HASH"}]
        if sort_key is not None:
            keys.append({"AttributeName": sort_key, "KeyType": "RANGE"})
        return keys

    Template.from_json(default.template).has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": Match.exact(key_schema(contract.PARTITION_KEY)),
            "TimeToLiveSpecification": {"AttributeName": contract.TTL_ATTRIBUTE, "Enabled": True},
            "GlobalSecondaryIndexes": Match.exact(
                [
                    {
                        "IndexName": index.name,
                        "KeySchema": key_schema(index.partition_key, contract.SORT_KEY),
                        "Projection": {
                            "ProjectionType": "INCLUDE",
                            "NonKeyAttributes": list(index.projected),
                        },
                    }
                    for index in contract.RESULTS_INDEXES
                ]
            ),
        },
    )
    assert contract.INDEX_SHARDS >= MIN_KEY_VALUES


@pytest.mark.parametrize("body_bytes", [1024, 128 * 1024])
@pytest.mark.parametrize("status", ["Completed", "Failed"])
def test_a_notification_costs_at_most_three_write_units_indexes_included(
    default: Synthesized, body_bytes: int, status: str
) -> None:
    # The client writes a PENDING record at submit time; the notification replaces it. An
    # index whose key the replacement changes costs two index writes (delete + put), so
    # PENDING records are in no index and the terminal record only adds entries.
    indexes = indexes_of(default)
    inference_id = "5f0c4b6e-2a9d-4c1e-8f37-0d2b6a9e7c11"
    endpoint = "SageMakerAsyncInference-Endpoint-1A2B3C4D5E6F"
    pending = ResultsTable(None, "t").pending_item(
        inference_id=inference_id,
        endpoint_name=endpoint,
        input_location=f"s3://sagemakerasyncinference-inputbucket-1a2b3c4d/requests/{inference_id}",
        request_content_type="application/json",
        submitted=datetime(2025, 6, 1, 12, 0, tzinfo=UTC),
    )
    message: dict[str, Any] = {
        "eventName": "InferenceResult",
        "inferenceId": inference_id,
        "invocationStatus": status,
        "eventTime": "2025-06-01T12:00:02.250Z",
        "receivedTime": "2025-06-01T12:00:00.125Z",
        "awsRegion": "eu-central-1",
        "requestParameters": {
            "endpointName": endpoint,
            "inputLocation": pending["inputLocation"]["S"],
            "contentType": "application/json",
            "accept": "application/json",
        },
        "responseParameters": {
            "contentType": "application/json",
            "outputLocation": f"s3://sagemakerasyncinference-outputbucket-1a2b3c4d/output/{inference_id}.out",
        },
        "responseBody": {
            "content": base64.b64encode(bytes(body_bytes)).decode(),
            "encoding": "BASE64",
            "message": "",
        },
    }
    if status == "Failed":
        message["failureReason"] = (
            'ClientError: Received server error (500) from primary with message "model '
            'refused input". See the CloudWatch logs of the endpoint for details.'
        )
        message["responseParameters"] = {
            "failureLocation": f"s3://sagemakerasyncinference-outputbucket-1a2b3c4d/failure/{inference_id}-error.out"
        }
    notification = parse(json.dumps(message))
    assert notification is not None
    item = to_item(
        notification, retention_days=90, now=datetime.now(UTC), inline_body_max_bytes=4096
    )
    for old in (None, pending):
        cost = put_item_cost(old, item, indexes)
        assert cost.total <= 3, (old is not None, cost)


def test_stand_in_table_has_the_templates_indexes(default: Synthesized) -> None:
    # Tests and the bench build their table with tests/support/results_table.py; it must be the
    # table the stack deploys, projections included.
    table = default.results_table()
    assert table["Properties"]["GlobalSecondaryIndexes"] == global_secondary_indexes()
