"""Read a synthesized CloudFormation template into the `ScalingSetup` the model runs.

Also the walkthrough's policy (`seed`), built on the same endpoint for a like-for-like
comparison.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

from asyncinfer.errors import ConfigurationError
from asyncinfer.simulate.model import (
    AlarmSpec,
    ScalingSetup,
    StepAdjustment,
    StepScalingPolicy,
    TargetTrackingPolicy,
)
from asyncinfer_runtime.contract import DEFAULT_ENDPOINT, DEFAULT_STACK_NAME, ENDPOINTS_OUTPUT

# SageMaker picks MaxConcurrentInvocationsPerInstance when it is unset (CloudFormation
# reference, AsyncInferenceClientConfig); the value it picks is not documented. Choice: 1.
DEFAULT_CONCURRENCY = 1
DEFAULT_COOLDOWN = 300.0  # Application Auto Scaling's default for SageMaker variants


def load_template(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigurationError(
            f"--template {str(path)!r} does not exist; expected a synthesized template such as "
            f"cdk.out/{DEFAULT_STACK_NAME}.template.json (run `make synth`)"
        )
    try:
        template = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigurationError(
            f"--template {str(path)!r} is not a readable JSON template ({error}); expected a "
            f"CloudFormation template from `cdk synth`"
        ) from None
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise ConfigurationError(
            f"--template {str(path)!r} has no Resources; expected a CloudFormation template"
        )
    return template


def _number(value: Any, what: str, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigurationError(
            f"{source}: {what} is {json.dumps(value)}; expected a literal number"
        )
    try:
        return float(value)
    except ValueError:
        raise ConfigurationError(f"{source}: {what} is {value!r}; expected a number") from None


def _property(props: dict[str, Any], key: str, where: str, default: Any = None) -> float:
    """A numeric property, as a float: ``props[key]``, or ``default`` when one is given."""
    return _number(props[key] if default is None else props.get(key, default), key, where)


def template_endpoints(template: dict[str, Any], source: str) -> dict[str, str]:
    """Each endpoint's name -> the logical id of its AWS::SageMaker::Endpoint.

    The `Endpoints` output (a Fn::Join of `"name":"` and each endpoint's GetAtt) names
    them; a template without it has one endpoint, `default`.
    """
    resources: dict[str, Any] = template["Resources"]
    output = template.get("Outputs", {}).get(ENDPOINTS_OUTPUT)
    if output is None:
        found = [i for i, r in resources.items() if r.get("Type") == "AWS::SageMaker::Endpoint"]
        return {DEFAULT_ENDPOINT: found[0]} if len(found) == 1 else {}
    parts = output.get("Value", {}).get("Fn::Join", ["", []])[1]
    names: dict[str, str] = {}
    for text, value in itertools.pairwise(parts):
        name = re.search(r'"([^"]+)":"$', text) if isinstance(text, str) else None
        if name and isinstance(value, dict) and "Fn::GetAtt" in value:
            names[name.group(1)] = value["Fn::GetAtt"][0]
    if not names:
        raise ConfigurationError(
            f"template {source} has an {ENDPOINTS_OUTPUT} output this tool cannot read; "
            f"expected the one this project's constructs write"
        )
    return names


def _chosen_endpoint(template: dict[str, Any], source: str, endpoint: str | None) -> str | None:
    """The logical id of the endpoint `endpoint` names (None: the template's only one)."""
    endpoints = template_endpoints(template, source)
    if endpoint is None:
        if len(endpoints) > 1:
            raise ConfigurationError(
                f"template {source} has {len(endpoints)} endpoints ({', '.join(endpoints)}); "
                f"pass --endpoint NAME to choose one"
            )
        return next(iter(endpoints.values()), None)
    if endpoint not in endpoints:
        raise ConfigurationError(
            f"template {source} has no endpoint {endpoint!r}; expected one of "
            f"{', '.join(endpoints) or 'none'}"
        )
    return endpoints[endpoint]


def setup_from_template(
    template: dict[str, Any], source: str, endpoint: str | None = None
) -> ScalingSetup:
    """The scaling of the endpoint named `endpoint` (None: the template's only one)."""
    resources: dict[str, Any] = template["Resources"]
    endpoint_id = _chosen_endpoint(template, source, endpoint)
    targets = {
        logical_id: r
        for logical_id, r in resources.items()
        if r.get("Type") == "AWS::ApplicationAutoScaling::ScalableTarget"
        and r.get("Properties", {}).get("ScalableDimension")
        == "sagemaker:variant:DesiredInstanceCount"
        and (endpoint_id is None or _refers_to(r.get("Properties", {}), endpoint_id))
    }
    if len(targets) != 1:
        scaled = f"endpoint {endpoint!r}" if endpoint else "a SageMaker variant"
        raise ConfigurationError(
            f"template {source} has {len(targets) or 'no'} AWS::ApplicationAutoScaling::"
            f"ScalableTarget for {scaled}; expected exactly one (a stack synthesized with "
            f"autoscaling_enabled=true)"
        )
    target_id, target = next(iter(targets.items()))
    props = target["Properties"]
    policies_by_id: dict[str, StepScalingPolicy | TargetTrackingPolicy] = {}
    for logical_id, r in resources.items():
        p = r.get("Properties", {})
        if r.get("Type") == "AWS::ApplicationAutoScaling::ScalingPolicy" and p.get(
            "ScalingTargetId"
        ) == {"Ref": target_id}:
            policy = _policy(logical_id, p, f"{source} {logical_id}")
            if policy is not None:
                policies_by_id[logical_id] = policy
    policies = list(policies_by_id.values())
    step_policy_ids = {p.name for p in policies if isinstance(p, StepScalingPolicy)}
    alarms = []
    for logical_id, r in resources.items():
        if r.get("Type") == "AWS::CloudWatch::Alarm":
            alarm = _alarm(logical_id, r.get("Properties", {}), step_policy_ids, source)
            if alarm is not None:
                alarms.append(alarm)
    concurrency, instance_type = _endpoint(resources, endpoint_id)
    return ScalingSetup(
        source=source,
        min_capacity=int(_property(props, "MinCapacity", source)),
        max_capacity=int(_property(props, "MaxCapacity", source)),
        max_concurrency=concurrency,
        instance_type=instance_type,
        step_policies=tuple(p for p in policies if isinstance(p, StepScalingPolicy)),
        target_tracking=tuple(p for p in policies if isinstance(p, TargetTrackingPolicy)),
        alarms=tuple(alarms),
    )


def _metric(props: dict[str, Any]) -> dict[str, str]:
    """The metric an alarm or a target-tracking policy watches, and its statistic."""
    return {"metric": props["MetricName"], "statistic": props.get("Statistic", "Average")}


def _policy(
    logical_id: str, p: dict[str, Any], where: str
) -> StepScalingPolicy | TargetTrackingPolicy | None:
    if p.get("PolicyType") == "StepScaling":
        c = p["StepScalingPolicyConfiguration"]
        adjustments = tuple(
            StepAdjustment(
                lower=_bound(s.get("MetricIntervalLowerBound"), where),
                upper=_bound(s.get("MetricIntervalUpperBound"), where),
                adjustment=_property(s, "ScalingAdjustment", where),
            )
            for s in c.get("StepAdjustments", [])
        )
        return StepScalingPolicy(
            name=logical_id,
            adjustment_type=c.get("AdjustmentType", "ChangeInCapacity"),
            steps=adjustments,
            cooldown=_property(c, "Cooldown", where, DEFAULT_COOLDOWN),
            aggregation=c.get("MetricAggregationType", "Average"),
            min_adjustment_magnitude=c.get("MinAdjustmentMagnitude"),
        )
    if p.get("PolicyType") == "TargetTrackingScaling":
        c = p["TargetTrackingScalingPolicyConfiguration"]
        metric = c.get("CustomizedMetricSpecification")
        if not metric:
            return None  # predefined metrics (InvocationsPerInstance) are not async metrics
        return TargetTrackingPolicy(
            name=logical_id,
            **_metric(metric),
            target=_property(c, "TargetValue", where),
            scale_in_cooldown=_property(c, "ScaleInCooldown", where, DEFAULT_COOLDOWN),
            scale_out_cooldown=_property(c, "ScaleOutCooldown", where, DEFAULT_COOLDOWN),
            disable_scale_in=bool(c.get("DisableScaleIn", False)),
        )
    return None


def _alarm(
    logical_id: str, p: dict[str, Any], step_policy_ids: set[str], source: str
) -> AlarmSpec | None:
    """The alarm, if it acts on one of the target's step scaling policies (target tracking
    makes its own alarms, outside the template)."""
    actions = tuple(
        a["Ref"]
        for a in p.get("AlarmActions", [])
        if isinstance(a, dict) and a.get("Ref") in step_policy_ids
    )
    if not actions:
        return None
    where = f"{source} {logical_id}"
    evaluation_periods = int(_property(p, "EvaluationPeriods", where))
    return AlarmSpec(
        name=logical_id,
        **_metric(p),
        period=_property(p, "Period", where),
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=int(_property(p, "DatapointsToAlarm", where, evaluation_periods)),
        threshold=_property(p, "Threshold", where),
        comparison=p["ComparisonOperator"],
        treat_missing_data=p.get("TreatMissingData", "missing"),
        actions=actions,
    )


def _bound(value: Any, where: str) -> float | None:
    return None if value is None else _number(value, "a step bound", where)


def _refers_to(value: Any, logical_id: str) -> bool:
    """Whether `value` holds a Ref or GetAtt of `logical_id`."""
    text = json.dumps(value)
    return f'"Ref": "{logical_id}"' in text or f'"Fn::GetAtt": ["{logical_id}"' in text


def _endpoint(resources: dict[str, Any], endpoint_id: str | None) -> tuple[int, str | None]:
    config_ref = (
        resources[endpoint_id].get("Properties", {}).get("EndpointConfigName")
        if endpoint_id in resources
        else None
    )
    for logical_id, r in resources.items():
        if r.get("Type") != "AWS::SageMaker::EndpointConfig":
            continue
        if config_ref is not None and not _refers_to(config_ref, logical_id):
            continue
        p = r.get("Properties", {})
        client = p.get("AsyncInferenceConfig", {}).get("ClientConfig", {})
        variants = p.get("ProductionVariants") or [{}]
        instance_type = variants[0].get("InstanceType")
        concurrency = client.get("MaxConcurrentInvocationsPerInstance", DEFAULT_CONCURRENCY)
        return int(concurrency), instance_type if isinstance(instance_type, str) else None
    return DEFAULT_CONCURRENCY, None


def read_setup(path: Path, endpoint: str | None = None) -> ScalingSetup:
    return setup_from_template(load_template(path), str(path), endpoint)


def seed_setup(endpoint: ScalingSetup) -> ScalingSetup:
    """The walkthrough's policy: target tracking alone on ApproximateBacklogSizePerInstance,
    target 5, scale-in cooldown 600 s, scale-out cooldown 300 s, min 0, max 5; on the
    same endpoint (instance type, concurrency) as `endpoint`."""
    return ScalingSetup(
        source="seed (the walkthrough's target tracking alone)",
        min_capacity=0,
        max_capacity=5,
        max_concurrency=endpoint.max_concurrency,
        instance_type=endpoint.instance_type,
        target_tracking=(
            TargetTrackingPolicy(
                name="SeedBacklogPerInstance",
                metric="ApproximateBacklogSizePerInstance",
                statistic="Average",
                target=5.0,
                scale_in_cooldown=600.0,
                scale_out_cooldown=300.0,
            ),
        ),
    )
