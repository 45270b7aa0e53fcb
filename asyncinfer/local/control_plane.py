"""SageMaker's DescribeEndpoint and ListEndpoints for local mode's endpoints.

The SageMaker Python SDK v3 starts from ``sagemaker.core.resources.Endpoint.get(name)``,
a ``DescribeEndpoint`` call, before ``invoke_async``; tools list endpoints with
``ListEndpoints``. Both are answered here from the template's endpoints, in the shapes of
the SageMaker API reference (JSON 1.1 protocol: ``X-Amz-Target: SageMaker.<Action>``);
every other SageMaker action goes on to moto. Each endpoint is described with its own
endpoint config, model and ``AsyncInferenceConfig``; local mode runs every endpoint on
one instance, so every variant reports one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from .provision import ACCOUNT_ID

TARGET_PREFIX = "SageMaker."
JSON_TYPE = "application/x-amz-json-1.1"
ACTIONS = ("DescribeEndpoint", "ListEndpoints")


def endpoint_arn(region: str, name: str) -> str:
    # SageMaker ARNs carry the resource name in lower case.
    return f"arn:aws:sagemaker:{region}:{ACCOUNT_ID}:endpoint/{name.lower()}"


class ControlPlane:
    """The descriptions of local mode's endpoints, built once at start."""

    def __init__(
        self,
        endpoint_configs: Mapping[str, tuple[str, dict[str, Any]]],
        region: str,
    ) -> None:
        """``endpoint_configs``: endpoint name -> (endpoint config name, its properties)."""
        created = time.time()
        self.region = region
        self.descriptions: dict[str, dict[str, Any]] = {}
        for name, (config_name, config) in endpoint_configs.items():
            variants = []
            for variant in config.get("ProductionVariants") or []:
                variants.append(
                    {
                        "VariantName": variant.get("VariantName", "AllTraffic"),
                        "CurrentWeight": float(variant.get("InitialVariantWeight", 1.0)),
                        "DesiredWeight": float(variant.get("InitialVariantWeight", 1.0)),
                        # Local mode serves every endpoint with one instance.
                        "CurrentInstanceCount": 1,
                        "DesiredInstanceCount": 1,
                    }
                )
            description: dict[str, Any] = {
                "EndpointName": name,
                "EndpointArn": endpoint_arn(region, name),
                "EndpointConfigName": config_name,
                "ProductionVariants": variants,
                "EndpointStatus": "InService",
                "CreationTime": created,
                "LastModifiedTime": created,
            }
            if config.get("AsyncInferenceConfig"):
                description["AsyncInferenceConfig"] = config["AsyncInferenceConfig"]
            self.descriptions[name] = description

    @staticmethod
    def answers(target: str) -> bool:
        """Whether this call (its X-Amz-Target) is answered here rather than by moto."""
        return target in (f"{TARGET_PREFIX}{action}" for action in ACTIONS)

    def handle(self, target: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """The reply to one of ACTIONS."""
        try:
            request = json.loads(body or b"{}")
        except json.JSONDecodeError:
            return error(400, "SerializationException", "The request body is not JSON.")
        if target == f"{TARGET_PREFIX}DescribeEndpoint":
            return self.describe_endpoint(str(request.get("EndpointName", "")))
        return self.list_endpoints(request)

    def describe_endpoint(self, name: str) -> tuple[int, dict[str, str], bytes]:
        description = self.descriptions.get(name)
        if description is None:
            return error(
                400,
                "ValidationException",
                f'Could not find endpoint "{endpoint_arn(self.region, name)}".',
            )
        return ok(description)

    def list_endpoints(self, request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        summaries = [
            {key: d[key] for key in ("EndpointName", "EndpointArn", "CreationTime")}
            | {"LastModifiedTime": d["LastModifiedTime"], "EndpointStatus": d["EndpointStatus"]}
            for d in self.descriptions.values()
        ]
        contains = str(request.get("NameContains") or "").lower()
        status = request.get("StatusEquals")
        summaries = [
            s
            for s in summaries
            if contains in s["EndpointName"].lower() and status in (None, s["EndpointStatus"])
        ]
        key = {"Name": "EndpointName", "Status": "EndpointStatus"}.get(
            str(request.get("SortBy")), "CreationTime"
        )
        # ListEndpoints sorts by CreationTime, Descending, unless told otherwise.
        summaries.sort(
            key=lambda s: (s[key], s["EndpointName"]),
            reverse=request.get("SortOrder", "Descending") == "Descending",
        )
        start = int(request.get("NextToken") or 0)
        size = int(request.get("MaxResults") or 10)
        page: dict[str, Any] = {"Endpoints": summaries[start : start + size]}
        if start + size < len(summaries):
            page["NextToken"] = str(start + size)
        return ok(page)


def ok(document: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": JSON_TYPE}, json.dumps(document).encode()


def error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"__type": code, "message": message}).encode()
    return status, {"Content-Type": JSON_TYPE, "x-amzn-ErrorType": code}, body
