"""Client benchmark: 2,000-item ``batch`` runs against local mode.

Figures, each measured within the same run:

1. Submission throughput of ``batch`` (the CLI's code path: InvokeEndpointAsync with the
   payload inline + PENDING records, 32 at a time) as a ratio to a sequential
   upload+invoke loop (what a hand-written script does). Measured twice: with local mode
   adding 20 ms per AWS request (``/local/faults`` latencySeconds; an in-region round
   trip, which concurrency exists to hide), and with no added latency (pure loopback,
   where client and local mode compete for the same two cores).
2. API calls per submitted request for ~1 KB payloads (InvokeEndpointAsync, PutObject,
   BatchWriteItem, PutItem, DeleteItem, counted with botocore ``before-call`` hooks),
   inline against the same batch sent through S3 (``inline=False``), and both batches'
   submission throughput, in the same run.
3. AWS API calls per result spent waiting: the batch's table reads (BatchGetItem /
   Query) against polling S3 for each output (HeadObject per pending output per round, at
   the client's base poll interval), the way SageMaker SDK's waiter does.

Local mode (``asyncinfer local up`` on cdk.out's template, the built-in model) runs in a
child process, so the client has its own interpreter. Writes bench/results/client.json.

Run: make synth && .venv/bin/python bench/bench_client.py   (or `make bench`)
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "lambda")]

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

from asyncinfer.batch import BatchOptions, run_batch  # noqa: E402
from asyncinfer.client import AsyncInferenceClient, InvokeOptions  # noqa: E402

RESULTS = REPO_ROOT / "bench" / "results" / "client.json"
ITEMS = 2000
SEQUENTIAL_ITEMS = 200  # the slow loop's throughput is steady; 200 items measure it
CONCURRENCY = 32
ROUND_TRIP_SECONDS = 0.020
POLL_INTERVAL = 1.0
TARGET_THROUGHPUT_RATIO = 8.0
TARGET_WAIT_CALLS_PER_RESULT = 0.05
TARGET_CALLS_PER_REQUEST = 1.05
REGION = "us-east-1"


# -- local mode, in a child process ------------------------------------------------------


class StandIns:
    """Local mode (`asyncinfer local up`, the stack's template and the built-in model) in a
    child process, steered through its fault hooks (/local/faults)."""

    def __init__(self, delay: float, state_dir: Path) -> None:
        from asyncinfer.local.demo import start

        # Payloads are CSV rows of the XGBoost model's features (method, below).
        self.process, info = start(
            state_dir, "--no-synth", "--cdk-out", str(REPO_ROOT / "cdk.out"), "--model", "xgboost"
        )
        self.url = str(info["endpointUrl"])
        self.outputs_file = Path(str(info["outputsFile"]))
        self.faults(latencySeconds=delay)

    def faults(self, **fields: Any) -> None:
        request = urllib.request.Request(
            self.url + "/local/faults", data=json.dumps(fields).encode(), method="PUT"
        )
        with urllib.request.urlopen(request, timeout=30):
            pass

    def control(self, command: str) -> None:
        """Hold or release the endpoint's processing (its model work is SageMaker's, on
        SageMaker's instances; here it would take the client's CPU while it is timed)."""
        self.faults(paused=command == "hold")

    def close(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)


# -- measurements ------------------------------------------------------------------------


def payloads(count: int, tag: str) -> list[str]:
    """CSV payloads of about 1 KB each: 5 rows of the built-in model's 30 features."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer().data
    rows = [",".join(f"{v:g}" for v in row) for row in data]
    return ["\n".join(rows[(i + j) % len(rows)] for j in range(5)) + "\n" for i in range(count)]


def count_calls(client: Any, calls: Counter[str]) -> None:
    client.meta.events.register("before-call", lambda model, **_: calls.update([model.name]))


def sequential_loop(url: str, client: AsyncInferenceClient, count: int) -> dict[str, Any]:
    """The baseline: for each item, put_object then invoke_endpoint_async, one at a time."""
    config = Config(retries={"mode": "standard"})
    s3 = boto3.client("s3", endpoint_url=url, region_name=REGION, config=config)
    runtime = boto3.client("sagemaker-runtime", endpoint_url=url, region_name=REGION, config=config)
    started = time.perf_counter()
    for index, item in enumerate(payloads(count, "sequential")):
        key = f"sequential/{index}-{uuid.uuid4()}"
        s3.put_object(Bucket=client.input_bucket, Key=key, Body=item.encode())
        runtime.invoke_endpoint_async(
            EndpointName=client.endpoint_name,
            InputLocation=f"s3://{client.input_bucket}/{key}",
            ContentType="text/csv",
        )
    seconds = time.perf_counter() - started
    return {"items": count, "seconds": round(seconds, 3), "items_per_second": count / seconds}


SUBMISSION_CALLS = ("InvokeEndpointAsync", "PutObject", "BatchWriteItem", "PutItem", "DeleteItem")


def batch_run(standins: StandIns, workdir: Path, *, inline: bool) -> dict[str, Any]:
    """The CLI's batch on ITEMS items: submission throughput, API calls per submitted
    request, and waiting calls."""
    standins.control("hold")
    client = AsyncInferenceClient.from_stack(
        outputs_file=standins.outputs_file,
        endpoint_url=standins.url,
        max_pool_connections=2 * CONCURRENCY,
        poll_interval=POLL_INTERVAL,
    )
    name = "inline" if inline else "s3"
    source = workdir / f"{name}.jsonl"
    source.write_text("".join(json.dumps(p) + "\n" for p in payloads(ITEMS, name)))
    dynamodb_calls: Counter[str] = Counter()
    s3_calls: Counter[str] = Counter()
    runtime_calls: Counter[str] = Counter()
    count_calls(client.aws("dynamodb"), dynamodb_calls)
    count_calls(client.aws("s3"), s3_calls)
    count_calls(client.aws("sagemaker-runtime"), runtime_calls)
    invoked: list[float] = []

    def on_invoked(**_: Any) -> None:
        invoked.append(time.perf_counter())
        if len(invoked) == ITEMS:  # all submitted: let the endpoint work
            standins.control("release")

    client.aws("sagemaker-runtime").meta.events.register(
        "after-call.sagemaker-runtime.InvokeEndpointAsync", on_invoked
    )
    options = BatchOptions(
        input_path=source,
        output_path=workdir / f"{name}.results.jsonl",
        manifest_path=workdir / f"{name}.manifest",
        input_format="jsonl",
        concurrency=CONCURRENCY,
        timeout=600,
        invoke=InvokeOptions(content_type="text/csv", inline=inline),
    )
    started = time.perf_counter()
    summary = run_batch(client, options, progress=False)
    finished = time.perf_counter()
    submit_seconds = max(invoked) - started
    wait_calls = dynamodb_calls["BatchGetItem"] + dynamodb_calls["Query"] + s3_calls["HeadObject"]
    every = dynamodb_calls + s3_calls + runtime_calls
    submission_calls = sum(every[name] for name in SUBMISSION_CALLS)
    return {
        "inline": inline,
        "payload_bytes_mean": round(sum(len(p) for p in payloads(ITEMS, name)) / ITEMS, 1),
        "submission_api_calls": {k: every[k] for k in SUBMISSION_CALLS if every[k]},
        "api_calls_per_submitted_request": submission_calls / ITEMS,
        "items": ITEMS,
        "concurrency": CONCURRENCY,
        "completed": summary.stats.completed,
        "failed": summary.stats.failed,
        "submission_seconds": round(submit_seconds, 3),
        "items_per_second": ITEMS / submit_seconds,
        "total_seconds_to_last_result": round(finished - started, 3),
        "calls": {
            "dynamodb": dict(dynamodb_calls),
            "s3": dict(s3_calls),
            "sagemaker-runtime": dict(runtime_calls),
        },
        "wait_calls": wait_calls,
        "wait_calls_per_result": wait_calls
        / max(1, summary.stats.completed + summary.stats.failed),
    }


def s3_polling_run(url: str, standins: StandIns) -> dict[str, Any]:
    """Same workload, waited on the SageMaker SDK way: HeadObject per output per round."""
    client = AsyncInferenceClient.from_stack(
        outputs_file=standins.outputs_file, endpoint_url=url, max_pool_connections=2 * CONCURRENCY
    )
    s3 = boto3.client(
        "s3",
        endpoint_url=url,
        region_name=REGION,
        config=Config(max_pool_connections=2 * CONCURRENCY),
    )
    calls: Counter[str] = Counter()
    count_calls(s3, calls)
    pending: dict[str, str] = {}
    lock = threading.Lock()
    submitted_all = threading.Event()

    def submit(item: str) -> None:
        handle = client.predict_async(item, content_type="text/csv", inline=False)
        assert handle.output_location is not None
        with lock:
            pending[handle.inference_id] = handle.output_location

    def exists(location: str) -> bool:
        bucket, key = location[5:].split("/", 1)
        try:
            s3.head_object(Bucket=bucket, Key=key)
        except ClientError:
            return False
        return True

    def all_submitted(futures: list[cf.Future[None]]) -> None:
        cf.wait(futures)
        standins.control("release")  # as in batch_run: the endpoint works once all are in
        submitted_all.set()

    standins.control("hold")
    started = time.perf_counter()
    with cf.ThreadPoolExecutor(CONCURRENCY) as pool:
        futures = [pool.submit(submit, item) for item in payloads(ITEMS, "polled")]
        threading.Thread(target=all_submitted, args=(futures,), daemon=True).start()
        done = 0
        while not (submitted_all.is_set() and not pending):
            round_started = time.monotonic()
            with lock:
                snapshot = dict(pending)
            # The SDK's waiter polls each output on its own; a pool keeps a round short.
            found = list(pool.map(lambda entry: (entry[0], exists(entry[1])), snapshot.items()))
            with lock:
                for inference_id, present in found:
                    if present:
                        del pending[inference_id]
                        done += 1
            time.sleep(max(0.0, POLL_INTERVAL - (time.monotonic() - round_started)))
    return {
        "items": ITEMS,
        "results": done,
        "seconds": round(time.perf_counter() - started, 3),
        "poll_interval_seconds": POLL_INTERVAL,
        "head_object_calls": calls["HeadObject"],
        "wait_calls_per_result": calls["HeadObject"] / max(1, done),
    }


METHOD = (
    "Local mode (the stack's template provisioned in moto, its endpoint service, "
    "the built-in model and the project's results writer) runs in a child process "
    "on loopback; payloads are 5 CSV rows of the model's 30 features (~1 KB). The "
    "endpoint (paused through /local/faults) "
    "holds its work while submissions are timed and starts once all are in, in "
    "both the timed loops and both waiting runs: its model work runs on "
    "SageMaker's instances in AWS, here it would take the client's CPU. "
    "Throughput: items submitted per "
    "second by `batch` (inline invoke + PENDING records, 32 concurrent) over a "
    "sequential put_object + invoke_endpoint_async loop on the same local mode in "
    f"the same run; headline with {ROUND_TRIP_SECONDS * 1000:.0f} ms added per "
    "request to emulate an AWS round trip, and again with none (both loops then "
    "compete for the machine's cores with local mode). API calls per submitted "
    "request: every InvokeEndpointAsync, PutObject, BatchWriteItem, PutItem and "
    "DeleteItem of the batch client over the items, inline and again through S3 "
    "(inline=False) on the same local mode. Waiting: botocore "
    "before-call hooks count the batch client's BatchGetItem/Query/HeadObject "
    "calls per result; the S3-polling baseline counts HeadObject calls on each "
    "pending output per round at the same base interval. moto answers a Query "
    "in one page; real DynamoDB pages at 1 MB (about 1,400 records of this size), "
    "adding about one call per poll per 1,400 records read."
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def phase(delay: float, workdir: Path, *, full: bool) -> dict[str, Any]:
    workdir = workdir / f"delay-{delay}"
    workdir.mkdir()
    log(f"phase with {delay * 1000:.0f} ms added per request")
    standins = StandIns(delay, workdir / "local")
    try:
        probe = AsyncInferenceClient.from_stack(
            outputs_file=standins.outputs_file, endpoint_url=standins.url
        )
        # Both loops are timed while the endpoint holds its work (see control()).
        standins.control("hold")
        sequential = sequential_loop(standins.url, probe, SEQUENTIAL_ITEMS)
        log(f"sequential loop: {sequential}")
        batch = batch_run(standins, workdir, inline=True)
        log(f"batch inline: {batch}")
        result: dict[str, Any] = {
            "added_latency_per_request_ms": delay * 1000,
            "sequential_upload_invoke_loop": sequential,
            "batch": batch,
            "submission_throughput_ratio": batch["items_per_second"]
            / sequential["items_per_second"],
        }
        if full:
            through_s3 = batch_run(standins, workdir, inline=False)
            log(f"batch through S3: {through_s3}")
            result["batch_through_s3"] = through_s3
            result["inline_over_s3_throughput_ratio"] = (
                batch["items_per_second"] / through_s3["items_per_second"]
            )
            standins.control("hold")
            result["s3_polling_waiter"] = s3_polling_run(standins.url, standins)
            log(f"s3 polling: {result['s3_polling_waiter']}")
        return result
    finally:
        standins.close()


def main() -> int:
    # Everything talks to local mode on loopback; fake credentials keep a real account out of it.
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }
    )
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        emulated = phase(ROUND_TRIP_SECONDS, workdir, full=True)
        loopback = phase(0.0, workdir, full=False)
    ratio = emulated["submission_throughput_ratio"]
    ours = emulated["batch"]["wait_calls_per_result"]
    polled = emulated["s3_polling_waiter"]["wait_calls_per_result"]
    calls_inline = emulated["batch"]["api_calls_per_submitted_request"]
    calls_s3 = emulated["batch_through_s3"]["api_calls_per_submitted_request"]
    report = {
        "command": ".venv/bin/python bench/bench_client.py",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "items": ITEMS,
        "figures": {
            "submission_throughput_ratio": round(ratio, 2),
            "submission_throughput_ratio_no_added_latency": round(
                loopback["submission_throughput_ratio"], 2
            ),
            "wait_calls_per_result": round(ours, 4),
            "wait_calls_per_result_s3_polling": round(polled, 3),
            "api_calls_per_submitted_request_1kb_inline": round(calls_inline, 4),
            "api_calls_per_submitted_request_1kb_s3": round(calls_s3, 4),
            "batch_items_per_second_inline": round(emulated["batch"]["items_per_second"], 1),
            "batch_items_per_second_s3": round(emulated["batch_through_s3"]["items_per_second"], 1),
            "inline_over_s3_throughput_ratio": round(
                emulated["inline_over_s3_throughput_ratio"], 2
            ),
        },
        "targets": {
            "submission_throughput_ratio": f">= {TARGET_THROUGHPUT_RATIO}",
            "submission_throughput_ratio_no_added_latency": f">= {TARGET_THROUGHPUT_RATIO}",
            "wait_calls_per_result": f"<= {TARGET_WAIT_CALLS_PER_RESULT}",
            "api_calls_per_submitted_request_1kb_inline": f"<= {TARGET_CALLS_PER_REQUEST}",
        },
        "met": {
            "submission_throughput_ratio": ratio >= TARGET_THROUGHPUT_RATIO,
            "submission_throughput_ratio_no_added_latency": loopback["submission_throughput_ratio"]
            >= TARGET_THROUGHPUT_RATIO,
            "wait_calls_per_result": ours <= TARGET_WAIT_CALLS_PER_RESULT,
            "api_calls_per_submitted_request_1kb_inline": calls_inline <= TARGET_CALLS_PER_REQUEST,
        },
        "method": METHOD,
        "with_added_latency": emulated,
        "no_added_latency": loopback,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["figures"], indent=2))
    print(f"wrote {RESULTS.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
