"""Advise benchmark: a 100,000-request day through all four options (async, real-time,
serverless, batch transform) with the default template, each option's cost, and the wall
time against `simulate`'s async run of the same day as a baseline in the same run. Then
the cold start: one request on an idle endpoint with the scale-out-from-zero alarm before
(60 s x 2 periods) and after (the defaults) the tuning, and the sweep of period x
evaluation periods that chose it, over the built-in scenarios and held traces.

Run: .venv/bin/python bench/bench_advise.py   (or `make bench`)
"""

from __future__ import annotations

import copy
import json
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from asyncinfer.simulate.advise import OptionChoices, advise  # noqa: E402
from asyncinfer.simulate.model import Assumptions, EndpointSimulation, Trace  # noqa: E402
from asyncinfer.simulate.options import OPTIONS, OptionAssumptions  # noqa: E402
from asyncinfer.simulate.report import PRICE_SOURCE, price_for, summary  # noqa: E402
from asyncinfer.simulate.synth import synthesize  # noqa: E402
from asyncinfer.simulate.template import setup_from_template  # noqa: E402
from asyncinfer.simulate.trace import (  # noqa: E402
    DEFAULT_SERVICE_SECONDS,
    SCENARIOS,
    Workload,
    scenario,
)

RESULTS = REPO_ROOT / "bench" / "results" / "advise.json"
TARGET_ADVISE_SECONDS = 10.0
TARGET_FIRST_RESULT_OVER_STARTUP = 90.0
BEFORE = {"scale_out_from_zero_period_seconds": "60", "scale_out_from_zero_evaluation_periods": "2"}
PERIODS = (10, 30, 60, 120)
PAYLOAD_BYTES = 1000.0


def held_traces(service: float) -> list[Workload]:
    """Traces the scenarios miss: a request in the middle of a minute (the alarm's
    datapoint then averages half a minute of backlog), a second request while the first
    instance is still up, and one after the endpoint went back to zero."""
    return [
        Workload("mid-minute", Trace([30.0], [service]), hours=1.0),
        Workload("second-while-up", Trace([0.0, 600.0], [service, service]), hours=1.0),
        Workload("after-scale-in", Trace([0.0, 1500.0], [service, service]), hours=1.0),
    ]


def with_alarm(template: dict[str, Any], period: int, periods: int) -> dict[str, Any]:
    """The template as `--set scale_out_from_zero_period_seconds=P
    scale_out_from_zero_evaluation_periods=N` synthesizes it (the app sets
    DatapointsToAlarm to N), without a synth per point."""
    edited = copy.deepcopy(template)
    for resource in edited["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::CloudWatch::Alarm" and (
            props.get("MetricName") == "HasBacklogWithoutCapacity" and props.get("AlarmActions")
        ):
            props.update(Period=period, EvaluationPeriods=periods, DatapointsToAlarm=periods)
    return edited


def sweep(template: dict[str, Any], assumptions: Assumptions) -> list[dict[str, Any]]:
    workloads = [scenario(name, DEFAULT_SERVICE_SECONDS) for name in SCENARIOS]
    workloads += held_traces(DEFAULT_SERVICE_SECONDS)
    rows = []
    for period in PERIODS:
        for periods in range(1, 120 // period + 1):
            setup = setup_from_template(with_alarm(template, period, periods), "sweep")
            runs = {}
            for workload in workloads:
                result = EndpointSimulation(
                    setup, workload.trace, workload.hours * 3600, assumptions
                ).run()
                figures = summary(result)
                runs[workload.name] = {
                    "firstResultSeconds": figures["firstResultSeconds"],
                    "unserved": figures["expired"] + figures["unfinished"],
                    "instancesLaunched": len(result.instances),
                    "instanceHours": figures["instanceHours"],
                }
            rows.append({"periodSeconds": period, "evaluationPeriods": periods, "runs": runs})
    return rows


def fastest_without_extra_instances(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Among the settings that serve every request of every trace, the one with the
    earliest first result on `single` that launches no more instances on any trace than
    the fewest any of them launches there. Ties go to the standard-resolution (60 s)
    alarm: shorter periods on a metric published each minute get no data most periods
    and cost more (CloudWatch API Reference, PutMetricAlarm, Period)."""
    serving = [r for r in rows if all(run["unserved"] == 0 for run in r["runs"].values())]
    fewest = {
        name: min(r["runs"][name]["instancesLaunched"] for r in serving) for name in rows[0]["runs"]
    }
    candidates = [
        r
        for r in serving
        if all(run["instancesLaunched"] <= fewest[name] for name, run in r["runs"].items())
    ]
    return min(
        candidates,
        key=lambda r: (r["runs"]["single"]["firstResultSeconds"], r["periodSeconds"] != 60),
    )


def first_result(template_path: Path, assumptions: Assumptions) -> float | None:
    template = json.loads(template_path.read_text(encoding="utf-8"))
    setup = setup_from_template(template, str(template_path))
    workload = scenario("single", DEFAULT_SERVICE_SECONDS)
    result = EndpointSimulation(setup, workload.trace, workload.hours * 3600, assumptions).run()
    figures = summary(result)
    assert len(result.instances) == 1, "one request must start exactly one instance"
    value = figures["firstResultSeconds"]
    return None if value is None else float(value)


def main() -> int:
    assumptions = Assumptions()
    after_path = synthesize({}, REPO_ROOT)
    before_path = synthesize(BEFORE, REPO_ROOT)
    before = first_result(before_path, assumptions)
    after = first_result(after_path, assumptions)

    template = json.loads(after_path.read_text(encoding="utf-8"))
    setup = setup_from_template(template, "default")
    day = scenario("diurnal", DEFAULT_SERVICE_SECONDS)
    trace = Trace(
        day.trace.arrivals,
        day.trace.service_seconds,
        [PAYLOAD_BYTES] * len(day.trace.arrivals),
    )
    price, _ = price_for(setup.instance_type, None)
    assert price is not None
    duration = day.hours * 3600
    started = time.perf_counter()
    EndpointSimulation(setup, trace, duration, assumptions).run()
    simulate_seconds = time.perf_counter() - started
    started = time.perf_counter()
    advice = advise(
        setup,
        trace,
        duration,
        price,
        PRICE_SOURCE,
        assumptions,
        OptionAssumptions(),
        OptionChoices(),
    )
    advise_seconds = time.perf_counter() - started
    document = advice.document()

    rows = sweep(json.loads(before_path.read_text(encoding="utf-8")), assumptions)
    chosen = fastest_without_extra_instances(rows)
    startup = assumptions.instance_startup_seconds
    first_target = startup + TARGET_FIRST_RESULT_OVER_STARTUP
    body = {
        "command": ".venv/bin/python bench/bench_advise.py",
        "targets": {
            "adviseSeconds": f"<= {TARGET_ADVISE_SECONDS:g} on this machine",
            "firstResultSeconds.after": f"<= instance_startup_seconds + "
            f"{TARGET_FIRST_RESULT_OVER_STARTUP:g} = {first_target:g}",
        },
        "day": {
            "scenario": "diurnal",
            "requests": len(trace.arrivals),
            "payloadBytes": PAYLOAD_BYTES,
            "serviceSeconds": DEFAULT_SERVICE_SECONDS,
            "instanceType": setup.instance_type,
            "pricePerHour": price,
        },
        "adviseSeconds": round(advise_seconds, 3),
        "simulateSeconds": round(simulate_seconds, 3),
        "adviseOverSimulate": round(advise_seconds / simulate_seconds, 2),
        "costUsd": {name: document["options"][name]["costUsd"] for name in OPTIONS},
        "p95LatencySeconds": {
            name: document["options"][name]["p95LatencySeconds"] for name in OPTIONS
        },
        "cheapest": document["cheapest"],
        "firstResultSeconds": {
            "scenario": "single",
            "instanceStartupSeconds": startup,
            "before": before,
            "beforeAlarm": "HasBacklogWithoutCapacity, 60 s x 2 periods",
            "after": after,
            "afterAlarm": "the defaults (stacks/config.py)",
        },
        "coldStartSweep": {
            "note": "alarm period x evaluation periods (<= 120 s), on the built-in scenarios "
            "and held traces; instancesLaunched counts every instance a run starts",
            "chosen": {k: chosen[k] for k in ("periodSeconds", "evaluationPeriods")},
            "rows": rows,
        },
    }
    RESULTS.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: body[k] for k in ("adviseSeconds", "costUsd", "firstResultSeconds")}))
    print("chosen:", body["coldStartSweep"]["chosen"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
