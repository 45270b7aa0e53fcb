"""AsyncInferenceClient: invoke, and wait on the results table instead of S3.

Submission = ``InvokeEndpointAsync`` with the payload inline (``Body``, up to 128,000
bytes) or uploaded to the input bucket first (``InputLocation``), then a conditional
PENDING record so ``status`` answers at once. Waiting asks the client's results source
(result_sources.py): the results table the results writer fills from SageMaker's
notifications, or, for a stack without one, the output and failure objects in S3. Many
requests at once go through the run engine (run.py).
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asyncinfer import payloads
from asyncinfer.aws import ClientFactory, make_session, translate_errors
from asyncinfer.errors import (
    AsyncInferenceError,
    ConfigurationError,
    InferenceFailedError,
    InferenceNotFoundError,
    InferenceTimeoutError,
    PayloadTooLargeError,
)
from asyncinfer.payloads import MAX_INLINE_BYTES, Payload, to_payload
from asyncinfer.result_sources import ResultsSource, S3Results, TableResults
from asyncinfer.results import InferenceRecord, ResultsTable
from asyncinfer.run import Outcome, Run, RunHooks, WorkItem
from asyncinfer.run_stats import RunStats
from asyncinfer.s3_locations import split_s3_uri
from asyncinfer.stack_outputs import (
    StackOutputs,
    outputs_from_cloudformation,
    outputs_from_file,
)
from asyncinfer_runtime.contract import COMPLETED, DEFAULT_STACK_NAME, FAILED, PENDING

__all__ = [
    "AsyncInferenceClient",
    "InferenceHandle",
    "InvokeOptions",
    "Outcome",
    "RunStats",
    "WorkItem",
]

DEFAULT_INPUT_PREFIX = "requests/"


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

    def optional_params(self) -> dict[str, Any]:
        """The InvokeEndpointAsync parameters these options set; the rest stay unsent."""
        params = {
            "Accept": self.accept,
            "CustomAttributes": self.custom_attributes,
            "RequestTTLSeconds": self.request_ttl_seconds,
            "InvocationTimeoutSeconds": self.invocation_timeout_seconds,
            "S3OutputPathExtension": self.s3_output_path_extension,
            "Filename": self.filename,
        }
        return {name: value for name, value in params.items() if value is not None}


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
        self.results: ResultsSource = (
            TableResults(self.table, endpoint_name) if self.table else S3Results(self.aws)
        )
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self._sleep = sleep

    @classmethod
    def from_stack(
        cls,
        stack_name: str | None = None,
        *,
        endpoint: str | None = None,
        outputs_file: str | Path | None = None,
        session: Any = None,
        region_name: str | None = None,
        profile_name: str | None = None,
        endpoint_url: str | None = None,
        **kwargs: Any,
    ) -> AsyncInferenceClient:
        """Find the endpoint, bucket and table from the stack's outputs.

        ``endpoint`` names one of the stack's endpoints (needed when it has several).
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
            endpoint_name=outputs.endpoint_named(endpoint),
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
        with translate_errors(f"inference {inference_id}"):
            params: dict[str, Any] = {
                "EndpointName": self.endpoint_name,
                "InferenceId": inference_id,
                "ContentType": content_type,
                **options.optional_params(),
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
            submitted = datetime.now(UTC)
            response = self.aws("sagemaker-runtime").invoke_endpoint_async(**params)
            handle = self.handle(
                response.get("InferenceId", inference_id),
                output_location=response.get("OutputLocation"),
                failure_location=response.get("FailureLocation"),
                input_location=input_location,
                submitted_at=submitted,
                content_type=content_type,
                accept=options.accept,
                custom_attributes=options.custom_attributes,
            )
            if write_pending:
                self.results.put_pending(handle)
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

    def handle(self, inference_id: str, **known: Any) -> InferenceHandle:
        """A handle for an id submitted elsewhere (by another process, say); ``known`` sets
        the other InferenceHandle fields (its locations, submit time, ...)."""
        known.setdefault("output_location", None)
        known.setdefault("failure_location", None)
        return InferenceHandle(client=self, inference_id=inference_id, **known)

    # -- reading results ----------------------------------------------------------------

    def records(self, handles: Iterable[InferenceHandle]) -> dict[str, InferenceRecord | None]:
        """The current record of each handle (None: nothing known yet)."""
        return self.results.records(list(handles))

    def wait(self, handle: InferenceHandle, timeout: float | None = None) -> InferenceRecord:
        """Block until the handle's record is terminal; return it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        interval = min(0.25, self.poll_interval)
        while True:
            record = self.results.poll({handle.inference_id: handle}).get(handle.inference_id)
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
        return payloads.deserialize(body, content_type) if deserialize else body

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
        return self.results.failures(since, None if all_endpoints else self.endpoint_name)

    # -- many at once -------------------------------------------------------------------

    def map(
        self,
        items: Iterable[Any],
        *,
        concurrency: int = 16,
        timeout: float | None = None,
        deserialize: bool = True,
        stats: RunStats | None = None,
        **options: Any,
    ) -> Iterator[Outcome]:
        """Submit every item (``concurrency`` at a time); yield Outcomes as they finish.

        ``Outcome.key`` is the item's position in ``items``; ``value`` holds the result or
        ``error`` the reason it failed (a failed item never stops the others). ``stats``,
        when given, is kept up to date as the run goes.
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

        work = (
            WorkItem(key=index, item=item, payload=payload_of(item))
            for index, item in enumerate(items)
        )
        return self.run(
            work,
            concurrency=concurrency,
            timeout=timeout,
            deserialize=deserialize,
            options=invoke,
            stats=stats,
        )

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
        stats: RunStats | None = None,
    ) -> Iterator[Outcome]:
        """The engine behind ``map`` and the CLI's ``batch``; see ``run.Run``."""
        return Run(
            client=self,
            work=iter(work),
            concurrency=concurrency,
            timeout=timeout,
            deserialize=deserialize,
            options=options or InvokeOptions(),
            hooks=RunHooks(
                on_submitting=on_submitting, on_submitted=on_submitted, on_progress=on_progress
            ),
            stats=stats if stats is not None else RunStats(),
        ).outcomes()
