"""What each of local mode's moto patches (asyncinfer/local/moto_speedups.py) is worth.

Run from the repository root: .venv/bin/python bench/bench_moto_patches.py
Writes bench/results/moto_patches.json.

The workload is local mode's SQS traffic at depth, through moto's server app on loopback
(as local mode serves it): NOTIFICATIONS messages published (10 a call) to an SNS topic
that delivers them to a queue nobody drains yet (the results writer falling behind a burst), then
received 10 at a time and deleted in batches until the queue is empty. Each configuration
(every patch, then each patch left out in turn) runs in a fresh process, the median of
PASSES; a patch is kept when leaving it out makes the run at least KEEP_RATIO slower.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from asyncinfer.local import moto_speedups  # noqa: E402
from tests.support.local_mode import topic_to_queue  # noqa: E402

NOTIFICATIONS = 1000
PASSES = 3
# Below this slow-down a patch is within the run-to-run noise of a shared 2-core machine.
KEEP_RATIO = 1.10
ROUTING = "routing"  # patch 6, the dispatcher's, which apply() does not make
RESULT = REPO_ROOT / "bench" / "results" / "moto_patches.json"


def run_workload(skip: set[str], notifications: int) -> float:
    """Seconds the workload takes in this process, with the patches in ``skip`` left out."""
    import logging

    import boto3
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto_speedups.apply(skip=skip)
    app = moto_speedups.dispatcher(remember_hosts=ROUTING not in skip)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    sns = boto3.client("sns", region_name="us-east-1", endpoint_url=url)
    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=url)
    topic, queue = topic_to_queue(sns, sqs)
    started = time.perf_counter()
    for first in range(0, notifications, 10):
        sns.publish_batch(
            TopicArn=topic,
            PublishBatchRequestEntries=[
                {"Id": str(n), "Message": json.dumps({"inferenceId": str(n)})}
                for n in range(first, min(first + 10, notifications))
            ],
        )
    received = 0
    while received < notifications:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            continue
        received += len(messages)
        sqs.delete_message_batch(
            QueueUrl=queue,
            Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)
            ],
        )
    seconds = time.perf_counter() - started
    server.shutdown()
    return seconds


def run_in_fresh_process(skip: str | None, notifications: int) -> float:
    command = [sys.executable, __file__, "--workload", "--notifications", str(notifications)]
    if skip:
        command += ["--skip", skip]
    return float(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def measure(configurations: list[str | None], notifications: int) -> dict[str | None, float]:
    """Median seconds per configuration (None: every patch), the passes interleaved so that
    a busy spell of the shared machine slows every configuration alike."""
    runs: dict[str | None, list[float]] = {name: [] for name in configurations}
    for _ in range(PASSES):
        for name in configurations:
            runs[name].append(run_in_fresh_process(name, notifications))
    return {name: statistics.median(seconds) for name, seconds in runs.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifications", type=int, default=NOTIFICATIONS)
    parser.add_argument("--skip", action="append", default=[], help=argparse.SUPPRESS)
    parser.add_argument("--workload", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true", help="print only (for quick tries)")
    args = parser.parse_args()
    if args.workload:
        print(run_workload(set(args.skip), args.notifications))
        return 0
    seconds = measure([None, *moto_speedups.PATCHES, ROUTING], args.notifications)
    baseline = seconds.pop(None)
    patches = {
        name: {
            "secondsWithout": round(without, 2),
            "slowdownWithout": round(without / baseline, 2),
            "kept": without / baseline >= KEEP_RATIO,
        }
        for name, without in seconds.items()
    }
    result = {
        "command": ".venv/bin/python bench/bench_moto_patches.py",
        "notifications": args.notifications,
        "passes": PASSES,
        "cpuCount": os.cpu_count(),
        "secondsWithEveryPatch": round(baseline, 2),
        "keepRatioTarget": KEEP_RATIO,
        "patches": patches,
        "note": (
            "slowdownWithout = the workload's median seconds with that one patch left out "
            "/ with every patch; a patch is kept at or above keepRatioTarget"
        ),
    }
    print(json.dumps(result, indent=2))
    if not args.no_write:
        RESULT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
