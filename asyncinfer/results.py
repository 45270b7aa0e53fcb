"""Reads and PENDING writes on the results table (schema in docs/design.md).

Waiting for many results must not cost one AWS call per request per poll (the S3 polling
that SageMaker's SDK does). Two ways to read many records, picked by how many are
outstanding:

- ``BatchGetItem`` in chunks of 100 keys (the API's limit), retrying ``UnprocessedKeys``;
  one call answers up to 100 ids.
- Above ``QUERY_THRESHOLD`` outstanding ids, one ``Query`` per shard of the
  ``EndpointHistory`` index for the endpoint's finished records since the oldest
  outstanding submission (a page of 1 MB holds about a thousand index entries), then one
  ``BatchGetItem`` per 100 newly finished ids for their whole records (the index holds no
  response bodies).

The indexes are sharded (asyncinfer_runtime/contract.py, ``INDEX_SHARDS``): a listing is one
query per shard, run in parallel and merged by ``eventTime``. The items themselves are built
and read by asyncinfer_runtime (``record``, ``inference_record``), which the Lambda functions
ship too.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from asyncinfer_runtime.contract import (
    ENDPOINT_HISTORY_INDEX,
    FAILURES_INDEX,
    INDEX_SHARDS,
    PARTITION_KEY,
    PENDING,
    SORT_KEY,
    Attribute,
    endpoint_shard_key,
    failure_shard_key,
    iso_time,
)
from asyncinfer_runtime.inference_record import InferenceRecord, deserialize
from asyncinfer_runtime.record import pending_item

BATCH_GET_LIMIT = 100  # BatchGetItem's maximum keys per call

# Above this many outstanding ids, one query per shard (plus the BatchGetItem of what
# finished) is cheaper than BatchGetItem chunks of every outstanding id.
QUERY_THRESHOLD = INDEX_SHARDS * BATCH_GET_LIMIT
# The index query's window starts this long before the oldest submission: eventTime comes
# from SageMaker's clock, the submit time from this machine's, and the two can disagree.
CLOCK_SKEW = timedelta(minutes=10)
DEFAULT_RETENTION_DAYS = 90


class ResultsTable:
    """The results table seen through a low-level DynamoDB client."""

    def __init__(
        self,
        dynamodb: Any,
        table_name: str,
        *,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        sleep: Any = time.sleep,
    ) -> None:
        self.dynamodb = dynamodb
        self.table_name = table_name
        self.retention_days = retention_days
        self._sleep = sleep

    # -- writes -------------------------------------------------------------------------

    def pending_item(
        self,
        *,
        inference_id: str,
        endpoint_name: str,
        input_location: str | None,
        request_content_type: str | None = None,
        accept: str | None = None,
        custom_attributes: str | None = None,
        submitted: datetime | None = None,
    ) -> dict[str, Any]:
        """The PENDING item of docs/design.md, serialised for the low-level client."""
        return pending_item(
            inference_id=inference_id,
            endpoint_name=endpoint_name,
            input_location=input_location,
            submitted=submitted or datetime.now(UTC),
            retention_days=self.retention_days,
            request_content_type=request_content_type,
            accept=accept,
            custom_attributes=custom_attributes,
        )

    def put_pending(self, **fields: Any) -> bool:
        """Record a submission so ``status`` answers before the notification arrives.

        Conditional on the id being absent: the notification can beat this write (or the
        id can be reused), and a PENDING record must never replace a terminal one.
        Returns False when a record already existed.
        """
        try:
            self.dynamodb.put_item(
                TableName=self.table_name,
                Item=self.pending_item(**fields),
                ConditionExpression="attribute_not_exists(inferenceId)",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def put_new_pending(self, items: list[dict[str, Any]]) -> None:
        """Unconditional PENDING writes (BatchWriteItem, 25 per call) for ids never invoked.

        Only for ids the caller has just generated and not yet sent: nothing else can have
        written a record for them, so the missing condition cannot regress one.
        """
        for start in range(0, len(items), 25):
            request: dict[str, Any] = {
                self.table_name: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]
            }
            delay = 0.05
            while request:
                response = self.dynamodb.batch_write_item(RequestItems=request)
                request = response.get("UnprocessedItems") or {}
                if request:
                    self._sleep(delay)
                    delay = min(delay * 2, 2.0)

    def delete_pending(self, inference_id: str) -> None:
        """Remove a PENDING record whose request was never accepted (only if still PENDING)."""
        try:
            self.dynamodb.delete_item(
                TableName=self.table_name,
                Key={PARTITION_KEY: {"S": inference_id}},
                ConditionExpression="#status = :pending",
                ExpressionAttributeNames={"#status": Attribute.STATUS},
                ExpressionAttributeValues={":pending": {"S": PENDING}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    # -- reads --------------------------------------------------------------------------

    def get_many(self, inference_ids: Iterable[str]) -> dict[str, InferenceRecord]:
        """Records for the ids that have one, by ``BatchGetItem`` in chunks of 100."""
        ids = list(dict.fromkeys(inference_ids))
        found: dict[str, InferenceRecord] = {}
        for start in range(0, len(ids), BATCH_GET_LIMIT):
            chunk = ids[start : start + BATCH_GET_LIMIT]
            request: dict[str, Any] = {
                self.table_name: {"Keys": [{PARTITION_KEY: {"S": i}} for i in chunk]}
            }
            delay = 0.05
            while request:
                response = self.dynamodb.batch_get_item(RequestItems=request)
                for raw in response.get("Responses", {}).get(self.table_name, []):
                    record = InferenceRecord.from_item(deserialize(raw))
                    found[record.inference_id] = record
                # DynamoDB may answer part of a batch (size limits, throttling); the rest
                # comes back as UnprocessedKeys to send again after a pause.
                request = response.get("UnprocessedKeys") or {}
                if request:
                    self._sleep(delay)
                    delay = min(delay * 2, 2.0)
        return found

    def query_terminal_since(
        self, endpoint_name: str, since: datetime
    ) -> Iterator[InferenceRecord]:
        """Finished records of an endpoint with eventTime >= since, oldest first."""
        return self.query_endpoint(endpoint_name, since)

    def query_endpoint(
        self,
        endpoint_name: str,
        since: datetime,
        until: datetime | None = None,
        *,
        newest_first: bool = False,
    ) -> Iterator[InferenceRecord]:
        """What ``endpoint_name`` finished (COMPLETED and FAILED) between two times.

        One query per shard of the EndpointHistory index, merged by eventTime. Records carry
        the index's projection (status, locations, latency; no body): ``get_many`` has the
        whole record.
        """
        return self._query_shards(
            index=ENDPOINT_HISTORY_INDEX.name,
            partition=(
                ENDPOINT_HISTORY_INDEX.partition_key,
                [endpoint_shard_key(endpoint_name, s) for s in range(INDEX_SHARDS)],
            ),
            since=since,
            until=until,
            newest_first=newest_first,
        )

    def query_failures(
        self,
        since: datetime,
        until: datetime | None = None,
        *,
        endpoint_name: str | None = None,
    ) -> Iterator[InferenceRecord]:
        """FAILED records with eventTime in [since, until], newest first.

        One query per shard of the sparse Failures index (it holds FAILED records only, of
        every endpoint of the table); ``endpoint_name`` filters to one endpoint.
        """
        return self._query_shards(
            index=FAILURES_INDEX.name,
            partition=(
                FAILURES_INDEX.partition_key,
                [failure_shard_key(s) for s in range(INDEX_SHARDS)],
            ),
            since=since,
            until=until,
            newest_first=True,
            filter_expression="endpointName = :endpoint" if endpoint_name else None,
            filter_values={":endpoint": {"S": endpoint_name}} if endpoint_name else {},
        )

    def _query_shards(
        self,
        *,
        index: str,
        partition: tuple[str, list[str]],
        since: datetime,
        until: datetime | None,
        newest_first: bool,
        filter_expression: str | None = None,
        filter_values: dict[str, Any] | None = None,
    ) -> Iterator[InferenceRecord]:
        """Query every shard's partition in parallel, then merge the sorted answers."""
        attribute, values = partition
        with ThreadPoolExecutor(max_workers=len(values)) as pool:
            answers = list(
                pool.map(
                    lambda value: list(
                        self._query(
                            index=index,
                            key=(attribute, value),
                            since=since,
                            until=until,
                            filter_expression=filter_expression,
                            filter_values=filter_values or {},
                            newest_first=newest_first,
                        )
                    ),
                    values,
                )
            )
        return heapq.merge(
            *answers, key=lambda record: record.event_time or "", reverse=newest_first
        )

    def _query(
        self,
        *,
        index: str,
        key: tuple[str, str],
        since: datetime,
        until: datetime | None,
        filter_expression: str | None,
        filter_values: dict[str, Any],
        newest_first: bool = False,
    ) -> Iterator[InferenceRecord]:
        names = {"#pk": key[0], "#time": SORT_KEY}
        values: dict[str, Any] = {":pk": {"S": key[1]}, ":since": {"S": iso_time(since)}}
        condition = "#pk = :pk AND #time >= :since"
        if until is not None:
            condition = "#pk = :pk AND #time BETWEEN :since AND :until"
            values[":until"] = {"S": iso_time(until)}
        params: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {**values, **filter_values},
            "ScanIndexForward": not newest_first,
        }
        if filter_expression:
            params["FilterExpression"] = filter_expression
        while True:
            response = self.dynamodb.query(**params)
            for raw in response.get("Items", []):
                yield InferenceRecord.from_item(deserialize(raw))
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            params["ExclusiveStartKey"] = last

    def poll(
        self, pending: dict[str, datetime], endpoint_name: str | None
    ) -> dict[str, InferenceRecord]:
        """Terminal records among ``pending`` (id -> submit time); picks the cheaper read."""
        if not pending:
            return {}
        if endpoint_name and len(pending) > QUERY_THRESHOLD:
            since = min(pending.values()) - CLOCK_SKEW
            finished = [
                record.inference_id
                for record in self.query_terminal_since(endpoint_name, since)
                if record.inference_id in pending
            ]
            # The index entries carry no response body; the whole records do.
            return {
                inference_id: record
                for inference_id, record in self.get_many(finished).items()
                if record.done
            }
        return {
            inference_id: record
            for inference_id, record in self.get_many(pending).items()
            if record.done
        }
