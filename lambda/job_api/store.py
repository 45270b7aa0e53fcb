"""The job API's DynamoDB reads and writes: a job's items on submit (one transaction), their
removal when SageMaker refuses the request, and reading a job back.

A submit writes the jobs item and the results table's PENDING record in one call: a
BatchWriteItem across both tables, or, when the request has an Idempotency-Key, one
TransactWriteItems that also takes the key (conditional, so a key is taken once, and all or
nothing, so a key never points at a job that was not written). The job's id is a fresh UUID
that SageMaker has not seen, so nothing else can have written either item (design.md,
"Results table": a client's PENDING record for an id of its own may be written before the
invoke). One call instead of two or three: the budget is two AWS calls per submit, this and
the invoke. A batch write costs half a transaction's write units (DynamoDB Developer Guide,
"Amazon DynamoDB Transactions: How it works", capacity management: two writes per item).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from asyncinfer_runtime.contract import PARTITION_KEY, PENDING, Attribute
from asyncinfer_runtime.inference_record import deserialize
from asyncinfer_runtime.jobs import JOBS_PARTITION_KEY, JOBS_TTL_ATTRIBUTE, IdempotencyAttribute
from job_api.aws import client, error_code


@dataclass(frozen=True)
class Taken:
    """An Idempotency-Key that an earlier request holds: its job and request."""

    job_id: str
    request_hash: str


class KeyTaken(Exception):
    def __init__(self, taken: Taken) -> None:
        super().__init__(taken.job_id)
        self.taken = taken


def write_job(
    *,
    jobs_table: str,
    results_table: str,
    job_item: dict[str, Any],
    pending_record: dict[str, Any],
    idempotency_item: dict[str, Any] | None,
    now: float | None = None,
) -> None:
    """Write a new job's items at once; raise KeyTaken if its Idempotency-Key is held."""
    if idempotency_item is None:
        _batch_put({jobs_table: [job_item], results_table: [pending_record]})
        return
    items: list[dict[str, Any]] = []
    if idempotency_item is not None:
        items.append(
            {
                "Put": {
                    "TableName": jobs_table,
                    "Item": idempotency_item,
                    # DynamoDB deletes expired items within days, not at once (Developer
                    # Guide, "Using time to live (TTL) in DynamoDB"): an expired key is free.
                    "ConditionExpression": "attribute_not_exists(#key) OR #expires < :now",
                    "ExpressionAttributeNames": {
                        "#key": JOBS_PARTITION_KEY,
                        "#expires": JOBS_TTL_ATTRIBUTE,
                    },
                    "ExpressionAttributeValues": {":now": {"N": str(int(now or time.time()))}},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
        )
    items.append({"Put": {"TableName": jobs_table, "Item": job_item}})
    items.append({"Put": {"TableName": results_table, "Item": pending_record}})
    try:
        client("dynamodb").transact_write_items(TransactItems=items)
    except Exception as error:
        if idempotency_item is None or error_code(error) != "TransactionCanceledException":
            raise
        reasons = getattr(error, "response", {}).get("CancellationReasons") or []
        first = reasons[0] if reasons else {}
        if first.get("Code") != "ConditionalCheckFailed":
            raise
        # The item that holds the key comes back with the cancellation; read it otherwise.
        held = first.get("Item") or _get(jobs_table, idempotency_item[JOBS_PARTITION_KEY]["S"])
        if not held:
            raise  # expired and deleted in between: the caller may send the request again
        raise KeyTaken(
            Taken(
                job_id=held[IdempotencyAttribute.JOB]["S"],
                request_hash=held[IdempotencyAttribute.REQUEST_HASH]["S"],
            )
        ) from None


def _batch_put(items: dict[str, list[dict[str, Any]]]) -> None:
    request: dict[str, Any] = {
        table: [{"PutRequest": {"Item": item}} for item in table_items]
        for table, table_items in items.items()
    }
    delay = 0.05
    while request:
        response = client("dynamodb").batch_write_item(RequestItems=request)
        # DynamoDB may write part of a batch (throttling): send the rest after a pause.
        request = response.get("UnprocessedItems") or {}
        if request:
            time.sleep(delay)
            delay *= 2


def remove_job(
    *,
    jobs_table: str,
    results_table: str,
    job_id: str,
    idempotency_key_id: str | None,
) -> None:
    """Undo write_job for a request SageMaker refused: the PENDING record only while it is
    still PENDING (it can be nothing else: SageMaker never accepted the id)."""
    items: list[dict[str, Any]] = [
        {"Delete": {"TableName": jobs_table, "Key": {JOBS_PARTITION_KEY: {"S": job_id}}}},
        {
            "Delete": {
                "TableName": results_table,
                "Key": {PARTITION_KEY: {"S": job_id}},
                "ConditionExpression": "#status = :pending",
                "ExpressionAttributeNames": {"#status": Attribute.STATUS},
                "ExpressionAttributeValues": {":pending": {"S": PENDING}},
            }
        },
    ]
    if idempotency_key_id is not None:
        key = {JOBS_PARTITION_KEY: {"S": idempotency_key_id}}
        items.append({"Delete": {"TableName": jobs_table, "Key": key}})
    client("dynamodb").transact_write_items(TransactItems=items)


def _get(table: str, key: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = (
        client("dynamodb")
        .get_item(TableName=table, Key={JOBS_PARTITION_KEY: {"S": key}}, ConsistentRead=True)
        .get("Item")
    )
    return item


def read_job(
    *, jobs_table: str, results_table: str, job_id: str
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(results record, jobs item) of `job_id`, deserialised, either None when absent: one
    BatchGetItem across both tables."""
    request: dict[str, Any] = {
        results_table: {"Keys": [{PARTITION_KEY: {"S": job_id}}], "ConsistentRead": True},
        jobs_table: {"Keys": [{JOBS_PARTITION_KEY: {"S": job_id}}], "ConsistentRead": True},
    }
    found: dict[str, Mapping[str, Any]] = {}
    delay = 0.05
    while request:
        response = client("dynamodb").batch_get_item(RequestItems=request)
        for table, items in response.get("Responses", {}).items():
            for item in items:
                found[table] = item
        # A batch may come back in part (throttling): send the rest again after a pause.
        request = response.get("UnprocessedKeys") or {}
        if request:
            time.sleep(delay)
            delay *= 2
    record, job = found.get(results_table), found.get(jobs_table)
    return (
        deserialize(dict(record)) if record else None,
        deserialize(dict(job)) if job else None,
    )


def read_record(results_table: str, job_id: str) -> dict[str, Any] | None:
    """The results record of `job_id`, deserialised (Binary bodies as bytes), or None."""
    item = (
        client("dynamodb")
        .get_item(TableName=results_table, Key={PARTITION_KEY: {"S": job_id}}, ConsistentRead=True)
        .get("Item")
    )
    return deserialize(item) if item else None
