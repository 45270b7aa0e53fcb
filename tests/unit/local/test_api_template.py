"""Local mode's reading of a template's REST API (asyncinfer/local/api_template.py) and what
its gateway answers itself (asyncinfer/local/api_gateway.py), on a small hand-written
template: routes, the stage, gateway responses, and a method it cannot authorize."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from asyncinfer.local.api_gateway import LocalApi
from asyncinfer.local.api_template import api_definition
from asyncinfer.local.provision import Provisioned, TemplateError
from asyncinfer.local.sigv4 import Signer

FUNCTION_ARN = {"Fn::GetAtt": ["Fn", "Arn"]}


def method(resource: str, verb: str, authorization: str = "AWS_IAM") -> dict[str, Any]:
    uri = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":apigateway:", FUNCTION_ARN]]}
    return {
        "Type": "AWS::ApiGateway::Method",
        "Properties": {
            "HttpMethod": verb,
            "ResourceId": {"Ref": resource},
            "RestApiId": {"Ref": "Api"},
            "AuthorizationType": authorization,
            "Integration": {"Type": "AWS_PROXY", "IntegrationHttpMethod": "POST", "Uri": uri},
        },
    }


def resource(parent: dict[str, Any], part: str) -> dict[str, Any]:
    return {
        "Type": "AWS::ApiGateway::Resource",
        "Properties": {"ParentId": parent, "PathPart": part, "RestApiId": {"Ref": "Api"}},
    }


def template(authorization: str = "AWS_IAM") -> dict[str, Any]:
    return {
        "Resources": {
            "Api": {
                "Type": "AWS::ApiGateway::RestApi",
                "Properties": {"BinaryMediaTypes": ["*/*"]},
            },
            "V1": resource({"Fn::GetAtt": ["Api", "RootResourceId"]}, "v1"),
            "Jobs": resource({"Ref": "V1"}, "jobs"),
            "Job": resource({"Ref": "Jobs"}, "{id}"),
            "Latest": resource({"Ref": "Jobs"}, "latest"),
            "ListJobs": method("Jobs", "GET"),
            "GetJob": method("Job", "GET", authorization),
            "GetLatest": method("Latest", "GET"),
            "Stage": {
                "Type": "AWS::ApiGateway::Stage",
                "Properties": {
                    "RestApiId": {"Ref": "Api"},
                    "StageName": "prod",
                    "MethodSettings": [
                        {
                            "ResourcePath": "/*",
                            "HttpMethod": "*",
                            "ThrottlingRateLimit": 7,
                            "ThrottlingBurstLimit": 1,
                        }
                    ],
                },
            },
            "Throttled": {
                "Type": "AWS::ApiGateway::GatewayResponse",
                "Properties": {
                    "RestApiId": {"Ref": "Api"},
                    "ResponseType": "THROTTLED",
                    "StatusCode": "429",
                    "ResponseParameters": {
                        "gatewayresponse.header.Content-Type": "'application/problem+json'"
                    },
                    "ResponseTemplates": {
                        "application/json": '{"status":429,"detail":$context.error.messageString}'
                    },
                },
            },
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": "python3.14",
                    "Handler": "index.handler",
                    "Code": {"ZipFile": "def handler(event, context):\n    return {}\n"},
                },
            },
        }
    }


def definition(tmp_path: Path, authorization: str = "AWS_IAM") -> Any:
    state = Provisioned(stack_name="Stack", region="us-east-1")
    found = api_definition(
        template(authorization), state, assembly_dir=tmp_path, work_dir=tmp_path / "functions"
    )
    assert found is not None
    return found


def test_routes_stage_and_throttling_come_from_the_template(tmp_path: Path) -> None:
    api = definition(tmp_path)
    assert api.stage == "prod" and (api.rate_limit, api.burst_limit) == (7.0, 1)
    assert api.binary_media_types == ["*/*"]
    assert {(r.method, r.resource) for r in api.routes} == {
        ("GET", "/v1/jobs"),
        ("GET", "/v1/jobs/{id}"),
        ("GET", "/v1/jobs/latest"),
    }
    route, parameters = api.route("GET", "/v1/jobs/abc")
    assert (route.resource, parameters) == ("/v1/jobs/{id}", {"id": "abc"})
    # A literal path part wins over a parameter, as in API Gateway.
    assert api.route("GET", "/v1/jobs/latest")[0].resource == "/v1/jobs/latest"
    assert api.route("POST", "/v1/jobs") is None
    assert api.route("GET", "/v1/other") is None


def test_a_template_without_an_api_has_none(tmp_path: Path) -> None:
    state = Provisioned(stack_name="Stack", region="us-east-1")
    assert (
        api_definition({"Resources": {}}, state, assembly_dir=tmp_path, work_dir=tmp_path) is None
    )


def test_a_method_local_mode_cannot_authorize_is_refused_in_one_sentence(tmp_path: Path) -> None:
    api = definition(tmp_path, "COGNITO_USER_POOLS")
    with pytest.raises(TemplateError, match=r"SigV4 \(AWS_IAM\) only; .* COGNITO_USER_POOLS"):
        LocalApi(api, signer=Signer("local", "local", "us-east-1"), environment={})


def test_gateway_answers_render_the_template_s_responses(tmp_path: Path) -> None:
    api = definition(tmp_path)
    gateway = LocalApi.__new__(LocalApi)
    gateway.definition = api
    status, headers, body = gateway.gateway_response("THROTTLED", "Too Many Requests", "r1")
    assert status == 429 and headers["Content-Type"] == "application/problem+json"
    assert json.loads(body) == {"status": 429, "detail": "Too Many Requests"}
    # A type the template does not customize keeps API Gateway's own body and status.
    status, headers, body = gateway.gateway_response(
        "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token", "r2"
    )
    assert status == 403 and json.loads(body) == {"message": "Missing Authentication Token"}
