"""Local mode's SigV4 check (asyncinfer/local/sigv4.py): what botocore signs passes, and
every way a request can fail SigV4 is refused with API Gateway's gateway response type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from asyncinfer.local.sigv4 import SignatureError, Signer, verify

SIGNER = Signer("local", "local", "us-east-1")
HOST = "127.0.0.1:4567"


def signed(
    method: str = "POST",
    path: str = "/prod/v1/jobs",
    query: str = "endpoint=default&limit=2",
    body: bytes = b"1,2,3",
    *,
    secret: str = "local",
    region: str = "us-east-1",
    service: str = "execute-api",
    token: str | None = "local",
) -> tuple[dict[str, str], datetime]:
    """Headers an AWS SDK sends for this request, and when it signed them."""
    request = AWSRequest(
        method=method,
        url=f"http://{HOST}{path}?{query}",
        data=body,
        headers={"Content-Type": "text/csv", "Idempotency-Key": "k1"},
    )
    SigV4Auth(Credentials("local", secret, token), service, region).add_auth(request)
    signed_at = datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    return {**dict(request.headers.items()), "Host": HOST}, signed_at.replace(tzinfo=UTC)


def check(sent: dict[str, str], now: datetime, **changes: object) -> str:
    request: dict[str, object] = {
        "method": "POST",
        "raw_path": "/prod/v1/jobs",
        "query_string": "endpoint=default&limit=2",
        "headers": sent,
        "body": b"1,2,3",
        "now": now,
        **changes,
    }
    return verify(SIGNER, **request)  # type: ignore[arg-type]


def refusal(sent: dict[str, str], now: datetime, **changes: object) -> SignatureError:
    with pytest.raises(SignatureError) as raised:
        check(sent, now, **changes)
    return raised.value


def test_what_botocore_signs_passes_with_or_without_a_session_token() -> None:
    for token in ("local", None):
        headers, now = signed(token=token)
        assert check(headers, now) == "local"
    # The query's order does not matter to SigV4: it signs the sorted query.
    headers, now = signed(query="limit=2&endpoint=default")
    assert check(headers, now, query_string="limit=2&endpoint=default") == "local"


def test_anything_changed_after_signing_is_refused() -> None:
    headers, now = signed()
    for change in (
        {"body": b"1,2,4"},
        {"raw_path": "/prod/v1/uploads"},
        {"method": "PUT"},
        {"query_string": "endpoint=other&limit=2"},
        {"headers": {**headers, "Idempotency-Key": "k2"}},
    ):
        error = refusal(headers, now, **change)
        assert error.response_type == "INVALID_SIGNATURE", change
        assert "does not match" in error.message


def test_unsigned_wrong_key_wrong_scope_and_stale_requests_are_refused() -> None:
    headers, now = signed()
    unsigned = {k: v for k, v in headers.items() if k != "Authorization"}
    assert refusal(unsigned, now).response_type == "MISSING_AUTHENTICATION_TOKEN"
    other, at = signed(secret="not-local")
    assert "does not match" in refusal(other, at).message
    stranger = {**headers, "Authorization": headers["Authorization"].replace("local/", "AKIA1/")}
    assert "security token included in the request is invalid" in refusal(stranger, now).message
    for kwargs in ({"region": "eu-west-1"}, {"service": "s3"}):
        scoped, at = signed(**kwargs)  # type: ignore[arg-type]
        assert "should be scoped to us-east-1/execute-api" in refusal(scoped, at).message
    late = refusal(headers, now + timedelta(minutes=6))
    assert late.response_type == "INVALID_SIGNATURE" and "Signature expired" in late.message
