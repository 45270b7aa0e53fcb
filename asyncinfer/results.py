"""Reads and PENDING writes on the results table (schema in docs/design.md).

Waiting for many results must not cost one AWS call per request per poll (the S3 polling
that SageMaker's SDK does). Two ways to read many records, picked by how many are
outstanding:

- ``BatchGetItem`` in chunks of 100 keys (the API's limit), retrying ``UnprocessedKeys``;
  one call answers up to 100 ids.
- Above a few hundred outstanding ids, one ``Query`` on the ``ByEndpoint`` index for the
  endpoint's terminal records since the oldest outstanding submission; one page (1 MB)
  holds thousands of records, so a poll costs one or two calls whatever the batch size.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

PENDING = "PENDING"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
TERMINAL = frozenset({COMPLETED, FAILED})

BATCH_GET_LIMIT = 100  # BatchGetItem's maximum keys per call
# Above this many outstanding ids a single index query is cheaper than BatchGetItem chunks.
QUERY_THRESHOLD = 2 * BATCH_GET_LIMIT
# The index query's window starts this long before the oldest submission: eventTime comes
# from SageMaker's clock, the submit time from this machine's, and the two can disagree.
CLOCK_SKEW = timedelta(minutes=10)
DEFAULT_RETENTION_DAYS = 90

_deserializer = TypeDeserializer()
_serializer = TypeSerializer()


def iso_now() -> str:
    return iso_time(datetime.now(UTC))


def iso_time(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds, the format of eventTime in the table and vectors."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


@dataclass(frozen=True, kw_only=True)
class InferenceRecord:
    """One results-table item, with the attribute names turned into Python ones."""

    inference_id: str
    status: str
    endpoint_name: str | None = None
    input_location: str | None = None
    output_location: str | None = None
    failure_location: str | None = None
    failure_reason: str | None = None
    response_content_type: str | None = None
    response_body: str | None = None
    response_body_encoding: str | None = None
    event_time: str | None = None
    received_time: str | None = None
    latency_ms: float | None = None
    item: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> InferenceRecord:
        """Build from a deserialised DynamoDB item (plain Python values)."""
        latency = item.get("latencyMs")
        return cls(
            inference_id=str(item["inferenceId"]),
            status=str(item.get("status", PENDING)),
            endpoint_name=item.get("endpointName"),
            input_location=item.get("inputLocation"),
            output_location=item.get("outputLocation"),
            failure_location=item.get("failureLocation"),
            failure_reason=item.get("failureReason"),
            response_content_type=item.get("responseContentType"),
            response_body=item.get("responseBody"),
            response_body_encoding=item.get("responseBodyEncoding"),
            event_time=item.get("eventTime"),
            received_time=item.get("receivedTime"),
            latency_ms=float(latency) if latency is not None else None,
            item=item,
        )

    def to_json(self) -> dict[str, Any]:
        """The item as JSON-friendly values (DynamoDB numbers arrive as Decimal)."""
        return {k: (float(v) if hasattr(v, "as_tuple") else v) for k, v in self.item.items()}


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


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
        submitted = submitted or datetime.now(UTC)
        item: dict[str, Any] = {
            "inferenceId": inference_id,
            "status": PENDING,
            "endpointName": endpoint_name,
            "eventTime": iso_time(submitted),
            "expiresAt": int((submitted + timedelta(days=self.retention_days)).timestamp()),
        }
        # Absent when unknown, never empty strings (design contract).
        # An inline request (Body) has no input object, so no inputLocation.
        for key, value in (
            ("inputLocation", input_location),
            ("requestContentType", request_content_type),
            ("accept", accept),
            ("customAttributes", custom_attributes),
        ):
            if value:
                item[key] = value
        return {k: _serializer.serialize(v) for k, v in item.items()}

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
                Key={"inferenceId": {"S": inference_id}},
                ConditionExpression="#status = :pending",
                ExpressionAttributeNames={"#status": "status"},
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
                self.table_name: {"Keys": [{"inferenceId": {"S": i}} for i in chunk]}
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
        """Terminal records of an endpoint with eventTime >= since (ByEndpoint index)."""
        return self._query(
            index="ByEndpoint",
            key=("endpointName", endpoint_name),
            since=since,
            filter_expression="#status IN (:completed, :failed)",
            filter_values={":completed": {"S": COMPLETED}, ":failed": {"S": FAILED}},
        )

    def query_status_since(
        self, status: str, since: datetime, endpoint_name: str | None = None
    ) -> Iterator[InferenceRecord]:
        """Records in ``status`` with eventTime >= since (ByStatus index), newest first."""
        return self._query(
            index="ByStatus",
            key=("status", status),
            since=since,
            filter_expression="endpointName = :endpoint" if endpoint_name else None,
            filter_values={":endpoint": {"S": endpoint_name}} if endpoint_name else {},
            newest_first=True,
        )

    def _query(
        self,
        *,
        index: str,
        key: tuple[str, str],
        since: datetime,
        filter_expression: str | None,
        filter_values: dict[str, Any],
        newest_first: bool = False,
    ) -> Iterator[InferenceRecord]:
        names = {"#pk": key[0], "#time": "eventTime"}
        if filter_expression and "#status" in filter_expression:
            names["#status"] = "status"
        params: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": index,
            "KeyConditionExpression": "#pk = :pk AND #time >= :since",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {
                ":pk": {"S": key[1]},
                ":since": {"S": iso_time(since)},
                **filter_values,
            },
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
            return {
                record.inference_id: record
                for record in self.query_terminal_since(endpoint_name, since)
                if record.inference_id in pending
            }
        return {
            inference_id: record
            for inference_id, record in self.get_many(pending).items()
            if record.done
        }
