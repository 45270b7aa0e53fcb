"""PNG output: timeline (requests waiting, instances desired/in service with the moments an
instance is asked for and comes into service, alarm states by role) and a latency CDF for
each policy side by side; cost against p95 for a sweep; cost and latency per option for
`advise`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from asyncinfer.simulate.advise import Advice, verdict
from asyncinfer.simulate.model import ALARM, INSUFFICIENT, OK, SimulationResult
from asyncinfer.simulate.options import IN_WORDS
from asyncinfer.simulate.report import summary

STATE_LEVEL = {OK: 0, INSUFFICIENT: 0.5, ALARM: 1}


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        from asyncinfer.errors import ConfigurationError

        raise ConfigurationError(
            "--plot needs matplotlib, which is not installed; expected `make setup` or "
            "`pip install asyncinfer[simulate]`"
        ) from None

    matplotlib.use("Agg")  # files only; no display
    import matplotlib.pyplot as plt

    return plt


def alarm_role(result: SimulationResult, name: str) -> str:
    """What an alarm does, in words, for a plot lane."""
    if name.startswith("TargetTracking-"):
        return "target tracking high" if name.endswith("AlarmHigh") else "target tracking low"
    metric = next((a.metric for a in result.setup.alarms if a.name == name), name)
    if metric == "HasBacklogWithoutCapacity":
        return "scale out of zero"
    return f"{metric} alarm"


def _headline(label: str, result: SimulationResult, price_per_hour: float | None) -> str:
    figures = summary(result, price_per_hour)
    first = figures["firstResultSeconds"]
    cost = figures["cost"]
    return (
        f"{label}: first result "
        + ("never" if first is None else f"after {first:g} s")
        + (f", USD {cost:.4f}" if cost is not None else "")
        + f", {figures['instanceHours']:g} instance-hours"
    )


OPTION_COLOURS = {
    "async": "tab:blue",
    "realtime": "tab:red",
    "serverless": "tab:orange",
    "batch": "tab:purple",
}


def _latency_cdf(
    axis: Any, latencies: list[float], total: int, label: str, colour: str | None = None
) -> None:
    """Fraction of all requests answered within x seconds, x on a log scale (latencies
    span a fraction of a second to hours); unserved requests keep the curve below 1."""
    if latencies and total:
        axis.step(
            [latencies[0], *latencies],
            [0.0, *((i + 1) / total for i in range(len(latencies)))],
            where="post",
            label=label,
            color=colour,
        )
    axis.set_xscale("log")
    if latencies:
        # Whole decades, so the axis has labelled ticks however narrow the spread.
        low = 10 ** math.floor(math.log10(max(latencies[0], 1e-3)))
        high = 10 ** math.ceil(math.log10(max(latencies[-1], 1e-3)) + 1e-9)
        left, right = axis.get_xlim() if axis.lines[:-1] else (low, high)
        axis.set_xlim(min(left, low), max(right, high))
    axis.set_xlabel("end-to-end latency (s, log scale)")
    axis.set_ylabel("fraction of requests answered")
    axis.set_ylim(0, 1.02)


def draw(
    results: dict[str, SimulationResult], path: Path, price_per_hour: float | None = None
) -> None:
    plt = _pyplot()
    columns = len(results)
    figure, axes = plt.subplots(4, columns, figsize=(7 * columns, 12), squeeze=False)
    for column, (label, result) in enumerate(results.items()):
        minutes = [row["time"] / 60 for row in result.timeline]
        waiting, instances, alarms, cdf = (axes[r][column] for r in range(4))
        waiting.step(
            minutes, [row["waiting"] for row in result.timeline], where="post", label="waiting"
        )
        waiting.step(
            minutes, [row["inFlight"] for row in result.timeline], where="post", label="in flight"
        )
        waiting.set_title(_headline(label, result, price_per_hour), fontsize="medium")
        waiting.set_ylabel("requests")
        waiting.legend(loc="upper right")
        instances.step(
            minutes, [row["desired"] for row in result.timeline], where="post", label="desired"
        )
        instances.step(
            minutes, [row["inService"] for row in result.timeline], where="post", label="in service"
        )
        asked = [a.time / 60 for a in result.activities if a.to_capacity > a.from_capacity]
        ready = [i.ready_at / 60 for i in result.instances if i.ready_at <= result.duration]
        for moments, style, text in (
            (asked, "--", "instance asked for"),
            (ready, ":", "instance in service"),
        ):
            for n, moment in enumerate(moments):
                instances.axvline(
                    moment, linestyle=style, color="grey" if style == "--" else "green",
                    label=text if n == 0 else None,
                )  # fmt: skip
        instances.set_ylabel("instances")
        instances.legend(loc="upper right", fontsize="small")
        roles = [alarm_role(result, name) for name in result.alarm_names]
        for lane, name in enumerate(result.alarm_names):
            times, levels = [0.0], [0.0]
            for when, alarm, state in result.alarm_changes:
                if alarm == name:
                    times.append(when / 60)
                    levels.append(STATE_LEVEL[state])
            times.append(result.duration / 60)
            levels.append(levels[-1])
            alarms.step(times, [lane * 1.5 + 0.8 * level for level in levels], where="post")
        alarms.set_yticks([lane * 1.5 + 0.4 for lane in range(len(roles))], roles)
        alarms.set_ylabel("alarm: low OK, high ALARM")
        alarms.set_xlabel("minutes")
        latencies = sorted(
            f - a for a, f in zip(result.arrivals, result.finished, strict=True) if f is not None
        )
        _latency_cdf(cdf, latencies, len(result.arrivals), label)
        cdf.set_title("latency: expired and unfinished requests keep it below 1", fontsize="medium")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def draw_advice(advice: Advice, path: Path) -> None:
    """Cost per option and the latency distributions side by side; the title says which
    option is cheapest among those that serve every request."""
    plt = _pyplot()
    figure, (costs, cdf) = plt.subplots(1, 2, figsize=(14, 5.5))
    ranked = advice.ranked()
    cheapest = advice.cheapest
    names = [IN_WORDS[r.option] for r in ranked]
    bars = costs.barh(
        names,
        [r.cost_usd for r in ranked],
        color=[OPTION_COLOURS[r.option] for r in ranked],
        hatch=["" if r.serves_everything else "//" for r in ranked],
        alpha=0.85,
    )
    for bar, result in zip(bars, ranked, strict=True):
        refused = sum(result.unservable.values())
        note = f" USD {result.cost_usd:.4g}"
        note += f"  cannot serve {refused}" if refused else ""
        note += "  <- cheapest" if result.option == cheapest else ""
        costs.annotate(
            note,
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            va="center",
            fontweight="bold" if result.option == cheapest else "normal",
        )
    costs.invert_yaxis()  # cheapest on top
    costs.set_xlabel("cost for this trace (USD)")
    costs.set_xlim(0, max([r.cost_usd for r in ranked] + [1e-9]) * 1.6)
    costs.set_title("cost (hatched: cannot serve every request)", fontsize="medium")
    for result in ranked:
        p95 = result.figures()["p95LatencySeconds"]
        label = f"{IN_WORDS[result.option]} (p95 {'-' if p95 is None else f'{p95:g} s'})"
        _latency_cdf(cdf, result.latencies, advice.requests, label, OPTION_COLOURS[result.option])
    cdf.legend(loc="lower right", fontsize="small")
    cdf.set_title("latency, queueing and cold starts included", fontsize="medium")
    figure.suptitle(
        f"{verdict(advice)} {advice.requests:,} requests over {advice.hours:g} h.",
        fontsize="large",
    )
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def draw_sweep(name: str, rows: list[dict[str, Any]], path: Path) -> None:
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(7, 5))
    for row in rows:
        x, y = (
            row["cost"] if row["cost"] is not None else row["instanceHours"],
            row["p95LatencySeconds"],
        )
        if y is None:
            continue
        axis.scatter([x], [y])
        axis.annotate(f"{name}={row['value']}", (x, y))
    axis.set_xlabel("cost (USD)" if rows and rows[0]["cost"] is not None else "instance-hours")
    axis.set_ylabel("p95 end-to-end latency (s)")
    axis.set_title(f"sweep of {name}")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
