"""The results writer's copy of the record contract equals the original.

The Lambda ships lambda/results_writer alone, so it keeps its own copy of the names it
writes (lambda/results_writer/contract.py); everything else imports asyncinfer/contract.py.
A field renamed in one and not the other would give records the client cannot read.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from asyncinfer import contract
from results_writer import contract as writer_contract


def public_names(namespace: object) -> dict[str, object]:
    return {name: value for name, value in vars(namespace).items() if name.isupper()}


def test_every_attribute_name_of_the_writer_equals_the_contract() -> None:
    assert public_names(writer_contract.Attribute) == public_names(contract.Attribute)


def test_the_writers_statuses_and_shard_count_equal_the_contract() -> None:
    for name, value in public_names(writer_contract).items():
        assert getattr(contract, name) == value, name


def test_the_index_definitions_key_on_the_attributes_the_writer_fills() -> None:
    assert contract.ENDPOINT_HISTORY_INDEX.partition_key == writer_contract.Attribute.ENDPOINT_SHARD
    assert contract.FAILURES_INDEX.partition_key == writer_contract.Attribute.FAILURE_SHARD
    assert contract.SORT_KEY == writer_contract.Attribute.EVENT_TIME


def test_writer_and_client_file_an_id_under_the_same_shard_and_key() -> None:
    shards = set()
    for number in range(1000):
        inference_id = str(uuid.UUID(int=number * 7919, version=4))
        shard = contract.shard_of(inference_id)
        assert writer_contract.shard_of(inference_id) == shard
        assert writer_contract.endpoint_shard_key("e", shard) == contract.endpoint_shard_key(
            "e", shard
        )
        assert writer_contract.failure_shard_key(shard) == contract.failure_shard_key(shard)
        shards.add(shard)
    assert shards == set(range(contract.INDEX_SHARDS))


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-7))),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_writer_and_client_write_times_alike(moment: datetime) -> None:
    written = contract.iso_time(moment)
    assert writer_contract.iso_time(moment) == written
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


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/key", ("bucket", "key")),
        ("s3://bucket/a/b/c.out", ("bucket", "a/b/c.out")),
        ("s3://bucket/", ("bucket", "")),
    ],
)
def test_split_s3_uri(uri: str, expected: tuple[str, str]) -> None:
    assert contract.split_s3_uri(uri) == expected


@pytest.mark.parametrize("uri", ["https://bucket/key", "s3://bucket", "s3:///key", "bucket/key"])
def test_a_location_that_is_not_an_s3_uri_is_refused_naming_it(uri: str) -> None:
    with pytest.raises(contract.InvalidLocationError) as raised:
        contract.split_s3_uri(uri)
    assert str(raised.value) == f"location {uri!r} is not an s3://bucket/key URI"
