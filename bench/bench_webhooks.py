"""Webhook benchmark on local mode: delivery latency, and a flaky receiver.

Figures (bench/results/api.json, beside the job API's own; this script rewrites only its
keys):

1. `webhook_delivery_seconds_p50` / `_p99`: from the notification (its eventTime, which the
   delivered job carries as `completedAt`) to the receiver's arrival, over N jobs with a
   receiver that accepts everything (targets <= 1 and <= 3 s).
2. `webhook_delivered_fraction_flaky_receiver`: N jobs to a receiver that answers 500 to
   every other attempt, retry delays shortened by `webhook_retry_delay_scale`; the fraction
   of jobs whose event was accepted (target 1.0), with `webhook_events_delivered_under_two_ids`
   (target 0: every attempt of an event carries one webhook-id).

The app is the project's (its job API and webhooks; tests/support/webhooks.py synthesizes it
with the shortened retries), local mode in a child process, jobs submitted with a signed
POST /v1/jobs with Webhook-Url, the receiver on loopback in this process.

Run: .venv/bin/python bench/bench_webhooks.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "lambda")]

from api_results import write_own_figures  # noqa: E402

from asyncinfer.local.model_server import ModelServer  # noqa: E402
from tests.support.local_mode import Local, csv_rows, start_local  # noqa: E402
from tests.support.webhooks import Receiver, submit_job, synth_app  # noqa: E402

COMMAND = ".venv/bin/python bench/bench_webhooks.py"
JOBS = int(os.environ.get("BENCH_WEBHOOK_JOBS", "200"))
SUBMIT_INTERVAL = 0.05  # 20 jobs a second: deliveries overlap, as they would in use
DELAY_SCALE = "0.0002"


def nearest_rank(values: list[float], percentile: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, int(-(-percentile * len(ordered) // 100)) - 1))
    return ordered[index]


def run_jobs(local: Local, receiver: Receiver, rows: list[str], timeout: float) -> list[str]:
    ids = []
    for row in rows:
        ids.append(submit_job(local, row.encode(), webhook_url=receiver.url))
        time.sleep(SUBMIT_INTERVAL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        delivered = {json.loads(d.body)["id"] for d in receiver.accepted()}
        if delivered >= set(ids):
            break
        time.sleep(0.2)
    return ids


def main() -> int:
    rows = csv_rows(JOBS)
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp:
        root = Path(tmp)
        cdk_out = synth_app(root, f"webhook_retry_delay_scale={DELAY_SCALE}")
        model = ModelServer(port=0, state_dir=root / "model").start()
        local = start_local(root / "state", "--model-url", model.url, cdk_out=cdk_out)
        try:
            steady = Receiver().start()
            ids = run_jobs(local, steady, rows, timeout=120)
            steady.stop()
            latencies = []
            for delivery in steady.accepted():
                job = json.loads(delivery.body)
                notified = datetime.fromisoformat(job["completedAt"].replace("Z", "+00:00"))
                latencies.append(delivery.received - notified.timestamp())
            flaky = Receiver(answer=lambda n: 500 if n % 2 == 0 else 200).start()
            flaky_ids = run_jobs(local, flaky, rows, timeout=240)
            flaky.stop()
        finally:
            local.stop()
            model.stop()
    event_ids: dict[str, set[str]] = {}
    for delivery in flaky.deliveries:
        event_ids.setdefault(json.loads(delivery.body)["id"], set()).add(
            delivery.headers["webhook-id"]
        )
    accepted = {json.loads(d.body)["id"] for d in flaky.accepted()}
    figures = {
        "webhook_delivery_seconds_p50": round(nearest_rank(latencies, 50), 3),
        "webhook_delivery_seconds_p99": round(nearest_rank(latencies, 99), 3),
        "webhook_delivered_fraction_flaky_receiver": round(
            len(accepted & set(flaky_ids)) / len(flaky_ids), 4
        ),
        "webhook_events_delivered_under_two_ids": sum(len(v) > 1 for v in event_ids.values()),
    }
    targets = {
        "webhook_delivery_seconds_p50": "<= 1",
        "webhook_delivery_seconds_p99": "<= 3",
        "webhook_delivered_fraction_flaky_receiver": ">= 1.0",
        "webhook_events_delivered_under_two_ids": "<= 0",
    }
    met = {
        name: (figures[name] <= float(t.split()[1]))
        if t.startswith("<=")
        else (figures[name] >= float(t.split()[1]))
        for name, t in targets.items()
    }
    write_own_figures(
        "webhooks",
        command=COMMAND,
        figures=figures,
        targets=targets,
        met=met,
        details={
            "jobs": len(ids),
            "delivered_steady": len(latencies),
            "flaky_attempts": len(flaky.deliveries),
            "retry_delay_scale": float(DELAY_SCALE),
            "note": "jobs submitted with a signed POST /v1/jobs and Webhook-Url; latency: "
            "receiver arrival minus the notification's eventTime (completedAt)",
        },
    )
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
