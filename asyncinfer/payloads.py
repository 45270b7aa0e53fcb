"""Turning what a caller passes into an upload, and a response back into Python values.

Sizes are checked before anything is read, so a payload over the service's limit fails at
once with a clear message instead of after (or while) uploading a gigabyte.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from asyncinfer.errors import AsyncInferenceError, PayloadTooLargeError
from asyncinfer_runtime.contract import MAX_INLINE_BYTES, MAX_PAYLOAD_BYTES

__all__ = [
    "MAX_INLINE_BYTES",
    "MAX_PAYLOAD_BYTES",
    "Payload",
    "check_size",
    "deserialize",
    "to_payload",
]

_SUFFIX_TYPES = {
    ".json": "application/json",
    ".csv": "text/csv",
    ".txt": "text/plain",
    ".npy": "application/x-npy",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
}


@dataclass
class Payload:
    """A payload ready to upload: either bytes or a seekable file, and its size."""

    size: int
    content_type: str
    data: bytes | None = None
    file: IO[bytes] | None = None
    name: str = "(payload)"  # how messages name it: a quoted path, or its kind

    def read(self) -> bytes:
        """The whole payload (for an inline request, which is at most 128,000 bytes)."""
        if self.data is not None:
            return self.data
        return self.open().read()

    def open(self) -> IO[bytes]:
        if self.data is not None:
            return io.BytesIO(self.data)
        assert self.file is not None
        self.file.seek(0)
        return self.file


def check_size(size: int, name: str) -> None:
    if size > MAX_PAYLOAD_BYTES:
        raise PayloadTooLargeError(
            f"payload {name} is {size:,} bytes; asynchronous inference accepts at most "
            f"{MAX_PAYLOAD_BYTES:,} bytes (1 GB)"
        )


def to_payload(data: Any, content_type: str | None = None) -> Payload:
    """Accept bytes, str, JSON-able objects, a path, or a binary file object."""
    if isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
        check_size(len(raw), "(bytes)")
        return Payload(
            len(raw), content_type or "application/octet-stream", data=raw, name="(bytes)"
        )
    if isinstance(data, str):
        raw = data.encode("utf-8")
        check_size(len(raw), "(str)")
        return Payload(
            len(raw), content_type or "text/plain; charset=utf-8", data=raw, name="(str)"
        )
    if isinstance(data, os.PathLike):
        path = Path(data)
        try:
            size = path.stat().st_size
        except OSError as error:
            raise AsyncInferenceError(
                f"payload file {str(path)!r} cannot be read: {error.strerror}"
            ) from None
        check_size(size, repr(str(path)))
        guessed = _SUFFIX_TYPES.get(path.suffix.lower(), "application/octet-stream")
        return Payload(size, content_type or guessed, file=path.open("rb"), name=repr(str(path)))
    if hasattr(data, "read"):
        name = repr(getattr(data, "name", "(file object)"))
        try:
            data.seek(0, io.SEEK_END)
            size = data.tell()
            data.seek(0)
        except (OSError, AttributeError, ValueError):
            # Not seekable (a pipe): read it, but never more than one byte past the limit.
            raw = data.read(MAX_PAYLOAD_BYTES + 1)
            check_size(len(raw), name)
            return Payload(
                len(raw), content_type or "application/octet-stream", data=raw, name=name
            )
        check_size(size, name)
        return Payload(size, content_type or "application/octet-stream", file=data, name=name)
    try:
        raw = json.dumps(data, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError):
        raise AsyncInferenceError(
            f"payload of type {type(data).__name__} cannot be sent; expected bytes, str, "
            f"a path, a binary file or a JSON-serialisable value"
        ) from None
    check_size(len(raw), "(JSON)")
    return Payload(len(raw), content_type or "application/json", data=raw, name="(JSON)")


def deserialize(body: bytes, content_type: str | None) -> Any:
    """JSON -> Python values, CSV -> list of rows, other text -> str, anything else -> bytes."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json") or media == "application/jsonlines":
        text = body.decode("utf-8")
        if media == "application/jsonlines":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise AsyncInferenceError(
                f"result declared {media} is not JSON ({error.msg} at position {error.pos}); "
                f"pass deserialize=False for the raw bytes"
            ) from None
    if media == "text/csv":
        return list(csv.reader(io.StringIO(body.decode("utf-8"))))
    if media.startswith("text/"):
        return body.decode("utf-8", errors="replace")
    return body
