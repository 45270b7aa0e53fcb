"""Scaling benchmark: the default template against the walkthrough's policy (seed), same
startup time, through the simulator. Writes bench/results/scaling.json laid out as
scenarios.<scenario>.<policy>.<figure>, plus the simulator's own speed on the diurnal day
and, as a baseline in the same run, a plain FIFO queue over the same trace.

Run: .venv/bin/python bench/bench_scaling.py   (or `make bench`)
"""

from __future__ import annotations

import collections
import heapq
import json
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from asyncinfer.simulate.model import Assumptions, EndpointSimulation, Trace  # noqa: E402
from asyncinfer.simulate.report import summary  # noqa: E402
from asyncinfer.simulate.synth import synthesize  # noqa: E402
from asyncinfer.simulate.template import read_setup, seed_setup  # noqa: E402
from asyncinfer.simulate.trace import DEFAULT_SERVICE_SECONDS, scenario  # noqa: E402

RESULTS = REPO_ROOT / "bench" / "results" / "scaling.json"
FIGURES = {
    "single": ("firstResultSeconds", "expired", "maxInstances"),
    "seed-walkthrough": ("firstResultSeconds", "expired", "maxInstances"),
    "diurnal": ("instanceHours", "cost", "costRatio", "p95LatencySeconds"),
    "burst": ("p95LatencySeconds", "maxInstances"),
}


def plain_queue_seconds(trace: Trace, servers: int) -> float:
    """Baseline: the same trace through a bare FIFO queue with fixed servers."""
    started = time.perf_counter()
    free = servers
    finishing: list[float] = []
    waiting: collections.deque[int] = collections.deque()
    for index, arrival in enumerate(trace.arrivals):
        while finishing and finishing[0] <= arrival:
            heapq.heappop(finishing)
            free += 1
            if waiting:
                waiting.popleft()
                free -= 1
                heapq.heappush(finishing, arrival + trace.service_seconds[index])
        if free:
            free -= 1
            heapq.heappush(finishing, arrival + trace.service_seconds[index])
        else:
            waiting.append(index)
    return time.perf_counter() - started


def main() -> int:
    assumptions = Assumptions()
    template_path = synthesize({}, REPO_ROOT)
    template = read_setup(template_path)
    policies = {"template": template, "seed": seed_setup(template)}
    scenarios: dict[str, dict[str, dict[str, object]]] = {}
    speed = None
    diurnal_run: dict[str, object] = {}
    for name, figures in FIGURES.items():
        workload = scenario(name, DEFAULT_SERVICE_SECONDS)
        scenarios[name] = {}
        for policy, setup in policies.items():
            simulation = EndpointSimulation(
                setup, workload.trace, workload.hours * 3600, assumptions
            )
            result = simulation.run()
            values = summary(result)
            scenarios[name][policy] = {figure: values[figure] for figure in figures}
            if name == "diurnal" and policy == "template":
                speed = len(workload.trace.arrivals) / result.wall_seconds
                diurnal_run = {
                    "requests": len(workload.trace.arrivals),
                    "wallSeconds": round(result.wall_seconds, 3),
                    "wallSecondsRatioToPlainQueue": round(
                        result.wall_seconds
                        / plain_queue_seconds(workload.trace, template.max_concurrency),
                        2,
                    ),
                }
    template_single: dict[str, Any] = scenarios["single"]["template"]
    targets = {
        "single.template.firstResultSeconds": "<= instanceStartupSeconds + 150",
        "single.seed.firstResultSeconds": "null (the seed policy never serves one request)",
        "diurnal.template.costRatio": "<= 0.5 (against one instance always on)",
        "simulatedRequestsPerSecond": ">= 10000 (a 100,000-request day in <= 10 s)",
    }
    met = {
        "single.template.firstResultSeconds": template_single["firstResultSeconds"] is not None
        and template_single["firstResultSeconds"] <= assumptions.instance_startup_seconds + 150,
        "single.seed.firstResultSeconds": scenarios["single"]["seed"]["firstResultSeconds"] is None,
        "diurnal.template.costRatio": float(str(scenarios["diurnal"]["template"]["costRatio"]))
        <= 0.5,
        "simulatedRequestsPerSecond": speed is not None and speed >= 10000,
    }
    body = {
        "command": ".venv/bin/python bench/bench_scaling.py",
        "template": "default settings (synthesized in this run)",
        "instanceStartupSeconds": assumptions.instance_startup_seconds,
        "serviceSeconds": DEFAULT_SERVICE_SECONDS,
        "datapointDelaySeconds": assumptions.datapoint_delay_seconds,
        "scenarios": scenarios,
        "simulatedRequestsPerSecond": round(speed or 0.0),
        "diurnalRun": diurnal_run,
        "targets": targets,
        "targetsMet": met,
    }
    RESULTS.write_text(json.dumps(body, indent=2) + "\n")
    print(json.dumps(body, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
