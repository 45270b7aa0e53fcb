"""The app with several endpoints, and the logical ids a deployed stack already has."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from aws_cdk import CfnElement, Stack
from aws_cdk import aws_apigateway as apigateway

from stacks.async_inference_stack import make_unique_id
from tests.infra.conftest import STACK_NAME, Synthesized

Getter = Callable[[str], Synthesized]


def test_each_endpoint_is_an_output_and_the_first_keeps_endpoint_name(
    synthesized: Getter,
) -> None:
    multi = synthesized("multi")
    outputs = multi.template["Outputs"]
    value = outputs["Endpoints"]["Value"]
    # {"sentiment": <name of the first>, "tabular": <name of the second>} as a JSON string.
    rendered = json.dumps(value)
    assert '{\\"sentiment\\":\\"' in rendered and '\\"tabular\\":\\"' in rendered
    endpoints = multi.resources("AWS::SageMaker::Endpoint")
    assert len(endpoints) == 2
    first = outputs["EndpointName"]["Value"]["Fn::GetAtt"][0]
    assert multi.template["Resources"][first]["Metadata"]["aws:cdk:path"].split("/")[2] == (
        "sentiment"
    )


def test_a_single_default_endpoint_has_no_endpoints_output(default: Synthesized) -> None:
    assert "Endpoints" not in default.template["Outputs"]
    assert "EndpointName" in default.template["Outputs"]


def test_the_first_endpoint_keeps_the_ids_of_the_single_endpoint_stack(
    synthesized: Getter, default: Synthesized
) -> None:
    """Adding a second endpoint to a deployed stack leaves the first one in place."""
    multi = synthesized("multi")
    first_endpoint_types = {
        "AWS::SageMaker::Model",
        "AWS::SageMaker::EndpointConfig",
        "AWS::SageMaker::Endpoint",
        "AWS::IAM::Role",
        "AWS::ApplicationAutoScaling::ScalableTarget",
    }
    for resource_type in first_endpoint_types:
        for logical_id in default.resources(resource_type):
            assert logical_id in multi.template["Resources"], (resource_type, logical_id)
    # The second endpoint's resources carry its name.
    tabular = [
        logical_id
        for logical_id, r in multi.template["Resources"].items()
        if "/tabular/" in r.get("Metadata", {}).get("aws:cdk:path", "")
    ]
    assert tabular and all(logical_id.startswith("tabular") for logical_id in tabular)


def test_the_apps_id_scheme_is_cdks_own(default: Synthesized) -> None:
    """make_unique_id computes the legacy ids; for every element CDK named itself (those
    outside the first endpoint) it must give CDK's id."""
    stack = default.app.node.find_child(STACK_NAME)
    assert isinstance(stack, Stack)
    first_endpoint = stack.node.find_child("Default").node.find_child("default")
    inside = {c.node.path for c in first_endpoint.node.find_all()}
    checked = 0
    for construct in stack.node.find_all():
        # CDK appends a hash of an API deployment's content to its logical id, so that
        # each change of the API deploys anew; that suffix is not make_unique_id's.
        if isinstance(construct, apigateway.CfnDeployment):
            continue
        if isinstance(construct, CfnElement) and construct.node.path not in inside:
            scopes = construct.node.scopes
            path = [s.node.id for s in scopes[scopes.index(stack) + 1 :]]
            assert make_unique_id(path) == stack.resolve(construct.logical_id), path
            checked += 1
    assert checked > 50


def test_the_simulator_reads_the_endpoint_it_is_asked_for(synthesized: Getter) -> None:
    from asyncinfer.errors import ConfigurationError
    from asyncinfer.simulate.template import setup_from_template, template_endpoints

    multi = synthesized("multi").template
    assert list(template_endpoints(multi, "multi")) == ["sentiment", "tabular"]
    sentiment = setup_from_template(multi, "multi", "sentiment")
    tabular = setup_from_template(multi, "multi", "tabular")
    assert (sentiment.max_capacity, sentiment.instance_type) == (2, "ml.m5.xlarge")
    assert (tabular.max_capacity, tabular.instance_type) == (4, "ml.c5.xlarge")
    with pytest.raises(ConfigurationError, match=r"has 2 endpoints \(sentiment, tabular\)"):
        setup_from_template(multi, "multi")
    with pytest.raises(ConfigurationError, match="has no endpoint 'other'; expected one of"):
        setup_from_template(multi, "multi", "other")


def test_the_simulator_takes_a_single_endpoint_template_as_before(default: Synthesized) -> None:
    from asyncinfer.simulate.template import setup_from_template

    assert setup_from_template(default.template, "default").max_capacity == 2
    assert setup_from_template(default.template, "default", "default").max_capacity == 2
