"""The job API in the app's templates: authentication on every method, least-privilege
roles, throttling, access logs, its problems, its layer, and that turning it on or off
leaves every other resource as it is."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from asyncinfer_constructs.job_api import POWERTOOLS_VERSION, ROUTES, STAGE
from tests.infra.conftest import CONFIGURATIONS, Synthesized, synthesize
from tests.infra.test_template import as_list, statements

Getter = Callable[[str], Synthesized]
REPO_ROOT = Path(__file__).resolve().parents[2]


def api_paths(synth: Synthesized) -> dict[str, str]:
    """Each API Gateway resource's logical id -> its full path."""
    resources = synth.resources("AWS::ApiGateway::Resource")
    paths: dict[str, str] = {}

    def path_of(logical_id: str) -> str:
        if logical_id not in paths:
            properties = resources[logical_id]["Properties"]
            parent = properties["ParentId"]
            above = "" if "Fn::GetAtt" in parent else path_of(parent["Ref"])
            paths[logical_id] = f"{above}/{properties['PathPart']}"
        return paths[logical_id]

    for logical_id in resources:
        path_of(logical_id)
    return paths


def methods(synth: Synthesized) -> dict[tuple[str, str], dict[str, Any]]:
    paths = api_paths(synth)
    return {
        (m["Properties"]["HttpMethod"], paths[m["Properties"]["ResourceId"]["Ref"]]): m[
            "Properties"
        ]
        for m in synth.resources("AWS::ApiGateway::Method").values()
    }


def test_every_method_of_the_document_requires_sigv4(default: Synthesized) -> None:
    found = methods(default)
    expected = {(method, f"/{path}") for path, verbs in ROUTES for method in verbs}
    assert set(found) == expected
    document = json.loads((REPO_ROOT / "lambda" / "job_api" / "openapi.json").read_text())
    documented = {(verb.upper(), path) for path, ops in document["paths"].items() for verb in ops}
    assert documented == expected
    for properties in found.values():
        assert properties["AuthorizationType"] == "AWS_IAM"
        assert properties["Integration"]["Type"] == "AWS_PROXY"
    # No method answers without a signature: no OPTIONS (CORS) or ANY method either.
    assert all(method in ("GET", "POST") for method, _ in found)


def test_with_a_user_pool_every_method_requires_its_token(synthesized: Getter) -> None:
    synth = synthesized("gpu")
    (authorizer_id, authorizer) = synth.only("AWS::ApiGateway::Authorizer")
    assert authorizer["Properties"]["Type"] == "COGNITO_USER_POOLS"
    assert authorizer["Properties"]["ProviderARNs"] == [CONFIGURATIONS["gpu"]["api_user_pool_arn"]]
    for properties in methods(synth).values():
        assert properties["AuthorizationType"] == "COGNITO_USER_POOLS"
        assert properties["AuthorizerId"] == {"Ref": authorizer_id}


def job_api_policy(synth: Synthesized) -> list[dict[str, Any]]:
    (role_id,) = [
        logical_id
        for logical_id in synth.resources("AWS::IAM::Role")
        if logical_id.startswith("JobApiRole")
    ]
    (policy,) = [
        p
        for p in synth.resources("AWS::IAM::Policy").values()
        if p["Properties"]["Roles"] == [{"Ref": role_id}]
    ]
    return statements(policy)


def test_the_function_may_do_what_its_routes_do_and_no_more(synthesized: Getter) -> None:
    synth = synthesized("multi")
    granted: dict[str, list[Any]] = {}
    for statement in job_api_policy(synth):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            granted.setdefault(action, []).extend(as_list(statement["Resource"]))
    assert set(granted) == {
        "sagemaker:InvokeEndpointAsync",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "s3:GetObject",
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:DescribeKey",
        "dynamodb:PutItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    # Only X-Ray, which has no resource to name, is granted on "*".
    for action, resources in granted.items():
        assert ("*" in resources) == action.startswith("xray:"), action
    endpoints = {
        json.dumps({"Fn::GetAtt": [logical_id, "EndpointName"]})
        for logical_id in synth.resources("AWS::SageMaker::Endpoint")
    }
    assert len(granted["sagemaker:InvokeEndpointAsync"]) == 2 == len(endpoints)
    tables = {
        json.dumps({"Fn::GetAtt": [logical_id, "Arn"]})
        for logical_id in synth.resources("AWS::DynamoDB::Table")
    }
    written = {
        json.dumps(r)
        for action in ("dynamodb:PutItem", "dynamodb:BatchWriteItem", "dynamodb:DeleteItem")
        for r in granted[action]
    }
    assert written == tables  # the jobs table and the results table, nothing else
    assert not any("index" in json.dumps(r) for r in granted["dynamodb:PutItem"])
    # Reads of S3: outputs, failures, and the upload being checked.
    readable = json.dumps(granted["s3:GetObject"])
    assert "/output/*" in readable and "/failure/*" in readable and "/uploads/*" in readable


def test_the_stage_throttles_logs_as_json_and_traces(synthesized: Getter) -> None:
    synth = synthesized("default")
    _, stage = synth.only("AWS::ApiGateway::Stage")
    properties = stage["Properties"]
    assert properties["StageName"] == STAGE
    assert properties["TracingEnabled"] is True
    (setting,) = properties["MethodSettings"]
    assert setting["ResourcePath"] == "/*" and setting["HttpMethod"] == "*"
    assert (setting["ThrottlingRateLimit"], setting["ThrottlingBurstLimit"]) == (50, 100)
    access = properties["AccessLogSetting"]
    log_format = json.loads(access["Format"])
    assert log_format["requestId"] == "$context.requestId"
    assert log_format["status"] == "$context.status" and "caller" in log_format
    (log_group_id,) = [
        part["Ref"]
        for part in access["DestinationArn"]["Fn::Join"][1]
        if isinstance(part, dict) and not part.get("Ref", "AWS::").startswith("AWS::")
    ]
    log_group = synth.template["Resources"][log_group_id]["Properties"]
    assert log_group["RetentionInDays"] == 90
    assert log_group["KmsKeyId"] == {
        "Fn::GetAtt": [synth.logical_id_of("/Keys/DataKey/Resource"), "Arn"]
    }
    # The Region's API Gateway account names the role that lets it write access logs.
    _, account = synth.only("AWS::ApiGateway::Account")
    assert "CloudWatchRoleArn" in account["Properties"]


def test_throttling_follows_the_settings(tmp_path: Path) -> None:
    synth = synthesize(
        {"api_throttling_rate_limit": "7", "api_throttling_burst_limit": "9", "nag_checks": False},
        tmp_path,
    )
    _, stage = synth.only("AWS::ApiGateway::Stage")
    (setting,) = stage["Properties"]["MethodSettings"]
    assert (setting["ThrottlingRateLimit"], setting["ThrottlingBurstLimit"]) == (7, 9)


def test_api_gateway_s_own_errors_are_problems(default: Synthesized) -> None:
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in default.resources("AWS::ApiGateway::GatewayResponse").values()
    }
    for kind, status in (
        ("MISSING_AUTHENTICATION_TOKEN", "403"),
        ("INVALID_SIGNATURE", "403"),
        ("ACCESS_DENIED", "403"),
        ("THROTTLED", "429"),
        ("REQUEST_TOO_LARGE", "413"),
        ("UNSUPPORTED_MEDIA_TYPE", "415"),
    ):
        response = responses[kind]
        assert response["StatusCode"] == status
        headers = response["ResponseParameters"]
        assert headers["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
        template = response["ResponseTemplates"]["application/json"]
        body = json.loads(template.replace("$context.error.messageString", '"message"'))
        assert body["status"] == int(status) and body["type"] == "about:blank"
    assert {"DEFAULT_4XX", "DEFAULT_5XX"} <= set(responses)


def test_the_function_runs_powertools_from_its_layer(default: Synthesized) -> None:
    (function,) = [
        f["Properties"]
        for f in default.resources("AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "job_api.handler.lambda_handler"
    ]
    assert function["Runtime"] == "python3.14" and function["Architectures"] == ["arm64"]
    assert function["Layers"] == [
        f"{{{{resolve:ssm:/aws/service/powertools/python/arm64/python3.14/{POWERTOOLS_VERSION}}}}}"
    ]
    pins = (REPO_ROOT / "requirements-dev.txt").read_text()
    assert f"aws-lambda-powertools=={POWERTOOLS_VERSION}\n" in pins
    assert function["Timeout"] == 29 and function["TracingConfig"] == {"Mode": "Active"}
    _, api = default.only("AWS::ApiGateway::RestApi")
    assert api["Properties"]["BinaryMediaTypes"] == ["*/*"]
    assert api["Properties"]["EndpointConfiguration"] == {"Types": ["REGIONAL"]}


def test_the_jobs_table_and_the_input_bucket_s_encryption(default: Synthesized) -> None:
    table = default.template["Resources"][default.logical_id_of("/JobApi/Jobs/Resource")]
    properties = table["Properties"]
    assert properties["KeySchema"] == [{"AttributeName": "jobId", "KeyType": "HASH"}]
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert properties["SSESpecification"]["SSEType"] == "KMS"
    assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    input_bucket = default.logical_id_of("/Payloads/Input/Resource")
    (policy,) = [
        p
        for p in default.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": input_bucket}
    ]
    denials = {
        s["Sid"]: s["Condition"]["StringNotEqualsIfExists"]
        for s in statements(policy)
        if s["Effect"] == "Deny" and "Sid" in s
    }
    assert denials["DenyOtherEncryption"] == {"s3:x-amz-server-side-encryption": "aws:kms"}
    assert "s3:x-amz-server-side-encryption-aws-kms-key-id" in denials["DenyOtherKey"]
    assert {"ApiUrl", "JobsTableName"} <= set(default.template["Outputs"])


def test_turning_the_api_off_changes_no_other_resource(
    default: Synthesized, tmp_path: Path
) -> None:
    without = synthesize({"api_enabled": "false", "nag_checks": False}, tmp_path)
    assert not without.resources("AWS::ApiGateway::RestApi")
    assert "ApiUrl" not in without.template["Outputs"]
    others = {
        logical_id: resource
        for logical_id, resource in default.template["Resources"].items()
        if not logical_id.startswith("JobApi")
    }
    # Every resource keeps its logical id; only the input bucket's policy (its encryption
    # rule) and the lambda asset hashes of functions may differ.
    assert set(others) == set(without.template["Resources"])


@pytest.mark.parametrize("value", ["cognito"])
def test_a_cognito_authorizer_without_a_user_pool_is_refused(value: str, tmp_path: Path) -> None:
    from stacks.config import ConfigError

    with pytest.raises(ConfigError, match="api_user_pool_arn"):
        synthesize({"api_authorizer": value, "nag_checks": False}, tmp_path)
