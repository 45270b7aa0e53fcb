"""`asyncinfer simulate` end to end: output files, errors, and synthesis with --set."""

from __future__ import annotations

import io
import json
from pathlib import Path

from asyncinfer.cli import main


def simulate(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["simulate", *args], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_json_and_plot_for_a_comparison(tmp_path: Path) -> None:
    code, out, _ = simulate(
        "--scenario", "seed-walkthrough", "--compare", "seed",
        "--json", str(tmp_path / "run.json"), "--plot", str(tmp_path / "run.png"),
    )  # fmt: skip
    assert code == 0, out
    body = json.loads((tmp_path / "run.json").read_text())
    assert set(body) == {"template", "seed"}
    request = body["seed"]["requests"][0]
    assert set(request) >= {"queuedAt", "startedAt", "finishedAt", "latencySeconds"}
    assert 420 <= body["seed"]["summary"]["firstResultSeconds"] <= 540
    assert (tmp_path / "run.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_set_setting_is_one_sentence() -> None:
    code, _, err = simulate("--set", "target_backlog=2")
    assert code == 2
    assert err.startswith("asyncinfer: error: --set 'target_backlog' is not a stack setting;")
    assert err.count("\n") == 1


def test_set_synthesizes_with_the_setting(tmp_path: Path) -> None:
    code, _, err = simulate(
        "--set", "max_capacity=4", "--scenario", "burst", "--json", str(tmp_path / "b.json")
    )
    assert code == 0, err
    setup = json.loads((tmp_path / "b.json").read_text())["setup"]
    assert setup["max_capacity"] == 4


def test_unreadable_assumption_names_the_flag() -> None:
    code, _, err = simulate("--assume", "warp_speed=1")
    assert code == 2
    assert "--assume 'warp_speed' is not a modelled constant" in err
