"""The dispatcher's environment, parsed once into a typed object."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

from asyncinfer_runtime.environment import (
    JOBS_TABLE_NAME,
    LOCAL_MODE,
    LOG_LEVEL,
    RESULTS_TABLE_NAME,
    WEBHOOK_ATTEMPT_TIMEOUT_SECONDS,
    WEBHOOK_DEAD_LETTER_QUEUE_URL,
    WEBHOOK_DELIVERY_QUEUE_URL,
    WEBHOOK_ENDPOINTS,
    WEBHOOK_RETRY_DELAY_SCALE,
    WEBHOOK_RETRY_FIRST_DELAY_SECONDS,
    WEBHOOK_RETRY_MAX_DELAY_SECONDS,
    WEBHOOK_RETRY_WINDOW_HOURS,
    WEBHOOK_SECRET_ARN,
)
from webhook_delivery.schedule import RetryPolicy


class SettingsError(RuntimeError):
    """The function is misconfigured; the message is one sentence naming the variable."""


@dataclass(frozen=True)
class DispatcherSettings:
    jobs_table: str
    results_table: str
    secret_arn: str
    delivery_queue_url: str
    dead_letter_queue_url: str
    endpoint_names: dict[str, str]
    retry: RetryPolicy
    attempt_timeout_seconds: float = 5.0
    allow_loopback_http: bool = False
    log_level: str = "INFO"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> DispatcherSettings:
        def required(name: str, what: str) -> str:
            value = environ.get(name, "").strip()
            if not value:
                raise SettingsError(
                    f"Environment variable {name} must name {what}; received nothing."
                )
            return value

        def number(name: str, default: float, low: float, high: float) -> float:
            raw = environ.get(name, str(default)).strip()
            try:
                value = float(raw)
            except ValueError:
                value = math.nan
            if not (math.isfinite(value) and low <= value <= high):
                raise SettingsError(
                    f"Environment variable {name} must be a number from {low:g} to {high:g}; "
                    f"received {raw!r}."
                )
            return value

        raw_endpoints = environ.get(WEBHOOK_ENDPOINTS, "{}")
        try:
            endpoints = json.loads(raw_endpoints)
        except json.JSONDecodeError:
            endpoints = None
        if not isinstance(endpoints, dict):
            raise SettingsError(
                f"Environment variable {WEBHOOK_ENDPOINTS} must be a JSON object of SageMaker "
                f"endpoint name to endpoint name; received {raw_endpoints!r}."
            )
        return cls(
            jobs_table=required(JOBS_TABLE_NAME, "the jobs table"),
            results_table=required(RESULTS_TABLE_NAME, "the results table"),
            secret_arn=required(WEBHOOK_SECRET_ARN, "the signing secret"),
            delivery_queue_url=required(WEBHOOK_DELIVERY_QUEUE_URL, "the delivery queue"),
            dead_letter_queue_url=required(
                WEBHOOK_DEAD_LETTER_QUEUE_URL, "the webhook dead-letter queue"
            ),
            endpoint_names={str(k): str(v) for k, v in endpoints.items()},
            retry=RetryPolicy(
                first_delay_seconds=number(WEBHOOK_RETRY_FIRST_DELAY_SECONDS, 5, 1, 900),
                max_delay_seconds=number(WEBHOOK_RETRY_MAX_DELAY_SECONDS, 3600, 1, 86400),
                window_seconds=number(WEBHOOK_RETRY_WINDOW_HOURS, 24, 1, 336) * 3600,
                scale=number(WEBHOOK_RETRY_DELAY_SCALE, 1, 0.00001, 1),
            ),
            attempt_timeout_seconds=number(WEBHOOK_ATTEMPT_TIMEOUT_SECONDS, 5, 1, 30),
            # Local mode's functions only (webhooks to http receivers on loopback).
            allow_loopback_http=environ.get(LOCAL_MODE) == "1",
            log_level=environ.get(LOG_LEVEL, "INFO").upper(),
        )
