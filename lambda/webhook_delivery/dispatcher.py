"""From a notification (or a delivery-queue message) to a delivered, retried or given-up event.

    notification -> job's webhook? wanted event? -> attempt 1 now
        delivered -> job: DELIVERED
        retry     -> job: DELIVERING; delivery queue: the event, due after the backoff
        stop      -> job: FAILED; webhook dead-letter queue: the event and the reason
    delivery queue message -> not due yet: sent on (a delay chain) | due: next attempt
    redelivery request -> the job's record and webhook -> attempt, as above

Each event has one id (`event_id`), derived from the job and the event, so a notification
delivered twice, a retry and a redelivery all carry the same `webhook-id`: a receiver that
keeps the ids it has seen processes the event once.
"""

from __future__ import annotations

import json
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from asyncinfer_runtime.contract import Attribute, iso_time
from asyncinfer_runtime.inference_record import deserialize
from asyncinfer_runtime.job_view import job_view
from asyncinfer_runtime.jobs import (
    WEBHOOK_DELIVERED,
    WEBHOOK_DELIVERING,
    WEBHOOK_EVENT_OF_STATUS,
    WEBHOOK_FAILED_STATUS,
)
from asyncinfer_runtime.notification import Notification, parse
from asyncinfer_runtime.record import INLINE_BODY_LIMIT, to_item
from asyncinfer_runtime.webhook_redelivery import KIND, REDELIVER
from webhook_delivery.attempt import AttemptResult, Outcome, attempt
from webhook_delivery.jobs import JobsTable
from webhook_delivery.messages import PendingEvent, pending_event
from webhook_delivery.schedule import hop_delay
from webhook_delivery.settings import DispatcherSettings

EVENTS = WEBHOOK_EVENT_OF_STATUS  # results status -> the event it announces
# Any fixed namespace works: the id must only be the same for the same job and event.
_EVENT_NAMESPACE = uuid.UUID("6f1c3a52-93c4-4d5e-9a51-3c0e7f0b2d11")

Clock = Callable[[], datetime]
Attempter = Callable[..., AttemptResult]


def event_id(job_id: str, event: str) -> str:
    """The `webhook-id` of `event` (completed, failed) of job `job_id`: `msg_` and a UUID
    derived from both, the same on every delivery of that event."""
    return "msg_" + uuid.uuid5(_EVENT_NAMESPACE, f"{job_id}:{event}").hex


class Dispatcher:
    def __init__(
        self,
        settings: DispatcherSettings,
        *,
        jobs: JobsTable,
        sqs: Any,
        dynamodb: Any,
        signing_keys: Callable[[datetime], list[str]],
        logger: logging.Logger,
        clock: Clock = lambda: datetime.now(UTC),
        attempter: Attempter = attempt,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.jobs = jobs
        self.sqs = sqs
        self.dynamodb = dynamodb
        self.signing_keys = signing_keys
        self.logger = logger
        self.clock = clock
        self.attempter = attempter
        self.rng = rng or random.Random()

    # -- entry points -------------------------------------------------------------------

    def on_notification(self, body: object) -> None:
        """A SageMaker notification: deliver the job's event if its webhook wants it.
        MalformedNotification propagates (the message is reported and dead-lettered)."""
        notification = parse(body)
        if notification is None:
            return
        job = self.jobs.webhook(notification.inference_id)
        event = EVENTS[notification.status]
        if job is None or not job.wants(event):
            return
        identifier = event_id(job.job_id, event)
        if job.status == WEBHOOK_DELIVERED and job.event_id == identifier:
            self.logger.info("already delivered", extra={"jobId": job.job_id})
            return  # the notification came twice
        record = self._record_of(notification)
        now = self.clock()
        pending = PendingEvent(
            jobId=job.job_id,
            event=event,
            eventId=identifier,
            url=job.url,
            body=self._body(record, job.item),
            attempts=0,
            firstAttemptAt=now.isoformat(),
            dueAt=now.isoformat(),
        )
        self.deliver(pending)

    def on_delivery_message(self, document: dict[str, Any]) -> None:
        if document.get(KIND) == REDELIVER:
            self.redeliver(str(document["jobId"]))
            return
        pending = pending_event(document)
        now = self.clock()
        if now < pending.due_at():
            # Not due: SQS delays a message by 15 minutes at most, so a longer wait is a chain.
            self._enqueue(pending, (pending.due_at() - now).total_seconds())
            return
        job = self.jobs.webhook(pending.jobId)
        if job is None:
            return  # the job expired
        if job.status == WEBHOOK_DELIVERED and job.event_id == pending.eventId:
            return  # a redelivery got there first
        self.deliver(pending)

    def redeliver(self, job_id: str) -> None:
        """Deliver the job's event again, under its id, whatever happened before; a new
        retry window starts. A job without a webhook or without a result yet is left."""
        job = self.jobs.webhook(job_id)
        if job is None:
            self.logger.warning("redelivery of a job without webhook", extra={"jobId": job_id})
            return
        found = self.dynamodb.get_item(
            TableName=self.settings.results_table,
            Key={Attribute.INFERENCE_ID: {"S": job_id}},
            ConsistentRead=True,
        ).get("Item")
        record = deserialize(found) if found else None
        if record is None or record.get(Attribute.STATUS) not in EVENTS:
            self.logger.warning("redelivery of an unfinished job", extra={"jobId": job_id})
            return
        event = EVENTS[str(record[Attribute.STATUS])]
        now = self.clock()
        self.deliver(
            PendingEvent(
                jobId=job_id,
                event=event,
                eventId=event_id(job_id, event),
                url=job.url,
                body=self._body(record, job.item),
                attempts=0,
                firstAttemptAt=now.isoformat(),
                dueAt=now.isoformat(),
            )
        )

    # -- one attempt and its consequences ----------------------------------------------

    def deliver(self, pending: PendingEvent) -> None:
        now = self.clock()
        result = self.attempter(
            pending.url,
            event_id=pending.eventId,
            body=pending.body,
            keys=self.signing_keys(now),
            now=now,
            timeout=self.settings.attempt_timeout_seconds,
            allow_loopback_http=self.settings.allow_loopback_http,
        )
        attempts = pending.attempts + 1
        log = {"jobId": pending.jobId, "eventId": pending.eventId, "attempt": attempts}
        if result.outcome is Outcome.DELIVERED:
            self.jobs.record_attempt(
                pending.jobId,
                event_id=pending.eventId,
                status=WEBHOOK_DELIVERED,
                error=None,
                delivered_at=iso_time(self.clock()),
            )
            self.logger.info("webhook delivered", extra=log)
            return
        delay = None
        if result.outcome is Outcome.RETRY:
            elapsed = (now - pending.first_attempt_at()).total_seconds()
            delay = self.settings.retry.next_delay(attempts, elapsed, self.rng)
        if delay is None:
            self.jobs.record_attempt(
                pending.jobId,
                event_id=pending.eventId,
                status=WEBHOOK_FAILED_STATUS,
                error=result.error,
            )
            self._dead_letter(replace(pending, attempts=attempts), result)
            self.logger.warning("webhook failed", extra={**log, "error": result.error})
            return
        self.jobs.record_attempt(
            pending.jobId, event_id=pending.eventId, status=WEBHOOK_DELIVERING, error=result.error
        )
        due = now + timedelta(seconds=delay)
        self._enqueue(replace(pending, attempts=attempts, dueAt=due.isoformat()), delay)
        self.logger.info("webhook retry", extra={**log, "error": result.error, "delay": delay})

    def _enqueue(self, pending: PendingEvent, seconds: float) -> None:
        self.sqs.send_message(
            QueueUrl=self.settings.delivery_queue_url,
            MessageBody=pending.to_message(),
            DelaySeconds=hop_delay(seconds),
        )

    def _dead_letter(self, pending: PendingEvent, result: AttemptResult) -> None:
        """The event, as a retry message (redrive sends it to the delivery queue, where it
        is due at once), with why it was given up in a message attribute."""
        self.sqs.send_message(
            QueueUrl=self.settings.dead_letter_queue_url,
            MessageBody=replace(pending, dueAt=pending.firstAttemptAt).to_message(),
            MessageAttributes={
                "reason": {"DataType": "String", "StringValue": (result.error or "")[:1000]}
            },
        )

    def _body(self, record: dict[str, Any], job_item: dict[str, Any]) -> str:
        """The body's exact text (what the signature covers): the job as
        `GET /v1/jobs/{id}` shows it, built once per event so every attempt sends it."""
        return json.dumps(job_view(record, job_item, self.settings.endpoint_names))

    def _record_of(self, notification: Notification) -> dict[str, Any]:
        """The results record the writer stores for `notification` (the same function
        builds both), as plain values: the body is built without waiting for the writer."""
        item = to_item(
            notification,
            retention_days=1,
            now=self.clock(),
            inline_body_max_bytes=INLINE_BODY_LIMIT,
        )
        return deserialize(item)
