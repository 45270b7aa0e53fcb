"""The s3:// locations SageMaker hands around, read by the client and local mode."""

from __future__ import annotations

import pytest

from asyncinfer.s3_locations import InvalidLocationError, split_s3_uri


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/key", ("bucket", "key")),
        ("s3://bucket/a/b/c.out", ("bucket", "a/b/c.out")),
        ("s3://bucket/", ("bucket", "")),
    ],
)
def test_split_s3_uri(uri: str, expected: tuple[str, str]) -> None:
    assert split_s3_uri(uri) == expected


@pytest.mark.parametrize("uri", ["https://bucket/key", "s3://bucket", "s3:///key", "bucket/key"])
def test_a_location_that_is_not_an_s3_uri_is_refused_naming_it(uri: str) -> None:
    with pytest.raises(InvalidLocationError) as raised:
        split_s3_uri(uri)
    assert str(raised.value) == f"location {uri!r} is not an s3://bucket/key URI"
