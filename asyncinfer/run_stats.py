"""What a run of many requests counts, and the one percentile every report of it uses.

The run engine keeps a ``RunStats`` as it yields outcomes; ``asyncinfer batch``, ``make demo``
and the benchmarks read the same counters and summarise latencies with ``percentile``, so one
run reports the same figures wherever it is shown; the scaling simulator's report
(``asyncinfer simulate``) uses the same percentile.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asyncinfer.run import Outcome


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile: the smallest observed value with at least ``fraction``
    of the values at or below it (None for no values).

    Nearest rank rather than interpolation, so a reported latency is one a request really
    had, and p50 of a run with a few slow requests is not pulled between two of them.
    """
    if not values:
        return None
    ordered = sorted(values)
    # Rounded first: 0.07 * 100 is 7.000000000000001 in binary floating point, whose
    # ceiling would skip a rank.
    rank = math.ceil(round(fraction * len(ordered), 9))
    return ordered[min(len(ordered), max(1, rank)) - 1]


@dataclass
class RunStats:
    """Counts of one run, updated as each item is submitted and as each outcome is yielded."""

    submitted: int = 0
    completed: int = 0
    failed: int = 0
    waiting: int = 0
    # latencyMs of every outcome whose record has one: SageMaker's receivedTime -> the
    # notification's eventTime, both on SageMaker's clock.
    latencies_ms: list[float] = field(default_factory=list)

    def count(self, outcome: Outcome) -> None:
        if outcome.ok:
            self.completed += 1
        else:
            self.failed += 1
        if outcome.record is not None and outcome.record.latency_ms is not None:
            self.latencies_ms.append(outcome.record.latency_ms)

    def latency_ms(self, fraction: float) -> float | None:
        """The ``fraction`` percentile of the latencies (see ``percentile``)."""
        return percentile(self.latencies_ms, fraction)
