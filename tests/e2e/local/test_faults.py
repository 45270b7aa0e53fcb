"""Faults: model down then back, TTL expiry, invocation timeout, Ctrl-C, no template yet."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest
from botocore.config import Config

from asyncinfer.local.model_server import ModelServer
from asyncinfer_runtime.contract import parse_iso_time
from tests.support.local_mode import Local, csv_rows, read_s3, start_local, wait_record

pytestmark = pytest.mark.slow


def submit(local: Local, body: bytes, content_type: str = "text/csv", **extra: object) -> str:
    key = f"faults/{uuid.uuid4()}"
    local.client("s3").put_object(Bucket=local.outputs["InputBucketName"], Key=key, Body=body)
    # parameter_validation off: botocore enforces AWS's 60 s minimum TTL client-side, and a
    # test cannot wait a minute; local mode accepts TTLs from 1 s.
    runtime = local.client("sagemaker-runtime", config=Config(parameter_validation=False))
    response = runtime.invoke_endpoint_async(
        EndpointName=local.outputs["EndpointName"],
        InputLocation=f"s3://{local.outputs['InputBucketName']}/{key}",
        ContentType=content_type,
        **extra,
    )
    return str(response["InferenceId"])


def metrics(local: Local) -> dict[str, float]:
    with urllib.request.urlopen(local.info["metricsUrl"], timeout=10) as reply:
        return dict(json.loads(reply.read())[local.outputs["EndpointName"]])


def test_model_down_keeps_requests_queued_and_ttl_expires(tmp_path: Path) -> None:
    model = ModelServer(port=0, state_dir=tmp_path / "model").start()
    port = model.port
    local = start_local(tmp_path / "state", "--model-url", model.url)
    try:
        model.stop()
        kept = submit(local, csv_rows(1)[0].encode())
        expiring = submit(local, csv_rows(1)[0].encode(), RequestTTLSeconds=1)
        expired = wait_record(local, expiring)
        assert expired["status"] == "FAILED"
        assert "RequestTTLSeconds" in expired["failureReason"]
        # The other request is still waiting for the model, not failed.
        assert metrics(local)["ApproximateBacklogSize"] == 1
        assert metrics(local)["ExpiredRequests"] == 1
        item = local.client("dynamodb").get_item(
            TableName=local.outputs["ResultsTableName"], Key={"inferenceId": {"S": kept}}
        )
        assert "Item" not in item
        model = ModelServer(port=port, state_dir=tmp_path / "model").start()
        assert wait_record(local, kept)["status"] == "COMPLETED"
        assert metrics(local)["ApproximateBacklogSize"] == 0
    finally:
        local.stop()
        model.stop()


def test_ctrl_c_finishes_in_flight_requests_and_leaves_nothing_running(tmp_path: Path) -> None:
    local = start_local(tmp_path / "state", "--model", "xgboost", "--model-delay-ms", "300")
    model_url = local.info["modelUrl"]
    ids = [submit(local, row.encode()) for row in csv_rows(12)]
    wait_record(local, ids[0])  # requests are flowing when Ctrl-C arrives
    summary = local.stop()
    assert local.process.returncode == 0
    assert summary["accepted"] == 12
    # Every accepted request was either finished (output + notification) or never started.
    assert summary["notified"] + summary["queuedNotStarted"] == 12
    assert summary["notified"] >= 1
    # Every notification of a finished request became a record before exit.
    assert summary["resultsQueueLeft"] == 0
    assert not (tmp_path / "state" / "local.json").exists()
    # The model server child process is gone too.
    with pytest.raises(OSError):
        urllib.request.urlopen(model_url + "/ping", timeout=2)


def test_a_model_slower_than_invocation_timeout_fails_the_request(tmp_path: Path) -> None:
    local = start_local(tmp_path / "state", "--model", "xgboost", "--model-delay-ms", "3000")
    try:
        record = wait_record(
            local, submit(local, csv_rows(1)[0].encode(), InvocationTimeoutSeconds=1)
        )
        assert record["status"] == "FAILED"
        assert record["failureReason"] == (
            "ClientError: The model did not respond within InvocationTimeoutSeconds (1 s)."
        )
        # Failed on the timeout, not after the model's 3 s answer: timed by the endpoint's
        # own clock (received -> failed), not by this test's, which also counts the
        # notification's way through the topic, the queue and the results writer.
        processing = parse_iso_time(record["eventTime"]) - parse_iso_time(record["receivedTime"])
        assert processing.total_seconds() < 3.0
        failure = read_s3(local, record["failureLocation"])
        assert b"InvocationTimeoutSeconds" in failure
    finally:
        local.stop()


def test_local_up_synthesizes_the_app_when_the_template_is_missing(tmp_path: Path) -> None:
    cdk_out = tmp_path / "cdk.out"
    local = start_local(tmp_path / "state", cdk_out=cdk_out, synth=True)
    try:
        # The directory was empty: local up ran the pinned CLI's synth into it.
        assert (cdk_out / "SageMakerAsyncInference.template.json").is_file()
        assert (cdk_out / "manifest.json").is_file()
        # It serves the template's model: the sentiment stand-in of HF_TASK text-classification.
        body = b'{"inputs": "I love async inference"}'
        record = wait_record(local, submit(local, body, "application/json"))
        assert record["status"] == "COMPLETED"
        assert json.loads(read_s3(local, record["outputLocation"]))[0]["label"] == "LABEL_2"
    finally:
        local.stop()


def local_up(*options: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`asyncinfer local up` run to its end (these runs fail at start-up)."""
    return subprocess.run(
        [sys.executable, "-m", "asyncinfer.local", "up", *options],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_local_up_without_a_template_and_no_synth_says_what_to_run(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here"
    result = local_up("--no-synth", "--cdk-out", str(missing))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"local mode: {missing}/SageMakerAsyncInference.template.json does not exist; "
        "run `make synth` first"
    )


def test_local_up_refuses_a_cdk_out_of_another_stack(tmp_path: Path) -> None:
    cdk_out = tmp_path / "cdk.out"
    cdk_out.mkdir()
    (cdk_out / "SageMakerAsyncInference.template.json").write_text("{}")
    result = local_up(
        "--stack", "Other", "--cdk-out", str(cdk_out), "--state-dir", str(tmp_path / "state")
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"local mode: {cdk_out} was synthesized for stack SageMakerAsyncInference, not Other; "
        'synthesize Other (make synth CDK_ARGS="-c stack_name=Other") or pass --stack '
        "SageMakerAsyncInference"
    )


def test_local_up_outside_an_app_folder_says_where_to_run_it(tmp_path: Path) -> None:
    # No template in ./cdk.out and no cdk.json here: nothing is looked up elsewhere.
    result = local_up(cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"local mode: cdk.out/SageMakerAsyncInference.template.json does not exist and "
        f"{tmp_path} holds no cdk.json to synthesize it from; run local mode in your CDK "
        "app's folder, or give --cdk-out a synthesized cloud assembly"
    )
