"""`asyncinfer load` against local mode: an arrivals file replayed at its own times."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.e2e.client.conftest import CliResult


def test_load_replays_the_arrivals_file_and_reports_each_request(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    arrivals = tmp_path / "arrivals.txt"
    arrivals.write_text("0\n0.5\n1.0\n")
    payload = tmp_path / "payload.json"
    payload.write_text('{"inputs": "I love async inference"}')
    out = tmp_path / "load.json"
    result = cli("load", "--arrivals", str(arrivals), "--payload", str(payload), "--json", str(out))
    assert result.code == 0, result.err
    rows = json.loads(out.read_text())["requests"]
    assert [row["index"] for row in rows] == [0, 1, 2]
    assert all(row["status"] == "COMPLETED" for row in rows)
    assert len({row["inferenceId"] for row in rows}) == 3
    for row, arrival in zip(rows, (0.0, 0.5, 1.0), strict=True):
        # Sent no earlier than the file says, and finished after it was sent.
        assert row["queuedAt"] >= arrival
        assert row["finishedAt"] >= row["queuedAt"]
        # Both times are rounded to milliseconds; the latency is computed before rounding.
        assert abs(row["latencySeconds"] - (row["finishedAt"] - row["queuedAt"])) <= 0.002


def test_load_reports_an_unreadable_arrivals_line(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    arrivals = tmp_path / "arrivals.txt"
    arrivals.write_text("0\nsoon\n")
    result = cli("load", "--arrivals", str(arrivals))
    assert result.code != 0
    assert "line 2" in result.err
