"""AsyncInferenceClient: invoke, and wait on the results table instead of S3.

Submission = ``InvokeEndpointAsync`` with the payload inline (``Body``, up to 128,000
bytes) or uploaded to the input bucket first (``InputLocation``), then a conditional
PENDING record so ``status`` answers at once. Waiting reads
the results table the results writer fills from SageMaker's notifications (batched for
many ids, see results.py); without a table it falls back to looking for the output and
failure objects in S3.
"""

from __future__ import annotations

import base64
import concurrent.futures as cf
import contextlib
import dataclasses
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from asyncinfer.aws import ClientFactory, describe, error_code, make_session, translate_errors
from asyncinfer.errors import (
    AsyncInferenceError,
    ConfigurationError,
    CredentialsError,
    EndpointNotFoundError,
    InferenceFailedError,
    InferenceNotFoundError,
    InferenceTimeoutError,
    PayloadTooLargeError,
)
from asyncinfer.payloads import MAX_INLINE_BYTES, Payload, deserialize, to_payload
from asyncinfer.results import (
    COMPLETED,
    FAILED,
    PENDING,
    InferenceRecord,
    ResultsTable,
)
from asyncinfer.stack_outputs import (
    DEFAULT_STACK_NAME,
    StackOutputs,
    outputs_from_cloudformation,
    outputs_from_file,
)

DEFAULT_INPUT_PREFIX = "requests/"
# Errors that no other item of a run can escape either: stop the run rather than report
# the same problem for every item.
FATAL_ERRORS = (ConfigurationError, CredentialsError, EndpointNotFoundError)
PENDING_GROUP = 25  # BatchWriteItem's maximum items per call


@dataclass(frozen=True, kw_only=True)
class InvokeOptions:
    """What is passed through to InvokeEndpointAsync (None = the endpoint's default)."""

    content_type: str | None = None
    accept: str | None = None
    custom_attributes: str | None = None
    inference_id: str | None = None
    request_ttl_seconds: int | None = None
    invocation_timeout_seconds: int | None = None
    s3_output_path_extension: str | None = None
    filename: str | None = None
    # True: always Body (refused above MAX_INLINE_BYTES); False: always through S3;
    # None: inline when the payload fits.
    inline: bool | None = None

    def sends_inline(self, payload: Payload) -> bool:
        """Whether this payload goes in the request (Body) rather than through S3."""
        if self.inline is None:
            return payload.size <= MAX_INLINE_BYTES
        if self.inline and payload.size > MAX_INLINE_BYTES:
            raise PayloadTooLargeError(
                f"payload {payload.name} is {payload.size:,} bytes; an inline request "
                f"(Body) takes at most {MAX_INLINE_BYTES:,} bytes, so send it through S3 "
                f"(inline=False / --no-inline)"
            )
        return self.inline


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise AsyncInferenceError(f"location {uri!r} is not an s3:// URI")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


@dataclass
class InferenceHandle:
    """A submitted request; ask it for its status or block on its result."""

    client: AsyncInferenceClient = field(repr=False)
    inference_id: str
    output_location: str | None
    failure_location: str | None
    input_location: str | None = None
    submitted_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    content_type: str | None = field(default=None, repr=False)
    accept: str | None = field(default=None, repr=False)
    custom_attributes: str | None = field(default=None, repr=False)

    def record(self) -> InferenceRecord | None:
        return self.client.records([self])[self.inference_id]

    def status(self) -> str:
        """PENDING, COMPLETED or FAILED."""
        record = self.record()
        return record.status if record else PENDING

    def done(self) -> bool:
        record = self.record()
        return bool(record and record.done)

    def result(self, timeout: float | None = None, *, deserialize: bool = True) -> Any:
        """Block until the result is in; raise InferenceFailedError on a failure."""
        record = self.client.wait(self, timeout=timeout)
        return self.client.fetch(record, deserialize=deserialize)


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


class AsyncInferenceClient:
    """Client for one asynchronous endpoint deployed by this project's stack."""

    def __init__(
        self,
        *,
        endpoint_name: str,
        input_bucket: str,
        results_table: str | None = None,
        input_prefix: str = DEFAULT_INPUT_PREFIX,
        session: Any = None,
        region_name: str | None = None,
        profile_name: str | None = None,
        endpoint_url: str | None = None,
        max_attempts: int | None = None,
        max_pool_connections: int = 32,
        poll_interval: float = 1.0,
        max_poll_interval: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        outputs: StackOutputs | None = None,
    ) -> None:
        session = session or make_session(profile_name, region_name)
        kwargs: dict[str, Any] = {"endpoint_url": endpoint_url}
        if max_attempts is not None:
            kwargs["max_attempts"] = max_attempts
        self.aws = ClientFactory(session, max_pool_connections=max_pool_connections, **kwargs)
        self.endpoint_name = endpoint_name
        self.input_bucket = input_bucket
        self.input_prefix = input_prefix
        self.outputs = outputs
        self.table = ResultsTable(self.aws("dynamodb"), results_table) if results_table else None
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self._sleep = sleep

    @classmethod
    def from_stack(
        cls,
        stack_name: str | None = None,
        *,
        outputs_file: str | Path | None = None,
        session: Any = None,
        region_name: str | None = None,
        profile_name: str | None = None,
        endpoint_url: str | None = None,
        **kwargs: Any,
    ) -> AsyncInferenceClient:
        """Find the endpoint, bucket and table from the stack's outputs.

        ``outputs_file`` reads a ``cdk deploy --outputs-file`` file instead of calling
        CloudFormation.
        """
        session = session or make_session(profile_name, region_name)
        if outputs_file is not None:
            outputs = outputs_from_file(outputs_file, stack_name)
        else:
            factory = ClientFactory(session, endpoint_url=endpoint_url, max_attempts=3)
            with translate_errors(f"stack {stack_name or DEFAULT_STACK_NAME!r}"):
                outputs = outputs_from_cloudformation(
                    factory("cloudformation"), stack_name or DEFAULT_STACK_NAME
                )
        return cls(
            endpoint_name=outputs.endpoint_name,
            input_bucket=outputs.input_bucket,
            results_table=outputs.results_table,
            session=session,
            endpoint_url=endpoint_url,
            outputs=outputs,
            **kwargs,
        )

    # -- submitting ---------------------------------------------------------------------

    def predict(
        self, data: Any, *, timeout: float | None = None, deserialize: bool = True, **options: Any
    ) -> Any:
        """Invoke, block until the result is in and return it (deserialised)."""
        return self.predict_async(data, **options).result(timeout, deserialize=deserialize)

    def predict_async(self, data: Any, **options: Any) -> InferenceHandle:
        """Invoke; return a handle at once."""
        return self.submit(to_payload(data, options.get("content_type")), InvokeOptions(**options))

    def submit(
        self,
        payload: Payload,
        options: InvokeOptions | None = None,
        *,
        write_pending: bool = True,
    ) -> InferenceHandle:
        """Invoke (uploading first unless the payload goes inline); then record PENDING
        unless the caller batches those writes."""
        options = options or InvokeOptions()
        inference_id = options.inference_id or str(uuid.uuid4())
        content_type = options.content_type or payload.content_type
        what = f"inference {inference_id}"
        with translate_errors(what):
            params: dict[str, Any] = {
                "EndpointName": self.endpoint_name,
                "InferenceId": inference_id,
                "ContentType": content_type,
            }
            # Inline (Body) or uploaded (InputLocation): exactly one, as the API requires.
            input_location = None
            try:
                if options.sends_inline(payload):
                    params["Body"] = payload.read()
                else:
                    input_location = self._upload(payload, inference_id, content_type)
                    params["InputLocation"] = input_location
            finally:
                if payload.file is not None:
                    payload.file.close()
            for name, value in (
                ("Accept", options.accept),
                ("CustomAttributes", options.custom_attributes),
                ("RequestTTLSeconds", options.request_ttl_seconds),
                ("InvocationTimeoutSeconds", options.invocation_timeout_seconds),
                ("S3OutputPathExtension", options.s3_output_path_extension),
                ("Filename", options.filename),
            ):
                if value is not None:
                    params[name] = value
            submitted = datetime.now(UTC)
            response = self.aws("sagemaker-runtime").invoke_endpoint_async(**params)
            inference_id = response.get("InferenceId", inference_id)
            handle = InferenceHandle(
                client=self,
                inference_id=inference_id,
                output_location=response.get("OutputLocation"),
                failure_location=response.get("FailureLocation"),
                input_location=input_location,
                submitted_at=submitted,
                content_type=content_type,
                accept=options.accept,
                custom_attributes=options.custom_attributes,
            )
            if write_pending and self.table is not None:
                self.table.put_pending(**self.pending_fields(handle))
        return handle

    def _upload(self, payload: Payload, inference_id: str, content_type: str) -> str:
        """Put the payload at this request's input location; return that location."""
        key = f"{self.input_prefix}{inference_id}"
        if payload.data is not None:
            self.aws("s3").put_object(
                Bucket=self.input_bucket, Key=key, Body=payload.data, ContentType=content_type
            )
        else:
            # upload_fileobj switches to multipart for large files.
            self.aws("s3").upload_fileobj(
                payload.open(), self.input_bucket, key, ExtraArgs={"ContentType": content_type}
            )
        return self.input_location(inference_id)

    def input_location(self, inference_id: str) -> str:
        return f"s3://{self.input_bucket}/{self.input_prefix}{inference_id}"

    def pending_fields(self, handle: InferenceHandle) -> dict[str, Any]:
        return {
            "inference_id": handle.inference_id,
            "endpoint_name": self.endpoint_name,
            "input_location": handle.input_location,
            "request_content_type": handle.content_type,
            "accept": handle.accept,
            "custom_attributes": handle.custom_attributes,
            "submitted": handle.submitted_at,
        }

    def handle(self, inference_id: str) -> InferenceHandle:
        """A handle for an id submitted elsewhere (by another process, say)."""
        return InferenceHandle(
            client=self, inference_id=inference_id, output_location=None, failure_location=None
        )

    # -- reading results ----------------------------------------------------------------

    def records(self, handles: Iterable[InferenceHandle]) -> dict[str, InferenceRecord | None]:
        """The current record of each handle (None: nothing known yet)."""
        handles = list(handles)
        if self.table is not None:
            with translate_errors("results table"):
                found = self.table.get_many(h.inference_id for h in handles)
            return {h.inference_id: found.get(h.inference_id) for h in handles}
        return {h.inference_id: self._record_from_s3(h) for h in handles}

    def _poll(
        self, pending: dict[str, InferenceHandle], max_calls_hint: int | None = None
    ) -> dict[str, InferenceRecord]:
        """Terminal records among the pending handles."""
        if self.table is not None:
            with translate_errors("results table"):
                return self.table.poll(
                    {i: h.submitted_at for i, h in pending.items()}, self.endpoint_name
                )
        found = {}
        for inference_id, handle in pending.items():
            record = self._record_from_s3(handle)
            if record is not None:
                found[inference_id] = record
        return found

    def _record_from_s3(self, handle: InferenceHandle) -> InferenceRecord | None:
        """Without a results table: the output object means success, the failure one failure.

        Costs one or two HeadObject calls per request per poll, which is why the table is
        preferred.
        """
        if handle.output_location is None and handle.failure_location is None:
            raise ConfigurationError(
                f"inference {handle.inference_id} cannot be looked up: the stack has no "
                f"ResultsTableName output and the output location is unknown"
            )
        s3 = self.aws("s3")
        with translate_errors(f"inference {handle.inference_id}"):
            if handle.output_location:
                head = self._head(s3, handle.output_location)
                if head is not None:
                    return InferenceRecord(
                        inference_id=handle.inference_id,
                        status=COMPLETED,
                        output_location=handle.output_location,
                        response_content_type=head.get("ContentType"),
                    )
            if handle.failure_location and self._head(s3, handle.failure_location) is not None:
                bucket, key = split_s3_uri(handle.failure_location)
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read(2048)
                return InferenceRecord(
                    inference_id=handle.inference_id,
                    status=FAILED,
                    failure_location=handle.failure_location,
                    failure_reason=body.decode("utf-8", errors="replace").strip() or None,
                )
        return None

    @staticmethod
    def _head(s3: Any, location: str) -> dict[str, Any] | None:
        bucket, key = split_s3_uri(location)
        try:
            response: dict[str, Any] = s3.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if error_code(error) in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        return response

    def wait(self, handle: InferenceHandle, timeout: float | None = None) -> InferenceRecord:
        """Block until the handle's record is terminal; return it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        interval = min(0.25, self.poll_interval)
        while True:
            record = self._poll({handle.inference_id: handle}).get(handle.inference_id)
            if record is not None:
                return record
            if deadline is not None and time.monotonic() + interval > deadline:
                raise InferenceTimeoutError(
                    f"inference {handle.inference_id} had no result after {timeout:g} s; "
                    f"it may still complete (check with `asyncinfer status`)"
                )
            self._sleep(interval)
            interval = min(interval * 1.5, self.max_poll_interval)

    def fetch(self, record: InferenceRecord, *, deserialize: bool = True) -> Any:
        """The result of a terminal record; raise InferenceFailedError for a failed one."""
        body, content_type = self.fetch_raw(record)
        return deserialize_body(body, content_type) if deserialize else body

    def fetch_raw(self, record: InferenceRecord) -> tuple[bytes, str | None]:
        if record.status == FAILED:
            raise InferenceFailedError(
                record.inference_id, record.failure_reason, record.failure_location
            )
        if record.status != COMPLETED:
            raise AsyncInferenceError(
                f"inference {record.inference_id} is {record.status}; expected COMPLETED"
            )
        # With IncludeInferenceResponseIn the notification carries the body (<= 128 KB)
        # and the writer stored it if it was small (results_inline_body_max_bytes): no S3
        # read needed. A larger one was omitted from the record and is read from S3.
        if isinstance(record.response_body, bytes):
            return record.response_body, record.response_content_type
        if record.response_body is not None:
            if (record.response_body_encoding or "").upper() == "BASE64":
                body = base64.b64decode(record.response_body)
            else:
                body = record.response_body.encode("utf-8")
            return body, record.response_content_type
        if not record.output_location:
            omitted = (
                " (its body was too large to keep in the record)"
                if record.response_body_omitted
                else ""
            )
            raise AsyncInferenceError(
                f"inference {record.inference_id} is COMPLETED{omitted} but its record has no "
                f"outputLocation to read the result from"
            )
        bucket, key = split_s3_uri(record.output_location)
        with translate_errors(f"inference {record.inference_id}"):
            response = self.aws("s3").get_object(Bucket=bucket, Key=key)
            body = response["Body"].read()
        return body, record.response_content_type or response.get("ContentType")

    def result(self, inference_id: str, *, deserialize: bool = True) -> Any:
        """The result of an id whose record is terminal (no waiting)."""
        record = self.records([self.handle(inference_id)])[inference_id]
        if record is None:
            raise InferenceNotFoundError(
                f"inference {inference_id} has no record in the results table; "
                f"expected an id returned by submit"
            )
        return self.fetch(record, deserialize=deserialize)

    def failures(self, since: datetime, *, all_endpoints: bool = False) -> list[InferenceRecord]:
        """Failed inferences since ``since`` (newest first), from the Failures index."""
        if self.table is None:
            raise ConfigurationError(
                "listing failures needs the results table; the stack has no ResultsTableName output"
            )
        with translate_errors("results table"):
            return list(
                self.table.query_failures(
                    since, endpoint_name=None if all_endpoints else self.endpoint_name
                )
            )

    # -- many at once -------------------------------------------------------------------

    def map(
        self,
        items: Iterable[Any],
        *,
        concurrency: int = 16,
        timeout: float | None = None,
        deserialize: bool = True,
        **options: Any,
    ) -> Iterator[Outcome]:
        """Submit every item (``concurrency`` at a time); yield Outcomes as they finish.

        ``Outcome.key`` is the item's position in ``items``; ``value`` holds the result or
        ``error`` the reason it failed (a failed item never stops the others).
        """
        for name, what in (("inference_id", "id"), ("filename", "output file")):
            if options.get(name):
                raise ConfigurationError(
                    f"map() got {name}; expected none, since every item needs its own {what} "
                    f"(use predict_async per item to choose them)"
                )
        invoke = InvokeOptions(**options)

        def payload_of(item: Any) -> Callable[[], Payload]:
            return lambda: to_payload(item, invoke.content_type)

        def work() -> Iterator[WorkItem]:
            for index, item in enumerate(items):
                yield WorkItem(key=index, item=item, payload=payload_of(item))

        return self.run(
            work(), concurrency=concurrency, timeout=timeout, deserialize=deserialize,
            options=invoke,
        )  # fmt: skip

    def run(
        self,
        work: Iterable[WorkItem],
        *,
        concurrency: int = 16,
        timeout: float | None = None,
        deserialize: bool = True,
        options: InvokeOptions | None = None,
        on_submitting: Callable[[WorkItem, str], None] | None = None,
        on_submitted: Callable[[WorkItem, InferenceHandle], None] | None = None,
        on_progress: Callable[[RunStats], None] | None = None,
    ) -> Iterator[Outcome]:
        """The engine behind ``map`` and the CLI's ``batch``; see ``Run``."""
        return Run(
            self,
            work,
            concurrency=concurrency,
            timeout=timeout,
            deserialize=deserialize,
            options=options or InvokeOptions(),
            on_submitting=on_submitting,
            on_submitted=on_submitted,
            on_progress=on_progress,
        ).outcomes()


def deserialize_body(body: bytes, content_type: str | None) -> Any:
    return deserialize(body, content_type)


@dataclass
class RunStats:
    submitted: int = 0
    completed: int = 0
    failed: int = 0
    waiting: int = 0
    read: int = 0


class Run:
    """Submits work concurrently while waiting on what is already submitted.

    One thread (the caller's) owns all bookkeeping; a thread pool does the blocking
    calls (upload+invoke, result downloads). Input is read lazily and at most
    ``2 * concurrency`` submissions are in flight, so a large input never sits in memory.
    Results are polled for all outstanding ids at once, at an interval that backs off
    while nothing new arrives.
    """

    def __init__(
        self,
        client: AsyncInferenceClient,
        work: Iterable[WorkItem],
        *,
        concurrency: int,
        timeout: float | None,
        deserialize: bool,
        options: InvokeOptions,
        on_submitting: Callable[[WorkItem, str], None] | None,
        on_submitted: Callable[[WorkItem, InferenceHandle], None] | None,
        on_progress: Callable[[RunStats], None] | None,
    ) -> None:
        if concurrency < 1:
            raise ConfigurationError(f"concurrency is {concurrency}; expected at least 1")
        self.client = client
        self.work = iter(work)
        self.concurrency = concurrency
        self.timeout = timeout
        self.deserialize = deserialize
        self.options = options
        self.on_submitting = on_submitting
        self.on_submitted = on_submitted
        self.on_progress = on_progress
        self.stats = RunStats()

    def _submit(self, work: WorkItem, payload: Payload, write_pending: bool) -> InferenceHandle:
        assert work.inference_id is not None
        options = dataclasses.replace(self.options, inference_id=work.inference_id)
        try:
            return self.client.submit(payload, options, write_pending=write_pending)
        except AsyncInferenceError:
            if not write_pending and self.client.table is not None:
                # Never invoked: drop the PENDING record written for it in advance (if that
                # fails too, the stale record expires with the table's TTL).
                with contextlib.suppress(ClientError, BotoCoreError):
                    self.client.table.delete_pending(work.inference_id)
            raise

    def _prewrite_pending(self, group: list[tuple[WorkItem, Payload]]) -> set[str]:
        """PENDING records for fresh ids, one BatchWriteItem per 25, before invoking them.

        BatchWriteItem cannot carry the attribute_not_exists condition; it is safe here
        because the ids are new UUIDs that nobody has invoked yet, so no notification
        (and no terminal record) can exist for them. Ids that are not fresh (given by the
        caller, or resent by a resumed batch) keep the conditional write after the invoke.
        Returns the ids written.
        """
        table = self.client.table
        items: dict[str, dict[str, Any]] = {}
        for work, payload in group:
            if work.inference_id is not None:
                continue
            work.inference_id = str(uuid.uuid4())
            if table is None:
                continue
            try:
                inline = self.options.sends_inline(payload)
            except PayloadTooLargeError:
                continue  # refused by its own submission, which reports it
            items[work.inference_id] = table.pending_item(
                inference_id=work.inference_id,
                endpoint_name=self.client.endpoint_name,
                input_location=None if inline else self.client.input_location(work.inference_id),
                request_content_type=self.options.content_type or payload.content_type,
                accept=self.options.accept,
                custom_attributes=self.options.custom_attributes,
            )
        if not items or table is None:
            return set()
        try:
            table.put_new_pending(list(items.values()))
        except (ClientError, BotoCoreError):
            return set()  # fall back to each submission's own conditional write
        return set(items)

    def _fetch(self, record: InferenceRecord) -> tuple[Any, str | None]:
        body, content_type = self.client.fetch_raw(record)
        return (deserialize(body, content_type) if self.deserialize else body), content_type

    def outcomes(self) -> Iterator[Outcome]:
        client = self.client
        pool = cf.ThreadPoolExecutor(max_workers=self.concurrency)
        submitting: dict[cf.Future[InferenceHandle], WorkItem] = {}
        fetching: dict[cf.Future[tuple[Any, str | None]], tuple[WorkItem, InferenceRecord]] = {}
        pending: dict[str, InferenceHandle] = {}
        pending_work: dict[str, WorkItem] = {}
        exhausted = False
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        interval = client.poll_interval
        next_poll = time.monotonic() + interval
        try:
            while True:
                # 1. Keep the pool fed without reading the whole input, a group at a time.
                # Refill only when a whole group fits (or the window is smaller than one),
                # so the PENDING records of fresh ids go 25 to a BatchWriteItem instead of a
                # few per call as single submissions finish.
                window = 2 * self.concurrency
                while not exhausted and window - len(submitting) >= min(PENDING_GROUP, window):
                    group: list[tuple[WorkItem, Payload]] = []
                    while len(group) < PENDING_GROUP and (
                        len(submitting) + len(group) < 2 * self.concurrency
                    ):
                        try:
                            work = next(self.work)
                        except StopIteration:
                            exhausted = True
                            break
                        if work.error is not None:
                            self.stats.failed += 1
                            yield Outcome(key=work.key, item=work.item, error=work.error)
                        elif work.handle is not None:  # resumed: submitted by an earlier run
                            pending[work.handle.inference_id] = work.handle
                            pending_work[work.handle.inference_id] = work
                        else:
                            assert work.payload is not None
                            try:
                                group.append((work, work.payload()))
                            except AsyncInferenceError as error:
                                self.stats.failed += 1
                                yield Outcome(key=work.key, item=work.item, error=error)
                    if not group:
                        continue
                    prewritten = self._prewrite_pending(group)
                    for work, payload in group:
                        assert work.inference_id is not None
                        if self.on_submitting:
                            self.on_submitting(work, work.inference_id)
                        submission = pool.submit(
                            self._submit, work, payload, work.inference_id not in prewritten
                        )
                        submitting[submission] = work

                # 2. Wait for a submission or download to finish, or for the next poll.
                if not submitting and not fetching and not pending and exhausted:
                    return
                wait_for = max(0.0, next_poll - time.monotonic()) if pending else None
                if submitting or fetching:
                    futures: list[cf.Future[Any]] = [*submitting, *fetching]
                    done, _ = cf.wait(
                        futures, timeout=wait_for,
                        return_when=cf.FIRST_COMPLETED,
                    )  # fmt: skip
                else:
                    client._sleep(wait_for or 0)
                    done = set()

                for future in done:
                    if future in submitting:
                        work = submitting.pop(future)
                        try:
                            handle = future.result()
                        except FATAL_ERRORS:
                            raise
                        except (AsyncInferenceError, ClientError, BotoCoreError, OSError) as error:
                            self.stats.failed += 1
                            yield Outcome(
                                key=work.key, item=work.item, inference_id=work.inference_id,
                                error=describe(error, f"item {work.key}"),
                            )  # fmt: skip
                            continue
                        self.stats.submitted += 1
                        pending[handle.inference_id] = handle
                        pending_work[handle.inference_id] = work
                        if self.on_submitted:
                            self.on_submitted(work, handle)
                    else:
                        work, record = fetching.pop(future)
                        handle_of = work.handle
                        submitted_at = handle_of.submitted_at if handle_of else None
                        try:
                            value, content_type = future.result()
                        except (AsyncInferenceError, ClientError, BotoCoreError) as error:
                            self.stats.failed += 1
                            yield Outcome(
                                key=work.key, item=work.item, inference_id=record.inference_id,
                                record=record, error=describe(error),
                                submitted_at=submitted_at,
                            )  # fmt: skip
                            continue
                        self.stats.completed += 1
                        yield Outcome(
                            key=work.key, item=work.item, inference_id=record.inference_id,
                            record=record, value=value, content_type=content_type,
                            submitted_at=submitted_at,
                        )  # fmt: skip

                # 3. Poll for everything outstanding at once.
                if pending and time.monotonic() >= next_poll:
                    found = client._poll(pending)
                    for inference_id, record in found.items():
                        handle = pending.pop(inference_id)
                        work = pending_work.pop(inference_id)
                        work.handle = handle
                        if record.status == FAILED:
                            self.stats.failed += 1
                            yield Outcome(
                                key=work.key, item=work.item, inference_id=inference_id,
                                record=record, submitted_at=handle.submitted_at,
                                error=InferenceFailedError(
                                    inference_id, record.failure_reason,
                                    record.failure_location,
                                ),
                            )  # fmt: skip
                        else:
                            fetching[pool.submit(self._fetch, record)] = (work, record)
                    # Back off while nothing arrives, so a long-running batch costs a
                    # bounded number of reads; start over as soon as results flow.
                    interval = (
                        client.poll_interval
                        if found
                        else min(interval * 1.5, client.max_poll_interval)
                    )
                    next_poll = time.monotonic() + interval

                if deadline is not None and time.monotonic() > deadline and pending:
                    for inference_id, handle in list(pending.items()):
                        work = pending_work.pop(inference_id)
                        del pending[inference_id]
                        self.stats.failed += 1
                        yield Outcome(
                            key=work.key, item=work.item, inference_id=inference_id,
                            submitted_at=handle.submitted_at,
                            error=InferenceTimeoutError(
                                f"inference {inference_id} (item {work.key}) had no result "
                                f"after {self.timeout:g} s"
                            ),
                        )  # fmt: skip
                self.stats.waiting = len(pending)
                if self.on_progress:
                    self.on_progress(self.stats)
        finally:
            # On an interrupt, let submissions already sent finish (and be recorded by
            # on_submitted's caller through the manifest) rather than lose track of them.
            for future in list(submitting):
                work = submitting.pop(future)
                try:
                    handle = future.result()
                except Exception:
                    continue
                if self.on_submitted:
                    self.on_submitted(work, handle)
            pool.shutdown(wait=True, cancel_futures=True)
