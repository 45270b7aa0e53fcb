"""Start local mode in a child process (as `asyncinfer local up` runs) and read its results."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import boto3

from asyncinfer.local.demo import start
from asyncinfer_runtime.contract import DEFAULT_STACK_NAME

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIR = REPO_ROOT / "cdk.out"
STACK = DEFAULT_STACK_NAME
_CLIENT_CREATION = threading.Lock()
RECORD_TIMEOUT = 60.0


@dataclass
class Local:
    process: subprocess.Popen[str]
    info: dict[str, Any]
    outputs: dict[str, str]
    outputs_file: Path
    log_path: Path

    @property
    def url(self) -> str:
        return str(self.info["endpointUrl"])

    def client(self, service: str, **kwargs: Any) -> Any:
        # boto3-stubs type only literal service names; this one is named at run time. The
        # lock: boto3's default session, which makes the client, is not thread-safe (the
        # clients are).
        with _CLIENT_CREATION:
            return boto3.client(
                cast(Any, service), endpoint_url=self.url, region_name="us-east-1", **kwargs
            )

    def stop(self) -> dict[str, int]:
        """SIGINT (Ctrl-C), then the summary local mode prints as it exits."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=90)
        for line in reversed(self.log_path.read_text(encoding="utf-8").splitlines()):
            if line.startswith('{"localModeStopped"'):
                return dict(json.loads(line)["localModeStopped"])
        raise AssertionError(f"local mode printed no stop summary; exit {self.process.returncode}")


def start_local(
    state_dir: Path, *extra: str, cdk_out: Path = TEMPLATE_DIR, synth: bool = False
) -> Local:
    """Local mode on ``cdk_out``'s template; with ``synth``, `local up` synthesizes it if missing."""
    if not synth and not (cdk_out / f"{STACK}.template.json").is_file():
        raise AssertionError(f"{cdk_out}/{STACK}.template.json is missing; run make synth")
    flags = ["--cdk-out", str(cdk_out)] if synth else ["--no-synth", "--cdk-out", str(cdk_out)]
    process, info = start(state_dir, *flags, *extra)
    outputs_file = Path(str(info["outputsFile"]))
    outputs = json.loads(outputs_file.read_text())[STACK]
    log_path = state_dir / "local-up.log"
    return Local(process, info, outputs, outputs_file, log_path)


def wait_record(local: Local, inference_id: str, timeout: float = RECORD_TIMEOUT) -> dict[str, Any]:
    """The terminal results-table record of one inference (polls, bounded by ``timeout``)."""
    dynamodb = local.client("dynamodb")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        item = dynamodb.get_item(
            TableName=local.outputs["ResultsTableName"],
            Key={"inferenceId": {"S": inference_id}},
            ConsistentRead=True,
        ).get("Item")
        if item and item["status"]["S"] in ("COMPLETED", "FAILED"):
            return {key: next(iter(value.values())) for key, value in item.items()}
        time.sleep(0.2)
    raise AssertionError(f"no terminal record for {inference_id} within {timeout:.0f} s")


def read_s3(local: Local, uri: str) -> bytes:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bytes(local.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def csv_rows(count: int, start: int = 0) -> list[str]:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer().data
    return [",".join(f"{v:g}" for v in data[(start + i) % len(data)]) for i in range(count)]


def topic_to_queue(sns: Any, sqs: Any) -> tuple[str, str]:
    """A "success" topic delivering raw messages to a "results" queue: (topic ARN, queue URL)."""
    topic = sns.create_topic(Name="success")["TopicArn"]
    queue = sqs.create_queue(QueueName="results")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    return topic, queue
