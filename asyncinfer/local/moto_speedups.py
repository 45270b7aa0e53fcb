"""Cheaper answers to questions moto asks on every call, so local mode keeps pace.

moto (5.2.5, pinned by requirements-dev.txt; the ``local`` extra allows 5.2.x) gets the
same answers slowly; each patch below returns exactly what moto would have, only without the
repeated work that bench/bench_local.py found on local mode's hot path (py-spy of the
local-mode process). Each is kept because leaving it out alone slows local mode's SQS
traffic at depth by 13 % to 71 % (bench/bench_moto_patches.py, figures in
bench/results/moto_patches.json under the names of ``PATCHES`` and "routing"):

1. The clock (``moto.sqs.models.unix_time`` and ``unix_time_millis``, from
   ``moto.core.utils``). "Is this message visible / delayed / past retention?" calls
   ``unix_time()``, which builds two naive UTC datetimes (and runs an import statement) per
   message, and SQS asks it about every message in the queue on each SendMessage (through
   ``Queue.attributes``) and for each candidate of a ReceiveMessage. ``time.time()`` is the
   same number of seconds since the epoch.
2. The retention check (``SQSBackend.is_message_valid_based_on_retention_period``). For
   every message a ReceiveMessage considers, moto computes *all* of the queue's attributes
   (counting every message in the queue three times) to read one of them,
   ``MessageRetentionPeriod``: receiving from a queue of n messages cost O(n^2). The patch
   reads the queue's stored retention period directly.
3. SendMessage (``SQSBackend.send_message``). Each SendMessage (and so each SNS delivery to
   a queue) reads one attribute, ``ContentBasedDeduplication``, from ``Queue.attributes``,
   which also counts every message in the queue three times: delivering n notifications to a
   queue the results writer has not yet drained cost O(n^2). While SendMessage runs, the
   patch gives it the queue's attributes without the three counts, which SendMessage never
   reads.
4. DeleteMessage (``Queue.delete_message``). moto finds the message a receipt handle belongs
   to by building, for every message in the queue, the list of all its receipt handles,
   twice (once to check the handle is valid, once to remove the message): a batch delete
   from a deep queue cost O(batch x depth) list allocations. The patch finds it in one pass
   comparing handles.
5. Response routing to a handler method (``moto.core.responses.method_names_from_class``).
   For every request moto lists the handler class's methods with ``inspect.getmembers`` to
   check the action is one of them. A class's methods do not change, so the list is
   remembered per class.
6. Routing (``moto.server.DomainDispatcherApplication.get_backend_for_host``). moto's server
   finds the backend for each request's host by listing its own package directory on disk
   (``list_of_moto_modules``) and trying ~200 URL patterns, under one lock that every
   request takes. The answer depends only on the host string, so it is remembered per host.

With 1,000 requests in flight, (1) to (4) made results lag further the more work arrived
and (6) serialized every AWS call local mode serves.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

_APPLIED = "_asyncinfer_speedups"
# Attributes moto computes by scanning every message of the queue.
_MESSAGE_COUNTS = frozenset(
    {
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesDelayed",
        "ApproximateNumberOfMessagesNotVisible",
    }
)


def apply(skip: Collection[str] = ()) -> None:
    """Patch moto's SQS models and responses (1-5); idempotent. (6) is ``dispatcher()``.

    ``skip`` names patches (keys of ``PATCHES``) to leave out: bench/bench_moto_patches.py
    measures what each one is worth that way.
    """
    from moto.core import responses
    from moto.sqs import models

    if getattr(models, _APPLIED, False):
        return
    for name, patch in PATCHES.items():
        if name not in skip:
            patch(models, responses)
    setattr(models, _APPLIED, True)


def _patch_clock(models: Any, responses: Any) -> None:
    original_seconds = models.unix_time
    original_millis = models.unix_time_millis

    def unix_time(dt: datetime | None = None) -> float:
        return time.time() if dt is None else float(original_seconds(dt))

    def unix_time_millis(dt: datetime | None = None) -> float:
        return time.time() * 1000.0 if dt is None else float(original_millis(dt))

    models.unix_time = unix_time
    models.unix_time_millis = unix_time_millis


def _patch_retention(models: Any, responses: Any) -> None:
    def is_message_valid_based_on_retention_period(
        backend: Any, queue_name: str, message: Any
    ) -> bool:
        retention = int(backend.get_queue(queue_name).message_retention_period)
        return bool(retention + message.sent_timestamp / 1000 > time.time())

    backend_class: Any = models.SQSBackend
    backend_class.is_message_valid_based_on_retention_period = (
        is_message_valid_based_on_retention_period
    )


def _patch_send_message(models: Any, responses: Any) -> None:
    sending = threading.local()  # how deep this thread is in SendMessage calls
    queue_class: Any = models.Queue
    backend_class: Any = models.SQSBackend
    all_attributes: Callable[[Any], dict[str, Any]] = queue_class.attributes.fget
    original_send: Callable[..., Any] = backend_class.send_message

    class WithoutCounts:
        """A queue seen by moto's ``attributes`` code with the counted attributes left out."""

        BASE_ATTRIBUTES = tuple(a for a in queue_class.BASE_ATTRIBUTES if a not in _MESSAGE_COUNTS)

        def __init__(self, queue: Any) -> None:
            self._queue = queue

        def __getattr__(self, name: str) -> Any:
            return getattr(self._queue, name)

    def attributes(queue: Any) -> dict[str, Any]:
        if getattr(sending, "depth", 0):
            return all_attributes(WithoutCounts(queue))
        return all_attributes(queue)

    def send_message(backend: Any, *args: Any, **kwargs: Any) -> Any:
        sending.depth = getattr(sending, "depth", 0) + 1
        try:
            return original_send(backend, *args, **kwargs)
        finally:
            sending.depth -= 1

    queue_class.attributes = property(attributes)
    backend_class.send_message = send_message


def _patch_delete_message(models: Any, responses: Any) -> None:
    from moto.sqs.exceptions import ReceiptHandleIsInvalid

    def delete_message(queue: Any, receipt_handle: str) -> None:
        if receipt_handle in queue.deleted_messages:
            return  # deleted before: moto answers such a delete as a success
        holders = [
            message
            for message in queue._messages
            if message.receipt_handle == receipt_handle
            or receipt_handle in message._old_receipt_handles
        ]
        if not holders:
            raise ReceiptHandleIsInvalid()
        for message in holders:  # moto removes every holder, whatever its state
            queue.pending_messages.discard(message)
            queue.deleted_messages.update(message.all_receipt_handles)
            queue._messages.remove(message)

    queue_class: Any = models.Queue
    queue_class.delete_message = delete_message


def _patch_method_names(models: Any, responses: Any) -> None:
    responses.method_names_from_class = functools.cache(responses.method_names_from_class)


PATCHES: dict[str, Callable[[Any, Any], None]] = {
    "clock": _patch_clock,
    "retention": _patch_retention,
    "send-message": _patch_send_message,
    "delete-message": _patch_delete_message,
    "method-names": _patch_method_names,
}


def dispatcher(*, remember_hosts: bool = True) -> Any:
    """moto's server WSGI app (all services on one port), routing remembered per host (6).

    ``remember_hosts=False`` is moto's own app, for bench/bench_moto_patches.py.
    """
    from moto.server import DomainDispatcherApplication, create_backend_app

    class HostCachingDispatcher(DomainDispatcherApplication):
        def __init__(self) -> None:
            super().__init__(create_backend_app)
            self._backend_for_host: dict[str | None, Any] = {}

        def get_backend_for_host(self, host: str | None) -> Any:
            # Called with self.lock held (get_application), so the dict needs no lock.
            if host not in self._backend_for_host:
                self._backend_for_host[host] = super().get_backend_for_host(host)
            return self._backend_for_host[host]

    if not remember_hosts:
        return DomainDispatcherApplication(create_backend_app)
    return HostCachingDispatcher()
