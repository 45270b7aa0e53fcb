"""The serverless option of `asyncinfer advise`: SageMaker Serverless Inference with a
memory size, a max concurrency and, when asked, provisioned concurrency.

A request takes a warm container when one is idle (provisioned first, then the most
recently used), else starts a new one (a cold start) while fewer than max concurrency
exist, else waits for the first to free up (choice: as if the caller retried a throttled
request at once). An on-demand container idle for `serverless_idle_seconds` is gone.
Billed: memory x processing seconds (cold starts are not billed: "you pay only for the
compute capacity used to process inference requests", SageMaker Developer Guide,
"Deploy models with Amazon SageMaker Serverless Inference"); provisioned containers
for the whole simulated time at the same rate (choice: AWS prices them apart).
"""

from __future__ import annotations

import heapq
from collections import Counter, deque

from asyncinfer.errors import ConfigurationError
from asyncinfer.simulate.model import Trace
from asyncinfer.simulate.options import (
    SERVERLESS,
    OptionAssumptions,
    OptionResult,
    admit,
    timeout_reason,
)

# ProductionVariantServerlessConfig (SageMaker API Reference): MemorySizeInMB in 1 GB
# steps from 1024 to 6144; MaxConcurrency and ProvisionedConcurrency 1..200, provisioned
# <= max.
MEMORY_SIZES_MB = (1024, 2048, 3072, 4096, 5120, 6144)
MAX_CONCURRENCY = 200
# The SageMaker Python SDK's ServerlessInferenceConfig defaults.
DEFAULT_MEMORY_MB = 2048
DEFAULT_MAX_CONCURRENCY = 5


def check_config(memory_mb: int, max_concurrency: int, provisioned: int) -> None:
    if memory_mb not in MEMORY_SIZES_MB:
        raise ConfigurationError(
            f"--serverless-memory-mb {memory_mb} is not a serverless memory size; expected "
            f"one of {', '.join(map(str, MEMORY_SIZES_MB))}"
        )
    if not 1 <= max_concurrency <= MAX_CONCURRENCY:
        raise ConfigurationError(
            f"--serverless-max-concurrency {max_concurrency} is out of range; expected "
            f"1..{MAX_CONCURRENCY}"
        )
    if not 0 <= provisioned <= max_concurrency:
        raise ConfigurationError(
            f"--serverless-provisioned {provisioned} is out of range; expected 0..the max "
            f"concurrency ({max_concurrency})"
        )


def run_serverless(
    trace: Trace,
    duration: float,
    limits: OptionAssumptions,
    *,
    memory_mb: int = DEFAULT_MEMORY_MB,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    provisioned: int = 0,
) -> OptionResult:
    check_config(memory_mb, max_concurrency, provisioned)
    unservable: Counter[str] = Counter()
    admitted = admit(trace, SERVERLESS, limits, unservable)
    cold = limits.serverless_cold_start_seconds
    idle_limit = limits.serverless_idle_seconds
    busy: list[tuple[float, bool]] = []  # (free at, provisioned) of working containers
    idle_provisioned = provisioned
    idle_on_demand: deque[float] = deque()  # when each went idle, oldest first
    on_demand = 0  # on-demand containers alive (busy or idle)
    cold_starts = 0
    billed_seconds = 0.0
    latencies: list[float] = []
    late = f"no response within serverless's {limits.serverless_timeout_seconds:g} s"
    now = 0.0
    arrivals, service = admitted.trace.arrivals, admitted.trace.service_seconds
    for index, arrival in enumerate(arrivals):
        now = max(now, arrival)  # first come, first served
        while busy and busy[0][0] <= now:
            freed, is_provisioned = heapq.heappop(busy)
            if is_provisioned:
                idle_provisioned += 1
            else:
                idle_on_demand.append(freed)
        while idle_on_demand and now - idle_on_demand[0] > idle_limit:
            idle_on_demand.popleft()
            on_demand -= 1
        if idle_provisioned:
            idle_provisioned -= 1
            start, is_provisioned = now, True
        elif idle_on_demand:
            idle_on_demand.pop()
            start, is_provisioned = now, False
        elif on_demand + provisioned < max_concurrency:
            on_demand += 1
            cold_starts += 1
            start, is_provisioned = now + cold, False
        else:
            # Every container busy: wait for the first to free up; it is warm.
            start, is_provisioned = heapq.heappop(busy)
            now = start
        finish = start + service[index]
        heapq.heappush(busy, (finish, is_provisioned))
        billed_seconds += service[index]
        if index in admitted.timed_out:
            unservable[timeout_reason(SERVERLESS, service[index])] += 1
        elif finish - arrival > limits.serverless_timeout_seconds:
            unservable[late] += 1
        else:
            latencies.append(finish - arrival)
    gb = memory_mb / 1024.0
    rate = limits.serverless_usd_per_gb_second
    cost = gb * rate * (billed_seconds + provisioned * duration)
    latencies.sort()
    return OptionResult(
        option=SERVERLESS,
        cost_usd=cost,
        latencies=latencies,
        unservable=unservable,
        detail={"coldStarts": cold_starts, "gbSeconds": round(gb * billed_seconds, 3)},
    )
