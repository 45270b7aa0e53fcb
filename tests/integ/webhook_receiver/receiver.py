"""The in-account proof's webhook receiver: a Lambda function URL handler that does what
docs/webhooks.md tells a receiver to do, verify each delivery with the standardwebhooks
package and the signing secret, and records what it verified.

A delivery whose signature (or timestamp) does not verify gets a 401 and leaves no record;
the dispatcher then counts it a failed attempt and the job's webhook never shows DELIVERED.
A verified one is put into the table RECEIVED_TABLE_NAME under its job's id, with its
`webhook-id`, and answered 204. Its asset: this folder, asyncinfer_runtime (the secret's
value format) and standardwebhooks.
"""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime
from typing import Any

import boto3
from standardwebhooks import Webhook, WebhookVerificationError

from asyncinfer_runtime.webhook_secret import parse_secret

SECRET_ARN = "WEBHOOK_SECRET_ARN"
RECEIVED_TABLE_NAME = "RECEIVED_TABLE_NAME"


def verified_job(body: str, headers: dict[str, str], keys: list[str]) -> dict[str, Any] | None:
    """The delivered job if one of `keys` verifies the delivery, else None."""
    for key in keys:
        try:
            job: dict[str, Any] = Webhook(key).verify(body, headers)
        except WebhookVerificationError:
            continue
        return job
    return None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8")
    # A function URL's event follows API Gateway's payload format 2.0 (Lambda Developer
    # Guide, "Invoking Lambda function URLs", request and response payloads); the names
    # are lowered here whatever case they came in, as standardwebhooks looks them up so.
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=os.environ[SECRET_ARN])
    keys = parse_secret(secret["SecretString"]).signing(datetime.now(UTC))
    job = verified_job(body, headers, keys)
    if job is None:
        return {"statusCode": 401, "body": json.dumps({"error": "signature not verified"})}
    boto3.client("dynamodb").put_item(
        TableName=os.environ[RECEIVED_TABLE_NAME],
        Item={
            "jobId": {"S": str(job["id"])},
            "webhookId": {"S": headers["webhook-id"]},
            "status": {"S": str(job["status"])},
            "verified": {"BOOL": True},
        },
    )
    return {"statusCode": 204}
