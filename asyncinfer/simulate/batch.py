"""The batch option of `asyncinfer advise`: a transform job every `every` seconds for what
arrived since the last one, on the same instance type.

A job at k x every takes the requests that arrived in [(k-1) x every, k x every), starts
its instances (`batch_startup_seconds`), then processes them first come, first served on
instance count x concurrency slots; it is billed from its start until its last request
finishes (per second, like hosting). Jobs do not wait for each other.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter

from asyncinfer.simulate.model import Trace
from asyncinfer.simulate.options import (
    BATCH,
    OptionAssumptions,
    OptionResult,
    admit,
    timeout_reason,
)


def run_batch(
    trace: Trace,
    every: float,
    price_per_hour: float,
    concurrency: int,
    limits: OptionAssumptions,
) -> OptionResult:
    unservable: Counter[str] = Counter()
    admitted = admit(trace, BATCH, limits, unservable)
    arrivals, service = admitted.trace.arrivals, admitted.trace.service_seconds
    slots_per_job = max(1, limits.batch_instance_count * concurrency)
    latencies: list[float] = []
    job_seconds = 0.0
    jobs = 0
    index = 0
    while index < len(arrivals):
        job_start = (math.floor(arrivals[index] / every + 1e-9) + 1) * every
        ready = job_start + limits.batch_startup_seconds
        slots = [ready] * slots_per_job
        end = ready
        jobs += 1
        while index < len(arrivals) and arrivals[index] < job_start:
            start = heapq.heappop(slots)
            finish = start + service[index]
            heapq.heappush(slots, finish)
            end = max(end, finish)
            if index in admitted.timed_out:
                unservable[timeout_reason(BATCH, service[index])] += 1
            else:
                latencies.append(finish - arrivals[index])
            index += 1
        job_seconds += end - job_start
    instance_hours = job_seconds * limits.batch_instance_count / 3600.0
    latencies.sort()
    return OptionResult(
        option=BATCH,
        cost_usd=instance_hours * price_per_hour * limits.batch_price_factor,
        latencies=latencies,
        unservable=unservable,
        detail={"jobs": jobs, "instanceHours": round(instance_hours, 4)},
    )
