"""The template's REST API, as local mode serves it: its routes (resource paths and methods,
each method's authorization and the function its Lambda proxy integration invokes), the
stage (its name and throttling), binary media types and gateway responses.

Everything is read from the synthesized template (AWS::ApiGateway::RestApi, ::Resource,
::Method, ::Stage, ::GatewayResponse), so local mode answers as the deployed API would;
each function is found the way local/functions.py finds an event source's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .functions import LocalFunction, local_function
from .provision import Provisioned, Resolver, TemplateError

# API Gateway's default stage throttling, when the template sets none: the account's
# 10,000 requests per second with a burst of 5,000 (API Gateway Developer Guide, "Amazon
# API Gateway quotas", Throttle quota per account, per Region across HTTP APIs, REST
# APIs, WebSocket APIs, and WebSocket callback APIs).
ACCOUNT_RATE_LIMIT = 10_000.0
ACCOUNT_BURST_LIMIT = 5_000
# The default status of each gateway response type (API Gateway Developer Guide, "Gateway
# response types for API Gateway").
DEFAULT_STATUS = {
    "ACCESS_DENIED": 403,
    "EXPIRED_TOKEN": 403,
    "INVALID_SIGNATURE": 403,
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "UNAUTHORIZED": 401,
    "THROTTLED": 429,
    "REQUEST_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "INTEGRATION_FAILURE": 504,
    "INTEGRATION_TIMEOUT": 504,
}


@dataclass(frozen=True)
class ApiRoute:
    method: str  # GET, POST, ... or ANY
    resource: str  # the resource path, e.g. /v1/jobs/{id}
    authorization: str  # AWS_IAM, NONE, COGNITO_USER_POOLS, CUSTOM
    function: LocalFunction
    pattern: re.Pattern[str] = field(compare=False)

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters if this route serves `method` `path`, else None."""
        if self.method not in (method, "ANY"):
            return None
        found = self.pattern.match(path)
        return found.groupdict() if found else None


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    templates: dict[str, str]
    headers: dict[str, str]


@dataclass(frozen=True)
class ApiDefinition:
    logical_id: str
    stage: str
    routes: list[ApiRoute]
    binary_media_types: list[str]
    rate_limit: float
    burst_limit: int
    gateway_responses: dict[str, GatewayResponse]

    def route(self, method: str, path: str) -> tuple[ApiRoute, dict[str, str]] | None:
        # API Gateway prefers a literal path part over a {parameter} (fewer parameters win).
        for route in sorted(self.routes, key=lambda r: r.resource.count("{")):
            parameters = route.match(method, path)
            if parameters is not None:
                return route, parameters
        return None


def api_definition(
    template: dict[str, Any],
    state: Provisioned,
    *,
    assembly_dir: Path,
    work_dir: Path,
) -> ApiDefinition | None:
    """The template's REST API, or None when it has none. Methods whose integration is not a
    Lambda proxy to a Python function of this template are left out (and so answered as a
    route the API does not have)."""
    resources: dict[str, Any] = template.get("Resources") or {}
    apis = [lid for lid, r in resources.items() if r.get("Type") == "AWS::ApiGateway::RestApi"]
    if not apis:
        return None
    if len(apis) > 1:
        raise TemplateError(
            f"the template has {len(apis)} REST APIs ({', '.join(apis)}); local mode serves one"
        )
    api_id = apis[0]
    resolve = Resolver(state, resources)
    paths = _resource_paths(api_id, resources)
    functions: dict[str, LocalFunction] = {}
    routes: list[ApiRoute] = []
    for resource in resources.values():
        if resource.get("Type") != "AWS::ApiGateway::Method":
            continue
        properties = resource.get("Properties") or {}
        path = paths.get(_target(properties.get("ResourceId")) or "")
        integration = properties.get("Integration") or {}
        function_id = _function_in(integration.get("Uri"), resources)
        if path is None or integration.get("Type") != "AWS_PROXY" or function_id is None:
            continue
        if function_id not in functions:
            functions[function_id] = local_function(
                function_id, resources[function_id], resolve, assembly_dir, work_dir
            )
        routes.append(
            ApiRoute(
                method=str(properties.get("HttpMethod", "ANY")).upper(),
                resource=path,
                authorization=str(properties.get("AuthorizationType") or "NONE"),
                function=functions[function_id],
                pattern=_pattern(path),
            )
        )
    stage_name, rate, burst = _stage(api_id, resources, resolve)
    api_properties = resources[api_id].get("Properties") or {}
    return ApiDefinition(
        logical_id=api_id,
        stage=stage_name,
        routes=routes,
        binary_media_types=[str(t) for t in api_properties.get("BinaryMediaTypes") or []],
        rate_limit=rate,
        burst_limit=burst,
        gateway_responses=_gateway_responses(api_id, resources),
    )


def _target(reference: Any) -> str | None:
    """The logical id a Ref or Fn::GetAtt points at (RootResourceId: the API itself)."""
    if isinstance(reference, dict):
        if "Ref" in reference:
            return str(reference["Ref"])
        attribute = reference.get("Fn::GetAtt")
        if isinstance(attribute, list) and attribute:
            return str(attribute[0])
    return None


def _resource_paths(api_id: str, resources: dict[str, Any]) -> dict[str, str]:
    """Each resource's full path; the API's own logical id stands for its root, /."""
    parents: dict[str, tuple[str, str]] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") == "AWS::ApiGateway::Resource":
            properties = resource.get("Properties") or {}
            if _target(properties.get("RestApiId")) == api_id:
                parent = _target(properties.get("ParentId")) or ""
                parents[logical_id] = (parent, str(properties.get("PathPart")))
    paths = {api_id: "/"}

    def path_of(logical_id: str, seen: frozenset[str] = frozenset()) -> str | None:
        if logical_id in paths:
            return paths[logical_id]
        if logical_id not in parents or logical_id in seen:
            return None
        parent, part = parents[logical_id]
        above = path_of(parent, seen | {logical_id})
        if above is None:
            return None
        paths[logical_id] = above.rstrip("/") + "/" + part
        return paths[logical_id]

    for logical_id in parents:
        path_of(logical_id)
    return paths


def _pattern(resource_path: str) -> re.Pattern[str]:
    parts = []
    for part in resource_path.strip("/").split("/"):
        parameter = re.fullmatch(r"\{([A-Za-z0-9_]+)(\+?)\}", part)
        if parameter:
            name, greedy = parameter.groups()
            parts.append(f"(?P<{name}>.+)" if greedy else f"(?P<{name}>[^/]+)")
        else:
            parts.append(re.escape(part))
    return re.compile("^/" + "/".join(parts) + "/?$")


def _function_in(value: Any, resources: dict[str, Any]) -> str | None:
    """The Lambda function a proxy integration's Uri names (a GetAtt of its Arn)."""
    if isinstance(value, dict):
        attribute = value.get("Fn::GetAtt")
        if isinstance(attribute, list) and len(attribute) == 2:
            target = str(attribute[0])
            if resources.get(target, {}).get("Type") == "AWS::Lambda::Function":
                return target
        for inner in value.values():
            found = _function_in(inner, resources)
            if found:
                return found
    if isinstance(value, list):
        for inner in value:
            found = _function_in(inner, resources)
            if found:
                return found
    return None


def _stage(api_id: str, resources: dict[str, Any], resolve: Resolver) -> tuple[str, float, int]:
    for resource in resources.values():
        if resource.get("Type") != "AWS::ApiGateway::Stage":
            continue
        properties = resource.get("Properties") or {}
        if _target(properties.get("RestApiId")) != api_id:
            continue
        rate, burst = ACCOUNT_RATE_LIMIT, ACCOUNT_BURST_LIMIT
        for setting in properties.get("MethodSettings") or []:
            if setting.get("ResourcePath") == "/*" and setting.get("HttpMethod") == "*":
                rate = float(resolve(setting.get("ThrottlingRateLimit", rate)))
                burst = int(resolve(setting.get("ThrottlingBurstLimit", burst)))
        return str(resolve(properties.get("StageName"))), rate, burst
    raise TemplateError(f"REST API {api_id} has no stage; local mode serves a deployed stage")


def _gateway_responses(api_id: str, resources: dict[str, Any]) -> dict[str, GatewayResponse]:
    found: dict[str, GatewayResponse] = {}
    for resource in resources.values():
        if resource.get("Type") != "AWS::ApiGateway::GatewayResponse":
            continue
        properties = resource.get("Properties") or {}
        if _target(properties.get("RestApiId")) != api_id:
            continue
        kind = str(properties.get("ResponseType"))
        status = properties.get("StatusCode") or DEFAULT_STATUS.get(kind, 0)
        found[kind] = GatewayResponse(
            status=int(status),
            templates=dict(properties.get("ResponseTemplates") or {}),
            headers={
                name.removeprefix("gatewayresponse.header."): str(value).strip("'")
                for name, value in (properties.get("ResponseParameters") or {}).items()
            },
        )
    return found
