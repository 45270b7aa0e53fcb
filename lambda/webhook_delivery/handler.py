"""Lambda entry point of the webhook dispatcher: one SQS batch in, partial batch failures out.

Two queues feed it (two event source mappings, one function): the notification queue (the
system's success and error notifications, raw) and the delivery queue (retries, delay-chain
hops and redelivery requests). A message that fails for a reason of our own (the jobs
table or SQS unreachable, a bug) is reported in `batchItemFailures`, so SQS delivers it
again and, after maxReceiveCount, moves it to the queue's dead-letter queue; a receiver's
failure is not such a reason (it is retried through the delivery queue, never by failing
the message, so a slow receiver cannot push notifications into a dead-letter queue).
"""

from __future__ import annotations

import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config

from asyncinfer_runtime import logs
from webhook_delivery.dispatcher import Dispatcher
from webhook_delivery.jobs import JobsTable
from webhook_delivery.messages import delivery_message
from webhook_delivery.secret import SecretKeys
from webhook_delivery.settings import DispatcherSettings

# Attempts of a batch run concurrently: each may wait up to the attempt timeout.
ATTEMPT_THREADS = 10


@functools.cache
def dispatcher() -> Dispatcher:
    """Settings, clients and the secret cache, built on first use and reused while warm."""
    settings = DispatcherSettings.from_environment()
    config = Config(
        retries={"mode": "standard"},
        max_pool_connections=ATTEMPT_THREADS,
        connect_timeout=2,
        read_timeout=5,
    )
    dynamodb = boto3.client("dynamodb", config=config)
    return Dispatcher(
        settings,
        jobs=JobsTable(dynamodb, settings.jobs_table),
        sqs=boto3.client("sqs", config=config),
        dynamodb=dynamodb,
        signing_keys=SecretKeys(boto3.client("secretsmanager", config=config), settings.secret_arn),
        logger=logs.configure("webhook_delivery", settings.log_level),
    )


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    worker = dispatcher()
    records = event.get("Records") or []
    if len(records) <= 1:
        failed = [handle(worker, record) for record in records]
    else:
        with ThreadPoolExecutor(max_workers=min(ATTEMPT_THREADS, len(records))) as pool:
            failed = list(pool.map(functools.partial(handle, worker), records))
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failed if m]}


def handle(worker: Dispatcher, record: dict[str, Any]) -> str | None:
    """The message id if the message must be received again, else None."""
    message_id = str(record.get("messageId", "?"))
    body = record.get("body")
    try:
        document = delivery_message(body)
        if document is None:
            worker.on_notification(body)
        else:
            worker.on_delivery_message(document)
    except Exception as error:
        # Malformed notifications included: after maxReceiveCount they rest in the
        # notification queue's dead-letter queue, where an operator can read them.
        worker.logger.log(
            logging.ERROR,
            "message not handled; it will be received again",
            extra={"messageId": message_id, "error": f"{type(error).__name__}: {error}"},
        )
        return message_id
    return None
