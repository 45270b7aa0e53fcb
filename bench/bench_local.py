"""Local mode benchmark: throughput vs the model-bound limit, and the async path's overhead.

Run from the repository root: .venv/bin/python bench/bench_local.py
Writes bench/results/local.json.

1. Model-bound limit: N requests sent straight to the model server's /invocations with the
   endpoint's default concurrency (MaxConcurrentInvocationsPerInstance from the template),
   in this same run, against the same model server process local mode uses.
2. Async throughput: N requests through InvokeEndpointAsync (boto3), timed from the first
   invoke to the last result record; ratio = async throughput / model-bound limit.
3. Overhead: requests sent one at a time; per request, the record's latencyMs (SageMaker's
   receivedTime -> notification eventTime) minus the model's median direct time.
"""

from __future__ import annotations

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

from tests.local.helpers import Local, csv_rows, start_local, wait_record  # noqa: E402

REQUESTS = 1000
SEQUENTIAL = 50
RESULT = REPO_ROOT / "bench" / "results" / "local.json"


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


def main() -> int:
    concurrency = concurrency_from_template()
    rows = [row.encode() for row in csv_rows(REQUESTS)]
    local: Local = start_local(REPO_ROOT / ".asyncinfer" / "bench")
    os.environ.update(local.info["environment"])  # fake credentials for this process's boto3
    try:
        model_url = local.info["modelUrl"]
        for body in rows[:20]:  # warm up
            direct(model_url, body)
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            model_times = list(pool.map(lambda b: direct(model_url, b), rows))
        model_rps = REQUESTS / (time.perf_counter() - started)

        s3 = local.client("s3")
        runtime = local.client("sagemaker-runtime")
        bucket = local.outputs["InputBucketName"]
        keys = [f"bench/{uuid.uuid4()}.csv" for _ in rows]
        with ThreadPoolExecutor(16) as pool:
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

        started = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            ids = list(pool.map(invoke, keys))
        records = [wait_record(local, i, timeout=600) for i in ids]
        async_seconds = time.perf_counter() - started
        completed = sum(r["status"] == "COMPLETED" for r in records)
        async_rps = REQUESTS / async_seconds

        model_median_ms = (
            statistics.median(direct(model_url, body) for body in rows[:SEQUENTIAL]) * 1000
        )
        overheads = []
        for key in keys[:SEQUENTIAL]:
            record = wait_record(local, invoke(key))
            overheads.append(float(record["latencyMs"]) - model_median_ms)
    finally:
        local.stop()

    result = {
        "command": ".venv/bin/python bench/bench_local.py",
        "requests": REQUESTS,
        "concurrency": concurrency,
        "completed": completed,
        "modelBoundRequestsPerSecond": round(model_rps, 1),
        "asyncRequestsPerSecond": round(async_rps, 1),
        "throughputRatio": round(async_rps / model_rps, 3),
        "throughputRatioTarget": 0.8,
        "medianModelMs": round(model_median_ms, 2),
        "medianModelMsUnderLoad": round(statistics.median(model_times) * 1000, 2),
        "medianOverheadMs": round(statistics.median(overheads), 1),
        "medianOverheadMsTarget": 50,
        "overheadDefinition": (
            "record latencyMs (receivedTime -> eventTime) minus the model's median direct "
            "time, requests sent one at a time"
        ),
        "asyncSeconds": round(async_seconds, 2),
        "note": "async time includes waiting for records (polling the table every 0.2 s)",
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
