"""Client, CLI and local mode for this project's SageMaker Asynchronous Inference stacks.

The public names load on first use (PEP 562): importing the package or one of its error
types must not load boto3 (about 0.23 s); the client loads it when it is first named.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
# Where the public names live, lightest first: an error's name loads only asyncinfer.errors.
_HOMES = ("asyncinfer.errors", "asyncinfer.results", "asyncinfer.client")


def __getattr__(name: str) -> Any:
    if name in __all__:
        for home in _HOMES:
            module = importlib.import_module(home)
            if hasattr(module, name):
                value = getattr(module, name)
                globals()[name] = value  # later lookups skip this function
                return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
