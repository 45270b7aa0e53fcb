"""The results record's contract (asyncinfer_runtime/contract.py): the one copy the writer,
the client, local mode and the constructs import."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from asyncinfer_runtime import contract


def test_the_indexes_key_on_the_shard_attributes_and_sort_by_event_time() -> None:
    assert contract.ENDPOINT_HISTORY_INDEX.partition_key == contract.Attribute.ENDPOINT_SHARD
    assert contract.FAILURES_INDEX.partition_key == contract.Attribute.FAILURE_SHARD
    assert contract.SORT_KEY == contract.Attribute.EVENT_TIME


def test_ids_spread_over_every_shard_and_key_their_shard_values() -> None:
    shards = set()
    for number in range(1000):
        inference_id = str(uuid.UUID(int=number * 7919, version=4))
        shard = contract.shard_of(inference_id)
        assert contract.shard_of(inference_id) == shard  # computed, not drawn
        shards.add(shard)
    assert shards == set(range(contract.INDEX_SHARDS))
    assert contract.endpoint_shard_key("e", 3) == "e#3"
    assert contract.failure_shard_key(2) == "FAILED#2"


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-7))),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_times_are_written_in_one_form_and_read_back(moment: datetime) -> None:
    written = contract.iso_time(moment)
    assert len(written) == len("2026-01-02T03:04:05.678Z") and written.endswith("Z")
    # Truncated, not rounded, to the millisecond, and read back as the same instant.
    assert contract.parse_iso_time(written) == moment.replace(
        microsecond=moment.microsecond // 1000 * 1000
    )


def test_iso_time_is_utc_with_milliseconds() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=2)))
    assert contract.iso_time(moment) == "2026-01-02T01:04:05.678Z"


def test_a_naive_time_is_read_as_utc() -> None:
    assert contract.parse_iso_time("2026-01-02T03:04:05") == datetime(
        2026, 1, 2, 3, 4, 5, tzinfo=UTC
    )
