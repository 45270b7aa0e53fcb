"""A cheaper clock for moto's SQS stand-in, so a deep queue does not slow every call.

moto (5.2) answers "is this message visible / delayed / past retention?" by calling
``unix_time()``, which builds two naive UTC datetimes (and runs an import statement) per
message, and it asks those questions about every message in the queue on each
SendMessage (through ``Queue.attributes``) and for each candidate of a ReceiveMessage. With
1,000 notifications waiting, one receive cost seconds and local mode's results lagged
further the more work arrived (bench/bench_local.py). ``time.time()`` returns the same
seconds since the epoch at a fraction of the cost; nothing else changes: the SQS models
compare the same numbers, and the counts and visibility they report are the same.
"""

from __future__ import annotations

import time
from datetime import datetime


def apply() -> None:
    """Make moto's SQS models read the clock with ``time.time()`` (idempotent)."""
    from moto.sqs import models

    if getattr(models, "_asyncinfer_fast_clock", False):
        return
    original_seconds = models.unix_time
    original_millis = models.unix_time_millis

    def unix_time(dt: datetime | None = None) -> float:
        return time.time() if dt is None else float(original_seconds(dt))

    def unix_time_millis(dt: datetime | None = None) -> float:
        return time.time() * 1000.0 if dt is None else float(original_millis(dt))

    models.unix_time = unix_time
    models.unix_time_millis = unix_time_millis
    models._asyncinfer_fast_clock = True  # type: ignore[attr-defined]
