"""The jobs table as the dispatcher uses it: read a job's webhook, record each attempt.

Only the webhook attributes are ever written (UpdateItem SET/ADD on them alone): a failed
webhook cannot change a job, and the job's result lives in the results table, which the
dispatcher never writes.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from asyncinfer_runtime.inference_record import deserialize
from asyncinfer_runtime.jobs import WEBHOOK_EVENTS, JobAttribute

# A receiver's reply excerpt or a connection error goes into webhookLastError, cut here.
LAST_ERROR_LIMIT = 500


@dataclass(frozen=True)
class JobWebhook:
    """A job's webhook as the API stored it at submit time, with its delivery state."""

    job_id: str
    url: str
    events: frozenset[str]
    status: str | None
    event_id: str | None
    attempts: int
    item: dict[str, Any]

    def wants(self, event: str) -> bool:
        return event in self.events


class JobsTable:
    def __init__(self, client: Any, table_name: str) -> None:
        self.client = client
        self.table_name = table_name

    def webhook(self, job_id: str) -> JobWebhook | None:
        """The job's webhook; None when the job is unknown or named no webhook."""
        found = self.client.get_item(
            TableName=self.table_name, Key={JobAttribute.JOB_ID: {"S": job_id}}, ConsistentRead=True
        ).get("Item")
        if not found:
            return None
        item = deserialize(found)
        url = item.get(JobAttribute.WEBHOOK_URL)
        if not isinstance(url, str) or not url:
            return None
        events = item.get(JobAttribute.WEBHOOK_EVENTS)
        return JobWebhook(
            job_id=job_id,
            url=url,
            events=frozenset(events) if events else frozenset(WEBHOOK_EVENTS),
            status=item.get(JobAttribute.WEBHOOK_STATUS),
            event_id=item.get(JobAttribute.WEBHOOK_EVENT_ID),
            attempts=int(item.get(JobAttribute.WEBHOOK_ATTEMPTS) or 0),
            item=item,
        )

    def record_attempt(
        self,
        job_id: str,
        *,
        event_id: str,
        status: str,
        error: str | None,
        delivered_at: str | None = None,
    ) -> None:
        """One more attempt, its outcome (`status`: DELIVERING, DELIVERED or FAILED) and
        its error; the job must exist (a job whose item expired is not recreated)."""
        names = {
            "#status": JobAttribute.WEBHOOK_STATUS,
            "#attempts": JobAttribute.WEBHOOK_ATTEMPTS,
            "#event": JobAttribute.WEBHOOK_EVENT_ID,
            "#job": JobAttribute.JOB_ID,
        }
        values: dict[str, Any] = {
            ":status": {"S": status},
            ":one": {"N": "1"},
            ":event": {"S": event_id},
        }
        sets = ["#status = :status", "#event = :event"]
        if error:
            names["#error"] = JobAttribute.WEBHOOK_LAST_ERROR
            values[":error"] = {"S": error[:LAST_ERROR_LIMIT]}
            sets.append("#error = :error")
        if delivered_at:
            names["#delivered"] = JobAttribute.WEBHOOK_DELIVERED_AT
            values[":delivered"] = {"S": delivered_at}
            sets.append("#delivered = :delivered")
        expression = f"SET {', '.join(sets)} ADD #attempts :one"
        # A job whose item expired meanwhile: nothing to show the attempt on.
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.update_item(
                TableName=self.table_name,
                Key={JobAttribute.JOB_ID: {"S": job_id}},
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(#job)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
