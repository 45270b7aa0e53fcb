"""What `asyncinfer advise` compares: each option's limits, prices and start-up times
(`OptionAssumptions`, every field sourced and dated in docs/choosing.md), and what one
option did with a trace (`OptionResult`).

Sizes follow AWS's own arithmetic: the real-time limit is the InvokeEndpoint API's
6,291,456 bytes, so "MB" here is 2**20 bytes and "GB" 2**30.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from asyncinfer.run_stats import percentile
from asyncinfer.simulate.model import Trace

MIB = 1024 * 1024
GIB = 1024 * MIB

ASYNC, REALTIME, SERVERLESS, BATCH = "async", "realtime", "serverless", "batch"
OPTIONS = (ASYNC, REALTIME, SERVERLESS, BATCH)
IN_WORDS = {
    ASYNC: "asynchronous (this stack)",
    REALTIME: "real-time endpoint",
    SERVERLESS: "serverless",
    BATCH: "batch transform",
}


@dataclass(frozen=True, kw_only=True)
class OptionAssumptions:
    """Every limit, price and start-up time of the four options (docs/choosing.md)."""

    realtime_max_payload_bytes: float = 6_291_456
    """InvokeEndpoint request Body, at most 6,291,456 bytes (SageMaker Runtime API
    Reference, InvokeEndpoint; botocore 1.44.8's service model says the same)."""
    realtime_timeout_seconds: float = 60.0
    """"A customer's model containers must respond to requests within 60 seconds"
    (InvokeEndpoint API Reference)."""
    realtime_safety_factor: float = 0.5
    """Target of SageMakerVariantInvocationsPerInstance = MAX_RPS x SAFETY_FACTOR x 60;
    "start testing with a SAFETY_FACTOR of 0.5" (SageMaker Developer Guide, "Load testing
    your auto scaling configuration")."""
    serverless_max_payload_bytes: float = 4 * MIB
    """"The maximum request and response payload size for serverless invocations is 4 MB"
    (SageMaker Developer Guide, "Invoke a serverless endpoint")."""
    serverless_timeout_seconds: float = 60.0
    """"The timeout for the container to respond to inference requests to /invocations is
    1 minute" (same page)."""
    serverless_cold_start_seconds: float = 30.0
    """Choice: AWS gives no figure, only a bound (model download and /ping within 3
    minutes, same page); third-party reports range from 1-5 s (wring.co) to 30-60 s
    (deploybase.ai) for larger models."""
    serverless_idle_seconds: float = 300.0
    """Choice: how long an idle serverless container stays warm; AWS documents none."""
    serverless_usd_per_gb_second: float = 0.00002
    """On-demand compute, per GB of memory per second of processing, us-east-1. Third-party
    only: AWS's pricing page renders its prices in the browser; oneuptime.com, "How to Use
    SageMaker Serverless Inference" (2026-02-12): "approximately $0.0000200 per second per
    GB of memory". Read 2026-12-02."""
    serverless_service_time_factor: float = 1.0
    """Choice: a request takes this times its instance service seconds on serverless
    (CPU only, memory-sized; AWS publishes no comparison)."""
    async_max_payload_bytes: float = 1 * GIB
    """"Large payload sizes (up to 1GB)" (SageMaker Developer Guide, "Asynchronous
    inference")."""
    async_timeout_seconds: float = 3600.0
    """InvocationTimeoutSeconds at most 3,600 (default 900; InvokeEndpointAsync API
    Reference): assumes the caller raises it for long requests."""
    batch_max_payload_bytes: float = 100 * MIB
    """MaxPayloadInMB at most 100 per record (CreateTransformJob API Reference); 0 means no
    limit: MaxPayloadInMB=0 streams with HTTP chunked encoding, which only some containers
    support (same reference)."""
    batch_timeout_seconds: float = 3600.0
    """ModelClientConfig.InvocationsTimeoutInSeconds at most 3,600 (default 600;
    SageMaker API Reference, ModelClientConfig)."""
    batch_startup_seconds: float = 300.0
    """Choice: a transform job's instance provisioning and container start, taken equal to
    an endpoint instance's start-up (the simulator's `instance_startup_seconds`); AWS
    documents no figure."""
    batch_instance_count: int = 1
    """Choice: instances per transform job (TransformResources.InstanceCount)."""
    batch_price_factor: float = 1.0
    """Choice: batch transform instance-hours cost this times the hosting price of the
    same instance type (AWS prices them in separate tables)."""


@dataclass
class OptionResult:
    """One option's outcome for one trace."""

    option: str
    cost_usd: float
    latencies: list[float]  # served requests, sorted, end to end
    unservable: Counter[str] = field(default_factory=Counter)  # reason -> requests
    detail: dict[str, float] = field(default_factory=dict)  # instance-hours, cold starts, jobs

    def figures(self) -> dict[str, object]:
        """The --json object of this option, keys exactly as issue 24 names them."""
        return {
            "costUsd": round(self.cost_usd, 6),
            "p50LatencySeconds": _rounded(percentile(self.latencies, 0.50)),
            "p95LatencySeconds": _rounded(percentile(self.latencies, 0.95)),
            "p99LatencySeconds": _rounded(percentile(self.latencies, 0.99)),
            "unservable": sum(self.unservable.values()),
            "unservableReasons": dict(sorted(self.unservable.items())),
        }

    @property
    def serves_everything(self) -> bool:
        return not self.unservable


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


@dataclass(frozen=True)
class Admitted:
    """The requests an option accepts, as a trace, with their indices in the original;
    processing capped at the option's timeout (a timed-out request still holds its
    capacity until the timeout, then fails)."""

    trace: Trace
    indices: list[int]
    timed_out: set[int]  # indices into the admitted trace


LABELS = {ASYNC: "async", REALTIME: "real-time", SERVERLESS: "serverless", BATCH: "batch"}


def limits_of(option: str, limits: OptionAssumptions) -> tuple[float, float, float]:
    """An option's payload limit (0: none), timeout, and service time factor."""
    if option == REALTIME:
        return limits.realtime_max_payload_bytes, limits.realtime_timeout_seconds, 1.0
    if option == SERVERLESS:
        return (
            limits.serverless_max_payload_bytes,
            limits.serverless_timeout_seconds,
            limits.serverless_service_time_factor,
        )
    if option == BATCH:
        return limits.batch_max_payload_bytes, limits.batch_timeout_seconds, 1.0
    return limits.async_max_payload_bytes, limits.async_timeout_seconds, 1.0


def admit(trace: Trace, option: str, limits: OptionAssumptions, refused: Counter[str]) -> Admitted:
    """Split off the requests over the option's payload limit (counted in `refused`, with
    the reason; 0: no limit); cap the others' processing at its timeout."""
    label = LABELS[option]
    max_payload_bytes, timeout_seconds, service_factor = limits_of(option, limits)
    payloads: Sequence[float] = trace.payload_bytes or [0.0] * len(trace.arrivals)
    arrivals: list[float] = []
    service: list[float] = []
    kept: list[int] = []
    timed_out: set[int] = set()
    for index, (arrival, seconds, size) in enumerate(
        zip(trace.arrivals, trace.service_seconds, payloads, strict=True)
    ):
        if max_payload_bytes and size > max_payload_bytes:
            refused[f"payload over {label}'s limit of {max_payload_bytes:,.0f} bytes"] += 1
            continue
        seconds *= service_factor
        if seconds > timeout_seconds:
            timed_out.add(len(kept))
            seconds = timeout_seconds
        arrivals.append(arrival)
        service.append(seconds)
        kept.append(index)
    return Admitted(Trace(arrivals, service), kept, timed_out)


def timeout_reason(option: str, timeout_seconds: float) -> str:
    return f"processing longer than {LABELS[option]}'s {timeout_seconds:g} s timeout"
