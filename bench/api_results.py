"""bench/results/api.json holds the figures of two scripts, the job API's (bench_api.py)
and the webhooks' (bench_webhooks.py): each rewrites its own keys and leaves the other's."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "api.json"


def write_own_figures(
    part: str,
    *,
    command: str,
    figures: dict[str, Any],
    targets: dict[str, str],
    met: dict[str, bool],
    details: dict[str, Any],
) -> None:
    """Put `part`'s (`api`, `webhooks`) command, figures, targets and verdicts into the
    file, and its measurement details under the key `part`."""
    existing: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing.setdefault("commands", {})[part] = command
    existing["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    for section, values in (("figures", figures), ("targets", targets), ("met", met)):
        existing.setdefault(section, {}).update(values)
    existing[part] = details
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(existing, indent=2) + "\n")
