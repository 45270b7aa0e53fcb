"""The results table: one conditional write per notification, transient errors retried.

The condition makes the write idempotent and order-independent: a record is written
when there is none, when the stored one is a client's PENDING record, or when the
stored event is older. A duplicate or an older event fails the condition and changes
nothing, so any number of deliveries in any order leave the newest event's record.
"""

from __future__ import annotations

import enum
import random
import time
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as EndpointUnreachable

from asyncinfer_runtime.contract import PENDING, Attribute

WRITE_CONDITION = (
    "attribute_not_exists(inferenceId) OR #status = :pending OR eventTime < :eventTime"
)

# What DynamoDB answers when it is briefly overloaded or failing; worth another try
# inside the invocation. Anything else (validation, access denied) will not get better.
RETRYABLE_ERROR_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
# Backoff with full jitter: waits of up to 50 ms, 100 ms, ... capped at 2 s, so eight
# attempts spend at most about 5 s and a throttled batch still returns well inside the
# function's timeout (a timeout would redeliver the whole batch, written items included).
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 2.0


class WriteOutcome(enum.Enum):
    WRITTEN = "written"
    ALREADY_CURRENT = "already-current"  # an equal or newer event is stored


def is_retryable(error: Exception) -> bool:
    """Throttling, a 5xx, or a dropped connection: the same request may well succeed.

    Repeating a write that may already have been applied (a read timeout) is safe: the
    repeat fails the condition and counts as written.
    """
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in RETRYABLE_ERROR_CODES or status >= 500
    return isinstance(error, EndpointUnreachable | HTTPClientError)


class ResultsStore:
    def __init__(
        self,
        dynamodb: Any,
        table_name: str,
        *,
        max_attempts: int,
        sleep: Any = time.sleep,
    ) -> None:
        self._dynamodb = dynamodb
        self._table_name = table_name
        self._max_attempts = max_attempts
        self._sleep = sleep

    def put(self, item: dict[str, Any], *, deadline: float | None = None) -> WriteOutcome:
        """Store `item` unless an equal or newer event is stored.

        Retries transient errors with backoff until `max_attempts` or until the next
        wait would pass `deadline` (time.monotonic()); then the last error is raised.
        """
        attempt = 1
        while True:
            try:
                return self._put_once(item)
            except (ClientError, EndpointUnreachable, HTTPClientError) as error:
                if not is_retryable(error) or attempt >= self._max_attempts:
                    raise
                wait = random.uniform(
                    0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
                )
                if deadline is not None and time.monotonic() + wait >= deadline:
                    raise
                self._sleep(wait)
                attempt += 1

    def _put_once(self, item: dict[str, Any]) -> WriteOutcome:
        try:
            self._dynamodb.put_item(
                TableName=self._table_name,
                Item=item,
                ConditionExpression=WRITE_CONDITION,
                ExpressionAttributeNames={"#status": Attribute.STATUS},
                ExpressionAttributeValues={
                    ":pending": {"S": PENDING},
                    ":eventTime": item[Attribute.EVENT_TIME],
                },
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return WriteOutcome.ALREADY_CURRENT
            raise
        return WriteOutcome.WRITTEN
