"""Local mode driven as a user would: boto3 sagemaker-runtime, the AWS CLI, the client."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from asyncinfer import AsyncInferenceClient
from asyncinfer.local.model_server import ModelServer
from tests.support.local_mode import Local, csv_rows, read_s3, wait_record

pytestmark = pytest.mark.slow
AWS_CLI = Path(sys.executable).parent / "aws"


def upload(local: Local, body: bytes) -> str:
    key = f"tests/{uuid.uuid4()}.csv"
    local.client("s3").put_object(Bucket=local.outputs["InputBucketName"], Key=key, Body=body)
    return f"s3://{local.outputs['InputBucketName']}/{key}"


def invoke(local: Local, location: str, **extra: object) -> dict[str, object]:
    runtime = local.client("sagemaker-runtime", config=Config(parameter_validation=False))
    return dict(
        runtime.invoke_endpoint_async(
            EndpointName=local.outputs["EndpointName"],
            InputLocation=location,
            ContentType="text/csv",
            **extra,
        )
    )


def test_boto3_success_writes_output_and_a_completed_record(
    local: Local, model: ModelServer
) -> None:
    rows = csv_rows(3)
    location = upload(local, "\n".join(rows).encode())
    response = invoke(local, location, Accept="text/csv", CustomAttributes="trace=t1")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202  # type: ignore[index]
    inference_id = str(response["InferenceId"])
    assert response["OutputLocation"] == (
        f"s3://{local.outputs['OutputBucketName']}/output/{inference_id}.out"
    )
    assert response["FailureLocation"] == (
        f"s3://{local.outputs['OutputBucketName']}/failure/{inference_id}-error.out"
    )
    record = wait_record(local, inference_id)
    expected = model.predict("\n".join(rows).encode())
    assert read_s3(local, str(response["OutputLocation"])) == expected
    bucket, _, key = str(response["OutputLocation"])[len("s3://") :].partition("/")
    head = local.client("s3").head_object(Bucket=bucket, Key=key)
    assert head["ContentType"] == "text/csv; charset=utf-8"  # the model's own content type
    assert record["status"] == "COMPLETED"
    assert record["outputLocation"] == response["OutputLocation"]
    assert record["endpointName"] == local.outputs["EndpointName"]
    assert record["inputLocation"] == location
    assert record["requestContentType"] == "text/csv"
    assert record["accept"] == "text/csv"
    assert record["customAttributes"] == "trace=t1"
    assert record["responseContentType"].startswith("text/csv")
    # IncludeInferenceResponseIn holds SUCCESS_NOTIFICATION_TOPIC in the template.
    assert record["responseBodyEncoding"] == "BASE64"
    assert "failureReason" not in record
    assert len(np.loadtxt(expected.decode().splitlines())) == 3


def test_invalid_csv_fails_with_the_models_error(local: Local) -> None:
    location = upload(local, b"1,2,three\n")
    response = invoke(local, location)
    record = wait_record(local, str(response["InferenceId"]))
    assert record["status"] == "FAILED"
    assert "row 1 has 3 columns; expected 30 numbers" in record["failureReason"]
    assert "(400)" in record["failureReason"]
    assert record["failureLocation"] == response["FailureLocation"]
    assert (
        read_s3(local, str(response["FailureLocation"]))
        == b"row 1 has 3 columns; expected 30 numbers"
    )


def test_missing_input_object_fails_with_a_notification(local: Local) -> None:
    location = f"s3://{local.outputs['InputBucketName']}/tests/absent-{uuid.uuid4()}.csv"
    record = wait_record(local, str(invoke(local, location)["InferenceId"]))
    assert record["status"] == "FAILED"
    assert "NoSuchKey" in record["failureReason"] and location in record["failureReason"]


def test_unknown_endpoint_is_a_validation_error(local: Local) -> None:
    runtime = local.client("sagemaker-runtime")
    with pytest.raises(ClientError) as raised:
        runtime.invoke_endpoint_async(EndpointName="no-such-endpoint", InputLocation="s3://b/k")
    assert raised.value.response["Error"]["Code"] == "ValidationError"
    assert "Endpoint no-such-endpoint of account" in str(raised.value)
    assert "not found" in str(raised.value)


def test_aws_cli_invoke_endpoint_async(local: Local) -> None:
    location = upload(local, csv_rows(1)[0].encode())
    env = {**local.info["environment"]}
    completed = subprocess.run(
        [
            str(AWS_CLI),
            "--endpoint-url",
            local.url,
            "--region",
            "us-east-1",
            "--output",
            "json",
            "sagemaker-runtime",
            "invoke-endpoint-async",
            "--endpoint-name",
            local.outputs["EndpointName"],
            "--input-location",
            location,
            "--content-type",
            "text/csv",
            "--inference-id",
            "cli-" + uuid.uuid4().hex,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", **env},
    )
    assert completed.returncode == 0, completed.stderr
    answer = json.loads(completed.stdout)
    assert answer["InferenceId"].startswith("cli-")
    assert answer["OutputLocation"].endswith(f"/output/{answer['InferenceId']}.out")
    assert wait_record(local, answer["InferenceId"])["status"] == "COMPLETED"


def test_project_client_from_the_outputs_file(local: Local, model: ModelServer) -> None:
    client = AsyncInferenceClient.from_stack(
        outputs_file=local.outputs_file,
        endpoint_url=local.url,
        region_name="us-east-1",
        poll_interval=0.1,
        max_poll_interval=0.5,
    )
    row = csv_rows(1, start=7)[0]
    value = client.predict(row, content_type="text/csv", timeout=60)
    assert value == [[model.predict(row.encode()).decode().strip()]]
    outcomes = list(client.map(csv_rows(5), content_type="text/csv", timeout=60))
    assert [outcome.ok for outcome in outcomes] == [True] * 5


def test_concurrency_never_exceeds_the_template_limit(local: Local, model: ModelServer) -> None:
    limit = configured_concurrency()
    model.reset_stats()
    # The limit is reached only if `limit` requests arrive while the first is still in the
    # model: submitted together, and each held for longer than a loaded machine takes to
    # submit them (0.1 s and one-by-one submission missed it at times: maxInFlight 3 of 4).
    model.delay_seconds = 0.5
    try:
        rows = csv_rows(4 * limit)
        with ThreadPoolExecutor(max_workers=len(rows)) as pool:
            replies = pool.map(lambda row: invoke(local, upload(local, row.encode())), rows)
            ids = [str(reply["InferenceId"]) for reply in replies]
        records = [wait_record(local, inference_id) for inference_id in ids]
    finally:
        model.delay_seconds = 0.0
    assert all(record["status"] == "COMPLETED" for record in records)
    # Never more than the limit, and the limit reached: the queue did the holding back.
    assert model.stats()["maxInFlight"] == limit


def configured_concurrency() -> int:
    from tests.support.local_mode import STACK, TEMPLATE_DIR

    template = json.loads((TEMPLATE_DIR / f"{STACK}.template.json").read_text())
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::SageMaker::EndpointConfig":
            config = resource["Properties"]["AsyncInferenceConfig"]
            per_instance = int(config["ClientConfig"]["MaxConcurrentInvocationsPerInstance"])
            count = sum(
                v["InitialInstanceCount"] for v in resource["Properties"]["ProductionVariants"]
            )
            return per_instance * max(1, count)
    raise AssertionError("the template has no endpoint config")


def test_backlog_metrics_are_reported(local: Local) -> None:
    import urllib.request

    with urllib.request.urlopen(local.info["metricsUrl"], timeout=10) as reply:
        metrics = json.loads(reply.read())
    endpoint = metrics[local.outputs["EndpointName"]]
    for name in (
        "ApproximateBacklogSize",
        "ApproximateBacklogSizePerInstance",
        "HasBacklogWithoutCapacity",
        "ApproximateAgeOfOldestRequest",
    ):
        assert name in endpoint
