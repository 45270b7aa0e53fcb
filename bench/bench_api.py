"""Job API benchmark, on local mode, in one run:

1. ``api_submit_overhead_ms_p50``: the added latency of a SigV4-signed ``POST /v1/jobs``
   (local mode's API: signature check, REST proxy event, the function in its own process,
   its two AWS calls) over the Python client's direct inline submit of the same payload
   (``AsyncInferenceClient.submit``: InvokeEndpointAsync with the body inline, then the
   PENDING PutItem): median of the API's latencies minus median of the client's, the two
   alternating request by request on the same local mode, 1 KB CSV payloads.
2. ``aws_calls_per_api_submit``: the AWS calls the job API's function makes per 1 KB submit
   (botocore ``before-call`` hooks on the function's own clients, the function run in this
   process against the same local mode): the TransactWriteItems and the InvokeEndpointAsync.

The endpoint is held (``/local/faults`` paused) while submissions are timed: its model work
runs on SageMaker's instances in AWS, here it would take the same two cores. Writes
bench/results/api.json.

Run: make synth && .venv/bin/python bench/bench_api.py   (or `make bench`)
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "lambda")]

from bench_client import StandIns, count_calls, payloads  # noqa: E402
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

from asyncinfer.client import AsyncInferenceClient, InvokeOptions  # noqa: E402
from asyncinfer.local.api_gateway import proxy_event  # noqa: E402
from asyncinfer.payloads import to_payload  # noqa: E402

RESULTS = REPO_ROOT / "bench" / "results" / "api.json"
WARMUP = 30
REQUESTS = 300
CALL_COUNT_REQUESTS = 100
TARGET_OVERHEAD_MS = 25.0
# The default stage takes 50 requests per second (api_throttling_rate_limit), as local mode
# enforces: API requests are paced below it, so none is throttled.
API_INTERVAL_SECONDS = 1 / 40
TARGET_CALLS_PER_SUBMIT = 2.0
REGION = "us-east-1"
CREDENTIALS = Credentials("local", "local", "local")


class SignedApi:
    """POST /v1/jobs over one keep-alive connection, signed as an AWS SDK signs."""

    def __init__(self, api_url: str) -> None:
        parts = urlsplit(api_url)
        self.base = api_url
        self.connection = http.client.HTTPConnection(parts.hostname or "", parts.port)
        self.path = f"{parts.path}v1/jobs"
        self.next_at = 0.0

    def submit(self, body: bytes) -> float:
        """Seconds from signing the request to the whole answer."""
        wait = self.next_at - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        started = time.perf_counter()
        self.next_at = started + API_INTERVAL_SECONDS
        request = AWSRequest(
            method="POST",
            url=f"{self.base}v1/jobs",
            data=body,
            headers={"Content-Type": "text/csv"},
        )
        SigV4Auth(CREDENTIALS, "execute-api", REGION).add_auth(request)
        self.connection.request("POST", self.path, body=body, headers=dict(request.headers))
        reply = self.connection.getresponse()
        answer = reply.read()
        elapsed = time.perf_counter() - started
        if reply.status != 202:
            raise RuntimeError(f"POST /v1/jobs answered {reply.status}: {answer[:300]!r}")
        return elapsed


def direct_submit(client: AsyncInferenceClient, body: bytes) -> float:
    started = time.perf_counter()
    client.submit(to_payload(body, "text/csv"), InvokeOptions(content_type="text/csv"))
    return time.perf_counter() - started


def latencies(standins: StandIns, api_url: str) -> dict[str, Any]:
    client = AsyncInferenceClient.from_stack(
        outputs_file=standins.outputs_file, endpoint_url=standins.url, region_name=REGION
    )
    api = SignedApi(api_url)
    bodies = [item.encode() for item in payloads(WARMUP + REQUESTS, "api")]
    standins.control("hold")
    try:
        for body in bodies[:WARMUP]:
            api.submit(body)
            direct_submit(client, body)
        through_api, direct = [], []
        for index, body in enumerate(bodies[WARMUP:]):
            # Alternate which goes first, so neither always runs on a warmer machine.
            if index % 2:
                through_api.append(api.submit(body))
                direct.append(direct_submit(client, body))
            else:
                direct.append(direct_submit(client, body))
                through_api.append(api.submit(body))
    finally:
        standins.control("release")
    return {
        "requests_each": REQUESTS,
        "payload_bytes_mean": round(statistics.mean(len(b) for b in bodies), 1),
        "api_ms_p50": round(statistics.median(through_api) * 1000, 2),
        "api_ms_p90": round(statistics.quantiles(through_api, n=10)[-1] * 1000, 2),
        "direct_ms_p50": round(statistics.median(direct) * 1000, 2),
        "direct_ms_p90": round(statistics.quantiles(direct, n=10)[-1] * 1000, 2),
    }


def calls_per_submit(standins: StandIns) -> dict[str, Any]:
    """The job API's function in this process, on the same local mode, its calls counted."""
    outputs = json.loads(standins.outputs_file.read_text())
    (stack,) = outputs.values()
    os.environ.update(
        {
            "JOBS_TABLE_NAME": stack["JobsTableName"],
            "RESULTS_TABLE_NAME": stack["ResultsTableName"],
            "INPUT_BUCKET_NAME": stack["InputBucketName"],
            "API_ENDPOINTS": json.dumps({"default": stack["EndpointName"]}),
        }
    )
    from job_api import aws, handler

    calls: Counter[str] = Counter()
    for service in ("dynamodb", "sagemaker-runtime", "s3"):
        count_calls(aws.client(service), calls)
    bodies = [item.encode() for item in payloads(CALL_COUNT_REQUESTS, "calls")]
    standins.control("hold")
    try:
        for body in bodies:
            event = proxy_event(
                resource="/v1/jobs",
                stage="prod",
                method="POST",
                path="/v1/jobs",
                path_parameters={},
                query=[],
                headers={"Content-Type": "text/csv", "Host": "bench"},
                body=body,
                binary=True,
                identity={"userArn": "arn:aws:iam::123456789012:user/bench"},
                domain="bench",
                request_id=str(uuid.uuid4()),
            )
            answer = handler.lambda_handler(event, None)
            assert answer["statusCode"] == 202, answer
    finally:
        standins.control("release")
    return {
        "submits": CALL_COUNT_REQUESTS,
        "calls": dict(calls),
        "per_submit": round(sum(calls.values()) / CALL_COUNT_REQUESTS, 3),
    }


METHOD = (
    "Local mode (`asyncinfer local up` on cdk.out's template, the XGBoost stand-in) runs in a "
    "child process; its job API serves the template's REST API (SigV4 check, REST proxy "
    "event, the job API function in its own child process). Payloads: 1 KB CSV (5 rows of "
    f"the model's 30 features). Latency: after {WARMUP} warm-up requests each, {REQUESTS} "
    "signed POST /v1/jobs (paced under the stage's 50 per second) over "
    "one keep-alive connection (signing included) alternate with the Python client's "
    "AsyncInferenceClient.submit of the same payload (InvokeEndpointAsync inline + PENDING "
    "PutItem); the figure is the API's median minus the client's. The endpoint is paused "
    "while timing (its model work is SageMaker's, on other machines). Calls: the function's "
    "handler in this process on the same local mode, botocore before-call hooks on its "
    f"clients, {CALL_COUNT_REQUESTS} submits."
)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-api-") as state:
        standins = StandIns(0.0, Path(state))
        try:
            info = json.loads((Path(state) / "local.json").read_text())
            # Local mode's endpoint URL and printed credentials, for the client and the
            # function run in this process.
            os.environ.update(info["environment"])
            timing = latencies(standins, str(info["apiUrl"]))
            calls = calls_per_submit(standins)
        finally:
            standins.close()
    overhead = round(timing["api_ms_p50"] - timing["direct_ms_p50"], 2)
    figures = {
        "api_submit_overhead_ms_p50": overhead,
        "aws_calls_per_api_submit": calls["per_submit"],
    }
    report = {
        "command": ".venv/bin/python bench/bench_api.py",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "figures": figures,
        "targets": {
            "api_submit_overhead_ms_p50": f"<= {TARGET_OVERHEAD_MS}",
            "aws_calls_per_api_submit": f"<= {TARGET_CALLS_PER_SUBMIT}",
        },
        "met": {
            "api_submit_overhead_ms_p50": overhead <= TARGET_OVERHEAD_MS,
            "aws_calls_per_api_submit": calls["per_submit"] <= TARGET_CALLS_PER_SUBMIT,
        },
        "method": METHOD,
        "latency": timing,
        "aws_calls": calls,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["figures"], indent=2))
    print(f"wrote {RESULTS.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
