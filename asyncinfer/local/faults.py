"""Fault hooks of local mode: added latency, throttling answers, a paused endpoint.

Set over HTTP on the local endpoint, so a test or a bench in another process can use
them (``PUT /local/faults`` with any of the fields below; ``DELETE`` clears them; ``GET``
returns them with the count of AWS requests seen per service):

- ``latencySeconds``: every AWS call waits this long before it is answered (a regional
  round trip, for the client bench);
- ``throttle``: ``{"<signing name>": N}`` answers the next N calls of that service (``-1``:
  every call) with its throttling error, as an exhausted quota would (``sagemaker`` is
  the SageMaker runtime's signing name);
- ``paused``: the endpoint's workers take no queued request until it is cleared, so a
  request stays PENDING as long as a test needs.

The service of a call is the one its SigV4 credential scope names, as AWS routes it.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from typing import Any, Protocol

# Each protocol's throttling answer, as botocore's retry handler recognises it: S3 sends
# 503 SlowDown (rest-xml); the JSON protocols a 400 ThrottlingException, read from the
# x-amzn-ErrorType header (rest-json) or the body's __type (json).
_S3_SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)
_THROTTLED = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()


class Pausable(Protocol):
    def set_paused(self, paused: bool) -> None: ...


def signing_service(environ: dict[str, Any]) -> str:
    """The service a WSGI request was signed for (``signing_service_of`` its header)."""
    return signing_service_of(str(environ.get("HTTP_AUTHORIZATION", "")))


def signing_service_of(authorization: str) -> str:
    """SERVICE in an Authorization header's ``Credential=AKID/date/region/SERVICE/aws4_request``;
    "unknown" when it has none."""
    if "Credential=" not in authorization:
        return "unknown"
    scope = authorization.split("Credential=", 1)[1].split(",", 1)[0].split("/")
    return scope[3] if len(scope) > 3 else "unknown"


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.latency_seconds = 0.0
        self.throttle: dict[str, int] = {}
        self.paused = False
        self.requests: collections.Counter[str] = collections.Counter()

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "latencySeconds": self.latency_seconds,
                "throttle": dict(self.throttle),
                "paused": self.paused,
                "requests": dict(self.requests),
            }

    def handle(self, method: str, body: bytes, endpoint: Pausable | None) -> tuple[int, bytes]:
        """The /local/faults resource: (status, JSON body)."""
        if method == "DELETE":
            with self._lock:
                self.latency_seconds, self.throttle, self.paused = 0.0, {}, False
        elif method in ("PUT", "POST"):
            try:
                update = json.loads(body or b"{}")
                self._update(update)
            except (ValueError, TypeError) as error:
                return 400, json.dumps({"message": str(error)}).encode()
        elif method != "GET":
            return 405, json.dumps({"message": f"method {method} not allowed"}).encode()
        if endpoint is not None:
            endpoint.set_paused(self.paused)
        return 200, json.dumps(self.state()).encode()

    def _update(self, update: Any) -> None:
        if not isinstance(update, dict):
            raise ValueError(f"faults must be a JSON object; received {update!r}")
        unknown = set(update) - {"latencySeconds", "throttle", "paused"}
        if unknown:
            raise ValueError(
                f"unknown fault field(s) {sorted(unknown)}; expected latencySeconds, "
                f"throttle or paused"
            )
        with self._lock:
            if "latencySeconds" in update:
                latency = float(update["latencySeconds"])
                if latency < 0:
                    raise ValueError(f"latencySeconds is {latency}; expected at least 0")
                self.latency_seconds = latency
            if "throttle" in update:
                throttle = update["throttle"]
                if not isinstance(throttle, dict):
                    raise ValueError(f"throttle must map services to counts; got {throttle!r}")
                self.throttle = {str(name): int(count) for name, count in throttle.items()}
            if "paused" in update:
                self.paused = bool(update["paused"])

    def apply(self, environ: dict[str, Any]) -> tuple[int, dict[str, str], bytes] | None:
        """Count the call, wait the added latency; a throttling answer, or None to go on."""
        service = signing_service(environ)
        with self._lock:
            self.requests[service] += 1
            latency = self.latency_seconds
            remaining = self.throttle.get(service, 0)
            if remaining > 0:
                self.throttle[service] = remaining - 1
        if latency:
            time.sleep(latency)
        if remaining == 0:
            return None
        # Drain the unread request body, so the kept-alive connection stays usable.
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            environ["wsgi.input"].read(length)
        if service == "s3":
            return 503, {"Content-Type": "application/xml"}, _S3_SLOW_DOWN
        return (
            400,
            {
                "Content-Type": "application/x-amz-json-1.0",
                "x-amzn-ErrorType": "ThrottlingException:",
            },
            _THROTTLED,
        )
