"""Names of the environment variables the constructs set and the functions read.

One name, one constant: a construct that set `RESULT_TABLE_NAME` for a function that reads
`RESULTS_TABLE_NAME` would deploy and then fail on its first message.
"""

from __future__ import annotations

from typing import Final

# The results writer (lambda/results_writer/settings.py).
RESULTS_TABLE_NAME: Final = "RESULTS_TABLE_NAME"
RESULTS_RETENTION_DAYS: Final = "RESULTS_RETENTION_DAYS"
RESULTS_WRITE_MAX_ATTEMPTS: Final = "RESULTS_WRITE_MAX_ATTEMPTS"
RESULTS_INLINE_BODY_MAX_BYTES: Final = "RESULTS_INLINE_BODY_MAX_BYTES"
# Every function: the level of its own log lines.
LOG_LEVEL: Final = "LOG_LEVEL"
