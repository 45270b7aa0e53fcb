"""Webhooks from the Python client and the CLI: the job item that names a webhook, and the
signing secret for whoever may read it.

A request submitted with a webhook gets the jobs-table item the job API writes for
`POST /v1/jobs` with a `Webhook-Url` header (asyncinfer_runtime.jobs), written *before*
the invoke: the dispatcher looks the job up when the notification arrives, which may be
within a second. The caller needs dynamodb:PutItem (and DeleteItem, to take it back when
the invoke is refused) on the jobs table; the dispatcher checks the URL's addresses
itself, at every attempt.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from asyncinfer.errors import ConfigurationError
from asyncinfer_runtime.jobs import WEBHOOK_EVENTS, JobAttribute
from asyncinfer_runtime.webhook_secret import parse_secret

# As long as results records live by default (results_retention_days).
JOB_RETENTION_DAYS = 90


def check_webhook(url: str, events: tuple[str, ...]) -> None:
    """One sentence for a URL or event list the dispatcher would refuse outright."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(
            f"webhook URL must be an https URL (http only to a loopback address in local "
            f"mode); received {url!r}"
        )
    unknown = [event for event in events if event not in WEBHOOK_EVENTS]
    if unknown or not events:
        raise ConfigurationError(
            f"webhook events must be one or more of {', '.join(WEBHOOK_EVENTS)}; received "
            f"{','.join(events) or 'none'}"
        )


class JobsWriter:
    def __init__(self, dynamodb: Any, table: str | None) -> None:
        if not table:
            raise ConfigurationError(
                "this stack has no jobs table (output JobsTableName): deploy it with the job "
                "API and webhooks on (api_enabled, webhooks_enabled) to submit with --webhook"
            )
        self.dynamodb = dynamodb
        self.table = table

    def put(self, item: dict[str, Any]) -> None:
        self.dynamodb.put_item(
            TableName=self.table,
            Item=item,
            ConditionExpression="attribute_not_exists(#job)",
            ExpressionAttributeNames={"#job": JobAttribute.JOB_ID},
        )

    def delete(self, job_id: str) -> None:
        self.dynamodb.delete_item(TableName=self.table, Key={JobAttribute.JOB_ID: {"S": job_id}})


def signing_secret(secretsmanager: Any, secret_arn: str | None) -> str:
    """The key receivers verify with (`whsec_...`): the current one."""
    if not secret_arn:
        raise ConfigurationError(
            "this stack has no webhook secret (output WebhookSecretArn): deploy it with "
            "webhooks_enabled"
        )
    value = secretsmanager.get_secret_value(SecretId=secret_arn)["SecretString"]
    return parse_secret(value).current


def caller_arn(sts: Any) -> str:
    try:
        return str(sts.get_caller_identity()["Arn"])
    except Exception:  # local mode's stand-in or no permission: the name is informative only
        return "unknown"


def now() -> datetime:
    return datetime.now(UTC)
