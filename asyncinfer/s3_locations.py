"""The s3:// locations SageMaker hands around (input, output and failure locations)."""

from __future__ import annotations

from asyncinfer.errors import AsyncInferenceError


class InvalidLocationError(AsyncInferenceError, ValueError):
    """A location that is not an s3://bucket/key URI."""


def split_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of an ``s3://bucket/key`` location."""
    bucket, slash, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not slash:
        raise InvalidLocationError(f"location {uri!r} is not an s3://bucket/key URI")
    return bucket, key
