"""`asyncinfer advise` end to end on the synthesized template: the table, the JSON, the
plot, and every bad input as one sentence."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from asyncinfer.cli import main
from tests.conftest import REPO_ROOT

TEMPLATE = REPO_ROOT / "cdk.out" / "SageMakerAsyncInference.template.json"


def advise(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["advise", "--template", str(TEMPLATE), *args], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_table_json_and_plot_for_one_request(tmp_path: Path) -> None:
    code, out, err = advise(
        "--scenario", "single", "--json", str(tmp_path / "a.json"),
        "--plot", str(tmp_path / "a.png"),
    )  # fmt: skip
    assert code == 0, err
    rows = out.splitlines()
    # Cheapest first, options in words, the verdict last.
    assert rows[2].startswith("serverless")
    assert rows[-1] == "Cheapest that serves every request: serverless (USD 0.000020)."
    body = json.loads((tmp_path / "a.json").read_text())
    assert body["cheapest"] == "serverless"
    assert set(body["options"]) == {"async", "realtime", "serverless", "batch"}
    assert body["options"]["realtime"]["costUsd"] == pytest.approx(0.269)
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_arrivals_with_payloads_name_each_reason(tmp_path: Path) -> None:
    trace = tmp_path / "trace.txt"
    trace.write_text("0\n30, 0.5, 8000000  # 8 MB: past real-time's payload limit\n")
    code, out, err = advise("--arrivals", str(trace), "--json", str(tmp_path / "a.json"))
    assert code == 0, err
    reasons = json.loads((tmp_path / "a.json").read_text())["options"]["realtime"]
    assert reasons["unservable"] == 1
    assert reasons["unservableReasons"] == {"payload over real-time's limit of 6,291,456 bytes": 1}
    assert "real-time endpoint: 1 payload over real-time's limit" in out


def test_overrides_change_the_answer(tmp_path: Path) -> None:
    code, _, err = advise(
        "--scenario", "single", "--serverless-price-per-gb-second", "1",
        "--assume", "batch_startup_seconds=60", "--json", str(tmp_path / "a.json"),
    )  # fmt: skip
    assert code == 0, err
    body = json.loads((tmp_path / "a.json").read_text())
    assert body["options"]["serverless"]["costUsd"] == pytest.approx(0.5 * 2 * 1)
    assert body["options"]["batch"]["p50LatencySeconds"] == 3600 + 60 + 0.5
    assert body["cheapest"] == "batch"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-every", "soon"], "--batch-every 'soon' is not a duration; expected e.g. 30m"),
        (["--serverless-memory-mb", "1000"], "--serverless-memory-mb 1000 is not a serverless memory size; expected one of 1024"),
        (["--serverless-max-concurrency", "0"], "--serverless-max-concurrency 0 is out of range; expected 1..200"),
        (["--serverless-provisioned", "9"], "--serverless-provisioned 9 is out of range; expected 0..the max concurrency (5)"),
        (["--payload-bytes", "-1"], "--payload-bytes -1.0 is out of range; expected >= 0"),
        (["--realtime-instances", "0"], "--realtime-instances 0 is out of range; expected >= 1"),
        (["--assume", "warp_speed=1"], "--assume 'warp_speed' is not a modelled constant; expected one of"),
        (["--assume", "batch_instance_count=two"], "--assume batch_instance_count='two' is not a int"),
        (["--scenario", "daily"], "--scenario 'daily' is not a scenario; expected one of single"),
    ],
)  # fmt: skip
def test_bad_input_is_one_sentence(args: list[str], message: str) -> None:
    code, _, err = advise(*args)
    assert code == 2
    assert err.startswith(f"asyncinfer: error: {message}"), err
    assert err.count("\n") == 1


def test_bad_arrivals_payload_names_the_line(tmp_path: Path) -> None:
    trace = tmp_path / "trace.txt"
    trace.write_text("0, 0.5, -3\n")
    code, _, err = advise("--arrivals", str(trace))
    assert code == 2
    assert "trace.txt line 1: '0, 0.5, -3' is not a request;" in err
    assert "payload bytes (>= 0)" in err
    assert err.count("\n") == 1


def test_an_instance_type_without_a_price_asks_for_one(tmp_path: Path) -> None:
    template = json.loads(TEMPLATE.read_text())
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::SageMaker::EndpointConfig":
            for variant in resource["Properties"]["ProductionVariants"]:
                variant["InstanceType"] = "ml.c5.large"
    edited = tmp_path / "template.json"
    edited.write_text(json.dumps(template))
    out, err = io.StringIO(), io.StringIO()
    code = main(["advise", "--template", str(edited)], stdout=out, stderr=err)
    assert code == 2
    assert err.getvalue() == (
        "asyncinfer: error: the template's instance type ml.c5.large has no shipped price; "
        "expected --price-per-hour USD for it\n"
    )
    assert main(["advise", "--template", str(edited), "--price-per-hour", "0.1"], stdout=out) == 0
