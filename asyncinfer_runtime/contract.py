"""The results record's contract, in one place: its attribute names, statuses, index names
and shards, the time format stored in it, and the default stack name.

The results writer (in its Lambda asset), the client, local mode, the constructs and the
tests all import it from here; docs/design.md says what each name means. Standard library
only: the CDK app imports it at synth time and every function's asset carries it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

# The stack the app deploys unless told otherwise, and the one the client looks up.
DEFAULT_STACK_NAME: Final = "SageMakerAsyncInference"
# A stack's endpoints: the `Endpoints` output maps each endpoint's name (what
# `asyncinfer --endpoint` takes) to its SageMaker endpoint name; a stack without that
# output has one endpoint, named `default`, whose name is the `EndpointName` output.
ENDPOINTS_OUTPUT: Final = "Endpoints"
DEFAULT_ENDPOINT: Final = "default"

# -- statuses -------------------------------------------------------------------------
PENDING: Final = "PENDING"  # a client's record at submit time, before any notification
COMPLETED: Final = "COMPLETED"
FAILED: Final = "FAILED"
TERMINAL: Final = frozenset({COMPLETED, FAILED})


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


# -- keys and indexes -----------------------------------------------------------------
PARTITION_KEY: Final = Attribute.INFERENCE_ID
SORT_KEY: Final = Attribute.EVENT_TIME  # of both indexes
TTL_ATTRIBUTE: Final = Attribute.EXPIRES_AT  # epoch seconds

# Index partition keys are sharded: a stream of results spreads evenly over INDEX_SHARDS key
# values per endpoint (and for failures) instead of landing on one. One partition key value
# of a GSI takes at most 1,000 write units per second, and a GSI that cannot keep up
# throttles writes to the table itself (DynamoDB Developer Guide: "Understanding GSI write
# throttling and back pressure in DynamoDB"; "Using write sharding to distribute workloads
# evenly"). Readers query every shard and merge.
INDEX_SHARDS: Final = 4


@dataclass(frozen=True)
class ResultsIndex:
    """A sparse, sharded GSI: only items carrying `partition_key` appear in it."""

    name: str
    partition_key: str
    # Attributes copied into the index besides the keys: what its queries return. A GSI
    # write costs write units for the projected size (1 per KB), so no response bodies
    # (Developer Guide, "Global secondary indexes in DynamoDB", Write capacity units).
    projected: tuple[str, ...]


# What every listing of records shows, whichever index it reads.
LISTED_ATTRIBUTES: Final = (Attribute.STATUS, Attribute.ENDPOINT_NAME, Attribute.INPUT_LOCATION)

# What an endpoint finished (COMPLETED or FAILED) between two times; the client's poll for
# many outstanding ids. PENDING records carry no `endpointShard`, so the writer's record
# *adds* the index entry (one index write) instead of moving it (two).
ENDPOINT_HISTORY_INDEX: Final = ResultsIndex(
    name="EndpointHistory",
    partition_key=Attribute.ENDPOINT_SHARD,
    projected=(
        *LISTED_ATTRIBUTES,
        Attribute.OUTPUT_LOCATION,
        Attribute.FAILURE_LOCATION,
        Attribute.LATENCY_MS,
        Attribute.RESPONSE_BODY_OMITTED,
    ),
)
# Failures by time, every endpoint of the table: only FAILED records carry `failureShard`.
FAILURES_INDEX: Final = ResultsIndex(
    name="Failures",
    partition_key=Attribute.FAILURE_SHARD,
    projected=(*LISTED_ATTRIBUTES, Attribute.FAILURE_LOCATION, Attribute.FAILURE_REASON),
)
RESULTS_INDEXES: Final = (ENDPOINT_HISTORY_INDEX, FAILURES_INDEX)


def shard_of(inference_id: str) -> int:
    """The index shard of an id: computed from the id (not random), so every delivery of a
    notification builds the same item, and spread evenly over the shards."""
    return zlib.crc32(inference_id.encode("utf-8")) % INDEX_SHARDS


def endpoint_shard_key(endpoint_name: str, shard: int) -> str:
    """The EndpointHistory partition key value of one shard of an endpoint."""
    return f"{endpoint_name}#{shard}"


def failure_shard_key(shard: int) -> str:
    """The Failures partition key value of one shard."""
    return f"{FAILED}#{shard}"


# -- SageMaker's request limits ------------------------------------------------------
# Asynchronous inference accepts payloads "up to 1 GB". Taken as 10^9 bytes, the stricter
# reading: failing before the upload is cheaper than SageMaker failing the request after it.
MAX_PAYLOAD_BYTES: Final = 1_000_000_000
# InvokeEndpointAsync's inline Body: "up to 128,000 bytes" (Developer Guide, "Invoke an
# Asynchronous Endpoint"; AsyncBodyBlob max 128000 in the pinned botocore's model).
MAX_INLINE_BYTES: Final = 128_000


# -- times ----------------------------------------------------------------------------
def iso_time(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and `Z`, the form of every time in the record and in
    SageMaker's notifications: one canonical form, so times compare as strings (the index
    sort key is a string)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def parse_iso_time(text: str) -> datetime:
    """An ISO-8601 time as an aware UTC datetime (`Z` accepted; a naive time is UTC).
    Raises ValueError for anything else."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
