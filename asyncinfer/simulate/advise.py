"""`asyncinfer advise`: one trace through async, real-time, serverless and batch
transform; cost, latency and what each cannot serve, cheapest first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from asyncinfer.simulate.batch import run_batch
from asyncinfer.simulate.endpoints import run_async, run_realtime
from asyncinfer.simulate.model import Assumptions, ScalingSetup, Trace
from asyncinfer.simulate.options import (
    ASYNC,
    BATCH,
    IN_WORDS,
    OPTIONS,
    REALTIME,
    SERVERLESS,
    OptionAssumptions,
    OptionResult,
)
from asyncinfer.simulate.serverless import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MEMORY_MB,
    run_serverless,
)

DEFAULT_BATCH_EVERY_SECONDS = 3600.0


@dataclass(frozen=True, kw_only=True)
class OptionChoices:
    """What the command line chooses for each option (not assumptions about AWS)."""

    batch_every_seconds: float = DEFAULT_BATCH_EVERY_SECONDS
    serverless_memory_mb: int = DEFAULT_MEMORY_MB
    serverless_max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    serverless_provisioned: int = 0
    realtime_instances: int | None = None  # None: target tracking, min 1


@dataclass
class Advice:
    results: dict[str, OptionResult]
    requests: int
    hours: float
    price_per_hour: float
    price_source: str
    choices: OptionChoices
    limits: OptionAssumptions = field(default_factory=OptionAssumptions)

    @property
    def cheapest(self) -> str | None:
        """The cheapest option that serves every request; None when none does."""
        serving = [r for r in self.ranked() if r.serves_everything]
        return serving[0].option if serving else None

    def ranked(self) -> list[OptionResult]:
        """Cheapest first; an option that cannot serve every request after all that can."""
        order = {name: i for i, name in enumerate(OPTIONS)}
        return sorted(
            self.results.values(),
            key=lambda r: (not r.serves_everything, r.cost_usd, order[r.option]),
        )

    def document(self) -> dict[str, Any]:
        """The --json body: `options.<name>` and `cheapest`, as issue 24 names them."""
        from dataclasses import asdict

        return {
            "options": {name: self.results[name].figures() for name in OPTIONS},
            "cheapest": self.cheapest,
            "requests": self.requests,
            "hours": round(self.hours, 4),
            "pricePerHour": self.price_per_hour,
            "priceSource": self.price_source,
            "choices": asdict(self.choices),
            "assumptions": asdict(self.limits),
            "details": {name: self.results[name].detail for name in OPTIONS},
        }


def advise(
    setup: ScalingSetup,
    trace: Trace,
    duration: float,
    price_per_hour: float,
    price_source: str,
    model: Assumptions,
    limits: OptionAssumptions,
    choices: OptionChoices,
    progress: Callable[[str], Callable[[float], None] | None] = lambda label: None,
) -> Advice:
    results = {
        ASYNC: run_async(
            setup, trace, duration, price_per_hour, model, limits, progress(IN_WORDS[ASYNC])
        ),
        REALTIME: run_realtime(
            setup,
            trace,
            duration,
            price_per_hour,
            model,
            limits,
            choices.realtime_instances,
            progress(IN_WORDS[REALTIME]),
        ),
        SERVERLESS: run_serverless(
            trace,
            duration,
            limits,
            memory_mb=choices.serverless_memory_mb,
            max_concurrency=choices.serverless_max_concurrency,
            provisioned=choices.serverless_provisioned,
        ),
        BATCH: run_batch(
            trace, choices.batch_every_seconds, price_per_hour, setup.max_concurrency, limits
        ),
    }
    return Advice(
        results=results,
        requests=len(trace.arrivals),
        hours=duration / 3600.0,
        price_per_hour=price_per_hour,
        price_source=price_source,
        choices=choices,
        limits=limits,
    )


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def table(advice: Advice) -> str:
    """The printed answer: one row per option, cheapest first, then the verdict."""
    headers = ("option", "cost USD", "p50 s", "p95 s", "p99 s", "unservable")
    rows = []
    for result in advice.ranked():
        figures = result.figures()
        rows.append(
            (
                IN_WORDS[result.option],
                usd(result.cost_usd),
                _cell(figures["p50LatencySeconds"]),  # type: ignore[arg-type]
                _cell(figures["p95LatencySeconds"]),  # type: ignore[arg-type]
                _cell(figures["p99LatencySeconds"]),  # type: ignore[arg-type]
                str(figures["unservable"]),
            )
        )
    widths = [max(len(str(row[i])) for row in (headers, *rows)) for i in range(len(headers))]
    lines = [
        "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        )
        for row in (headers, *rows)
    ]
    for result in advice.ranked():
        for reason, count in sorted(result.unservable.items()):
            lines.append(f"  {IN_WORDS[result.option]}: {count} {reason}")
    lines.append(verdict(advice))
    return "\n".join(lines) + "\n"


def verdict(advice: Advice) -> str:
    cheapest = advice.cheapest
    if cheapest is None:
        return "No option serves every request."
    cost = advice.results[cheapest].cost_usd
    return f"Cheapest that serves every request: {IN_WORDS[cheapest]} (USD {usd(cost)})."


def usd(cost: float) -> str:
    """Cents for sums a person reads as money; six places below a cent, so a fraction of
    a cent is not shown as zero."""
    return f"{cost:.4f}" if cost >= 0.01 else f"{cost:.6f}"
