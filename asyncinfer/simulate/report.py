"""Figures from a simulation result: per request, latency percentiles, instances, cost."""

from __future__ import annotations

import math
from typing import Any

from asyncinfer.run_stats import percentile
from asyncinfer.simulate.model import SimulationResult

# On-demand hourly prices of SageMaker real-time/asynchronous hosting instances in
# us-east-1 for the instance types the README mentions. Source: zircon.tech, "The real
# cost of running AI models on AWS SageMaker" (prices "for us-east-1 as of October 2025");
# read 2026-12-02. Other sources differ (e.g. USD 1.21 for ml.g5.xlarge): pass
# --price-per-hour for your region and date.
PRICES_USD_PER_HOUR = {"ml.m5.xlarge": 0.269, "ml.g5.xlarge": 1.41}
PRICE_SOURCE = (
    "zircon.tech 'The real cost of running AI models on AWS SageMaker', us-east-1, "
    "October 2025 (read 2026-12-02)"
)


def price_for(instance_type: str | None, override: float | None) -> tuple[float | None, str]:
    if override is not None:
        return override, "--price-per-hour"
    if instance_type in PRICES_USD_PER_HOUR:
        return PRICES_USD_PER_HOUR[instance_type], PRICE_SOURCE
    return None, f"no shipped price for {instance_type}; pass --price-per-hour"


def _rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def summary(result: SimulationResult, price_per_hour: float | None = None) -> dict[str, Any]:
    arrivals = result.arrivals
    # Sorted once here: percentile sorts its input too, and on sorted input that is one
    # linear pass per percentile instead of a full sort of a day's requests each.
    latencies = sorted(
        f - a for a, f in zip(arrivals, result.finished, strict=True) if f is not None
    )
    first_finish = min((f for f in result.finished if f is not None), default=None)
    first_result = None if first_finish is None or not arrivals else first_finish - arrivals[0]
    hours = result.duration / 3600.0
    instance_hours = result.instance_seconds() / 3600.0
    price, price_source = price_for(result.setup.instance_type, price_per_hour)
    served = len(latencies)
    expired = sum(1 for e in result.expired if e is not None)
    return {
        "requests": len(arrivals),
        "served": served,
        "expired": expired,
        "unfinished": len(arrivals) - served - expired,
        "firstResultSeconds": _rounded(first_result),
        "p50LatencySeconds": _rounded(percentile(latencies, 0.50)),
        "p95LatencySeconds": _rounded(percentile(latencies, 0.95)),
        "p99LatencySeconds": _rounded(percentile(latencies, 0.99)),
        "maxInstances": max(
            [int(row["instances"]) for row in result.timeline] + [_max_launched(result)]
        ),
        "instanceHours": round(instance_hours, 4),
        "hours": round(hours, 4),
        "costRatio": round(instance_hours / hours, 4) if hours else None,
        "pricePerHour": price,
        "priceSource": price_source,
        "cost": None if price is None else round(instance_hours * price, 4),
        "scalingActivities": len(result.activities),
    }


def _max_launched(result: SimulationResult) -> int:
    """Most instances running or starting at once, from their lifetimes."""
    edges: list[tuple[float, int]] = []
    for instance in result.instances:
        edges.append((instance.launched_at, 1))
        edges.append((instance.stopped_at if instance.stopped_at is not None else math.inf, -1))
    edges.sort(key=lambda e: (e[0], e[1]))
    running = peak = 0
    for _, delta in edges:
        running += delta
        peak = max(peak, running)
    return peak


def per_request(result: SimulationResult) -> list[dict[str, Any]]:
    rows = []
    for index, arrival in enumerate(result.arrivals):
        finished = result.finished[index]
        rows.append(
            {
                "index": index,
                "queuedAt": round(arrival, 3),
                "startedAt": _rounded(result.started[index]),
                "finishedAt": _rounded(finished),
                "expiredAt": _rounded(result.expired[index]),
                "latencySeconds": None if finished is None else round(finished - arrival, 3),
            }
        )
    return rows


def document(result: SimulationResult, price_per_hour: float | None) -> dict[str, Any]:
    """The --json output: setup, assumptions, summary, per-request times, timeline."""
    from dataclasses import asdict

    return {
        "setup": asdict(result.setup),
        "assumptions": asdict(result.assumptions),
        "summary": summary(result, price_per_hour),
        "activities": [asdict(a) for a in result.activities],
        "alarmChanges": [
            {"time": t, "alarm": name, "state": state} for t, name, state in result.alarm_changes
        ],
        "timeline": result.timeline,
        "requests": per_request(result),
    }
