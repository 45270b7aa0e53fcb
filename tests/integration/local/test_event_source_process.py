"""A function's event source as its own process: how it starts and stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import pytest

REGION = "us-east-1"


def queue(moto_server: str) -> tuple[str, str]:
    sqs = boto3.client(
        "sqs",
        region_name=REGION,
        endpoint_url=moto_server,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    url = sqs.create_queue(QueueName=f"results-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def environment(moto_server: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    return {
        **env,
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION,
    }


def command(url: str, arn: str, code_dir: Path) -> list[str]:
    """The event source of a function that takes every batch (its own asset in code_dir)."""
    code_dir.mkdir(exist_ok=True)
    (code_dir / "consumer.py").write_text("def handler(event, context):\n    return {}\n")
    return [
        sys.executable,
        "-m",
        "asyncinfer.local.event_source",
        "--queue-url",
        url,
        "--queue-arn",
        arn,
        "--code-dir",
        str(code_dir),
        "--handler",
        "consumer.handler",
        "--drain-seconds",
        "2",
    ]


def gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_ctrl_c_is_ignored_and_sigterm_stops_it(moto_server: str, tmp_path: Path) -> None:
    url, arn = queue(moto_server)
    process = subprocess.Popen(
        command(url, arn, tmp_path / "asset"), cwd=tmp_path, env=environment(moto_server)
    )
    try:
        time.sleep(2)  # started and polling
        process.send_signal(signal.SIGINT)
        time.sleep(1)
        # Ctrl-C reaches the whole process group; local mode itself decides when to stop it.
        assert process.poll() is None
        process.terminate()
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_it_ends_when_local_mode_dies(moto_server: str, tmp_path: Path) -> None:
    url, arn = queue(moto_server)
    pid_file = tmp_path / "pid"
    # A parent that starts the event source and dies at once, as a killed local mode would.
    parent = (
        "import subprocess, sys; "
        "import os; "
        f"p = subprocess.Popen({command(url, arn, tmp_path / 'asset')!r} "
        "+ ['--parent-pid', str(os.getpid())]); "
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))"
    )
    subprocess.run(
        [sys.executable, "-c", parent], cwd=tmp_path, env=environment(moto_server), check=True
    )
    pid = int(pid_file.read_text())
    if not gone(pid, within=15):
        os.kill(pid, signal.SIGKILL)
        pytest.fail("the event source kept running after its parent died")
