"""The one counter and percentile behind `asyncinfer batch`, `make demo` and the benchmarks."""

from __future__ import annotations

import pytest

from asyncinfer.errors import InferenceTimeoutError
from asyncinfer.results import InferenceRecord
from asyncinfer.run import Outcome
from asyncinfer.run_stats import RunStats, percentile

FIVE = [15.0, 20.0, 35.0, 40.0, 50.0]


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [
        # Rank = ceil(fraction * 5), counted from 1 in the sorted values.
        (0.0, 15.0),  # rank 0 is taken as the first value
        (0.05, 15.0),  # ceil(0.25) = 1
        (0.30, 20.0),  # ceil(1.5) = 2
        (0.40, 20.0),  # 2.0 exactly: no rounding up
        (0.50, 35.0),  # ceil(2.5) = 3
        (0.95, 50.0),  # ceil(4.75) = 5
        (1.0, 50.0),
    ],
)
def test_nearest_rank_percentile_of_five_values(fraction: float, expected: float) -> None:
    assert percentile(list(reversed(FIVE)), fraction) == expected


def test_nearest_rank_percentile_of_one_to_a_hundred() -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert (percentile(values, 0.5), percentile(values, 0.95), percentile(values, 0.99)) == (
        50.0,
        95.0,
        99.0,
    )
    # 0.07 * 100 is 7.000000000000001 in floating point; the rank is still 7.
    assert percentile(values, 0.07) == 7.0


def test_percentile_of_nothing_is_none() -> None:
    assert percentile([], 0.5) is None
    assert percentile([42.0], 0.95) == 42.0


def test_run_stats_count_outcomes_and_their_records_latencies() -> None:
    stats = RunStats()
    record = InferenceRecord(inference_id="a", status="COMPLETED", latency_ms=12.5)
    stats.count(Outcome(key=1, record=record, value="ok"))
    stats.count(Outcome(key=2, error=InferenceTimeoutError("no result")))
    stats.count(Outcome(key=3, record=InferenceRecord(inference_id="c", status="COMPLETED")))
    assert (stats.completed, stats.failed, stats.latencies_ms) == (2, 1, [12.5])
    assert stats.latency_ms(0.95) == 12.5
