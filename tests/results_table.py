"""The results table on a stand-in, built from the stack's own key schema constants.

One place for every test tier and benchmark, so the stand-in table cannot drift from
what `stacks/results.py` deploys (key, indexes, TTL attribute).
"""

from __future__ import annotations

import uuid

import boto3

from stacks.results import BY_ENDPOINT_INDEX, BY_STATUS_INDEX, PARTITION_KEY, TTL_ATTRIBUTE

INDEX_PARTITIONS = {BY_ENDPOINT_INDEX: "endpointName", BY_STATUS_INDEX: "status"}
INDEX_SORT_KEY = "eventTime"


def create_results_table(endpoint_url: str, name: str | None = None) -> str:
    """Create the results table on the stand-in at `endpoint_url`; returns its name."""
    name = name or f"results-{uuid.uuid4().hex[:8]}"
    client = boto3.client("dynamodb", endpoint_url=endpoint_url)
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": attribute, "AttributeType": "S"}
            for attribute in (PARTITION_KEY, *INDEX_PARTITIONS.values(), INDEX_SORT_KEY)
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": partition, "KeyType": "HASH"},
                    {"AttributeName": INDEX_SORT_KEY, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, partition in INDEX_PARTITIONS.items()
        ],
    )
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )
    return name
