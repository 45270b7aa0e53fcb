"""The writer's environment, parsed once into a typed object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from asyncinfer_runtime.environment import (
    LOG_LEVEL,
    RESULTS_INLINE_BODY_MAX_BYTES,
    RESULTS_RETENTION_DAYS,
    RESULTS_TABLE_NAME,
    RESULTS_WRITE_MAX_ATTEMPTS,
)
from asyncinfer_runtime.record import INLINE_BODY_LIMIT


class SettingsError(RuntimeError):
    """The function is misconfigured; the message is one sentence naming the variable."""


@dataclass(frozen=True)
class WriterSettings:
    table_name: str
    retention_days: int
    log_level: str
    # Attempts per write: throttling, 5xx and dropped connections are retried with
    # jittered backoff inside the invocation (store.py); what still fails is reported
    # for redelivery.
    max_attempts: int = 8
    # Response bodies longer than this (bytes as the notification sends them) are left out
    # of the record, which then points to outputLocation: a record stays a few KB, so a
    # write costs a few write units however large the response (record.py).
    inline_body_max_bytes: int = 4096

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> WriterSettings:
        table_name = environ.get(RESULTS_TABLE_NAME, "").strip()
        if not table_name:
            raise SettingsError(
                f"Environment variable {RESULTS_TABLE_NAME} must name the results table; "
                "received nothing."
            )
        raw_retention = environ.get(RESULTS_RETENTION_DAYS, "90").strip()
        if not raw_retention.isdigit() or int(raw_retention) < 1:
            raise SettingsError(
                f"Environment variable {RESULTS_RETENTION_DAYS} must be a whole number of days "
                f"(1 or more); received {raw_retention!r}."
            )
        raw_attempts = environ.get(RESULTS_WRITE_MAX_ATTEMPTS, "8").strip()
        if not raw_attempts.isdigit() or not 1 <= int(raw_attempts) <= 20:
            raise SettingsError(
                f"Environment variable {RESULTS_WRITE_MAX_ATTEMPTS} must be a whole number from "
                f"1 to 20; received {raw_attempts!r}."
            )
        raw_inline = environ.get(RESULTS_INLINE_BODY_MAX_BYTES, "4096").strip()
        if not raw_inline.isdigit() or int(raw_inline) > INLINE_BODY_LIMIT:
            raise SettingsError(
                f"Environment variable {RESULTS_INLINE_BODY_MAX_BYTES} must be a whole number of "
                f"bytes from 0 to {INLINE_BODY_LIMIT}; received {raw_inline!r}."
            )
        return cls(
            table_name=table_name,
            retention_days=int(raw_retention),
            log_level=environ.get(LOG_LEVEL, "INFO").upper(),
            max_attempts=int(raw_attempts),
            inline_body_max_bytes=int(raw_inline),
        )
