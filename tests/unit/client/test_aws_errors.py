"""AWS errors as the package's one-line errors; throttling as botocore's retries see it."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from asyncinfer.aws import describe, is_throttling_code
from asyncinfer.errors import AsyncInferenceError, ThrottledError


@pytest.mark.parametrize(
    "code",
    ["ThrottlingException", "ProvisionedThroughputExceededException", "SlowDown", "Throttling"],
)
def test_botocores_throttling_codes_are_reported_as_throttling(code: str) -> None:
    assert is_throttling_code(code)
    error = ClientError({"Error": {"Code": code, "Message": "Rate exceeded"}}, "PutItem")
    described = describe(error, "inference x")
    assert isinstance(described, ThrottledError)
    assert str(described) == (
        f"inference x: AWS throttled PutItem ({code}) and it was still throttled after 1 "
        f"attempts with backoff; retry later or lower --concurrency"
    )


def test_other_codes_are_not_throttling() -> None:
    assert not is_throttling_code("ValidationException")
    error = ClientError({"Error": {"Code": "ValidationException", "Message": "bad"}}, "PutItem")
    described = describe(error)
    assert type(described) is AsyncInferenceError
    assert str(described) == "PutItem failed: bad (ValidationException)"
