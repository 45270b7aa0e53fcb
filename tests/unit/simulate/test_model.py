"""The model against outcomes derived by hand (docs/scaling.md walks through each)."""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncinfer.errors import ConfigurationError
from asyncinfer.simulate.model import (
    ALARM,
    INSUFFICIENT,
    OK,
    AlarmSpec,
    Assumptions,
    EndpointSimulation,
    ScalingSetup,
    StepAdjustment,
    StepScalingPolicy,
    TargetTrackingPolicy,
    Trace,
    alarm_state,
)
from asyncinfer.simulate.report import summary
from asyncinfer.simulate.template import seed_setup, setup_from_template
from asyncinfer.simulate.trace import diurnal, read_arrivals, scenario

REPO_ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = REPO_ROOT / "cdk.out" / "SageMakerAsyncInference.template.json"
STARTUP = 300.0
DELAY = Assumptions().datapoint_delay_seconds


def ours(step_cooldown: float = 120.0, max_capacity: int = 2) -> ScalingSetup:
    """Today's policies, written out: step +1 on HasBacklogWithoutCapacity (60 s x 2)."""
    return ScalingSetup(
        source="test",
        min_capacity=0,
        max_capacity=max_capacity,
        max_concurrency=4,
        instance_type="ml.m5.xlarge",
        step_policies=(
            StepScalingPolicy("FromZero", "ChangeInCapacity", (StepAdjustment(0, None, 1),), step_cooldown),
        ),
        target_tracking=(
            TargetTrackingPolicy("Backlog", "ApproximateBacklogSizePerInstance", "Average", 5.0, 600, 120),
        ),
        alarms=(
            AlarmSpec("NoCapacity", "HasBacklogWithoutCapacity", "Average", 60, 2, 2, 1.0,
                      "GreaterThanOrEqualToThreshold", "notBreaching", ("FromZero",)),
        ),
    )  # fmt: skip


def run(setup: ScalingSetup, arrivals: list[float], hours: float = 1.0, service: float = 0.5):
    trace = Trace(arrivals, [service] * len(arrivals))
    assumptions = Assumptions(instance_startup_seconds=STARTUP)
    return EndpointSimulation(setup, trace, hours * 3600, assumptions).run()


def test_one_request_with_a_cooldown_of_a_cold_start_starts_exactly_one_instance() -> None:
    result = run(ours(step_cooldown=600), [0.0])
    # Two breaching minutes, evaluated DELAY after the second ends.
    assert result.activities[0].time == 2 * 60 + DELAY
    assert (result.activities[0].from_capacity, result.activities[0].to_capacity) == (0, 1)
    assert len(result.instances) == 1
    assert result.finished[0] == 2 * 60 + DELAY + STARTUP + 0.5
    assert summary(result)["maxInstances"] == 1


def test_todays_step_cooldown_shorter_than_a_cold_start_starts_a_second_instance() -> None:
    result = run(ours(step_cooldown=120), [0.0])
    # The alarm stays in ALARM until the first instance is in service; its action runs
    # again each minute and adds one more once the 120 s cooldown has passed.
    outs = [(a.time, a.to_capacity) for a in result.activities if a.to_capacity > a.from_capacity]
    assert outs == [(130.0, 1), (250.0, 2)]
    assert summary(result)["maxInstances"] == 2


@pytest.mark.parametrize("count", [1, 2, 5])
def test_seed_policy_never_starts_an_instance_for_five_requests_and_they_expire(count: int) -> None:
    result = run(seed_setup(ours()), [0.0] * count, hours=7)
    assert result.instances == []
    assert result.expired == [6 * 3600.0] * count


def test_seed_policy_starts_for_ten_requests_after_three_datapoints() -> None:
    result = run(seed_setup(ours()), [0.0] * 10)
    first = result.activities[0]
    assert first.time == 3 * 60 + DELAY
    # ceil(1 x 10 / 5): capacity 0 counts as 1 (a choice, docs/scaling.md).
    assert first.to_capacity == 2


def test_walkthrough_first_result_is_seven_to_nine_minutes() -> None:
    figures = summary(run(seed_setup(ours()), [0.0] * 10))
    assert 7 * 60 <= figures["firstResultSeconds"] <= 9 * 60


def test_target_tracking_scales_in_to_zero_after_fifteen_datapoints() -> None:
    result = run(ours(step_cooldown=600), [0.0])
    scale_in = [a for a in result.activities if a.to_capacity < a.from_capacity]
    # The per-instance metric is published from the first minute; 15 datapoints later.
    assert scale_in[0].time == 15 * 60 + DELAY
    assert scale_in[0].to_capacity == 0
    assert result.instances[0].stopped_at == 15 * 60 + DELAY


def test_largest_capacity_wins_and_max_capacity_caps_it() -> None:
    result = run(ours(step_cooldown=600, max_capacity=3), [i * 0.03 for i in range(2000)])
    at_tracking = [a for a in result.activities if "Backlog" in a.policies]
    assert at_tracking[0].to_capacity == 3  # ceil(1 x 2000 / 5) = 400, capped at 3
    assert max(a.to_capacity for a in result.activities) == 3


def test_concurrency_per_instance_bounds_requests_in_flight() -> None:
    result = run(ours(step_cooldown=600, max_capacity=1), [0.0] * 9, service=10.0)
    ready = 130.0 + STARTUP
    assert sorted(result.started) == [ready] * 4 + [ready + 10] * 4 + [ready + 20]


def test_alarm_state_follows_cloudwatchs_missing_data_table() -> None:
    def spec(m: int, treat: str) -> AlarmSpec:
        return AlarmSpec("a", "m", "Average", 60, 3, m, 3.0, "GreaterThanThreshold", treat, ())

    x, o, _ = 5.0, 0.0, None
    # CloudWatch User Guide, "How alarm state is evaluated when data is missing", 3 of 3.
    assert alarm_state([o, _, x, _, x], spec(3, "missing"), OK)[0] == OK
    assert alarm_state([_, _, _, _, _], spec(3, "missing"), OK)[0] == INSUFFICIENT
    assert alarm_state([_, _, _, _, _], spec(3, "ignore"), ALARM)[0] == ALARM
    assert alarm_state([_, _, _, _, _], spec(3, "breaching"), OK)[0] == ALARM
    assert alarm_state([o, x, x, _, x], spec(3, "notBreaching"), OK)[0] == ALARM
    assert alarm_state([_, _, _, _, x], spec(3, "missing"), OK)[0] == INSUFFICIENT
    assert alarm_state([_, _, _, _, x], spec(3, "notBreaching"), ALARM)[0] == OK
    # 2 of 3.
    assert alarm_state([o, _, x, _, _], spec(2, "breaching"), OK)[0] == ALARM
    assert alarm_state([o, _, x, _, _], spec(2, "missing"), ALARM)[0] == OK


def test_template_without_scalable_target_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigurationError, match=r"has no AWS::ApplicationAutoScaling::ScalableTarget"
    ):
        setup_from_template({"Resources": {}}, "empty.json")


def test_unreadable_arrivals_line_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "trace.txt"
    path.write_text("0\n12.5, 2\nsoon\n")
    with pytest.raises(ConfigurationError, match=r"trace.txt line 3: 'soon' is not a request"):
        read_arrivals(path, 0.5)


def test_arrivals_file_carries_service_seconds(tmp_path: Path) -> None:
    path = tmp_path / "trace.txt"
    path.write_text("# seconds, service\n30 2.5\n0\n")
    trace = read_arrivals(path, 0.5).trace
    assert list(trace.arrivals) == [0.0, 30.0]
    assert list(trace.service_seconds) == [0.5, 2.5]


def test_unknown_scenario_names_the_choices() -> None:
    with pytest.raises(
        ConfigurationError, match=r"--scenario 'daily' is not a scenario; expected one of single"
    ):
        scenario("daily", 0.5)


def test_diurnal_has_at_least_100000_requests() -> None:
    assert len(diurnal(0.5).trace.arrivals) >= 100_000
