"""The results table: one conditional write per notification.

The condition makes the write idempotent and order-independent: a record is written
when there is none, when the stored one is a client's PENDING record, or when the
stored event is older. A duplicate or an older event fails the condition and changes
nothing, so any number of deliveries in any order leave the newest event's record.
"""

from __future__ import annotations

import enum
from typing import Any

WRITE_CONDITION = (
    "attribute_not_exists(inferenceId) OR #status = :pending OR eventTime < :eventTime"
)


class WriteOutcome(enum.Enum):
    WRITTEN = "written"
    ALREADY_CURRENT = "already-current"  # an equal or newer event is stored


class ResultsStore:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table_name = table_name

    def put(self, item: dict[str, Any]) -> WriteOutcome:
        """Store `item` unless an equal or newer event is stored; transient errors raise."""
        try:
            self._dynamodb.put_item(
                TableName=self._table_name,
                Item=item,
                ConditionExpression=WRITE_CONDITION,
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":pending": {"S": "PENDING"},
                    ":eventTime": item["eventTime"],
                },
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return WriteOutcome.ALREADY_CURRENT
        return WriteOutcome.WRITTEN
