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


TEMPLATE = Path("cdk.out") / "SageMakerAsyncInference.template.json"


def test_it_says_which_template_and_endpoint_settings_it_read() -> None:
    code, _, err = simulate("--scenario", "single")
    assert code == 0, err
    lines = err.splitlines()
    assert lines[0] == f"simulate: read {TEMPLATE} (stack SageMakerAsyncInference)"
    # Named as --endpoint takes it (a template without an Endpoints output has `default`).
    assert lines[1].startswith("  endpoint default (EndpointGeneration")
    assert (
        "cardiffnlp/twitter-roberta-base-sentiment (text-classification) on ml.m5.xlarge, "
        "0..2 instances, 4 concurrent per instance, requests up to 100 MiB" in lines[1]
    )


def test_the_table_says_why_a_cost_is_missing(tmp_path: Path) -> None:
    template = TEMPLATE.read_text().replace('"ml.m5.xlarge"', '"ml.g6e.xlarge"')
    path = tmp_path / "g6e.template.json"
    path.write_text(template)
    code, out, err = simulate("--template", str(path), "--scenario", "single")
    assert code == 0, err
    assert (
        out.splitlines()[-1] == "cost -: no shipped price for ml.g6e.xlarge; pass --price-per-hour"
    )


def test_a_cdk_out_of_another_stack_is_refused() -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--stack", "Other", "simulate", "--scenario", "single"], stdout=out, stderr=err)
    assert code == 2
    assert err.getvalue() == (
        "asyncinfer: error: cdk.out was synthesized for stack SageMakerAsyncInference, not "
        'Other; synthesize Other (make synth CDK_ARGS="-c stack_name=Other") or pass '
        "--stack SageMakerAsyncInference\n"
    )


def test_a_template_with_set_is_refused(tmp_path: Path) -> None:
    code, _, err = simulate("--template", str(TEMPLATE), "--set", "max_capacity=4")
    assert code == 2
    assert err.startswith(f"asyncinfer: error: --template {TEMPLATE} cannot be combined with --set")
    assert err.count("\n") == 1
