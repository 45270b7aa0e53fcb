"""Signature Version 4 checked as API Gateway checks an AWS_IAM method, against local
mode's printed credentials, with botocore's own signer.

The request's signature is recomputed from what it says it signed (SignedHeaders, the
payload, the credential scope, X-Amz-Date) with the secret of local mode's access key and
compared; `curl --aws-sigv4 "aws:amz:us-east-1:execute-api" --user local:local` and any
AWS SDK signing for execute-api pass, an unsigned request or a wrong secret does not. What
API Gateway answers then (403, and the message) comes from the gateway responses.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ALGORITHM: Final = "AWS4-HMAC-SHA256"
SERVICE: Final = "execute-api"
# SigV4 refuses a request whose X-Amz-Date is more than 5 minutes from the service's clock
# (IAM User Guide, "Elements of an AWS API request signature": "requests that are more than
# 5 minutes old are rejected" when the timestamp differs).
MAX_SKEW: Final = timedelta(minutes=5)
_AUTHORIZATION: Final = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


class SignatureError(Exception):
    """The request fails SigV4; `response_type` is API Gateway's gateway response for it."""

    def __init__(self, response_type: str, message: str) -> None:
        super().__init__(message)
        self.response_type = response_type
        self.message = message


@dataclass(frozen=True)
class Signer:
    """Who may call: local mode's one access key and its secret."""

    access_key: str
    secret_key: str
    region: str


def verify(
    signer: Signer,
    *,
    method: str,
    raw_path: str,
    query_string: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime | None = None,
) -> str:
    """The access key that signed the request; raise SignatureError otherwise.

    `raw_path` and `query_string` are as the request line carried them (still
    percent-encoded); `headers` as received (any case).
    """
    lower = {name.lower(): value for name, value in headers.items()}
    authorization = lower.get("authorization")
    if not authorization:
        raise SignatureError("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
    match = _AUTHORIZATION.match(authorization.strip())
    if not match:
        raise SignatureError(
            "INCOMPLETE_SIGNATURE",
            f"Authorization header requires {ALGORITHM} with Credential, SignedHeaders and "
            f"Signature.",
        )
    access_key, _, scope = match["credential"].partition("/")
    date, region, service, terminator = ([*scope.split("/"), "", "", "", ""])[:4]
    if access_key != signer.access_key:
        raise SignatureError(
            "UNAUTHORIZED", "The security token included in the request is invalid."
        )
    if region != signer.region or service != SERVICE or terminator != "aws4_request":
        raise SignatureError(
            "INVALID_SIGNATURE",
            f"Credential should be scoped to {signer.region}/{SERVICE}/aws4_request; received "
            f"{scope!r}.",
        )
    amz_date = lower.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise SignatureError(
            "INCOMPLETE_SIGNATURE", "X-Amz-Date must be the signing time, as YYYYMMDDTHHMMSSZ."
        ) from None
    moment = now or datetime.now(UTC)
    if abs(moment - signed_at) > MAX_SKEW or not amz_date.startswith(date):
        raise SignatureError(
            "INVALID_SIGNATURE",
            f"Signature expired: {amz_date} is more than 5 minutes from "
            f"{moment.strftime('%Y%m%dT%H%M%SZ')}.",
        )
    signed = match["signed"].split(";")
    missing = [name for name in signed if name not in lower]
    if missing or "host" not in signed:
        raise SignatureError(
            "INCOMPLETE_SIGNATURE",
            f"SignedHeaders must include host and only headers the request carries; "
            f"missing {missing or ['host']}.",
        )
    url = f"http://{lower['host']}{raw_path}" + (f"?{query_string}" if query_string else "")
    request = AWSRequest(
        method=method, url=url, headers={name: lower[name] for name in signed}, data=body
    )
    request.context["timestamp"] = amz_date
    auth = SigV4Auth(Credentials(signer.access_key, signer.secret_key), SERVICE, signer.region)
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, match["signature"]):
        raise SignatureError(
            "INVALID_SIGNATURE",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
        )
    return access_key
