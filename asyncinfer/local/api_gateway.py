"""API Gateway (REST) on loopback: the template's API served by its own function.

Each request goes the way API Gateway takes it: the stage in the path, the body limit
(10 MB), the route (resource and method; none: 403 "Missing Authentication Token", as
API Gateway answers), SigV4 for an AWS_IAM method (local/sigv4.py, against local mode's
credentials), the stage's throttling, then a REST proxy event (payload format 1.0) to
the method's function (local/function_host.py) and its proxy response back as HTTP. What
API Gateway answers itself comes from the template's gateway responses.

Local mode's API differs from API Gateway in what it cannot have: a Cognito user pool
(local mode refuses such a method at start), execution and access logs, and caching.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .api_template import DEFAULT_STATUS, ApiDefinition
from .function_host import FunctionError, FunctionPool
from .provision import ACCOUNT_ID, TemplateError
from .sigv4 import SignatureError, Signer, verify

# API Gateway's own limits (API Gateway Developer Guide, "Amazon API Gateway quotas":
# Payload size 10 MB; Integration timeout 29 s) and Lambda's synchronous request
# (Lambda Developer Guide, "Lambda quotas": 6 MB): lambda/job_api/limits.py says more.
PAYLOAD_LIMIT_BYTES = 10 * 1024 * 1024
LAMBDA_REQUEST_LIMIT_BYTES = 6_291_456
INTEGRATION_TIMEOUT_SECONDS = 29.0
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})


class _Throttle:
    """A token bucket: `rate` per second, at most `burst` at once (API Gateway's stage
    throttling: API Gateway Developer Guide, "Throttle requests to your REST APIs")."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, max(1, burst)
        self.tokens = float(self.burst)
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True


def proxy_event(
    *,
    resource: str,
    stage: str,
    method: str,
    path: str,
    path_parameters: dict[str, str],
    query: list[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
    binary: bool,
    identity: dict[str, Any],
    domain: str,
    request_id: str,
) -> dict[str, Any]:
    """The REST API proxy event (payload format 1.0) of one request (API Gateway Developer
    Guide, "Input format of a Lambda function for proxy integration")."""
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers.items():
        multi_headers.setdefault(name, []).append(value)
    multi_query: dict[str, list[str]] = {}
    for name, value in query:
        multi_query.setdefault(name, []).append(value)
    now = datetime.now(UTC)
    text: str | None = None
    if body:
        text = base64.b64encode(body).decode() if binary else body.decode("utf-8", "replace")
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": dict(headers) or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{stage}{path}",
            "accountId": ACCOUNT_ID,
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": domain.split(".")[0],
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": request_id,
            "identity": identity,
            "domainName": domain,
            "apiId": "local",
        },
        "body": text,
        "isBase64Encoded": bool(body) and binary,
    }


def _is_binary(content_type: str | None, binary_media_types: list[str]) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    for pattern in binary_media_types:
        kind, _, subtype = pattern.lower().partition("/")
        mine, _, my_subtype = media.partition("/")
        if kind in ("*", mine) and subtype in ("*", my_subtype):
            return True
    return False


class LocalApi:
    """The API's HTTP server and its function pools; `url` is the stage's base URL."""

    def __init__(
        self,
        definition: ApiDefinition,
        *,
        signer: Signer,
        environment: dict[str, str],
        port: int = 0,
        log: Path | None = None,
    ) -> None:
        """`log`: where the function's log lines go (local mode's functions.log)."""
        self.definition = definition
        self.signer = signer
        unsupported = sorted({r.authorization for r in definition.routes} - {"AWS_IAM", "NONE"})
        if unsupported:
            raise TemplateError(
                f"local mode's API verifies SigV4 (AWS_IAM) only; the template's methods use "
                f"{', '.join(unsupported)}"
            )
        functions = {route.function.logical_id: route.function for route in definition.routes}
        self.pools = {
            logical_id: FunctionPool(function, {**environment, **function.environment}, log=log)
            for logical_id, function in functions.items()
        }
        self.throttle = _Throttle(definition.rate_limit, definition.burst_limit)
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/{definition.stage}/"
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="local-api", daemon=True
        )

    def start(self) -> LocalApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)
        for pool in self.pools.values():
            pool.stop()

    # -- one request -------------------------------------------------------------------

    def gateway_response(
        self, kind: str, message: str, request_id: str
    ) -> tuple[int, dict[str, str], bytes]:
        """What API Gateway answers itself: the template's gateway response of that type
        (else its DEFAULT_4XX/5XX), else API Gateway's built-in JSON message."""
        status = DEFAULT_STATUS.get(kind, 403)
        fallback = "DEFAULT_4XX" if status < 500 else "DEFAULT_5XX"
        configured = self.definition.gateway_responses.get(kind) or (
            self.definition.gateway_responses.get(fallback)
        )
        headers = {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": kind}
        if configured is None or not configured.templates:
            return (
                status,
                {**headers, "Content-Type": "application/json"},
                json.dumps({"message": message}).encode(),
            )
        if configured is self.definition.gateway_responses.get(kind) and configured.status:
            status = configured.status
        content_type, template = next(iter(configured.templates.items()))
        body = (
            template.replace("$context.error.messageString", json.dumps(message))
            .replace("$context.error.message", message)
            .replace("$context.error.responseType", kind)
            .replace("$context.requestId", request_id)
        )
        headers = {**headers, "Content-Type": content_type, **configured.headers}
        return status, headers, body.encode()

    def handle(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        client_ip: str,
    ) -> tuple[int, dict[str, str], bytes]:
        request_id = str(uuid.uuid4())
        lower = {name.lower(): value for name, value in headers.items()}
        split = urlsplit(target)
        stage_prefix = f"/{self.definition.stage}"
        raw_path = split.path
        if not (raw_path == stage_prefix or raw_path.startswith(stage_prefix + "/")):
            return self.gateway_response("MISSING_AUTHENTICATION_TOKEN", "Forbidden", request_id)
        if len(body) > PAYLOAD_LIMIT_BYTES:
            return self.gateway_response(
                "REQUEST_TOO_LARGE",
                f"HTTP content length exceeded {PAYLOAD_LIMIT_BYTES} bytes.",
                request_id,
            )
        path = unquote(raw_path[len(stage_prefix) :]) or "/"
        found = self.definition.route(method, path)
        if found is None:
            return self.gateway_response(
                "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token", request_id
            )
        route, path_parameters = found
        identity: dict[str, Any] = {"sourceIp": client_ip, "userAgent": lower.get("user-agent")}
        if route.authorization == "AWS_IAM":
            try:
                access_key = verify(
                    self.signer,
                    method=method,
                    raw_path=raw_path,
                    query_string=split.query,
                    headers=headers,
                    body=body,
                )
            except SignatureError as error:
                return self.gateway_response(error.response_type, error.message, request_id)
            identity.update(
                accountId=ACCOUNT_ID,
                accessKey=access_key,
                caller=f"AIDA{access_key.upper()}",
                user=f"AIDA{access_key.upper()}",
                userArn=f"arn:aws:iam::{ACCOUNT_ID}:user/{access_key}",
            )
        if not self.throttle.take():
            return self.gateway_response("THROTTLED", "Too Many Requests", request_id)
        event = proxy_event(
            resource=route.resource,
            stage=self.definition.stage,
            method=method,
            path=path,
            path_parameters={k: unquote(v) for k, v in path_parameters.items()},
            query=parse_qsl(split.query, keep_blank_values=True),
            headers={
                **{k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP},
                # What API Gateway adds (there: https, 443).
                "X-Forwarded-For": client_ip,
                "X-Forwarded-Port": str(self.port),
                "X-Forwarded-Proto": "http",
            },
            body=body,
            binary=_is_binary(lower.get("content-type"), self.definition.binary_media_types),
            identity=identity,
            domain=lower.get("host", f"127.0.0.1:{self.port}"),
            request_id=request_id,
        )
        if len(json.dumps(event)) > LAMBDA_REQUEST_LIMIT_BYTES:
            # Lambda refuses the invocation (RequestEntityTooLarge) and API Gateway passes
            # on its 413 as is, not as a gateway response.
            return (
                413,
                {"Content-Type": "application/json", "x-amzn-RequestId": request_id},
                (b'{"message": "Request Too Long"}'),
            )
        try:
            answer = self.pools[route.function.logical_id].invoke(event)
        except FunctionError as error:
            print(f"local API: {route.function.logical_id} failed: {error}", file=sys.stderr)
            return (
                502,
                {"Content-Type": "application/json", "x-amzn-RequestId": request_id},
                (b'{"message": "Internal server error"}'),
            )
        except TimeoutError:
            return self.gateway_response(
                "INTEGRATION_TIMEOUT", "Endpoint request timed out", request_id
            )
        return _http_answer(answer, request_id)


def _http_answer(answer: Any, request_id: str) -> tuple[int, dict[str, str], bytes]:
    """A proxy integration's response as HTTP (API Gateway Developer Guide, "Output format
    of a Lambda function for proxy integration"); anything else is API Gateway's 502."""
    if not isinstance(answer, dict) or not isinstance(answer.get("statusCode"), int):
        return (
            502,
            {"Content-Type": "application/json", "x-amzn-RequestId": request_id},
            (b'{"message": "Internal server error"}'),
        )
    headers = {str(k): str(v) for k, v in (answer.get("headers") or {}).items()}
    for name, values in (answer.get("multiValueHeaders") or {}).items():
        headers[str(name)] = ", ".join(str(value) for value in values)
    body = answer.get("body") or ""
    raw = base64.b64decode(body) if answer.get("isBase64Encoded") else str(body).encode()
    headers.setdefault("Content-Type", "application/json")
    headers["x-amzn-RequestId"] = request_id
    return int(answer["statusCode"]), headers, raw


def _handler_for(api: LocalApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as two writes; with Nagle's algorithm the second waits for
        # the peer's delayed ACK (up to 40 ms on Linux) on every keep-alive request.
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name: value for name, value in self.headers.items()}
            status, answer_headers, answer = api.handle(
                self.command, self.path, headers, body, self.client_address[0]
            )
            self.send_response(status)
            for name, value in answer_headers.items():
                if name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

        def log_message(self, format: str, *values: Any) -> None:
            pass  # local mode's console stays readable

    return Handler
