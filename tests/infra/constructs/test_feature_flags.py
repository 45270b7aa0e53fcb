"""The library synthesizes the same template in an app that sets no feature flags."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk

from asyncinfer_constructs import AsyncInferenceSystem, InferenceEndpointProps
from tests.infra.conftest import CDK_JSON_CONTEXT


def template_in(context: dict[str, Any]) -> dict[str, Any]:
    app = cdk.App(context=context, analytics_reporting=False)
    stack = cdk.Stack(app, "UserStack")
    system = AsyncInferenceSystem(stack, "Inference")
    system.add_endpoint("sentiment")
    system.add_endpoint("gpu", InferenceEndpointProps(instance_type="ml.g5.xlarge"))
    system.add_client_outputs()
    template: dict[str, Any] = app.synth().get_stack_by_name("UserStack").template
    return template


def policies_as_sets(value: Any) -> Any:
    """`value` with each policy's statements, and each statement's actions and resources,
    in one order: IAM evaluates them as sets (other flags only change their order)."""
    if isinstance(value, list):
        return [policies_as_sets(item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {key: policies_as_sets(item) for key, item in value.items()}
    for key in ("Statement", "Action", "Resource"):
        if isinstance(out.get(key), list) and ("Statement" in out or "Effect" in out):
            out[key] = sorted(out[key], key=lambda item: json.dumps(item, sort_keys=True))
    return out


def test_an_app_without_flags_gets_the_template_this_projects_flags_give() -> None:
    flags = {k: v for k, v in CDK_JSON_CONTEXT.items() if k.startswith("@aws-cdk")}
    assert policies_as_sets(template_in({})) == policies_as_sets(template_in(flags))
