"""The function's AWS clients, one of each per execution environment (made on first use:
an invocation that needs no S3 never pays for an S3 client)."""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

# Well inside API Gateway's 29 s integration timeout (API Gateway Developer Guide, "Amazon
# API Gateway quotas", Integration timeout): a slow call fails as a problem the function
# reports, not as a gateway timeout. Standard retries back off on throttling.
_CONFIG = Config(
    connect_timeout=3,
    read_timeout=10,
    retries={"mode": "standard", "max_attempts": 3},
)


# Presigned S3 URLs with SigV4: S3 serves SSE-KMS objects only to SigV4 requests (Amazon S3
# User Guide, "Specifying server-side encryption with AWS KMS (SSE-KMS)": "requests ... made
# using SSL or Signature Version 4"), and botocore may presign with SigV2 otherwise.
_SERVICE_CONFIG = {"s3": Config(signature_version="s3v4")}


@functools.cache
def client(service: str) -> Any:
    config = _CONFIG.merge(_SERVICE_CONFIG[service]) if service in _SERVICE_CONFIG else _CONFIG
    # boto3-stubs type only literal service names; the callers name theirs.
    return boto3.client(service, config=config)  # type: ignore[call-overload]


def error_code(error: Exception) -> str:
    """A botocore ClientError's code ("" for anything else)."""
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def error_message(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Message", "")) or str(error)
