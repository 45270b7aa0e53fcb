"""Client, CLI and local mode for this project's SageMaker Asynchronous Inference stacks."""

from asyncinfer.client import AsyncInferenceClient, InferenceHandle, InvokeOptions, Outcome
from asyncinfer.errors import (
    AsyncInferenceError,
    ConfigurationError,
    CredentialsError,
    EndpointNotFoundError,
    InferenceFailedError,
    InferenceNotFoundError,
    InferenceTimeoutError,
    InputLineError,
    MissingOutputsError,
    PayloadTooLargeError,
    StackNotFoundError,
    ThrottledError,
)
from asyncinfer.results import InferenceRecord

__all__ = [
    "AsyncInferenceClient",
    "AsyncInferenceError",
    "ConfigurationError",
    "CredentialsError",
    "EndpointNotFoundError",
    "InferenceFailedError",
    "InferenceHandle",
    "InferenceNotFoundError",
    "InferenceRecord",
    "InferenceTimeoutError",
    "InputLineError",
    "InvokeOptions",
    "MissingOutputsError",
    "Outcome",
    "PayloadTooLargeError",
    "StackNotFoundError",
    "ThrottledError",
]
