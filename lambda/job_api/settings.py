"""The function's environment, read once into a typed object."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

from asyncinfer_runtime.environment import (
    API_ENDPOINTS,
    INPUT_BUCKET_NAME,
    JOBS_TABLE_NAME,
    LOCAL_MODE,
    RESULTS_RETENTION_DAYS,
    RESULTS_TABLE_NAME,
)


class SettingsError(RuntimeError):
    """The function is misconfigured; the message is one sentence naming the variable."""


@dataclass(frozen=True)
class ApiSettings:
    jobs_table: str
    results_table: str
    input_bucket: str
    # Each endpoint's name in the system -> its SageMaker endpoint name, in the order the
    # system added them.
    endpoints: dict[str, str]
    retention_days: int
    local_mode: bool = False

    @property
    def endpoint_names(self) -> dict[str, str]:
        """SageMaker endpoint name -> the endpoint's name in the system (what jobs show)."""
        return {sagemaker: name for name, sagemaker in self.endpoints.items()}

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> ApiSettings:
        def required(name: str) -> str:
            value = environ.get(name, "").strip()
            if not value:
                raise SettingsError(
                    f"Environment variable {name} is not set; the construct sets it."
                )
            return value

        try:
            endpoints = json.loads(required(API_ENDPOINTS))
        except json.JSONDecodeError as error:
            raise SettingsError(
                f"Environment variable {API_ENDPOINTS} must be a JSON object of endpoint names; "
                f"it is not JSON ({error.msg})."
            ) from None
        if (
            not isinstance(endpoints, dict)
            or not endpoints
            or not all(isinstance(v, str) and v for v in endpoints.values())
        ):
            raise SettingsError(
                f"Environment variable {API_ENDPOINTS} must map each endpoint's name to its "
                f"SageMaker endpoint name; received {endpoints!r}."
            )
        retention = environ.get(RESULTS_RETENTION_DAYS, "90")
        if not retention.isdigit() or int(retention) < 1:
            raise SettingsError(
                f"Environment variable {RESULTS_RETENTION_DAYS} must be a whole number of days; "
                f"received {retention!r}."
            )
        return cls(
            jobs_table=required(JOBS_TABLE_NAME),
            results_table=required(RESULTS_TABLE_NAME),
            input_bucket=required(INPUT_BUCKET_NAME),
            endpoints=endpoints,
            retention_days=int(retention),
            local_mode=environ.get(LOCAL_MODE) == "1",
        )


@functools.cache
def settings() -> ApiSettings:
    """This environment's settings, read on first use (a test sets the variables first)."""
    return ApiSettings.from_environment()
