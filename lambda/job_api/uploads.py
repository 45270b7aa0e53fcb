"""Payloads larger than a request body: POST /v1/uploads hands out a presigned PUT for one
exact key, and POST /v1/jobs takes that key back (Input-Location) and nothing else.

Each caller's uploads live under a prefix of their own (`uploads/<caller hash>/`), so an
Input-Location another caller was given is refused, even if its (random) name leaked. The
bucket encrypts every object with the system's data key (default SSE-KMS) and refuses a PUT
asking for another encryption (its policy: asyncinfer_constructs/storage.py).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from asyncinfer_runtime.contract import MAX_PAYLOAD_BYTES, iso_time
from job_api.aws import client, error_code
from job_api.limits import UPLOAD_URL_SECONDS
from job_api.problems import Problem

UPLOADS_PREFIX: Final = "uploads/"
# Payloads the API sends on itself (a body above InvokeEndpointAsync's inline limit).
API_PREFIX: Final = "api/"


def caller_prefix(caller: str) -> str:
    return f"{UPLOADS_PREFIX}{hashlib.sha256(caller.encode()).hexdigest()[:32]}/"


def new_upload(bucket: str, caller: str, *, now: datetime | None = None) -> dict[str, Any]:
    """A presigned PUT for a fresh key of `caller`'s, and the inputLocation that names it.

    Presigning is local (no AWS call): the URL carries the function's own signature, so
    the upload is allowed exactly as far as the function's role may PutObject there.
    """
    key = f"{caller_prefix(caller)}{uuid.uuid4()}"
    url = client("s3").generate_presigned_url(
        "put_object",
        Params={"Bucket": bucket, "Key": key},
        ExpiresIn=UPLOAD_URL_SECONDS,
        HttpMethod="PUT",
    )
    expires = (now or datetime.now(UTC)) + timedelta(seconds=UPLOAD_URL_SECONDS)
    return {
        "uploadUrl": url,
        "method": "PUT",
        "inputLocation": f"s3://{bucket}/{key}",
        "expiresAt": iso_time(expires),
    }


@dataclass(frozen=True)
class UploadedObject:
    location: str
    size: int
    content_type: str | None


def uploaded_object(location: str, bucket: str, caller: str) -> UploadedObject:
    """The object an Input-Location names, if POST /v1/uploads gave it to `caller` and
    something was uploaded there (one HeadObject)."""
    prefix = f"s3://{bucket}/{caller_prefix(caller)}"
    name = location.removeprefix(prefix)
    if not location.startswith(prefix) or not _is_uuid(name):
        raise Problem(
            400,
            f"The Input-Location header must be an inputLocation POST /v1/uploads gave you "
            f"(s3://{bucket}/{UPLOADS_PREFIX}...); received {location[:200]!r}.",
        )
    key = location.removeprefix(f"s3://{bucket}/")
    try:
        head = client("s3").head_object(Bucket=bucket, Key=key)
    except Exception as error:
        if error_code(error) in ("404", "NoSuchKey", "NotFound"):
            raise Problem(
                400,
                f"Input-Location {location} holds no object yet; PUT the payload to its "
                f"uploadUrl first.",
            ) from None
        raise
    size = int(head.get("ContentLength", 0))
    if size > MAX_PAYLOAD_BYTES:
        raise Problem(
            413,
            f"The object at Input-Location is {size:,} bytes; asynchronous inference takes "
            f"at most {MAX_PAYLOAD_BYTES:,} bytes (1 GB).",
        )
    if size == 0:
        raise Problem(400, f"The object at Input-Location {location} is empty; upload the payload.")
    return UploadedObject(location=location, size=size, content_type=head.get("ContentType"))


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False
