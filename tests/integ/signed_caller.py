"""A Lambda handler that calls the job API as any IAM principal would: SigV4-signed with its
own role's credentials (botocore's signer, which the Lambda runtime ships).

The in-account proof invokes it until the job is COMPLETED: each invocation POSTs the same
payload with the same Idempotency-Key, so the first one submits the job and every later one
gets that job back (never a second inference), then GETs the job. It returns
{"submitStatus": <POST's status>, "job": <GET /v1/jobs/{id}>}. Standard library, boto3 and
botocore only: the integ app ships this file as the function's inline code, and the e2e
tier runs it against local mode's API.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

TIMEOUT_SECONDS = 20


def _call(method: str, url: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, Any]:
    session = boto3.session.Session()
    credentials = session.get_credentials()
    if credentials is None:
        raise RuntimeError("no AWS credentials to sign the job API request with")
    request = AWSRequest(method=method, url=url, data=body or b"", headers=headers)
    SigV4Auth(credentials, "execute-api", session.region_name).add_auth(request)
    prepared = urllib.request.Request(
        url, data=body if method == "POST" else None, method=method, headers=dict(request.headers)
    )
    try:
        with urllib.request.urlopen(prepared, timeout=TIMEOUT_SECONDS) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    base = os.environ["API_URL"]  # the stage's base URL, ending with /
    status, job = _call(
        "POST",
        f"{base}v1/jobs",
        event["body"].encode(),
        {
            "Content-Type": event["contentType"],
            "Idempotency-Key": event["idempotencyKey"],
        },
    )
    if status != 202:
        return {"submitStatus": status, "problem": job}
    status, current = _call("GET", f"{base}v1/jobs/{job['id']}", None, {})
    return {"submitStatus": 202, "getStatus": status, "job": current}
