"""Where the client learns how its requests ended: the results table, or S3 without one.

Both sources answer the same questions (``ResultsSource``), so the client and the run engine
never ask which one they have:

- ``TableResults``: the records the results writer builds from SageMaker's notifications,
  read many ids at a time (results.py); submissions are recorded as PENDING so ``status``
  answers at once.
- ``S3Results``: for a stack without a results table. The output object means success, the
  failure object failure; one or two HeadObject calls per request per poll, which is why the
  table is preferred. S3 holds no PENDING records, so those writes do nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from asyncinfer.aws import ClientFactory, error_code, translate_errors
from asyncinfer.errors import ConfigurationError
from asyncinfer.results import InferenceRecord, ResultsTable
from asyncinfer.s3_locations import split_s3_uri
from asyncinfer_runtime.contract import COMPLETED, FAILED

if TYPE_CHECKING:
    from asyncinfer.client import InferenceHandle


class ResultsSource(Protocol):
    def records(self, handles: Iterable[InferenceHandle]) -> dict[str, InferenceRecord | None]:
        """The current record of each handle (None: nothing known yet)."""
        ...

    def poll(self, pending: Mapping[str, InferenceHandle]) -> dict[str, InferenceRecord]:
        """The terminal records among ``pending`` (inference id -> handle)."""
        ...

    def failures(self, since: datetime, endpoint_name: str | None) -> list[InferenceRecord]:
        """Failed inferences since ``since``, newest first (None: every endpoint)."""
        ...

    def put_pending(self, handle: InferenceHandle) -> None:
        """Record a submission as PENDING, unless a record of it already exists."""
        ...

    def put_new_pending(self, handles: list[InferenceHandle]) -> set[str]:
        """PENDING records for ids nobody has invoked yet; returns the ids written."""
        ...

    def delete_pending(self, inference_id: str) -> None:
        """Remove the PENDING record of a request that was never accepted."""
        ...


class TableResults:
    """The results table, for one endpoint's requests."""

    def __init__(self, table: ResultsTable, endpoint_name: str) -> None:
        self.table = table
        self.endpoint_name = endpoint_name

    def records(self, handles: Iterable[InferenceHandle]) -> dict[str, InferenceRecord | None]:
        ids = [handle.inference_id for handle in handles]
        with translate_errors("results table"):
            found = self.table.get_many(ids)
        return {inference_id: found.get(inference_id) for inference_id in ids}

    def poll(self, pending: Mapping[str, InferenceHandle]) -> dict[str, InferenceRecord]:
        with translate_errors("results table"):
            return self.table.poll(
                {i: handle.submitted_at for i, handle in pending.items()}, self.endpoint_name
            )

    def failures(self, since: datetime, endpoint_name: str | None) -> list[InferenceRecord]:
        with translate_errors("results table"):
            return list(self.table.query_failures(since, endpoint_name=endpoint_name))

    def put_pending(self, handle: InferenceHandle) -> None:
        self.table.put_pending(**self._pending_fields(handle))

    def put_new_pending(self, handles: list[InferenceHandle]) -> set[str]:
        if not handles:
            return set()
        self.table.put_new_pending(
            [self.table.pending_item(**self._pending_fields(handle)) for handle in handles]
        )
        return {handle.inference_id for handle in handles}

    def delete_pending(self, inference_id: str) -> None:
        self.table.delete_pending(inference_id)

    def _pending_fields(self, handle: InferenceHandle) -> dict[str, Any]:
        return {
            "inference_id": handle.inference_id,
            "endpoint_name": self.endpoint_name,
            "input_location": handle.input_location,
            "request_content_type": handle.content_type,
            "accept": handle.accept,
            "custom_attributes": handle.custom_attributes,
            "submitted": handle.submitted_at,
        }


class S3Results:
    """The output and failure objects in S3, for a stack without a results table."""

    def __init__(self, aws: ClientFactory) -> None:
        self.aws = aws

    def records(self, handles: Iterable[InferenceHandle]) -> dict[str, InferenceRecord | None]:
        return {handle.inference_id: self._record(handle) for handle in handles}

    def poll(self, pending: Mapping[str, InferenceHandle]) -> dict[str, InferenceRecord]:
        found = self.records(pending.values())
        return {inference_id: record for inference_id, record in found.items() if record}

    def failures(self, since: datetime, endpoint_name: str | None) -> list[InferenceRecord]:
        raise ConfigurationError(
            "listing failures needs the results table; the stack has no ResultsTableName output"
        )

    def put_pending(self, handle: InferenceHandle) -> None:
        return None

    def put_new_pending(self, handles: list[InferenceHandle]) -> set[str]:
        return set()

    def delete_pending(self, inference_id: str) -> None:
        return None

    def _record(self, handle: InferenceHandle) -> InferenceRecord | None:
        if handle.output_location is None and handle.failure_location is None:
            raise ConfigurationError(
                f"inference {handle.inference_id} cannot be looked up: the stack has no "
                f"ResultsTableName output and the output location is unknown"
            )
        s3 = self.aws("s3")
        with translate_errors(f"inference {handle.inference_id}"):
            if handle.output_location:
                head = _head(s3, handle.output_location)
                if head is not None:
                    return InferenceRecord(
                        inference_id=handle.inference_id,
                        status=COMPLETED,
                        output_location=handle.output_location,
                        response_content_type=head.get("ContentType"),
                    )
            if handle.failure_location and _head(s3, handle.failure_location) is not None:
                bucket, key = split_s3_uri(handle.failure_location)
                # The failure document starts with the reason; the rest is not needed.
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read(2048)
                return InferenceRecord(
                    inference_id=handle.inference_id,
                    status=FAILED,
                    failure_location=handle.failure_location,
                    failure_reason=body.decode("utf-8", errors="replace").strip() or None,
                )
        return None


def _head(s3: Any, location: str) -> dict[str, Any] | None:
    """The object's HeadObject answer, or None when it does not exist (yet)."""
    bucket, key = split_s3_uri(location)
    try:
        response: dict[str, Any] = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error_code(error) in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise
    return response
