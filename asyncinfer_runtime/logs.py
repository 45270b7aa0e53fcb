"""Structured JSON logs of every function, one object per line, with the `extra` fields
(an inference id, a job id) when there are some.

In Lambda with the JSON log format the runtime already writes each record as JSON and
adds the `extra` fields; elsewhere (tests, local mode) this formatter does the same.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _StdoutHandler(logging.Handler):
    """Writes to whatever sys.stdout is at the time (the Lambda runtime swaps it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
        except Exception:  # a log line must never fail a notification
            self.handleError(record)


def configure(name: str, level: str) -> logging.Logger:
    """The function's logger `name` at `level`, writing one JSON object per line."""
    logger = logging.getLogger(name)
    logger.setLevel(level)
    if os.environ.get("AWS_LAMBDA_LOG_FORMAT") != "JSON" and not logger.handlers:
        handler = _StdoutHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.propagate = False
    return logger
