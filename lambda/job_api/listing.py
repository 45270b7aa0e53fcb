"""GET /v1/jobs: finished jobs, newest first, from the results table's sharded indexes.

Each index key is spread over INDEX_SHARDS partitions (contract.py), so a page is one Query
per shard, newest first, merged. Within a shard, records of the same millisecond come in no
defined order, so each shard's answer is re-sorted by (eventTime, id) one run of equal times
at a time, and the merge takes the newest (eventTime, id) first. The page token is the last
(eventTime, id) returned and the listing's own parameters: the next page starts strictly
after it, so a job is never shown twice nor skipped, whatever arrives in between.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import itertools
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asyncinfer_runtime.contract import (
    COMPLETED,
    ENDPOINT_HISTORY_INDEX,
    FAILED,
    FAILURES_INDEX,
    INDEX_SHARDS,
    SORT_KEY,
    Attribute,
    endpoint_shard_key,
    failure_shard_key,
    iso_time,
)
from asyncinfer_runtime.inference_record import deserialize
from asyncinfer_runtime.job_view import job_view
from job_api.aws import client
from job_api.problems import Problem

_TOKEN_VERSION = 1


@dataclass(frozen=True)
class Listing:
    """What a listing asks for: one index, its shards' partition key values, a filter."""

    status: str | None
    endpoint: str | None  # the system's name
    sagemaker_endpoint: str | None
    since: datetime | None  # as the request gave it
    limit: int

    def fingerprint(self) -> str:
        """Ties a page token to the listing that made it."""
        since = iso_time(self.since) if self.since else None
        text = json.dumps([self.status, self.endpoint, since])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class _Position:
    """Where a page ends: its last (eventTime, id), and the start of its listing (a default
    `since` is fixed by the first page, so every page lists the same window)."""

    after: tuple[str, str]
    since: str


def list_jobs(
    listing: Listing,
    *,
    table: str,
    page_token: str | None,
    endpoint_names: dict[str, str],
    default_since: datetime,
) -> dict[str, Any]:
    position = _read_token(page_token, listing) if page_token else None
    since = position.since if position else iso_time(listing.since or default_since)
    after = position.after if position else None
    if after is not None and after[0] < since:
        return {"jobs": []}  # a token can only point past the listing's own start
    if listing.status == FAILED:
        index = FAILURES_INDEX
        partitions = [failure_shard_key(shard) for shard in range(INDEX_SHARDS)]
    else:
        assert listing.sagemaker_endpoint is not None
        index = ENDPOINT_HISTORY_INDEX
        partitions = [
            endpoint_shard_key(listing.sagemaker_endpoint, shard) for shard in range(INDEX_SHARDS)
        ]
    filters: dict[str, str] = {}
    if listing.status == FAILED and listing.sagemaker_endpoint:
        filters[Attribute.ENDPOINT_NAME] = listing.sagemaker_endpoint
    if listing.status == COMPLETED:
        filters[Attribute.STATUS] = COMPLETED

    def shard(partition: str) -> list[dict[str, Any]]:
        # One more than a page tells whether there is a next page.
        items = _shard_items(
            table, index.name, index.partition_key, partition, listing, since, after, filters
        )
        return list(itertools.islice(items, listing.limit + 1))

    with ThreadPoolExecutor(max_workers=len(partitions)) as pool:
        answers = list(pool.map(shard, partitions))
    merged = list(
        itertools.islice(heapq.merge(*answers, key=_order, reverse=True), listing.limit + 1)
    )
    page = merged[: listing.limit]
    answer: dict[str, Any] = {"jobs": [job_view(item, None, endpoint_names) for item in page]}
    if len(merged) > listing.limit:
        answer["next"] = _token(_Position(after=_order(page[-1]), since=since), listing)
    return answer


def _order(item: dict[str, Any]) -> tuple[str, str]:
    return (str(item.get(SORT_KEY, "")), str(item[Attribute.INFERENCE_ID]))


def _shard_items(
    table: str,
    index: str,
    partition_key: str,
    partition: str,
    listing: Listing,
    since: str,
    after: tuple[str, str] | None,
    filters: dict[str, str],
) -> Iterator[dict[str, Any]]:
    """One shard's records, newest (eventTime, id) first, strictly before `after`."""
    names = {"#pk": partition_key, "#time": SORT_KEY}
    values: dict[str, Any] = {":pk": {"S": partition}, ":since": {"S": since}}
    condition = "#pk = :pk AND #time >= :since"
    if after is not None:
        condition = "#pk = :pk AND #time BETWEEN :since AND :until"
        values[":until"] = {"S": after[0]}
    params: dict[str, Any] = {
        "TableName": table,
        "IndexName": index,
        "KeyConditionExpression": condition,
        "ScanIndexForward": False,
        "Limit": listing.limit + 1,
    }
    if filters:
        clauses = []
        for number, (name, value) in enumerate(filters.items()):
            names[f"#f{number}"] = name
            values[f":f{number}"] = {"S": value}
            clauses.append(f"#f{number} = :f{number}")
        params["FilterExpression"] = " AND ".join(clauses)
    params["ExpressionAttributeNames"] = names
    params["ExpressionAttributeValues"] = values

    def pages() -> Iterator[dict[str, Any]]:
        while True:
            response = client("dynamodb").query(**params)
            for raw in response.get("Items", []):
                yield deserialize(raw)
            if not response.get("LastEvaluatedKey"):
                return
            params["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # Re-sort each run of equal eventTime by id, newest first, and drop what a previous
    # page has shown (its last item and everything after it).
    for _, run in itertools.groupby(pages(), key=lambda item: item.get(SORT_KEY)):
        for item in sorted(run, key=_order, reverse=True):
            if after is None or _order(item) < after:
                yield item


def _token(position: _Position, listing: Listing) -> str:
    time_, job_id = position.after
    fields = {"v": _TOKEN_VERSION, "t": time_, "i": job_id, "s": position.since}
    raw = json.dumps({**fields, "q": listing.fingerprint()})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _read_token(token: str, listing: Listing) -> _Position:
    try:
        padded = token + "=" * (-len(token) % 4)
        fields = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        assert isinstance(fields, dict) and fields.get("v") == _TOKEN_VERSION
        position = _Position(after=(str(fields["t"]), str(fields["i"])), since=str(fields["s"]))
        query = fields["q"]
    except (ValueError, UnicodeError, binascii.Error, AssertionError, KeyError, TypeError):
        raise Problem(
            400,
            "Query parameter 'next' is not a page token this API gave; pass the `next` of "
            "the previous page as it came.",
        ) from None
    if query != listing.fingerprint():
        raise Problem(
            400,
            "Query parameter 'next' belongs to a listing with other status, endpoint or "
            "since; keep those the same as for the first page.",
        )
    return position
