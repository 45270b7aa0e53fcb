"""CDK constructs that deploy a SageMaker Asynchronous Inference system.

    from asyncinfer_constructs import (
        AsyncInferenceSystem, AsyncInferenceSystemProps, InferenceEndpointProps,
    )

    system = AsyncInferenceSystem(stack, "Inference", key=my_key, alarm_topic=my_topic)
    sentiment = system.add_endpoint("sentiment", InferenceEndpointProps(max_capacity=4))
    sentiment.grant_submit(my_function)
    system.grant_read_results(my_function)
    JobApi(stack, "JobApi", system=system).add_client_outputs()  # the HTTP job API

The names load on first use (PEP 562): the props alone import no aws_cdk, so tools that
only read settings do not start jsii.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asyncinfer_constructs.api_props import JobApiProps
    from asyncinfer_constructs.async_inference_system import AsyncInferenceSystem
    from asyncinfer_constructs.endpoint_props import InferenceEndpointProps
    from asyncinfer_constructs.inference_endpoint import InferenceEndpoint
    from asyncinfer_constructs.job_api import JobApi
    from asyncinfer_constructs.pipeline_props import ResultsPipelineProps
    from asyncinfer_constructs.props import ConfigError
    from asyncinfer_constructs.results_pipeline import ResultsPipeline
    from asyncinfer_constructs.system_props import AsyncInferenceSystemProps

_HOMES = {
    "AsyncInferenceSystem": "asyncinfer_constructs.async_inference_system",
    "AsyncInferenceSystemProps": "asyncinfer_constructs.system_props",
    "ConfigError": "asyncinfer_constructs.props",
    "InferenceEndpoint": "asyncinfer_constructs.inference_endpoint",
    "InferenceEndpointProps": "asyncinfer_constructs.endpoint_props",
    "JobApi": "asyncinfer_constructs.job_api",
    "JobApiProps": "asyncinfer_constructs.api_props",
    "ResultsPipeline": "asyncinfer_constructs.results_pipeline",
    "ResultsPipelineProps": "asyncinfer_constructs.pipeline_props",
}
__all__ = [
    "AsyncInferenceSystem",
    "AsyncInferenceSystemProps",
    "ConfigError",
    "InferenceEndpoint",
    "InferenceEndpointProps",
    "JobApi",
    "JobApiProps",
    "ResultsPipeline",
    "ResultsPipelineProps",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'asyncinfer_constructs' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value
