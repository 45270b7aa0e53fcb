"""The part of the results-record contract this writer produces.

A copy of asyncinfer/contract.py's names the writer needs: the Lambda is deployed as this
folder alone, without the asyncinfer package. tests hold the copy equal to the original
(test_contract.py), so change both together.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from typing import Final

PENDING: Final = "PENDING"
COMPLETED: Final = "COMPLETED"
FAILED: Final = "FAILED"


class Attribute:
    """Names of the results record's attributes (camelCase, as DynamoDB stores them)."""

    INFERENCE_ID: Final = "inferenceId"
    STATUS: Final = "status"
    ENDPOINT_NAME: Final = "endpointName"
    AWS_REGION: Final = "awsRegion"
    INPUT_LOCATION: Final = "inputLocation"
    OUTPUT_LOCATION: Final = "outputLocation"
    FAILURE_LOCATION: Final = "failureLocation"
    FAILURE_REASON: Final = "failureReason"
    REQUEST_CONTENT_TYPE: Final = "requestContentType"
    ACCEPT: Final = "accept"
    RESPONSE_CONTENT_TYPE: Final = "responseContentType"
    CUSTOM_ATTRIBUTES: Final = "customAttributes"
    RECEIVED_TIME: Final = "receivedTime"
    EVENT_TIME: Final = "eventTime"
    COMPLETED_TIME: Final = "completedTime"
    LATENCY_MS: Final = "latencyMs"
    RESPONSE_BODY: Final = "responseBody"
    RESPONSE_BODY_ENCODING: Final = "responseBodyEncoding"
    RESPONSE_BODY_MESSAGE: Final = "responseBodyMessage"
    RESPONSE_BODY_OMITTED: Final = "responseBodyOmitted"
    ENDPOINT_SHARD: Final = "endpointShard"
    FAILURE_SHARD: Final = "failureShard"
    EXPIRES_AT: Final = "expiresAt"
    WRITTEN_AT: Final = "writtenAt"


INDEX_SHARDS: Final = 4


def shard_of(inference_id: str) -> int:
    """The index shard of an id: computed from the id, so every delivery of a notification
    builds the same item."""
    return zlib.crc32(inference_id.encode("utf-8")) % INDEX_SHARDS


def endpoint_shard_key(endpoint_name: str, shard: int) -> str:
    return f"{endpoint_name}#{shard}"


def failure_shard_key(shard: int) -> str:
    return f"{FAILED}#{shard}"


def iso_time(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and `Z`: one form, so times compare as strings."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )
