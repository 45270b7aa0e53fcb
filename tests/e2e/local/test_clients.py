"""Every client against local mode: inline Body, output naming and validation through boto3
and the AWS CLI, and the SageMaker Python SDK v2's AsyncPredictor unchanged."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from asyncinfer.local.model_server import ModelServer
from tests.support.local_mode import Local, csv_rows, read_s3, wait_record

pytestmark = [
    pytest.mark.slow,
    # The SDK waits for the output and the failure object on one thread each and leaves the
    # loser polling until its WaiterConfig runs out, which can outlive local mode.
    pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning"),
]
AWS_CLI = Path(sys.executable).parent / "aws"


def runtime(local: Local) -> Any:
    return local.client("sagemaker-runtime")


def test_inline_body_reaches_the_model_and_the_record(local: Local, model: ModelServer) -> None:
    rows = "\n".join(csv_rows(2)).encode()
    response = runtime(local).invoke_endpoint_async(
        EndpointName=local.outputs["EndpointName"], Body=rows, ContentType="text/csv"
    )
    record = wait_record(local, str(response["InferenceId"]))
    assert record["status"] == "COMPLETED"
    assert read_s3(local, str(response["OutputLocation"])) == model.predict(rows)
    assert "inputLocation" not in record  # nothing was uploaded
    assert record["requestContentType"] == "text/csv"
    assert record["outputLocation"] == response["OutputLocation"]


@pytest.mark.parametrize(
    ("case", "parameters", "message"),
    [
        ("both", {"Body": b"1", "InputLocation": "s3://b/k"}, "mutually exclusive"),
        ("neither", {}, "Either Body or InputLocation must be provided"),
        ("oversized", {"Body": bytes(128_001)}, "less than or equal to 128000"),
        ("filename", {"Body": b"1", "Filename": "a.b.c"}, "at 'filename' failed to satisfy"),
        (
            "extension",
            {"Body": b"1", "S3OutputPathExtension": "s3://elsewhere"},
            "at 's3OutputPathExtension' failed to satisfy",
        ),
    ],
)
def test_invalid_requests_get_sagemakers_validation_error(
    local: Local, case: str, parameters: dict[str, Any], message: str
) -> None:
    with pytest.raises(ClientError) as raised:
        runtime(local).invoke_endpoint_async(
            EndpointName=local.outputs["EndpointName"], ContentType="text/csv", **parameters
        )
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert raised.value.response["Error"]["Code"] == "ValidationError", case
    assert message in raised.value.response["Error"]["Message"]


def test_an_inline_body_of_exactly_128000_bytes_is_accepted(local: Local) -> None:
    response = runtime(local).invoke_endpoint_async(
        EndpointName=local.outputs["EndpointName"], Body=bytes(128_000), ContentType="text/csv"
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert wait_record(local, str(response["InferenceId"]))["status"] == "FAILED"  # not CSV


def test_output_path_extension_and_filename_place_output_and_failure(local: Local) -> None:
    name = f"row-{uuid.uuid4().hex[:8]}.csv"
    response = runtime(local).invoke_endpoint_async(
        EndpointName=local.outputs["EndpointName"],
        Body=csv_rows(1)[0].encode(),
        ContentType="text/csv",
        S3OutputPathExtension="team-a/2026",
        Filename=name,
    )
    bucket = local.outputs["OutputBucketName"]
    assert response["OutputLocation"] == f"s3://{bucket}/output/team-a/2026/{name}"
    inference_id = str(response["InferenceId"])
    assert response["FailureLocation"] == (
        f"s3://{bucket}/failure/team-a/2026/{inference_id}-error.out"
    )
    record = wait_record(local, inference_id)
    assert record["outputLocation"] == response["OutputLocation"]
    assert read_s3(local, str(response["OutputLocation"])).strip()
    failed = runtime(local).invoke_endpoint_async(
        EndpointName=local.outputs["EndpointName"],
        Body=b"1,2\n",
        ContentType="text/csv",
        S3OutputPathExtension="team-a/2026",
    )
    failure = wait_record(local, str(failed["InferenceId"]))
    assert failure["failureLocation"] == failed["FailureLocation"]
    assert b"expected 30 numbers" in read_s3(local, str(failed["FailureLocation"]))


def test_aws_cli_sends_an_inline_body(local: Local, tmp_path: Path) -> None:
    row = tmp_path / "row.csv"
    row.write_text(csv_rows(1)[0])
    completed = subprocess.run(
        [
            str(AWS_CLI), "--endpoint-url", local.url, "--region", "us-east-1",
            "--output", "json", "sagemaker-runtime", "invoke-endpoint-async",
            "--endpoint-name", local.outputs["EndpointName"], "--body", f"fileb://{row}",
            "--content-type", "text/csv", "--filename", "cli.out",
        ],
        capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **local.info["environment"]},
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    answer = json.loads(completed.stdout)
    assert answer["OutputLocation"].endswith("/output/cli.out")
    record = wait_record(local, answer["InferenceId"])
    assert record["status"] == "COMPLETED" and "inputLocation" not in record


# -- the SageMaker Python SDK v2, unchanged ------------------------------------------------


@pytest.fixture
def sdk_session(local: Local, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A SageMaker SDK session on local mode, as a user's environment would set it up.

    default_bucket is the stack's input bucket: the SDK's own default bucket name needs an
    STS call to a fixed regional endpoint (sagemaker.utils.sts_regional_endpoint), which no
    endpoint URL redirects; on AWS the endpoint's execution role may read only the input
    bucket anyway.
    """
    sagemaker = pytest.importorskip("sagemaker")
    for name, value in local.info["environment"].items():
        monkeypatch.setenv(name, value)
    session = sagemaker.Session(
        boto_session=boto3.Session(region_name="us-east-1"),
        default_bucket=local.outputs["InputBucketName"],
    )
    yield session


def predictor(local: Local, session: Any, kind: str) -> Any:
    from sagemaker.deserializers import CSVDeserializer, JSONDeserializer
    from sagemaker.predictor import Predictor
    from sagemaker.predictor_async import AsyncPredictor
    from sagemaker.serializers import CSVSerializer, JSONSerializer

    serializer, deserializer = (
        (CSVSerializer(), CSVDeserializer())
        if kind == "csv"
        else (JSONSerializer(), JSONDeserializer())
    )
    return AsyncPredictor(
        Predictor(
            local.outputs["EndpointName"],
            sagemaker_session=session,
            serializer=serializer,
            deserializer=deserializer,
        )
    )


def rows(count: int) -> list[list[float]]:
    return [[float(v) for v in row.split(",")] for row in csv_rows(count)]


def expected_scores(model: ModelServer, count: int) -> list[float]:
    return [float(v) for v in model.predict("\n".join(csv_rows(count)).encode()).split()]


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_sdk_predict_waits_for_the_result(
    local: Local, model: ModelServer, sdk_session: Any, kind: str
) -> None:
    from sagemaker.async_inference import WaiterConfig

    result = predictor(local, sdk_session, kind).predict(
        data=rows(3), waiter_config=WaiterConfig(max_attempts=60, delay=1)
    )
    scores = [float(r[0]) for r in result] if kind == "csv" else result
    assert scores == pytest.approx(expected_scores(model, 3), abs=1e-6)


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_sdk_predict_async_then_get_result(
    local: Local, model: ModelServer, sdk_session: Any, kind: str
) -> None:
    from sagemaker.async_inference import WaiterConfig

    response = predictor(local, sdk_session, kind).predict_async(data=rows(2))
    assert response.output_path.startswith(local.outputs["OutputPath"])
    assert response.failure_path.startswith(local.outputs["FailurePath"])
    result = response.get_result(WaiterConfig(max_attempts=60, delay=1))
    scores = [float(r[0]) for r in result] if kind == "csv" else result
    assert scores == pytest.approx(expected_scores(model, 2), abs=1e-6)


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_sdk_model_error_is_the_sdks_failure_exception(
    local: Local, sdk_session: Any, kind: str
) -> None:
    from sagemaker.async_inference import WaiterConfig
    from sagemaker.exceptions import AsyncInferenceModelError

    async_predictor = predictor(local, sdk_session, kind)
    with pytest.raises(AsyncInferenceModelError) as raised:
        async_predictor.predict(data=[[1.0, 2.0]], waiter_config=WaiterConfig(60, 1))
    assert "expected 30 numbers" in str(raised.value)
    response = async_predictor.predict_async(data=[[1.0, 2.0]])
    with pytest.raises(AsyncInferenceModelError):
        response.get_result(WaiterConfig(max_attempts=60, delay=1))
