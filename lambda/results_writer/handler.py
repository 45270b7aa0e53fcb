"""Lambda entry point: an SQS batch of notifications in, partial batch failures out.

Each message is handled on its own: a malformed one or one whose write still fails
after retries is reported in `batchItemFailures` (SQS delivers it again, and after
maxReceiveCount moves it to the dead-letter queue) while the rest of the batch is
written. Nothing raises out of the handler for a per-message problem, because that
would fail, and redeliver, the whole batch.
"""

from __future__ import annotations

import functools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from asyncinfer_runtime.notification import MalformedNotification, parse
from asyncinfer_runtime.record import to_item
from results_writer import logs
from results_writer.settings import WriterSettings
from results_writer.store import ResultsStore, WriteOutcome

# Writes of a batch run concurrently (the final state does not depend on their order).
WRITE_THREADS = 16
# Retries stop this long before the function's timeout, so the handler always returns
# its partial batch failures instead of timing out (which would redeliver every message).
TIMEOUT_MARGIN_SECONDS = 5.0


@functools.cache
def runtime() -> tuple[WriterSettings, ResultsStore]:
    """Settings and client, built on first use and reused by warm invocations."""
    settings = WriterSettings.from_environment()
    client = boto3.client(
        "dynamodb",
        config=Config(
            # The store retries itself (short backoff, bounded by the invocation's
            # deadline); botocore's own retries would multiply with those.
            retries={"mode": "standard", "total_max_attempts": 1},
            max_pool_connections=WRITE_THREADS,
            connect_timeout=2,
            read_timeout=5,
        ),
    )
    store = ResultsStore(client, settings.table_name, max_attempts=settings.max_attempts)
    return settings, store


def _deadline(context: Any) -> float | None:
    """When retrying must stop (time.monotonic()), from the Lambda context if there is one."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return time.monotonic() + remaining() / 1000 - TIMEOUT_MARGIN_SECONDS


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    settings, store = runtime()
    logger = logs.configure(settings.log_level)
    records = event.get("Records") or []
    batch = Batch(settings, store, logger, now=datetime.now(UTC), deadline=_deadline(context))
    if len(records) <= 1:
        failed = [batch.handle(record) for record in records]
    else:
        with ThreadPoolExecutor(max_workers=min(WRITE_THREADS, len(records))) as pool:
            failed = list(pool.map(batch.handle, records))
    failures = [{"itemIdentifier": message_id} for message_id in failed if message_id]
    logger.info("batch done", extra={"messages": len(records), "failed": len(failures)})
    return {"batchItemFailures": failures}


class Batch:
    """What one invocation needs to handle each of its messages."""

    def __init__(
        self,
        settings: WriterSettings,
        store: ResultsStore,
        logger: logging.Logger,
        *,
        now: datetime,
        deadline: float | None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.logger = logger
        self.now = now
        self.deadline = deadline

    def handle(self, record: dict[str, Any]) -> str | None:
        """The message id if the message must be redelivered, else None."""
        message_id = record.get("messageId", "?")
        try:
            return self._write(message_id, record.get("body"))
        except Exception:
            # A bug met by one message must not fail (and redeliver) the whole batch.
            self.logger.exception("unexpected error", extra={"messageId": message_id})
            return message_id

    def _write(self, message_id: str, body: object) -> str | None:
        try:
            notification = parse(body)
        except MalformedNotification as reason:
            self.logger.error(
                "malformed notification", extra={"messageId": message_id, "reason": str(reason)}
            )
            return message_id
        if notification is None:
            self.logger.info("test notification skipped", extra={"messageId": message_id})
            return None
        inference_id = notification.inference_id
        item = to_item(
            notification,
            retention_days=self.settings.retention_days,
            now=self.now,
            inline_body_max_bytes=self.settings.inline_body_max_bytes,
        )
        try:
            outcome = self.store.put(item, deadline=self.deadline)
        except (ClientError, BotoCoreError) as error:
            self.logger.error(
                "record not written; will be redelivered",
                extra={"messageId": message_id, "inferenceId": inference_id, "reason": str(error)},
            )
            return message_id
        self.logger.info(
            "record written" if outcome is WriteOutcome.WRITTEN else "newer or equal record kept",
            extra={
                "messageId": message_id,
                "inferenceId": inference_id,
                "status": notification.status,
            },
        )
        return None
