"""The two instance-backed options of `asyncinfer advise`, both run by the scaling model:
async (the synthesized template's endpoint and policies, exactly as `simulate` runs
them) and a real-time endpoint of the same instance type."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Callable

from asyncinfer.simulate.model import (
    INVOCATIONS_PER_INSTANCE,
    Assumptions,
    EndpointSimulation,
    ScalingSetup,
    SimulationResult,
    TargetTrackingPolicy,
    Trace,
)
from asyncinfer.simulate.options import (
    ASYNC,
    LABELS,
    REALTIME,
    Admitted,
    OptionAssumptions,
    OptionResult,
    admit,
    timeout_reason,
)

UNFINISHED = "unfinished when the simulated time ended (raise --hours)"


def run_async(
    setup: ScalingSetup,
    trace: Trace,
    duration: float,
    price_per_hour: float,
    model: Assumptions,
    limits: OptionAssumptions,
    progress: Callable[[float], None] | None = None,
) -> OptionResult:
    refused: Counter[str] = Counter()
    admitted = admit(trace, ASYNC, limits, refused)
    result = EndpointSimulation(setup, admitted.trace, duration, model, progress).run()
    return _outcome(ASYNC, result, admitted, price_per_hour, refused, None)


def realtime_setup(
    endpoint: ScalingSetup, trace: Trace, limits: OptionAssumptions, fixed: int | None
) -> ScalingSetup:
    """Always on, same instance type and concurrency as `endpoint`: a fixed count, or the
    target tracking AWS recommends for real-time endpoints: the predefined
    SageMakerVariantInvocationsPerInstance metric at MAX_RPS x SAFETY_FACTOR x 60, min 1
    (SageMaker Developer Guide, "Load testing your auto scaling configuration"). MAX_RPS
    is what one instance sustains: its concurrency over the mean service time."""
    if fixed is not None:
        return dataclasses.replace(
            endpoint,
            source=f"real-time, {fixed} instance(s)",
            min_capacity=fixed,
            max_capacity=fixed,
            step_policies=(),
            target_tracking=(),
            alarms=(),
        )
    service = trace.service_seconds
    mean = sum(service) / len(service) if service else 1.0
    max_rps = endpoint.max_concurrency / mean
    return dataclasses.replace(
        endpoint,
        source="real-time, target tracking on invocations per instance",
        min_capacity=1,
        max_capacity=max(1, endpoint.max_capacity),
        step_policies=(),
        alarms=(),
        target_tracking=(
            TargetTrackingPolicy(
                name="InvocationsPerInstance",
                metric=INVOCATIONS_PER_INSTANCE,
                statistic="Sum",
                target=max_rps * limits.realtime_safety_factor * 60.0,
                # Application Auto Scaling's default for SageMaker variants.
                scale_in_cooldown=Assumptions().default_cooldown_seconds,
                scale_out_cooldown=Assumptions().default_cooldown_seconds,
            ),
        ),
    )


def run_realtime(
    endpoint: ScalingSetup,
    trace: Trace,
    duration: float,
    price_per_hour: float,
    model: Assumptions,
    limits: OptionAssumptions,
    fixed: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> OptionResult:
    refused: Counter[str] = Counter()
    admitted = admit(trace, REALTIME, limits, refused)
    setup = realtime_setup(endpoint, admitted.trace, limits, fixed)
    # A real-time request has no queue TTL: a caller waits, up to the response limit.
    always = dataclasses.replace(model, request_ttl_seconds=math.inf)
    result = EndpointSimulation(setup, admitted.trace, duration, always, progress).run()
    return _outcome(
        REALTIME, result, admitted, price_per_hour, refused, limits.realtime_timeout_seconds
    )


def _outcome(
    option: str,
    result: SimulationResult,
    admitted: Admitted,
    price_per_hour: float,
    unservable: Counter[str],
    response_limit: float | None,
) -> OptionResult:
    """Latencies of the served requests; every other request counted with its reason."""
    latencies: list[float] = []
    late = f"no response within {LABELS[option]}'s {response_limit or 0:g} s (queued behind others)"
    for index, arrival in enumerate(result.arrivals):
        finished = result.finished[index]
        if index in admitted.timed_out:
            unservable[timeout_reason(option, admitted.trace.service_seconds[index])] += 1
        elif result.expired[index] is not None:
            unservable["expired in the queue (RequestTTLSeconds)"] += 1
        elif finished is None:
            unservable[UNFINISHED] += 1
        elif response_limit is not None and finished - arrival > response_limit:
            unservable[late] += 1
        else:
            latencies.append(finished - arrival)
    latencies.sort()
    hours = result.instance_seconds() / 3600.0
    return OptionResult(
        option=option,
        cost_usd=hours * price_per_hour,
        latencies=latencies,
        unservable=unservable,
        detail={"instanceHours": round(hours, 4), "instancesLaunched": len(result.instances)},
    )
