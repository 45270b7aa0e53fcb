"""What POST /v1/jobs asks for, read from its headers, query and body and checked before any
AWS call, so every mistake is one 4xx sentence naming the header or parameter."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from dataclasses import asdict, dataclass
from typing import Final
from urllib.parse import urlsplit

from asyncinfer_runtime.contract import MAX_INLINE_BYTES
from asyncinfer_runtime.jobs import WEBHOOK_EVENTS
from job_api.limits import MAX_BODY_BYTES
from job_api.problems import Problem

# SageMaker's own limits on the values passed through (InvokeEndpointAsync request
# parameters, in the pinned botocore's service model): ASCII, at most 1,024 characters.
_ASCII_1024 = re.compile(r"^[\x20-\x7e]{1,1024}$")
_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+*-]+(\s*;.*)?$")
# curl, requests and browsers send these when the caller named no media type: they do not
# ask the model for anything.
_ANY_MEDIA_TYPE: Final = frozenset({"*/*", "*"})
_LOOPBACK_NAMES: Final = frozenset({"localhost"})
MAX_WEBHOOK_URL: Final = 2048


@dataclass(frozen=True)
class JobRequest:
    endpoint: str
    body: bytes
    content_type: str | None = None
    accept: str | None = None
    custom_attributes: str | None = None
    invocation_timeout_seconds: int | None = None
    request_ttl_seconds: int | None = None
    input_location: str | None = None
    webhook_url: str | None = None
    webhook_events: tuple[str, ...] = ()

    @property
    def inline(self) -> bool:
        """Sent in the InvokeEndpointAsync request itself (Body) rather than through S3."""
        return self.input_location is None and len(self.body) <= MAX_INLINE_BYTES

    def fingerprint(self) -> str:
        """What an Idempotency-Key binds: every field, the body by its SHA-256."""
        fields = asdict(self)
        fields["body"] = hashlib.sha256(self.body).hexdigest()
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def job_request(
    *,
    endpoint: str,
    body: bytes,
    content_type: str | None,
    accept: str | None,
    custom_attributes: str | None,
    invocation_timeout_seconds: int | None,
    request_ttl_seconds: int | None,
    input_location: str | None,
    webhook_url: str | None,
    webhook_events: str | None,
    local_mode: bool,
) -> JobRequest:
    """The request, or a Problem naming the first thing wrong with it."""
    if len(body) > MAX_BODY_BYTES:
        raise Problem(
            413,
            f"The body is {len(body):,} bytes; POST /v1/jobs takes at most {MAX_BODY_BYTES:,} "
            f"(Lambda's 6 MB request limit, base64); upload larger payloads with "
            f"POST /v1/uploads and send the job with Input-Location.",
        )
    if input_location is not None and body:
        raise Problem(
            400,
            f"The request has both a body ({len(body):,} bytes) and Input-Location; send the "
            f"payload one way: in the body, or uploaded and named by Input-Location.",
        )
    if input_location is None and not body:
        raise Problem(
            400,
            "The body is empty; send the payload as the body (with its Content-Type), or "
            "upload it with POST /v1/uploads and name it with the Input-Location header.",
        )
    if content_type is None and body:
        raise Problem(
            415,
            "The Content-Type header is missing; send the payload's media type, e.g. "
            "-H 'Content-Type: image/jpeg'.",
        )
    if content_type is not None and not (
        _ASCII_1024.match(content_type) and _MEDIA_TYPE.match(content_type)
    ):
        raise Problem(
            415,
            f"The Content-Type header {content_type!r} is not a media type SageMaker takes; "
            f"expected type/subtype in ASCII, at most 1,024 characters.",
        )
    if accept is not None and accept.strip() in _ANY_MEDIA_TYPE:
        accept = None
    _ascii("Accept", accept)
    _ascii("X-Amzn-SageMaker-Custom-Attributes", custom_attributes)
    return JobRequest(
        endpoint=endpoint,
        body=body,
        content_type=content_type,
        accept=accept,
        custom_attributes=custom_attributes,
        invocation_timeout_seconds=invocation_timeout_seconds,
        request_ttl_seconds=request_ttl_seconds,
        input_location=input_location,
        webhook_url=webhook_target(webhook_url, local_mode=local_mode),
        webhook_events=webhook_event_names(webhook_events) if webhook_url else (),
    )


def _ascii(header: str, value: str | None) -> None:
    if value is not None and not _ASCII_1024.match(value):
        raise Problem(
            400,
            f"The {header} header must be printable ASCII of at most 1,024 characters (as "
            f"SageMaker takes it); received {value[:80]!r}.",
        )


def webhook_target(url: str | None, *, local_mode: bool) -> str | None:
    """`url` if it may receive the job's events: https, or in local mode http to a loopback
    address. Where it resolves to is checked again when the dispatcher connects."""
    if url is None:
        return None
    parts = urlsplit(url) if len(url) <= MAX_WEBHOOK_URL else None
    host = parts.hostname if parts else None
    loopback = host is not None and (host in _LOOPBACK_NAMES or _is_loopback_address(host))
    allowed = (
        parts is not None
        and host
        and (parts.scheme == "https" or (local_mode and parts.scheme == "http" and loopback))
    )
    if not allowed or (parts and (parts.username or parts.password)):
        expected = "an https URL" + (" (or http to a loopback address)" if local_mode else "")
        raise Problem(
            400,
            f"The Webhook-Url header must be {expected} without credentials, at most "
            f"{MAX_WEBHOOK_URL:,} characters; received {url[:120]!r}.",
        )
    return url


def _is_loopback_address(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def webhook_event_names(header: str | None) -> tuple[str, ...]:
    """The Webhook-Events header (comma-separated), both events when absent."""
    if header is None:
        return WEBHOOK_EVENTS
    names = tuple(dict.fromkeys(name.strip().lower() for name in header.split(",")))
    if not names or not all(name in WEBHOOK_EVENTS for name in names):
        raise Problem(
            400,
            f"The Webhook-Events header must list {' and/or '.join(WEBHOOK_EVENTS)}, comma-"
            f"separated; received {header[:80]!r}.",
        )
    return tuple(sorted(names))
