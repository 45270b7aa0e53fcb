"""The simulator on the stack's synthesized template (cdk.out/, from `make synth`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from asyncinfer.simulate.report import summary
from asyncinfer.simulate.template import read_setup, setup_from_template
from tests.conftest import REPO_ROOT
from tests.unit.simulate.test_model import STARTUP, run

TEMPLATE = REPO_ROOT / "cdk.out" / "SageMakerAsyncInference.template.json"


def with_step_cooldown(seconds: int) -> dict[str, Any]:
    """The synthesized template with its step scaling policy's cooldown set to `seconds`."""
    template: dict[str, Any] = json.loads(TEMPLATE.read_text())
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::ApplicationAutoScaling::ScalingPolicy":
            step = resource["Properties"].get("StepScalingPolicyConfiguration")
            if step:
                step["Cooldown"] = seconds
    return template


def test_the_real_template_starts_one_instance_for_one_request() -> None:
    # The step policy's cooldown (scale_out_from_zero_cooldown_seconds, 600 s) outlasts the
    # cold start, so the alarm's action, repeated every period while the backlog waits for
    # the first instance, adds no second one (docs/scaling.md).
    assert TEMPLATE.is_file(), "run make synth first"
    figures = summary(run(read_setup(TEMPLATE), [0.0]))
    assert figures["maxInstances"] == 1
    assert figures["firstResultSeconds"] <= STARTUP + 150


def test_the_real_template_with_a_120_s_step_cooldown_starts_two(tmp_path: Path) -> None:
    # A step cooldown shorter than the cold start (scale_out_cooldown_seconds' 120 s) lets
    # the repeated alarm action start a second instance: why the step policy has its own.
    edited = tmp_path / "template.json"
    edited.write_text(json.dumps(with_step_cooldown(120)))
    assert summary(run(read_setup(edited), [0.0]))["maxInstances"] == 2


def test_real_template_is_read(tmp_path: Path) -> None:
    setup = read_setup(TEMPLATE)
    assert (setup.min_capacity, setup.max_capacity, setup.max_concurrency) == (0, 2, 4)
    assert [a.metric for a in setup.alarms] == ["HasBacklogWithoutCapacity"]
    assert setup.target_tracking[0].target == 5.0
    # An explicit template with a longer step cooldown (the lead's fix) starts one instance.
    fixed = setup_from_template(with_step_cooldown(600), "fixed")
    assert summary(run(fixed, [0.0]))["maxInstances"] == 1
