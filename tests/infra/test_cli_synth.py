"""The real `cdk synth` through the pinned CLI: quiet, offline, and kind to typos."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from asyncinfer_runtime.contract import DEFAULT_STACK_NAME
from tests.support.node_tools import run_node_tool

NOISE = ("end-of-life", "feature flag", "NOTICES", "telemetry", "deprecated", "Traceback", "jsii")


def run_cdk(*args: str, outdir: Path) -> subprocess.CompletedProcess[str]:
    return run_node_tool(
        "cdk",
        *("synth", "--no-notices", "--quiet", "--output", str(outdir), *args),
        timeout=300,
        env={"CDK_DISABLE_CLI_TELEMETRY": "true"},
    )


@pytest.mark.slow
def test_default_app_synthesizes_silently_with_the_pinned_cli(tmp_path: Path) -> None:
    result = run_cdk(outdir=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for noise in NOISE:
        assert noise.lower() not in output.lower(), output
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    stack = manifest["artifacts"][DEFAULT_STACK_NAME]
    # Environment-agnostic: no account or region needed to synthesize.
    assert stack["environment"] == "aws://unknown-account/unknown-region"


@pytest.mark.slow
def test_bad_context_value_is_one_sentence_without_a_stack_trace(tmp_path: Path) -> None:
    result = run_cdk("-c", "max_capacity=abc", outdir=tmp_path)
    assert result.returncode != 0
    assert (
        "Configuration error: Setting 'max_capacity' must be a whole number; received 'abc'."
        in result.stderr
    )
    assert "Traceback" not in result.stderr and "jsii" not in result.stderr


@pytest.mark.slow
def test_context_override_reaches_the_template(tmp_path: Path) -> None:
    result = run_cdk("-c", "max_capacity=6", "-c", "instance_type=ml.g5.2xlarge", outdir=tmp_path)
    assert result.returncode == 0, result.stderr
    template = (tmp_path / "SageMakerAsyncInference.template.json").read_text()
    assert '"MaxCapacity": 6' in template
    assert "gpu-py312-cu124" in template


def plugin_conclusions(outdir: Path) -> dict[str, str]:
    report = json.loads((outdir / "validation-report.json").read_text())
    return {plugin["pluginName"]: plugin["conclusion"] for plugin in report["pluginReports"]}


@pytest.mark.slow
def test_nag_checks_run_only_when_asked_for(tmp_path: Path) -> None:
    plain = run_cdk(outdir=tmp_path / "plain")
    assert plain.returncode == 0, plain.stderr
    assert plugin_conclusions(tmp_path / "plain") == {}

    checked = run_cdk("-c", "nag_checks=true", outdir=tmp_path / "checked")
    assert checked.returncode == 0, checked.stderr
    assert plugin_conclusions(tmp_path / "checked") == {
        "AwsSolutions": "success",
        "Serverless": "success",
        "cdk-validator-cfnguard": "success",
    }
