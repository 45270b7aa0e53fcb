"""``make demo``: local mode + a batch of requests through the project's client + a summary.

Starts ``asyncinfer local up`` in a child process, writes the requests the endpoint's model
takes (short texts as ``{"inputs": text}`` for the template's default sentiment model,
``.asyncinfer/demo/requests.jsonl``; rows of scikit-learn's breast-cancer data set for the
XGBoost stand-in, ``requests.csv``), sends every one through
``AsyncInferenceClient.map`` (InvokeEndpointAsync, wait on the results table),
prints completed / failed, p50 / p95 latency (the records' latencyMs, as ``asyncinfer batch``
reports it) and throughput, and stops local mode with SIGINT. Exit status 0 when every
request completed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from asyncinfer.run_stats import RunStats
from asyncinfer_runtime.contract import DEFAULT_STACK_NAME

from .cli import DEFAULT_STATE_DIR
from .runtime import environment

START_TIMEOUT = 180.0


# Short texts in the manner of tweets to an airline, for the sentiment model.
OPENINGS = ("Flight", "Crew", "Seat", "Boarding", "Luggage")
VERDICTS = ("was great, thanks!", "was late again", "was fine", "lost my bag", "loved it")


def write_texts(path: Path, count: int) -> list[dict[str, str]]:
    texts = [
        f"{OPENINGS[i % len(OPENINGS)]} {i}: {VERDICTS[(i * 7) % len(VERDICTS)]}"
        for i in range(count)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    requests = [{"inputs": text} for text in texts]
    path.write_text("".join(json.dumps(r) + "\n" for r in requests), encoding="utf-8")
    return requests


def write_rows(path: Path, count: int) -> list[str]:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer().data
    rows = [",".join(f"{value:g}" for value in data[i % len(data)]) for i in range(count)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return rows


def start(state_dir: Path, *extra: str) -> tuple[subprocess.Popen[str], dict[str, object]]:
    """Start `asyncinfer local up` as a child process; returns it and its local.json.

    `extra` are further `local up` options. The child's stdout (local mode's banner and
    progress lines) goes to `<state_dir>/local-up.log`; its functions' log lines go to the
    `functionsLog` file of local.json.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    info_file = state_dir / "local.json"
    info_file.unlink(missing_ok=True)
    # A file, not an unread pipe, whose full buffer would block local mode (and so every
    # result).
    log = (state_dir / "local-up.log").open("w", encoding="utf-8")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "asyncinfer.local",
            "up",
            "--port",
            "0",
            "--state-dir",
            str(state_dir),
            *extra,
        ],
        stdout=log,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    log.close()
    deadline = time.monotonic() + START_TIMEOUT
    while not info_file.is_file():
        if process.poll() is not None:
            raise RuntimeError(f"local mode exited with status {process.returncode} at start")
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"local mode did not start within {START_TIMEOUT:.0f} s")
        time.sleep(0.1)
    return process, json.loads(info_file.read_text(encoding="utf-8"))


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        process.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m asyncinfer.local.demo")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR / "demo")
    args = parser.parse_args(argv)

    from asyncinfer import AsyncInferenceClient

    print("demo: starting local mode ...", flush=True)
    process, info = start(args.state_dir)
    try:
        models = dict(info["models"])  # type: ignore[call-overload]
        if next(iter(models.values()))["standIn"] == "xgboost":
            rows: list[Any] = write_rows(args.state_dir / "requests.csv", args.requests)
            content_type: str | None = "text/csv"
        else:
            rows = write_texts(args.state_dir / "requests.jsonl", args.requests)
            content_type = None  # JSON
        url = str(info["endpointUrl"])
        os.environ.update(environment(url))
        client = AsyncInferenceClient.from_stack(
            DEFAULT_STACK_NAME,
            outputs_file=str(info["outputsFile"]),
            endpoint_url=url,
            region_name="us-east-1",
            poll_interval=0.2,
            max_poll_interval=1.0,
        )
        print(f"demo: local mode at {url}; sending {len(rows)} requests ...", flush=True)
        began = time.monotonic()
        stats = RunStats()
        for outcome in client.map(
            rows, content_type=content_type, concurrency=args.concurrency, timeout=300, stats=stats
        ):
            if not outcome.ok:
                print(f"  failed: {outcome.inference_id}: {outcome.error}", flush=True)
        elapsed = time.monotonic() - began
    finally:
        stop(process)
    summary = {
        "requests": len(rows),
        "completed": stats.completed,
        "failed": stats.failed,
        "p50LatencyMs": _rounded(stats.latency_ms(0.5)),
        "p95LatencyMs": _rounded(stats.latency_ms(0.95)),
        "throughputPerSecond": round(stats.completed / elapsed, 1) if elapsed else None,
        "wallSeconds": round(elapsed, 1),
    }
    # The latencies are the records' latencyMs, the figures `asyncinfer batch` reports.
    print(
        f"demo: {stats.completed} completed, {stats.failed} failed of {len(rows)}; latency "
        f"p50 {summary['p50LatencyMs']} ms, p95 {summary['p95LatencyMs']} ms; throughput "
        f"{summary['throughputPerSecond']} requests/s over {summary['wallSeconds']} s"
    )
    print(json.dumps({"demoSummary": summary}))
    return 0 if stats.completed == len(rows) else 1


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


if __name__ == "__main__":
    raise SystemExit(main())
