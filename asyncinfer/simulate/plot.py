"""PNG output: timeline (requests waiting, instances desired/in service, alarm states) and
a latency CDF for each policy side by side; cost against p95 for a sweep."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from asyncinfer.simulate.model import ALARM, INSUFFICIENT, OK, SimulationResult

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


def draw(results: dict[str, SimulationResult], path: Path) -> None:
    plt = _pyplot()
    columns = len(results)
    figure, axes = plt.subplots(4, columns, figsize=(7 * columns, 11), squeeze=False)
    for column, (label, result) in enumerate(results.items()):
        minutes = [row["time"] / 60 for row in result.timeline]
        waiting, instances, alarms, cdf = (axes[r][column] for r in range(4))
        waiting.step(
            minutes, [row["waiting"] for row in result.timeline], where="post", label="waiting"
        )
        waiting.step(
            minutes, [row["inFlight"] for row in result.timeline], where="post", label="in flight"
        )
        waiting.set_title(f"{label}: requests")
        waiting.set_ylabel("requests")
        waiting.legend(loc="upper right")
        instances.step(
            minutes, [row["desired"] for row in result.timeline], where="post", label="desired"
        )
        instances.step(
            minutes, [row["inService"] for row in result.timeline], where="post", label="in service"
        )
        instances.set_ylabel("instances")
        instances.legend(loc="upper right")
        for offset, name in enumerate(result.alarm_names):
            times, levels = [0.0], [0.0]
            for when, alarm, state in result.alarm_changes:
                if alarm == name:
                    times.append(when / 60)
                    levels.append(STATE_LEVEL[state])
            times.append(result.duration / 60)
            levels.append(levels[-1])
            alarms.step(
                times, [offset * 1.5 + level for level in levels], where="post", label=name[:48]
            )
        alarms.set_yticks([])
        alarms.set_ylabel("alarm (low OK, high ALARM)")
        alarms.set_xlabel("minutes")
        alarms.legend(loc="upper right", fontsize="x-small")
        latencies = sorted(
            f - a for a, f in zip(result.arrivals, result.finished, strict=True) if f is not None
        )
        if latencies:
            cdf.plot(latencies, [(i + 1) / len(result.arrivals) for i in range(len(latencies))])
        cdf.set_xlabel("end-to-end latency (s)")
        cdf.set_ylabel("fraction of requests")
        cdf.set_ylim(0, 1.02)
        cdf.set_title("latency CDF (expired and unfinished never reach 1)")
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
