"""InvokeEndpointAsync on loopback, with SageMaker's asynchronous semantics.

``EndpointService`` accepts the request exactly as botocore's ``sagemaker-runtime`` client
sends it (``POST /endpoints/<name>/async-invocations``, parameters in
``X-Amzn-SageMaker-*`` headers, an inline payload as the HTTP body) and answers HTTP 202
with ``{"InferenceId": ...}`` and the ``X-Amzn-SageMaker-OutputLocation`` /
``-FailureLocation`` headers. Accepted requests wait in a queue; workers take them in
order, read the input from S3 (or take the inline body), call the model's
``POST /invocations``, write the output or failure object (``output/<id>.out``,
``failure/<id>-error.out``, or where ``S3OutputPathExtension`` and ``Filename`` say) and
publish the notification (the shape of ../shared/vectors) to the success or error topic.

``MaxConcurrentInvocationsPerInstance`` x instance count bounds the calls to the container,
as on SageMaker, where the limit is on requests the platform sends to the container at
once; reading the input and writing the output happen outside that limit, so the model is
never idle while another request's S3 transfer or notification is in progress.

``wsgi_app(moto_app)`` serves this and moto on one port, so one ``--endpoint-url`` reaches
every service. ``GET /local/metrics`` returns the backlog metrics the scaling policies use.
"""

from __future__ import annotations

import base64
import collections
import json
import re
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import urllib3

from asyncinfer.s3_locations import InvalidLocationError, split_s3_uri
from asyncinfer_runtime.contract import iso_time

from .control_plane import ControlPlane
from .faults import Faults
from .platform_io import ObjectUnavailable
from .provision import ACCOUNT_ID

INVOKE_PATH = re.compile(r"^/endpoints/([^/]+)/async-invocations$")
# InvokeEndpointAsync's input shapes in the pinned botocore's sagemaker-runtime model
# (service-2.json: AsyncBodyBlob, S3OutputPathExtensionHeader, FilenameHeader). botocore
# checks only minimum lengths client-side; SageMaker answers the rest with ValidationError
# ("Body and InputLocation are mutually exclusive. Provide exactly one of them.", same model).
MAX_INLINE_BODY = 128_000
MAX_PATH_EXTENSION = 512
PATH_EXTENSION = re.compile(r"^(?!s3:|https:)[a-zA-Z0-9!_.*'()/-]+$")
MAX_FILENAME = 32
FILENAME = re.compile(r"^(?!.*\..*\.)[a-zA-Z0-9][a-zA-Z0-9-_\.]*$")
DEFAULT_TTL_SECONDS = 6 * 3600
DEFAULT_CONTENT_TYPE = "application/octet-stream"
DEFAULT_INVOCATION_TIMEOUT_SECONDS = 900
MAX_INCLUDED_BODY = 128 * 1024
# While the model server is unreachable a worker keeps its request (still in the backlog)
# and tries again after this long, as requests wait on an endpoint whose container is down.
MODEL_DOWN_RETRY_SECONDS = 0.5
# Workers per container slot (plus a few): requests in S3 transfer or notification do not
# hold a slot, so more workers than slots keep every slot busy.
WORKERS_PER_SLOT = 2
EXTRA_WORKERS = 4


@dataclass
class Request:
    inference_id: str
    endpoint_name: str
    input_location: str | None
    content_type: str | None  # None: the request named none (see _process)
    accept: str | None
    custom_attributes: str | None
    ttl_seconds: int
    timeout_seconds: int
    received_time: str
    received_at: float = field(default_factory=time.monotonic)
    output_location: str = ""
    failure_location: str = ""
    body: bytes | None = field(default=None, repr=False)  # an inline payload


@dataclass(frozen=True)
class ModelFailure:
    """A container call that answered with an error (or not in time): what to notify."""

    reason: str
    body: bytes | None
    content_type: str = "text/plain"


@dataclass
class EndpointSettings:
    """One endpoint's AsyncInferenceConfig, resolved from the template."""

    name: str
    output_path: str
    failure_path: str | None
    success_topic: str | None
    error_topic: str | None
    include_response_in: tuple[str, ...]
    max_concurrency: int
    instance_count: int

    @classmethod
    def from_config(cls, name: str, config: dict[str, Any]) -> EndpointSettings:
        async_config = config.get("AsyncInferenceConfig")
        if not async_config:
            raise ValueError(f"endpoint {name} has no AsyncInferenceConfig in the template")
        output = async_config["OutputConfig"]
        notification = output.get("NotificationConfig") or {}
        variants = config.get("ProductionVariants") or [{}]
        return cls(
            name=name,
            output_path=output["S3OutputPath"],
            failure_path=output.get("S3FailurePath"),
            success_topic=notification.get("SuccessTopic"),
            error_topic=notification.get("ErrorTopic"),
            include_response_in=tuple(notification.get("IncludeInferenceResponseIn") or ()),
            # SageMaker picks a value when it is omitted; 4 is a modest local stand-in.
            max_concurrency=int(
                (async_config.get("ClientConfig") or {}).get("MaxConcurrentInvocationsPerInstance")
                or 4
            ),
            # Local mode runs one model server; an endpoint at 0 instances (scaled to zero)
            # is served as if one instance were up.
            instance_count=max(1, sum(int(v.get("InitialInstanceCount") or 1) for v in variants)),
        )


def worker_count(settings: EndpointSettings) -> int:
    # Enough workers that S3 reads and writes and notifications of some requests overlap
    # the container calls of others; the slots bound the container calls.
    return settings.max_concurrency * settings.instance_count * WORKERS_PER_SLOT + EXTRA_WORKERS


class Platform(Protocol):
    """SageMaker's own S3 and SNS calls (``platform_io.StandInPlatform`` in local mode)."""

    def get_object(self, bucket: str, key: str) -> tuple[bytes, str | None]: ...

    def put_object(self, bucket: str, key: str, body: bytes, content_type: str) -> None: ...

    def publish(self, topic_arn: str, message: str) -> None: ...


class EndpointService:
    """Queue, workers and notifications for the template's async endpoints."""

    def __init__(
        self,
        endpoints: Iterable[EndpointSettings],
        *,
        model_url: str | Mapping[str, str],
        platform: Platform,
        region: str,
    ) -> None:
        """``model_url``: the container of every endpoint, or one per endpoint name."""
        self.endpoints = {settings.name: settings for settings in endpoints}
        urls = {
            name: (model_url if isinstance(model_url, str) else model_url[name]).rstrip("/")
            for name in self.endpoints
        }
        # One pool per container, sized for the workers of every endpoint it serves.
        clients = {
            url: ContainerClient(
                url,
                connections=sum(
                    worker_count(self.endpoints[name]) for name in urls if urls[name] == url
                ),
            )
            for url in set(urls.values())
        }
        self._containers = {name: clients[url] for name, url in urls.items()}
        self.platform = platform
        self.region = region
        self._queues: dict[str, collections.deque[Request]] = {
            name: collections.deque() for name in self.endpoints
        }
        # Requests a worker holds, from leaving the queue to their notification (by object:
        # clients may reuse an inference id).
        self._in_progress: dict[str, dict[int, Request]] = {name: {} for name in self.endpoints}
        self._model_slots = {
            name: threading.BoundedSemaphore(settings.max_concurrency * settings.instance_count)
            for name, settings in self.endpoints.items()
        }
        self._cond = threading.Condition()
        self._stopping = False
        # A fault hook (PUT /local/faults): while set, workers take no queued request.
        self.paused = False
        self._threads: list[threading.Thread] = []
        self.counters: collections.Counter[str] = collections.Counter()

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        for settings in self.endpoints.values():
            for index in range(worker_count(settings)):
                thread = threading.Thread(
                    target=self._worker,
                    args=(settings,),
                    name=f"endpoint-{settings.name}-{index}",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> int:
        """Stop taking queued requests, let running ones finish; returns how many were queued.

        Requests still queued at shutdown were accepted but not started, so no output exists
        for them (what the issue requires is that none that has an output is lost: a running
        invocation is always finished and notified before the workers exit).
        """
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        # Requests a worker held while the model server was down never reached it either.
        queued = sum(len(queue) for queue in self._queues.values())
        return queued + self.counters["unreachedAtStop"]

    # -- the API --------------------------------------------------------------------------

    def invoke(
        self, endpoint_name: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, dict[str, str], bytes]:
        """One InvokeEndpointAsync call: (status, headers, body) as SageMaker answers."""
        settings = self.endpoints.get(endpoint_name)
        if settings is None:
            return error_response(
                400,
                "ValidationError",
                f"Endpoint {endpoint_name} of account {ACCOUNT_ID} not found.",
            )
        get = {key.lower(): value for key, value in headers.items()}.get
        input_location = get("x-amzn-sagemaker-inputlocation")
        problem = request_problem(
            input_location,
            body,
            get("x-amzn-sagemaker-s3outputpathextension"),
            get("x-amzn-sagemaker-filename"),
        )
        if problem:
            return error_response(400, "ValidationError", problem)
        try:
            ttl = int(get("x-amzn-sagemaker-requestttlseconds") or DEFAULT_TTL_SECONDS)
            timeout = int(
                get("x-amzn-sagemaker-invocationtimeoutseconds")
                or DEFAULT_INVOCATION_TIMEOUT_SECONDS
            )
        except ValueError:
            return error_response(400, "ValidationError", "TTL and timeout must be integers.")
        if not 1 <= ttl <= 21600 or not 1 <= timeout <= 3600:
            return error_response(
                400,
                "ValidationError",
                "RequestTTLSeconds must be 1..21600 and InvocationTimeoutSeconds 1..3600.",
            )
        inference_id = get("x-amzn-sagemaker-inference-id") or str(uuid.uuid4())
        request = Request(
            inference_id=inference_id,
            endpoint_name=endpoint_name,
            input_location=input_location or None,
            content_type=get("x-amzn-sagemaker-content-type"),
            accept=get("x-amzn-sagemaker-accept"),
            custom_attributes=get("x-amzn-sagemaker-custom-attributes"),
            ttl_seconds=ttl,
            timeout_seconds=timeout,
            received_time=iso_time(datetime.now(UTC)),
            body=None if input_location else body,
        )
        request.output_location, failure_location = result_locations(
            settings,
            inference_id,
            get("x-amzn-sagemaker-s3outputpathextension"),
            get("x-amzn-sagemaker-filename"),
        )
        response_headers = {
            "Content-Type": "application/json",
            "X-Amzn-SageMaker-OutputLocation": request.output_location,
        }
        if failure_location:
            request.failure_location = failure_location
            response_headers["X-Amzn-SageMaker-FailureLocation"] = failure_location
        with self._cond:
            if self._stopping:
                return error_response(503, "ServiceUnavailable", "local mode is shutting down.")
            self._queues[endpoint_name].append(request)
            self.counters["accepted"] += 1
            self.counters[f"{endpoint_name}:accepted"] += 1
            self._cond.notify()
        return 202, response_headers, json.dumps({"InferenceId": inference_id}).encode()

    def set_paused(self, paused: bool) -> None:
        """The fault hook's pause: workers leave queued requests in the queue while set."""
        with self._cond:
            self.paused = paused
            self._cond.notify_all()

    def progress(self) -> dict[str, int]:
        """Counts over every endpoint: accepted, queued or running, completed, failed."""
        with self._cond:
            waiting = sum(len(queue) for queue in self._queues.values())
            running = sum(len(held) for held in self._in_progress.values())
        failed = sum(self.counters[f"{name}:failed"] for name in self.endpoints)
        completed = sum(self.counters[f"{name}:processed"] for name in self.endpoints)
        return {
            "accepted": self.counters["accepted"],
            "queued": waiting + running,
            "completed": completed,
            "failed": failed,
        }

    def metrics(self) -> dict[str, dict[str, float]]:
        """The backlog metrics per endpoint, as CloudWatch's AWS/SageMaker namespace names them."""
        now = time.monotonic()
        found: dict[str, dict[str, float]] = {}
        with self._cond:
            for name, queue in self._queues.items():
                settings = self.endpoints[name]
                # SageMaker counts queued and in-progress requests in the backlog.
                in_progress = self._in_progress[name].values()
                backlog = len(queue) + len(in_progress)
                oldest = min(
                    (r.received_at for r in (*queue, *in_progress)),
                    default=None,
                )
                found[name] = {
                    "ApproximateBacklogSize": backlog,
                    "ApproximateBacklogSizePerInstance": backlog / settings.instance_count,
                    "HasBacklogWithoutCapacity": 0,  # local mode always has one instance
                    "ApproximateAgeOfOldestRequest": 0.0 if oldest is None else now - oldest,
                    # The Developer Guide's table ("Alarms and logs for tracking metrics from
                    # asynchronous endpoints") spells it InvocationsProcesssed; CloudWatch
                    # publishes InvocationsProcessed (Cloud Custodian's SageMaker metrics
                    # docs note the guide's misspelling; code reading real async endpoints'
                    # metrics queries this name). Sic in the guide, not here.
                    "InvocationsProcessed": self.counters[f"{name}:processed"],
                    "InvocationFailures": self.counters[f"{name}:failed"],
                    "ExpiredRequests": self.counters[f"{name}:expired"],
                    # Local mode's own count (async endpoints publish no Invocations metric).
                    "AcceptedRequests": self.counters[f"{name}:accepted"],
                }
        return found

    # -- the workers ----------------------------------------------------------------------

    def _next(self, settings: EndpointSettings) -> Request | None:
        queue = self._queues[settings.name]
        with self._cond:
            while (not queue or self.paused) and not self._stopping:
                self._cond.wait(timeout=1.0)
            if self._stopping:
                return None
            request = queue.popleft()
            self._in_progress[settings.name][id(request)] = request
            return request

    def _worker(self, settings: EndpointSettings) -> None:
        while True:
            request = self._next(settings)
            if request is None:
                return
            try:
                self._process(settings, request)
            finally:
                with self._cond:
                    self._in_progress[settings.name].pop(id(request), None)

    def _expired(self, settings: EndpointSettings, request: Request) -> bool:
        if time.monotonic() - request.received_at <= request.ttl_seconds:
            return False
        self.counters[f"{settings.name}:expired"] += 1
        self._fail(
            settings,
            request,
            "Request expired: it waited in the queue longer than "
            f"RequestTTLSeconds ({request.ttl_seconds} s).",
            None,
        )
        return True

    def _process(self, settings: EndpointSettings, request: Request) -> None:
        """Run one request to its notification.

        While the model server is unreachable the request stays with this worker (and in
        the backlog) and is retried every MODEL_DOWN_RETRY_SECONDS until it answers, the
        request's TTL passes or local mode stops; a request that never reached the model
        has no output, so stopping leaves it unprocessed, as the queue would.
        """
        if self._expired(settings, request):
            return
        if request.body is not None:
            payload = request.body
        else:
            assert request.input_location is not None
            try:
                bucket, key = split_s3_uri(request.input_location)
                payload, object_type = self.platform.get_object(bucket, key)
            except (ObjectUnavailable, InvalidLocationError) as error:
                reason = getattr(error, "code", None) or str(error)
                self._fail(
                    settings,
                    request,
                    f"ClientError: Failed to download input data from "
                    f"{request.input_location}: {reason}.",
                    None,
                )
                return
            # A request without ContentType (the SageMaker Python SDK's AsyncPredictor sends
            # none; it sets the serializer's type on the uploaded object instead) passes the
            # input object's Content-Type on to the container. AWS does not document this
            # (docs/local-mode.md); it is what lets the SDK's CSV and JSON serializers reach
            # a container that dispatches on Content-Type.
            if request.content_type is None and object_type:
                request.content_type = object_type
        while True:
            with self._model_slots[settings.name]:
                outcome = self._invoke_model(request, payload)
            if outcome is not None:
                break
            with self._cond:
                if self._stopping:
                    self.counters["unreachedAtStop"] += 1
                    return
            time.sleep(MODEL_DOWN_RETRY_SECONDS)
            if self._expired(settings, request):
                return
        if isinstance(outcome, ModelFailure):
            self._fail(settings, request, outcome.reason, outcome.body, outcome.content_type)
        else:
            self._succeed(settings, request, *outcome)

    def _invoke_model(
        self, request: Request, payload: bytes
    ) -> tuple[bytes, str] | ModelFailure | None:
        """The container call: (body, content type), the failure to notify, or None when
        the model server could not be reached."""
        headers = {"Content-Type": request.content_type or DEFAULT_CONTENT_TYPE}
        if request.accept:
            headers["Accept"] = request.accept
        if request.custom_attributes:
            headers["X-Amzn-SageMaker-Custom-Attributes"] = request.custom_attributes
        try:
            status, reply_headers, body = self._containers[request.endpoint_name].post(
                "/invocations", payload, headers, timeout=request.timeout_seconds
            )
        except TimeoutError:
            return ModelFailure(
                f"ClientError: The model did not respond within InvocationTimeoutSeconds "
                f"({request.timeout_seconds} s).",
                None,
            )
        except OSError:  # refused, reset: the container is down or restarting
            return None
        if status >= 400:
            model_message = body.decode("utf-8", "replace")
            kind = "client" if status < 500 else "server"
            return ModelFailure(
                f"ClientError: Received {kind} error ({status}) from primary with message "
                f'"{model_message}". See the SageMaker Endpoint logs in your account for '
                "more information.",
                body,
            )
        return body, reply_headers.get("Content-Type") or "application/octet-stream"

    def _succeed(
        self, settings: EndpointSettings, request: Request, body: bytes, content_type: str
    ) -> None:
        bucket, key = split_s3_uri(request.output_location)
        self.platform.put_object(bucket, key, body, content_type)
        message = self._message(request, "Completed")
        message["responseParameters"] = {
            "contentType": content_type,
            "outputLocation": request.output_location,
        }
        if "SUCCESS_NOTIFICATION_TOPIC" in settings.include_response_in:
            add_body(message, body)
        self.counters[f"{settings.name}:processed"] += 1
        self.counters["notified"] += 1
        if settings.success_topic:
            self.platform.publish(settings.success_topic, json.dumps(message))

    def _fail(
        self,
        settings: EndpointSettings,
        request: Request,
        reason: str,
        model_body: bytes | None,
        body_type: str = "text/plain",
    ) -> None:
        self.counters[f"{settings.name}:failed"] += 1
        message = self._message(request, "Failed")
        message["failureReason"] = reason
        if request.failure_location:
            bucket, key = split_s3_uri(request.failure_location)
            document, document_type = (
                (model_body, body_type)
                if model_body is not None
                else (reason.encode(), "text/plain")
            )
            self.platform.put_object(bucket, key, document, document_type)
            message["responseParameters"] = {"failureLocation": request.failure_location}
        if model_body is not None and "ERROR_NOTIFICATION_TOPIC" in settings.include_response_in:
            add_body(message, model_body)
        self.counters["notified"] += 1
        if settings.error_topic:
            self.platform.publish(settings.error_topic, json.dumps(message))

    def _message(self, request: Request, status: str) -> dict[str, Any]:
        parameters = {"contentType": request.content_type or DEFAULT_CONTENT_TYPE}
        if request.accept:
            parameters["accept"] = request.accept
        if request.custom_attributes:
            parameters["customAttributes"] = request.custom_attributes
        parameters["endpointName"] = request.endpoint_name
        # An inline request has no input object. AWS does not document the notification of
        # one; local mode leaves the field out, the shape the results writer must tolerate.
        if request.input_location:
            parameters["inputLocation"] = request.input_location
        return {
            "awsRegion": self.region,
            "eventTime": iso_time(datetime.now(UTC)),
            "receivedTime": request.received_time,
            "invocationStatus": status,
            "requestParameters": parameters,
            "inferenceId": request.inference_id,
            "eventVersion": "1.0",
            "eventSource": "aws:sagemaker",
            "eventName": "InferenceResult",
        }


class ContainerClient:
    """HTTP/1.1 calls to the model container over urllib3's pool of kept-alive connections.

    A new TCP connection per invocation cost more CPU in this process than the rest of the
    worker's HTTP handling (py-spy, bench/bench_local.py); SageMaker's own front end keeps
    connections to the container open as well. ``connections`` is how many calls may run at
    once (the service's worker count), so no connection is opened and dropped per call.
    urllib3 rather than a hand-kept http.client connection: it adds about 0.07 ms of CPU per
    call, under 2% of local mode's CPU per request (bench/bench_container_client.py).
    """

    def __init__(self, url: str, *, connections: int = 1) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"model URL {url!r} is not an http(s)://host:port URL")
        self._prefix = parts.path.rstrip("/")
        self._pool = urllib3.connection_from_url(
            url, maxsize=connections, block=False, retries=STALE_CONNECTION_RETRY
        )

    def post(
        self, path: str, body: bytes, headers: dict[str, str], *, timeout: float
    ) -> tuple[int, Mapping[str, str], bytes]:
        return self.request("POST", path, body, headers, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        body: bytes,
        headers: dict[str, str],
        *,
        timeout: float | None,
    ) -> tuple[int, Mapping[str, str], bytes]:
        """Send and read the whole reply; OSError (TimeoutError included) when it failed."""
        try:
            reply = self._pool.urlopen(
                method,
                self._prefix + path,
                body=body,
                headers=headers,
                timeout=timeout,
                # The container's bytes go to S3 as they are, as SageMaker stores them.
                decode_content=False,
            )
        except urllib3.exceptions.MaxRetryError as error:
            raise as_os_error(error.reason or error) from error
        except urllib3.exceptions.HTTPError as error:
            raise as_os_error(error) from error
        return reply.status, reply.headers, reply.data


# A kept-alive connection the container closed while idle fails when the next request is
# sent, before the container sees it; one retry on a fresh connection is then safe. urllib3
# retries no POST by default, nor should it retry a read timeout (the model was too slow)
# or a refused connection (the container is down: the worker waits, then tries again).
class _RetryAbortedConnection(urllib3.Retry):
    def increment(  # type: ignore[override]  # the same call, typed loosely
        self, *args: Any, **kwargs: Any
    ) -> urllib3.Retry:
        error = kwargs.get("error")
        if error is not None and is_timeout(error):
            raise error
        return super().increment(*args, **kwargs)


STALE_CONNECTION_RETRY = _RetryAbortedConnection(
    total=1, connect=0, read=1, redirect=0, status=0, other=0, allowed_methods=None
)


def is_timeout(error: BaseException | None) -> bool:
    # urllib3 files a refused connection (NewConnectionError) under its timeouts too; for
    # the service it means the container is down, not that the model was too slow.
    return isinstance(error, urllib3.exceptions.TimeoutError) and not isinstance(
        error, urllib3.exceptions.NewConnectionError
    )


def as_os_error(error: BaseException) -> OSError:
    """urllib3's failure as the OSError callers handle: TimeoutError for a timeout."""
    if isinstance(error, OSError):
        return error
    if is_timeout(error):
        return TimeoutError(str(error))
    return ConnectionError(f"model container call failed: {error}")


def request_problem(
    input_location: str | None, body: bytes, extension: str | None, filename: str | None
) -> str | None:
    """SageMaker's ValidationError message for these parameters, or None when they are valid.

    The constraints are the pinned botocore model's (see MAX_INLINE_BODY); the message
    wording follows AWS's "1 validation error detected" form, the exact text is not
    documented.
    """
    if input_location and body:
        return (
            "Body and InputLocation are mutually exclusive; provide exactly one of them, not both."
        )
    if not input_location and not body:
        return "Either Body or InputLocation must be provided; provide exactly one of them."
    if len(body) > MAX_INLINE_BODY:
        return (
            "1 validation error detected: Value at 'body' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_INLINE_BODY}"
        )
    for name, value, limit, pattern in (
        ("s3OutputPathExtension", extension, MAX_PATH_EXTENSION, PATH_EXTENSION),
        ("filename", filename, MAX_FILENAME, FILENAME),
    ):
        if value is None:
            continue
        if len(value) > limit:
            return (
                f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy "
                f"constraint: Member must have length less than or equal to {limit}"
            )
        if not pattern.match(value):
            return (
                f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy "
                f"constraint: Member must satisfy regular expression pattern: {pattern.pattern}"
            )
    return None


def result_locations(
    settings: EndpointSettings, inference_id: str, extension: str | None, filename: str | None
) -> tuple[str, str | None]:
    """Where the output and the failure object of one request go.

    InvokeEndpointAsync (API reference): S3OutputPathExtension "is appended to the Amazon
    S3 output path where the inference response payload is stored"; Filename names "the
    inference response payload stored in Amazon S3. If not specified, Amazon SageMaker AI
    generates a filename based on the inference ID". Neither says how the failure object is
    named; local mode appends the extension to S3FailurePath too and keeps the failure
    object's name `<id>-error.out` (unverified: clients must use the FailureLocation the
    call returns, as they must the OutputLocation).
    """
    suffix = f"/{extension.strip('/')}" if extension and extension.strip("/") else ""
    output = settings.output_path.rstrip("/") + suffix + f"/{filename or inference_id + '.out'}"
    failure = None
    if settings.failure_path:
        failure = settings.failure_path.rstrip("/") + suffix + f"/{inference_id}-error.out"
    return output, failure


def add_body(message: dict[str, Any], body: bytes) -> None:
    # SageMaker includes the response only up to 128 KB; larger ones stay in S3 only.
    if len(body) <= MAX_INCLUDED_BODY:
        message["responseBody"] = {
            "content": base64.b64encode(body).decode(),
            "message": "",
            "encoding": "BASE64",
        }


def error_response(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    # rest-json errors: botocore reads the code from x-amzn-ErrorType and the message from
    # the body, as SageMaker sends them.
    return (
        status,
        {"Content-Type": "application/json", "x-amzn-ErrorType": f"{code}:"},
        json.dumps({"message": message}).encode(),
    )


def wsgi_app(
    service_ref: Callable[[], EndpointService | None],
    moto_app: Any,
    faults: Faults | None = None,
    control_plane_ref: Callable[[], ControlPlane | None] | None = None,
) -> Any:
    """One WSGI app: the SageMaker runtime routes, DescribeEndpoint/ListEndpoints and
    /local/* here, the rest to moto.

    ``faults`` (``/local/faults``) adds latency to, or throttles, the calls of any service
    before they are answered, as a far region or an exhausted quota would.
    """
    faults = faults or Faults()

    def reply(
        start_response: Callable[..., Any], status: int, headers: dict[str, str], body: bytes
    ) -> Iterable[bytes]:
        reason = {200: "OK", 202: "Accepted", 400: "Bad Request"}.get(status, "Error")
        headers["Content-Length"] = str(len(body))
        start_response(f"{status} {reason}", list(headers.items()))
        return [body]

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "")
        service = service_ref()
        if path.startswith("/local/"):
            if path == "/local/metrics" and method == "GET" and service is not None:
                body = json.dumps(service.metrics()).encode()
                return reply(start_response, 200, {"Content-Type": "application/json"}, body)
            if path == "/local/faults":
                status, body = faults.handle(method, read_body(environ), service)
                return reply(start_response, status, {"Content-Type": "application/json"}, body)
        answer = faults.apply(environ)
        if answer is not None:
            return reply(start_response, *answer)
        control_plane = control_plane_ref() if control_plane_ref else None
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if control_plane is not None and control_plane.answers(target):
            return reply(start_response, *control_plane.handle(target, read_body(environ)))
        match = INVOKE_PATH.match(path)
        if match and method == "POST" and service is not None:
            headers = {
                key[5:].replace("_", "-"): value
                for key, value in environ.items()
                if key.startswith("HTTP_")
            }
            name = urllib.parse.unquote(match.group(1))
            status, response_headers, body = service.invoke(name, headers, read_body(environ))
            return reply(start_response, status, response_headers, body)
        return moto_app(environ, start_response)

    return app


def read_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return bytes(environ["wsgi.input"].read(length)) if length else b""
