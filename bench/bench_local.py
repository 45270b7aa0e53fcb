"""Local mode benchmark: throughput vs the model-bound limit, and the async path's overhead.

Run from the repository root: .venv/bin/python bench/bench_local.py
Writes bench/results/local.json.

1. Model-bound limit: N requests sent straight to the model server's /invocations with the
   endpoint's default concurrency (MaxConcurrentInvocationsPerInstance from the template),
   in this same run, against the same model server process local mode uses (median of
   three passes).
2. Async throughput: N requests through InvokeEndpointAsync (boto3), timed from the first
   invoke to the moment the results writer wrote the last terminal record (the records'
   ``writtenAt``, same machine clock); ratio = async throughput / model-bound limit. While
   the run goes, the bench only watches /local/metrics and the results queue's counts; it
   reads the records once the system is idle, so that a reader's load is not measured as
   the async path's.

3. Overhead: requests sent one at a time; per request, the record's latencyMs (SageMaker's
   receivedTime -> notification eventTime) minus the model's median direct time.

4. CPU per request of each process (this client, local mode, the model server, the results
   writer) during the async run, from /proc: their sum bounds what the machine can do.

Each is measured for three workloads (WORKLOADS), each a payload and the model's added
time:
- one CSV row per request: the async path's own cost against a ~1 ms model;
- the whole data set (569 rows, ~120 KB) per request: a batch file, the payload async
  inference is for;
- one CSV row with 50 ms added by the model server (``--model-delay-ms``, a sleep): a model
  whose time does not take this machine's CPU, as a GPU's or (on SageMaker) another
  instance's does not. This is the case the ratio's name describes, model-bound: at the
  default concurrency of 4 the model alone serves ~80 requests/s, well under the ~200/s
  the CPU allows (with 20 ms it served ~170/s, and the CPU bound came into play). The first
  two workloads are bound by what every process costs on 2 cores (4. shows it).
`--rows-per-request N` (repeatable) and `--model-delay-ms MS` pick others; `--requests` and
`--no-write` are for quick tries.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from botocore.config import Config  # noqa: E402

from asyncinfer.run_stats import percentile  # noqa: E402
from tests.support.local_mode import Local, csv_rows, start_local, wait_record  # noqa: E402

REQUESTS = 1000
SEQUENTIAL = 50
MODEL_PASSES = 3
DATASET_ROWS = 569  # scikit-learn's breast-cancer set, which csv_rows cycles through
# (rows per request, milliseconds the model server adds to each request); see the docstring.
WORKLOADS = ((1, 0.0), (DATASET_ROWS, 0.0), (1, 50.0))
# Between checks that the system is idle, then between rounds of BatchGetItem over ids still
# missing. The async time does not depend on either (it ends at the last record's writtenAt).
IDLE_POLL_SECONDS = 0.5
POLL_SECONDS = 1.0
# Threads submitting requests; each boto3 client keeps one connection per thread (botocore's
# default pool of 10 would open and close a connection per call for the other 6).
SUBMIT_THREADS = 16
RESULT = REPO_ROOT / "bench" / "results" / "local.json"


def median(values: list[float]) -> float:
    """The 50th percentile by the definition every report of this project uses."""
    value = percentile(values, 0.5)
    assert value is not None, "a median of no values"
    return value


def concurrency_from_template() -> int:
    template = json.loads(
        (REPO_ROOT / "cdk.out" / "SageMakerAsyncInference.template.json").read_text()
    )
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::SageMaker::EndpointConfig":
            client = resource["Properties"]["AsyncInferenceConfig"]["ClientConfig"]
            return int(client["MaxConcurrentInvocationsPerInstance"])
    raise SystemExit("the template has no endpoint config")


def direct(model_url: str, body: bytes) -> float:
    started = time.perf_counter()
    request = urllib.request.Request(
        model_url + "/invocations", data=body, headers={"Content-Type": "text/csv"}
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        reply.read()
    return time.perf_counter() - started


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def wait_idle(local: Local, timeout: float) -> None:
    """Until the endpoint's backlog is empty and the writer has consumed every notification.

    Checked with /local/metrics and the results queue's counts, which cost the stand-ins
    almost nothing: reading the records themselves while the run is going would put the
    reader's load (BatchGetItem of every pending id, each round) on the system measured.
    """
    sqs = local.client("sqs")
    queue_url = local.outputs["ResultsQueueUrl"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(local.info["metricsUrl"], timeout=30) as reply:
            metrics = json.load(reply)
        backlog = sum(m["ApproximateBacklogSize"] for m in metrics.values())
        counts = sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        if backlog == 0 and not any(int(count) for count in counts.values()):
            return
        time.sleep(IDLE_POLL_SECONDS)
    raise SystemExit(f"local mode still busy after {timeout:.0f} s")


def wait_all(local: Local, ids: list[str], timeout: float) -> list[dict[str, str]]:
    """Every id's terminal record: BatchGetItem of 100 keys, again for any still missing."""
    dynamodb = local.client("dynamodb")
    table = local.outputs["ResultsTableName"]
    pending, found = list(dict.fromkeys(ids)), {}
    deadline = time.monotonic() + timeout
    while pending:
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(pending)} records missing after {timeout:.0f} s")
        for start in range(0, len(pending), 100):
            keys = [{"inferenceId": {"S": i}} for i in pending[start : start + 100]]
            reply = dynamodb.batch_get_item(
                RequestItems={table: {"Keys": keys, "ConsistentRead": True}}
            )
            for item in reply["Responses"][table]:
                if item["status"]["S"] in ("COMPLETED", "FAILED"):
                    found[item["inferenceId"]["S"]] = {
                        key: next(iter(value.values())) for key, value in item.items()
                    }
        pending = [i for i in pending if i not in found]
        if pending:
            time.sleep(POLL_SECONDS)
    return [found[i] for i in ids]


def payloads_for(requests: int, per: int) -> list[bytes]:
    # At most one payload per data-set row; beyond that payloads repeat, which keeps large
    # payloads from formatting (and holding) millions of rows.
    distinct = min(requests, DATASET_ROWS)
    table = csv_rows(distinct * per)
    payloads = ["\n".join(table[n * per : (n + 1) * per]).encode() for n in range(distinct)]
    return [payloads[i % distinct] for i in range(requests)]


def processes(local: Local) -> dict[str, int]:
    """The pids whose CPU one request costs: this client, local mode and its children."""
    found = {"benchClient": os.getpid(), "localMode": int(local.info["pid"])}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            parent = int(stat_fields(int(entry.name))[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not a process we can read
        if parent == found["localMode"]:
            if "model_server" in command:
                found["modelServer"] = int(entry.name)
            elif "event_source" in command:
                found["resultsWriter"] = int(entry.name)
    return found


def stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name (which may hold spaces): state, ppid, ..."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for name, pid in pids.items():
        fields = stat_fields(pid)
        used[name] = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return used


def measure(
    local: Local, concurrency: int, requests: int, per: int, delay_ms: float
) -> dict[str, object]:
    """One workload: the model-bound limit, the async throughput and the overhead."""
    rows = payloads_for(requests, per)
    model_url = local.info["modelUrl"]
    for body in rows[:20]:  # warm up
        direct(model_url, body)
    # The limit is the median of three passes: on a shared 2-core machine one pass
    # varied from ~400 to ~1,300 requests/s.
    passes, model_times = [], []
    for _ in range(MODEL_PASSES):
        started_pass = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            model_times = list(pool.map(lambda b: direct(model_url, b), rows))
        passes.append(requests / (time.perf_counter() - started_pass))
    model_rps = median(passes)

    pool_config = Config(max_pool_connections=SUBMIT_THREADS)
    s3 = local.client("s3", config=pool_config)
    runtime = local.client("sagemaker-runtime", config=pool_config)
    bucket = local.outputs["InputBucketName"]
    keys = [f"bench/{uuid.uuid4()}.csv" for _ in rows]
    with ThreadPoolExecutor(SUBMIT_THREADS) as pool:
        list(
            pool.map(
                lambda kb: s3.put_object(Bucket=bucket, Key=kb[0], Body=kb[1]),
                zip(keys, rows, strict=True),
            )
        )

    def invoke(key: str) -> str:
        return str(
            runtime.invoke_endpoint_async(
                EndpointName=local.outputs["EndpointName"],
                InputLocation=f"s3://{bucket}/{key}",
                ContentType="text/csv",
            )["InferenceId"]
        )

    pids = processes(local)
    cpu_before = cpu_seconds(pids)
    started = dt.datetime.now(dt.UTC)
    with ThreadPoolExecutor(SUBMIT_THREADS) as pool:
        ids = list(pool.map(invoke, keys))
    wait_idle(local, timeout=600)
    records = wait_all(local, ids, timeout=60)
    cpu_after = cpu_seconds(pids)
    last_written = max(parse_time(r["writtenAt"]) for r in records)
    async_seconds = (last_written - started).total_seconds()
    completed = sum(r["status"] == "COMPLETED" for r in records)
    async_rps = requests / async_seconds
    cpu_ms = {
        name: round((cpu_after[name] - cpu_before[name]) * 1000 / requests, 2) for name in pids
    }

    model_median_ms = median([direct(model_url, body) for body in rows[:SEQUENTIAL]]) * 1000
    overheads = []
    for key in keys[:SEQUENTIAL]:
        record = wait_record(local, invoke(key))
        overheads.append(float(record["latencyMs"]) - model_median_ms)
    cores = os.cpu_count() or 1
    return {
        "rowsPerRequest": per,
        "modelDelayMs": delay_ms,
        "payloadBytes": round(statistics.mean(len(body) for body in rows)),
        "completed": completed,
        "modelBoundRequestsPerSecond": round(model_rps, 1),
        "modelBoundPasses": [round(p, 1) for p in passes],
        "asyncRequestsPerSecond": round(async_rps, 1),
        "asyncSeconds": round(async_seconds, 2),
        "throughputRatio": round(async_rps / model_rps, 3),
        "medianModelMs": round(model_median_ms, 2),
        "medianModelMsUnderLoad": round(median(model_times) * 1000, 2),
        "medianOverheadMs": round(median(overheads), 1),
        # CPU each process spent per request during the async run. With every process
        # busy at once, the machine cannot finish more than cores / (sum of these) per second,
        # whatever the async path does with its time.
        "cpuMsPerRequest": cpu_ms,
        "cpuBoundRequestsPerSecond": round(cores * 1000 / sum(cpu_ms.values()), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument(
        "--rows-per-request",
        type=int,
        action="append",
        help="one workload per value (default: the three WORKLOADS)",
    )
    parser.add_argument(
        "--model-delay-ms", type=float, default=0.0, help="with --rows-per-request (default 0)"
    )
    parser.add_argument("--no-write", action="store_true", help="print only (for quick tries)")
    args = parser.parse_args()
    concurrency = concurrency_from_template()
    chosen = [(per, args.model_delay_ms) for per in args.rows_per_request or []] or WORKLOADS
    workloads = []
    for delay_ms in dict.fromkeys(delay for _, delay in chosen):  # one local mode per delay
        local: Local = start_local(
            # The bench's workloads are rows of the XGBoost model's 30 features.
            REPO_ROOT / ".asyncinfer" / "bench",
            "--model",
            "xgboost",
            "--model-delay-ms",
            str(delay_ms),
        )
        os.environ.update(local.info["environment"])  # fake credentials for this boto3
        try:
            workloads += [
                measure(local, concurrency, args.requests, per, delay)
                for per, delay in chosen
                if delay == delay_ms
            ]
        finally:
            local.stop()

    result = {
        "command": ".venv/bin/python bench/bench_local.py",
        "requests": args.requests,
        "concurrency": concurrency,
        "cpuCount": os.cpu_count(),
        "throughputRatioTarget": 0.8,
        "medianOverheadMsTarget": 50,
        "workloads": workloads,
        "overheadDefinition": (
            "record latencyMs (receivedTime -> eventTime) minus the model's median direct "
            "time, requests sent one at a time"
        ),
        "note": (
            "async time runs from the first InvokeEndpointAsync to the writtenAt of the last "
            "terminal record"
        ),
    }
    print(json.dumps(result, indent=2))
    if args.no_write:
        return 0
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
