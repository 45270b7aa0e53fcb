"""JobApi in a user's own stack: over a system's endpoints, with IAM or a user pool of your
own, and the grant it relies on to undo a refused submit."""

from __future__ import annotations

import json

import pytest
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from asyncinfer_constructs import AsyncInferenceSystem, ConfigError, JobApi, JobApiProps
from tests.infra.constructs.conftest import StackFactory
from tests.infra.constructs.test_async_inference_system import two_endpoints


def test_the_api_serves_every_endpoint_of_the_system(new_stack: StackFactory) -> None:
    stack = new_stack()
    system = two_endpoints(stack)
    api = JobApi(stack, "Jobs", system=system)
    api.add_client_outputs()
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::ApiGateway::RestApi", 1)
    template.resource_count_is("AWS::Lambda::Permission", 1)
    (function,) = [
        f["Properties"]
        for f in template.find_resources("AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "job_api.handler.lambda_handler"
    ]
    endpoints = function["Environment"]["Variables"]["API_ENDPOINTS"]
    rendered = json.dumps(endpoints)
    assert '\\"sentiment\\":\\"' in rendered and '\\"tabular\\":\\"' in rendered
    assert set(template.to_json()["Outputs"]) == {"ApiUrl", "JobsTableName"}


def test_an_api_without_endpoints_is_refused(new_stack: StackFactory) -> None:
    stack = new_stack()
    with pytest.raises(ConfigError, match="add_endpoint first"):
        JobApi(stack, "Jobs", system=AsyncInferenceSystem(stack, "Inference"))


def test_your_own_user_pool_authorizes_every_method(new_stack: StackFactory) -> None:
    stack = new_stack()
    pool = cognito.UserPool(stack, "Pool")
    JobApi(
        stack,
        "Jobs",
        system=two_endpoints(stack),
        props=JobApiProps(api_authorizer="cognito"),
        user_pool=pool,
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::ApiGateway::Authorizer", 1)
    kinds = {
        m["Properties"]["AuthorizationType"]
        for m in template.find_resources("AWS::ApiGateway::Method").values()
    }
    assert kinds == {"COGNITO_USER_POOLS"}


def test_cognito_without_a_pool_and_a_pool_without_cognito_are_refused(
    new_stack: StackFactory,
) -> None:
    stack = new_stack()
    with pytest.raises(ConfigError, match="no user pool is given"):
        JobApi(
            stack, "Jobs", system=two_endpoints(stack), props=JobApiProps(api_authorizer="cognito")
        )
    with pytest.raises(ConfigError, match="applies only with api_authorizer=cognito"):
        JobApiProps(
            api_user_pool_arn="arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_A1"
        )


def test_the_pending_write_grant_covers_batches_and_taking_a_record_back(
    new_stack: StackFactory,
) -> None:
    stack = new_stack()
    system = two_endpoints(stack)
    submitter = iam.Role(stack, "Submitter", assumed_by=iam.AccountRootPrincipal())
    system.pipeline.grant_write_pending(submitter)
    (policy,) = [
        p
        for p in Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
        if p["Properties"]["Roles"][0]["Ref"].startswith("Submitter")
    ]
    table = stack.resolve(system.pipeline.table.table_arn)
    dynamodb = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if any(str(a).startswith("dynamodb:") for a in s["Action"])
    ]
    assert dynamodb == [
        {
            "Action": ["dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:PutItem"],
            "Effect": "Allow",
            "Resource": table,
        }
    ]
