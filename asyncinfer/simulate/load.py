"""Replay an arrivals file against a deployed stack (or local mode) at the file's own
times, with the project's client, and report the same per-request times as `simulate`."""

from __future__ import annotations

import concurrent.futures as cf
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import IO, Any

from asyncinfer.client import InvokeOptions
from asyncinfer.payloads import to_payload

SUBMITTERS = 16  # parallel submissions, so a dense trace is sent at its own times


def _parse(moment: str | None) -> float | None:
    if not moment:
        return None
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()


def replay(
    client: Any,
    arrivals: Sequence[float],
    body: bytes,
    *,
    timeout: float,
    stderr: IO[str],
    poll_seconds: float = 0.5,
) -> list[dict[str, Any]]:
    """Submit request i at start + arrivals[i]; wait for every record; return the rows.

    `startedAt` stays null: SageMaker reports when it received and finished a request, not
    when an instance took it. `finishedAt` is the notification's eventTime (SageMaker's
    clock) against this machine's clock at the start."""
    start = time.time()
    submitted_at: list[float] = [0.0] * len(arrivals)

    def submit(index: int) -> Any:
        delay = start + arrivals[index] - time.time()
        if delay > 0:
            time.sleep(delay)
        submitted_at[index] = time.time() - start
        return client.submit(to_payload(body, "application/json"), InvokeOptions())

    with cf.ThreadPoolExecutor(SUBMITTERS) as pool:
        handles = list(pool.map(submit, range(len(arrivals))))
    pending = {h.inference_id: i for i, h in enumerate(handles)}
    records: dict[int, Any] = {}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        found = client.records([handles[i] for i in pending.values()])
        for inference_id, record in found.items():
            if record is not None and record.done:
                records[pending.pop(inference_id)] = record
        if pending:
            time.sleep(poll_seconds)
    if pending:
        stderr.write(f"asyncinfer: {len(pending)} request(s) had no result after {timeout:g} s\n")
    rows = []
    for index, handle in enumerate(handles):
        record = records.get(index)
        finished = _parse(record.event_time) if record is not None else None
        finished_at = None if finished is None else round(finished - start, 3)
        rows.append(
            {
                "index": index,
                "inferenceId": handle.inference_id,
                "queuedAt": round(submitted_at[index], 3),
                "startedAt": None,
                "finishedAt": finished_at,
                "expiredAt": None,
                "latencySeconds": None
                if finished_at is None
                else round(finished_at - submitted_at[index], 3),
                "status": record.status if record is not None else "PENDING",
            }
        )
    return rows


def now_iso() -> str:
    return datetime.now(UTC).isoformat()
