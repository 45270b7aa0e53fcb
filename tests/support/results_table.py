"""The results table on a stand-in, built from the contract the stack deploys.

One place for every test tier and benchmark, so the stand-in table cannot drift from
what `asyncinfer_constructs/results.py` deploys from asyncinfer_runtime/contract.py (key,
indexes and their projections, TTL attribute).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import boto3

from asyncinfer_runtime.contract import PARTITION_KEY, RESULTS_INDEXES, SORT_KEY, TTL_ATTRIBUTE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import GlobalSecondaryIndexTypeDef


def global_secondary_indexes() -> list[GlobalSecondaryIndexTypeDef]:
    """The table's GSIs in CreateTable's shape (as the synthesized template has them)."""
    return [
        {
            "IndexName": index.name,
            "KeySchema": [
                {"AttributeName": index.partition_key, "KeyType": "HASH"},
                {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(index.projected)},
        }
        for index in RESULTS_INDEXES
    ]


def create_results_table(endpoint_url: str, name: str | None = None) -> str:
    """Create the results table on the stand-in at `endpoint_url`; returns its name."""
    name = name or f"results-{uuid.uuid4().hex[:8]}"
    client = boto3.client("dynamodb", endpoint_url=endpoint_url)
    key_attributes = (PARTITION_KEY, *(index.partition_key for index in RESULTS_INDEXES), SORT_KEY)
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": attribute, "AttributeType": "S"} for attribute in key_attributes
        ],
        GlobalSecondaryIndexes=global_secondary_indexes(),
    )
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )
    return name
