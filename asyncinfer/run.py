"""The engine behind ``AsyncInferenceClient.map`` and the CLI's ``batch``: many requests,
submitted concurrently while the ones already submitted are waited on.

A caller hands it ``WorkItem``s (an item to submit, or a handle submitted by an earlier run)
and gets an ``Outcome`` for each as it finishes, in the order they finish.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from asyncinfer.aws import describe
from asyncinfer.errors import (
    AsyncInferenceError,
    ConfigurationError,
    CredentialsError,
    EndpointNotFoundError,
    InferenceFailedError,
    InferenceTimeoutError,
    PayloadTooLargeError,
)
from asyncinfer.payloads import Payload, deserialize
from asyncinfer.results import InferenceRecord
from asyncinfer.run_stats import RunStats
from asyncinfer_runtime.contract import FAILED

if TYPE_CHECKING:
    from asyncinfer.client import AsyncInferenceClient, InferenceHandle, InvokeOptions

# Errors that no other item of a run can escape either: stop the run rather than report
# the same problem for every item.
FATAL_ERRORS = (ConfigurationError, CredentialsError, EndpointNotFoundError)
PENDING_GROUP = 25  # BatchWriteItem's maximum items per call

Fetched = tuple[Any, str | None]  # a result (deserialised or raw) and its content type


@dataclass
class Outcome:
    """How one item of ``map``/``batch`` ended: ``value`` or ``error``, never both."""

    key: Any
    item: Any = None
    inference_id: str | None = None
    record: InferenceRecord | None = None
    value: Any = None
    error: AsyncInferenceError | None = None
    content_type: str | None = None
    submitted_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class WorkItem:
    """One unit of ``run``: an item to submit, or an already submitted handle to wait on."""

    key: Any
    item: Any = None
    payload: Callable[[], Any] | None = None
    handle: InferenceHandle | None = None
    inference_id: str | None = None
    error: AsyncInferenceError | None = None


@dataclass(kw_only=True)
class RunHooks:
    """What a caller is told while a run goes (the CLI's manifest and progress bar)."""

    on_submitting: Callable[[WorkItem, str], None] | None = None
    on_submitted: Callable[[WorkItem, InferenceHandle], None] | None = None
    on_progress: Callable[[RunStats], None] | None = None


@dataclass(kw_only=True)
class Run:
    """Submits work concurrently while waiting on what is already submitted.

    One thread (the caller's) owns all bookkeeping; a thread pool does the blocking
    calls (upload+invoke, result downloads). Input is read lazily and at most
    ``2 * concurrency`` submissions are in flight, so a large input never sits in memory.
    Results are polled for all outstanding ids at once, at an interval that backs off
    while nothing new arrives.
    """

    client: AsyncInferenceClient
    work: Iterator[WorkItem]
    concurrency: int
    timeout: float | None
    deserialize: bool
    options: InvokeOptions
    hooks: RunHooks = field(default_factory=RunHooks)
    stats: RunStats = field(default_factory=RunStats)
    # The bookkeeping, owned by the caller's thread.
    _submitting: dict[cf.Future[InferenceHandle], WorkItem] = field(
        init=False, default_factory=dict
    )
    _fetching: dict[cf.Future[Fetched], tuple[WorkItem, InferenceRecord]] = field(
        init=False, default_factory=dict
    )
    _pending: dict[str, InferenceHandle] = field(init=False, default_factory=dict)
    _pending_work: dict[str, WorkItem] = field(init=False, default_factory=dict)
    _exhausted: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ConfigurationError(f"concurrency is {self.concurrency}; expected at least 1")

    def outcomes(self) -> Iterator[Outcome]:
        client = self.client
        pool = cf.ThreadPoolExecutor(max_workers=self.concurrency)
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        interval = client.poll_interval
        next_poll = time.monotonic() + interval
        try:
            while True:
                yield from self._refill(pool)
                if not (self._submitting or self._fetching or self._pending) and self._exhausted:
                    return
                wait_for = max(0.0, next_poll - time.monotonic()) if self._pending else None
                yield from self._finished(wait_for)
                if self._pending and time.monotonic() >= next_poll:
                    found = yield from self._poll(pool)
                    # Back off while nothing arrives, so a long-running batch costs a
                    # bounded number of reads; start over as soon as results flow.
                    interval = (
                        client.poll_interval
                        if found
                        else min(interval * 1.5, client.max_poll_interval)
                    )
                    next_poll = time.monotonic() + interval
                if deadline is not None and time.monotonic() > deadline:
                    yield from self._expire()
                self.stats.waiting = len(self._pending)
                if self.hooks.on_progress:
                    self.hooks.on_progress(self.stats)
        finally:
            # On an interrupt, let submissions already sent finish (and be recorded by
            # on_submitted's caller through the manifest) rather than lose track of them.
            for future in list(self._submitting):
                work = self._submitting.pop(future)
                try:
                    handle = future.result()
                except Exception:
                    continue
                if self.hooks.on_submitted:
                    self.hooks.on_submitted(work, handle)
            pool.shutdown(wait=True, cancel_futures=True)

    def _counted(self, outcome: Outcome) -> Outcome:
        self.stats.count(outcome)
        return outcome

    # -- 1. keep the pool fed without reading the whole input, a group at a time ----------

    def _refill(self, pool: cf.ThreadPoolExecutor) -> Iterator[Outcome]:
        """Refill only when a whole group fits (or the window is smaller than one), so the
        PENDING records of fresh ids go 25 to a BatchWriteItem instead of a few per call
        as single submissions finish."""
        window = 2 * self.concurrency
        while not self._exhausted and window - len(self._submitting) >= min(PENDING_GROUP, window):
            group: list[tuple[WorkItem, Payload]] = []
            while len(group) < PENDING_GROUP and len(self._submitting) + len(group) < window:
                try:
                    work = next(self.work)
                except StopIteration:
                    self._exhausted = True
                    break
                if work.error is not None:
                    yield self._counted(Outcome(key=work.key, item=work.item, error=work.error))
                elif work.handle is not None:  # resumed: submitted by an earlier run
                    self._wait_on(work, work.handle)
                else:
                    assert work.payload is not None
                    try:
                        group.append((work, work.payload()))
                    except AsyncInferenceError as error:
                        yield self._counted(Outcome(key=work.key, item=work.item, error=error))
            if not group:
                continue
            prewritten = self._prewrite_pending(group)
            for work, payload in group:
                assert work.inference_id is not None
                if self.hooks.on_submitting:
                    self.hooks.on_submitting(work, work.inference_id)
                submission = pool.submit(
                    self._submit, work, payload, work.inference_id not in prewritten
                )
                self._submitting[submission] = work

    def _prewrite_pending(self, group: list[tuple[WorkItem, Payload]]) -> set[str]:
        """PENDING records for fresh ids, one BatchWriteItem per 25, before invoking them.

        BatchWriteItem cannot carry the attribute_not_exists condition; it is safe here
        because the ids are new UUIDs that nobody has invoked yet, so no notification
        (and no terminal record) can exist for them. Ids that are not fresh (given by the
        caller, or resent by a resumed batch) keep the conditional write after the invoke.
        Returns the ids written.
        """
        fresh: list[InferenceHandle] = []
        for work, payload in group:
            if work.inference_id is not None:
                continue
            work.inference_id = str(uuid.uuid4())
            try:
                inline = self.options.sends_inline(payload)
            except PayloadTooLargeError:
                continue  # refused by its own submission, which reports it
            fresh.append(
                self.client.handle(
                    work.inference_id,
                    input_location=None
                    if inline
                    else self.client.input_location(work.inference_id),
                    content_type=self.options.content_type or payload.content_type,
                    accept=self.options.accept,
                    custom_attributes=self.options.custom_attributes,
                )
            )
        try:
            return self.client.results.put_new_pending(fresh)
        except (ClientError, BotoCoreError):
            return set()  # fall back to each submission's own conditional write

    def _submit(self, work: WorkItem, payload: Payload, write_pending: bool) -> InferenceHandle:
        assert work.inference_id is not None
        options = dataclasses.replace(self.options, inference_id=work.inference_id)
        try:
            return self.client.submit(payload, options, write_pending=write_pending)
        except AsyncInferenceError:
            if not write_pending:
                # Never invoked: drop the PENDING record written for it in advance (if that
                # fails too, the stale record expires with the table's TTL).
                with contextlib.suppress(ClientError, BotoCoreError):
                    self.client.results.delete_pending(work.inference_id)
            raise

    def _wait_on(self, work: WorkItem, handle: InferenceHandle) -> None:
        self._pending[handle.inference_id] = handle
        self._pending_work[handle.inference_id] = work

    # -- 2. a submission or download finished, or it is time for the next poll ------------

    def _finished(self, wait_for: float | None) -> Iterator[Outcome]:
        if not (self._submitting or self._fetching):
            self.client._sleep(wait_for or 0)
            return
        futures: list[cf.Future[Any]] = [*self._submitting, *self._fetching]
        done, _ = cf.wait(futures, timeout=wait_for, return_when=cf.FIRST_COMPLETED)
        for future in done:
            if future in self._submitting:
                yield from self._submitted(self._submitting.pop(future), future)
            else:
                yield self._fetched(*self._fetching.pop(future), future)

    def _submitted(self, work: WorkItem, future: cf.Future[InferenceHandle]) -> Iterator[Outcome]:
        try:
            handle = future.result()
        except FATAL_ERRORS:
            raise
        except (AsyncInferenceError, ClientError, BotoCoreError, OSError) as error:
            yield self._counted(
                Outcome(
                    key=work.key,
                    item=work.item,
                    inference_id=work.inference_id,
                    error=describe(error, f"item {work.key}"),
                )
            )
            return
        self.stats.submitted += 1
        self._wait_on(work, handle)
        if self.hooks.on_submitted:
            self.hooks.on_submitted(work, handle)

    def _fetched(
        self,
        work: WorkItem,
        record: InferenceRecord,
        future: cf.Future[Fetched],
    ) -> Outcome:
        outcome = Outcome(
            key=work.key,
            item=work.item,
            inference_id=record.inference_id,
            record=record,
            submitted_at=work.handle.submitted_at if work.handle else None,
        )
        try:
            outcome.value, outcome.content_type = future.result()
        except (AsyncInferenceError, ClientError, BotoCoreError) as error:
            outcome.error = describe(error)
        return self._counted(outcome)

    def _fetch(self, record: InferenceRecord) -> Fetched:
        body, content_type = self.client.fetch_raw(record)
        return (deserialize(body, content_type) if self.deserialize else body), content_type

    # -- 3. poll for everything outstanding at once ---------------------------------------

    def _poll(
        self, pool: cf.ThreadPoolExecutor
    ) -> Generator[Outcome, None, dict[str, InferenceRecord]]:
        """Yields the failures at once and downloads the results; returns what was found."""
        found = self.client.results.poll(self._pending)
        for inference_id, record in found.items():
            handle = self._pending.pop(inference_id)
            work = self._pending_work.pop(inference_id)
            work.handle = handle
            if record.status == FAILED:
                yield self._counted(
                    Outcome(
                        key=work.key,
                        item=work.item,
                        inference_id=inference_id,
                        record=record,
                        submitted_at=handle.submitted_at,
                        error=InferenceFailedError(
                            inference_id, record.failure_reason, record.failure_location
                        ),
                    )
                )
            else:
                self._fetching[pool.submit(self._fetch, record)] = (work, record)
        return found

    def _expire(self) -> Iterator[Outcome]:
        for inference_id, handle in list(self._pending.items()):
            work = self._pending_work.pop(inference_id)
            del self._pending[inference_id]
            yield self._counted(
                Outcome(
                    key=work.key,
                    item=work.item,
                    inference_id=inference_id,
                    submitted_at=handle.submitted_at,
                    error=InferenceTimeoutError(
                        f"inference {inference_id} (item {work.key}) had no result "
                        f"after {self.timeout:g} s"
                    ),
                )
            )
