"""Results writer throughput and cold-start proxy, against DynamoDB on a loopback moto server.

Replays 10,000 notifications built from ../shared/vectors/ (10% duplicates, 2%
TestNotifications, shuffled, half in SNS envelopes; no malformed messages and no
injected faults) through the real handler, fed by the emulated SQS event source at the
stack's batch size, and counts:

- notifications per second (wall time of the replay; moto runs in its own process);
- DynamoDB requests per notification (every HTTP attempt the writer's client sends);
- Lambda invocations per notification at batch size 100;
- the writer's import time as a ratio to `import boto3` alone, each measured in fresh
  interpreters, several times, median;
- write units per notification, table and indexes included, for a 1 KB and a 128 KB
  response (and a failure with each), with and without the client's PENDING record in
  place before: the real writer stores each notification in the stack's table on moto, and
  DynamoDB's sizing rules (tests/support/dynamodb_sizing.py) cost the PutItem from the items really
  stored before and after; as a ratio to the previous design's record for the same
  notification (body inline as base64 text, ByEndpoint and ByStatus projecting ALL).

Writes bench/results/results_writer.json.
Run: .venv/bin/python bench/bench_results_writer.py   (or `make bench`)
"""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any
from urllib.request import urlopen

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_DIR = REPO_ROOT / "lambda"
RESULTS = REPO_ROOT / "bench" / "results" / "results_writer.json"
sys.path[:0] = [str(REPO_ROOT), str(LAMBDA_DIR)]

from asyncinfer.results import ResultsTable  # noqa: E402
from results_writer import handler  # noqa: E402  (needs the paths above)
from stacks.config import Settings  # noqa: E402
from tests.support.dynamodb_sizing import (  # noqa: E402
    IndexDefinition,
    WriteCost,
    item_size,
    put_item_cost,
)
from tests.support.results_table import create_results_table, global_secondary_indexes  # noqa: E402
from tests.support.writer_harness import (  # noqa: E402
    BATCH_SIZE,
    MAX_RECEIVE_COUNT,
    build_replay,
    deliver,
    sqs_event,
)

NOTIFICATIONS = 10_000
IMPORT_RUNS = 9
TARGETS = {
    "lambda_invocations_per_notification_max": 0.1,
    "import_ratio_max": 1.2,
    "dynamodb_requests_per_notification_max": 1.1,
    "write_units_per_notification_max": 3,
}
RESPONSE_SIZES = {"1KB": 1024, "128KB": 128 * 1024}
# The previous design: both indexes keyed by attributes a PENDING record has too, ALL.
PREVIOUS_INDEXES = (
    IndexDefinition("ByEndpoint", ("endpointName", "eventTime"), "ALL"),
    IndexDefinition("ByStatus", ("status", "eventTime"), "ALL"),
)
VECTORS = REPO_ROOT.parent / "shared" / "vectors"
if not VECTORS.is_dir():
    VECTORS = REPO_ROOT / "tests" / "fixtures" / "vectors"

# Measured inside a fresh interpreter, so interpreter start-up is not counted.
IMPORT_PROBE = (
    "import sys, time; sys.path.insert(0, {path!r}); "
    "started = time.perf_counter(); import {module}; "
    "print(time.perf_counter() - started)"
)


def import_seconds(module: str) -> float:
    runs = []
    for _ in range(IMPORT_RUNS):
        answer = subprocess.run(
            [sys.executable, "-c", IMPORT_PROBE.format(path=str(LAMBDA_DIR), module=module)],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "RESULTS_TABLE_NAME": "bench"},
        )
        runs.append(float(answer.stdout))
    return statistics.median(runs)


@contextmanager
def moto_server() -> Iterator[str]:
    """moto in its own process on loopback, so the stand-in does not share the GIL with
    the writer: the figure is then closer to the writer's own throughput."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urlopen(endpoint + "/moto-api/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise SystemExit(f"moto server did not start on {endpoint}")
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


def replay(endpoint: str) -> dict[str, Any]:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        }
    )
    os.environ["RESULTS_TABLE_NAME"] = create_results_table(endpoint)
    _, store = handler.runtime()
    requests = {"count": 0}
    lock = threading.Lock()

    def count(**_: Any) -> None:
        with lock:  # the writer sends from several threads
            requests["count"] += 1  # one per HTTP attempt, retries included

    store._dynamodb.meta.events.register("before-send.dynamodb", count)
    workload = build_replay(VECTORS, NOTIFICATIONS, malformed_rate=0.0)
    # The writer logs a JSON line per message; keep them off the terminal.
    with redirect_stdout(io.StringIO()):
        started = time.perf_counter()
        result = deliver(
            handler.lambda_handler,
            workload.messages,
            batch_size=BATCH_SIZE,
            max_receive_count=MAX_RECEIVE_COUNT,
        )
        elapsed = time.perf_counter() - started
    if result.dead_letters or result.whole_batch_failures:
        raise SystemExit(
            "bench replay lost messages; run the tests in tests/integration/results_writer"
        )
    total = len(workload.messages)
    return {
        "notifications": total,
        "mix": {
            "unique_results": len(workload.messages)
            - workload.duplicates
            - len(workload.test_notifications),
            "duplicates": workload.duplicates,
            "test_notifications": len(workload.test_notifications),
            "malformed": 0,
            "injected_faults": 0,
            "inference_ids": len(workload.expected),
        },
        "replay_seconds": round(elapsed, 3),
        "notifications_per_second": round(total / elapsed, 1),
        "dynamodb_requests": requests["count"],
        "dynamodb_requests_per_notification": round(requests["count"] / total, 4),
        "batch_size": BATCH_SIZE,
        "max_receive_count": MAX_RECEIVE_COUNT,
        "lambda_invocations": result.invocations,
        "lambda_invocations_per_notification": round(result.invocations / total, 4),
    }


def notification(vectors: Path, status: str, body: bytes, names: dict[str, str]) -> dict[str, Any]:
    """A notification of `status` whose response body is `body`, with deployed-size names."""
    vector = "success-with-response-body.json" if status == "COMPLETED" else "error.json"
    message: dict[str, Any] = json.loads((vectors / vector).read_text())
    message["inferenceId"] = names["id"]
    message["requestParameters"] = {
        **message["requestParameters"],
        "endpointName": names["endpoint"],
        "inputLocation": names["input"],
    }
    if status == "COMPLETED":
        message["responseParameters"] = {
            "contentType": "application/json",
            "outputLocation": names["output"],
        }
    else:
        message["responseParameters"] = {"failureLocation": names["failure"]}
    message["responseBody"] = {
        "content": base64.b64encode(body).decode(),
        "message": "",
        "encoding": "BASE64",
    }
    return message


def previous_design_item(stored: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    """The record the previous writer built: the same attributes, the body inline as sent."""
    item = {
        name: value
        for name, value in stored.items()
        if name not in ("endpointShard", "failureShard", "responseBody", "responseBodyOmitted")
    }
    item["responseBody"] = {"S": message["responseBody"]["content"]}
    item["responseBodyEncoding"] = {"S": message["responseBody"]["encoding"]}
    return item


def write_units(endpoint: str) -> dict[str, Any]:
    """Write units per notification, from the items the writer really stores."""
    os.environ["RESULTS_TABLE_NAME"] = table = create_results_table(endpoint)
    inline_limit = Settings().results_inline_body_max_bytes
    os.environ["RESULTS_INLINE_BODY_MAX_BYTES"] = str(inline_limit)
    handler.runtime.cache_clear()
    _, store = handler.runtime()
    dynamodb = store._dynamodb
    client_table = ResultsTable(dynamodb, table)
    indexes = [IndexDefinition.from_template(index) for index in global_secondary_indexes()]

    def stored(inference_id: str) -> dict[str, Any] | None:
        item = dynamodb.get_item(TableName=table, Key={"inferenceId": {"S": inference_id}})
        return item.get("Item")

    cases: dict[str, Any] = {}
    worst, worst_previous = 0, 0
    for size_name, size in RESPONSE_SIZES.items():
        body = os.urandom(size)
        for status in ("COMPLETED", "FAILED"):
            for prior in ("none", "pending"):
                inference_id = str(uuid.uuid4())
                # Names as long as a deployed stack's (CloudFormation-generated).
                bucket = "sagemakerasyncinference-outputbucket7114eb27-1a2b3c4d5e6f"
                names = {
                    "id": inference_id,
                    "endpoint": "SageMakerAsyncInference-Endpoint3F6E1D6A-1A2B3C4D5E6F",
                    "input": "s3://sagemakerasyncinference-inputbucket3c4d5e6f-1a2b3c4d5e6f"
                    f"/requests/{inference_id}",
                    "output": f"s3://{bucket}/output/{inference_id}.out",
                    "failure": f"s3://{bucket}/failure/{inference_id}-error.out",
                }
                if prior == "pending":
                    client_table.put_pending(
                        inference_id=inference_id,
                        endpoint_name=names["endpoint"],
                        input_location=names["input"],
                        request_content_type="application/json",
                        accept="application/json",
                    )
                before = stored(inference_id)
                message = notification(VECTORS, status, body, names)
                with redirect_stdout(io.StringIO()):
                    answer = handler.lambda_handler(sqs_event([json.dumps(message)]), None)
                if answer["batchItemFailures"]:
                    raise SystemExit(f"the writer failed a {size_name} {status} notification")
                after = stored(inference_id)
                assert after is not None
                cost = put_item_cost(before, after, indexes)
                # The client wrote the same PENDING record under the previous design.
                previous = put_item_cost(
                    before, previous_design_item(after, message), PREVIOUS_INDEXES
                )
                worst = max(worst, cost.total)
                worst_previous = max(worst_previous, previous.total)
                cases[f"{size_name} {status.lower()}, prior record: {prior}"] = {
                    "response_bytes": size,
                    "item_bytes": item_size(after),
                    "body_inline": "responseBody" in after,
                    **describe(cost),
                    "previous_design": describe(previous),
                }
    handler.runtime.cache_clear()
    return {
        "write_units_per_notification": worst,
        "write_units_per_notification_previous_design": worst_previous,
        "write_units_ratio_to_previous_design": round(worst / worst_previous, 4),
        "write_units_inline_body_max_bytes": inline_limit,
        "write_units_cases": cases,
        "write_units_method": (
            "The real writer stores each notification in the stack's table on moto (indexes "
            "from asyncinfer_constructs/results.py); the PutItem is costed from the items read "
            "back before "
            "and after it by DynamoDB's rules (tests/support/dynamodb_sizing.py): attribute "
            "names + values, 1 write unit per KB rounded up, the larger of old and new item; "
            "per GSI the projected entry's size, 2 writes when an index key changes (PENDING -> "
            "terminal in the previous design). Figure: the worst case over 1 KB and 128 KB "
            "responses, completed and failed, with and without a PENDING record before."
        ),
    }


def describe(cost: WriteCost) -> dict[str, Any]:
    return {"table": cost.table, "indexes": cost.indexes, "total": cost.total}


def main() -> None:
    with moto_server() as endpoint:
        figures = replay(endpoint)
        figures.update(write_units(endpoint))
    writer = import_seconds("results_writer.handler")
    boto3_alone = import_seconds("boto3")
    figures.update(
        {
            "import_runs": IMPORT_RUNS,
            "import_seconds_writer": round(writer, 4),
            "import_seconds_boto3": round(boto3_alone, 4),
            "import_ratio": round(writer / boto3_alone, 3),
        }
    )
    figures["targets"] = TARGETS
    figures["targets_met"] = {
        "lambda_invocations_per_notification": figures["lambda_invocations_per_notification"]
        <= TARGETS["lambda_invocations_per_notification_max"],
        "import_ratio": figures["import_ratio"] <= TARGETS["import_ratio_max"],
        "dynamodb_requests_per_notification": figures["dynamodb_requests_per_notification"]
        <= TARGETS["dynamodb_requests_per_notification_max"],
        "write_units_per_notification": figures["write_units_per_notification"]
        <= TARGETS["write_units_per_notification_max"],
    }
    figures["stand_in"] = "moto[server] 5.2.5 on 127.0.0.1, its own process"
    figures["python"] = sys.version.split()[0]
    figures["command"] = ".venv/bin/python bench/bench_results_writer.py  (make bench)"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    if not all(figures["targets_met"].values()):
        raise SystemExit("a results writer target was missed; see " + str(RESULTS))


if __name__ == "__main__":
    main()
