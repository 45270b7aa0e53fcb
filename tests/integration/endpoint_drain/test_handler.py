"""The endpoint drain's handlers against moto's SageMaker, CloudWatch and CloudFormation.

Each test runs the handler as the CDK provider framework does: `on_event` once per Delete
request, then `is_complete` once per poll, with the clock moved between polls. Throttling
and server errors are real HTTP answers (a botocore `before-send` hook answers in moto's
place), so botocore's own retries and error parsing run as they do against AWS.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.cloudformation.models import cloudformation_backends
from moto.sagemaker.models import sagemaker_backends

from endpoint_drain import handler

ENDPOINT = "sentiment-0a1b2c3d"
CONFIG = "sentiment-config-0a1b2c3d"
MODELS = ("sentiment-model-0a1b2c3d", "sentiment-gpu-model-0a1b2c3d")
START = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture
def aws() -> Iterator[str]:
    """One endpoint generation (two models, a config, an endpoint) and the stack it is in;
    yields the stack's id."""
    with mock_aws():
        sagemaker = boto3.client("sagemaker")
        for model in MODELS:
            sagemaker.create_model(
                ModelName=model,
                ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/r",
                PrimaryContainer={"Image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/m:1"},
            )
        sagemaker.create_endpoint_config(
            EndpointConfigName=CONFIG,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": MODELS[0],
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.xlarge",
                }
            ],
        )
        sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=CONFIG)
        stack = boto3.client("cloudformation").create_stack(
            StackName="SageMakerAsyncInference",
            TemplateBody=json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}),
        )
        yield stack["StackId"]


def _clock(monkeypatch: pytest.MonkeyPatch, now: datetime) -> None:
    monkeypatch.setattr(handler, "_now", lambda: now)


def _backlog(value: float, at: datetime) -> None:
    boto3.client("cloudwatch").put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": "ApproximateBacklogSize",
                "Dimensions": [{"Name": "EndpointName", "Value": ENDPOINT}],
                "Timestamp": at,
                "Value": value,
            }
        ],
    )


def _delete_event(stack_id: str, timeout_seconds: int = 3600) -> dict[str, Any]:
    """A Delete request as asyncinfer_constructs/endpoint_drain.py's resource sends it."""
    return {
        "RequestType": "Delete",
        "StackId": stack_id,
        "ResourceProperties": {
            "EndpointName": ENDPOINT,
            "EndpointConfigName": CONFIG,
            "ModelNames": list(MODELS),
            "DrainTimeoutSeconds": str(timeout_seconds),
            "DeleteAfterDrain": "true",
        },
    }


def _started(
    monkeypatch: pytest.MonkeyPatch, event: dict[str, Any], at: datetime = START
) -> dict[str, Any]:
    """The event `is_complete` receives after `on_event` ran at `at`."""
    _clock(monkeypatch, at)
    return {**event, **handler.on_event(event)}


def _poll(monkeypatch: pytest.MonkeyPatch, event: dict[str, Any], at: datetime) -> bool:
    _clock(monkeypatch, at)
    return bool(handler.is_complete(event)["IsComplete"])


def _exists(describe: Callable[..., Any], **name: str) -> bool:
    try:
        describe(**name)
    except ClientError as error:
        assert error.response["Error"]["Code"] == "ValidationException"
        return False
    return True


def _generation_left() -> dict[str, bool]:
    sagemaker = boto3.client("sagemaker")
    return {
        "endpoint": _exists(sagemaker.describe_endpoint, EndpointName=ENDPOINT),
        "config": _exists(sagemaker.describe_endpoint_config, EndpointConfigName=CONFIG),
        **{model: _exists(sagemaker.describe_model, ModelName=model) for model in MODELS},
    }


ALL_LEFT = {"endpoint": True, "config": True, **dict.fromkeys(MODELS, True)}
NONE_LEFT = {"endpoint": False, "config": False, **dict.fromkeys(MODELS, False)}


def _timeouts_published() -> list[dict[str, Any]]:
    metrics = boto3.client("cloudwatch").list_metrics(
        Namespace=handler.TIMEOUT_METRIC_NAMESPACE, MetricName=handler.TIMEOUT_METRIC_NAME
    )["Metrics"]
    return [dict(m) for m in metrics]


# --- Create and update ---------------------------------------------------------------------


def test_create_and_update_complete_at_once() -> None:
    for request in ("Create", "Update"):
        event = {**_delete_event("stack"), "RequestType": request}
        assert handler.on_event(event) == {"PhysicalResourceId": f"drain-{ENDPOINT}"}
        assert handler.is_complete(event) == {"IsComplete": True}


@pytest.mark.parametrize(
    ("backlog", "elapsed", "drained"),
    [
        (None, 0, False),  # too early to trust an empty reading
        (0.0, 179, False),
        (0.0, 180, True),
        (None, 600, True),  # nothing queued for the whole window
        (2.0, 3000, False),
    ],
)
def test_drained_only_after_the_settle_time_with_an_empty_newest_reading(
    backlog: float | None, elapsed: float, drained: bool
) -> None:
    assert handler.is_drained(backlog, elapsed) is drained


# --- Drain, then delete the generation ---------------------------------------------------


def test_waits_while_requests_are_queued_then_deletes_endpoint_then_config_and_models(
    aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = _started(monkeypatch, _delete_event(aws))
    _backlog(3, START + timedelta(minutes=3))
    assert not _poll(monkeypatch, event, START + timedelta(minutes=4))
    assert _generation_left() == ALL_LEFT
    # The newest datapoint decides: an older non-zero one does not hold the drain.
    _backlog(0, START + timedelta(minutes=5))
    # Drained: the endpoint goes first; its config and models stay until it is gone, so
    # it never runs without them.
    assert not _poll(monkeypatch, event, START + timedelta(minutes=6))
    assert _generation_left() == {**ALL_LEFT, "endpoint": False}
    assert _poll(monkeypatch, event, START + timedelta(minutes=7))
    assert _generation_left() == NONE_LEFT
    assert _timeouts_published() == []


def test_a_backlog_that_outlasts_the_timeout_fails_the_delete_and_deletes_nothing(
    aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = _started(monkeypatch, _delete_event(aws, timeout_seconds=600))
    _backlog(7, START + timedelta(minutes=9))
    _clock(monkeypatch, START + timedelta(minutes=10))
    with pytest.raises(handler.DrainTimedOut) as raised:
        handler.is_complete(event)
    # The reason CloudFormation shows in the stack's events says what was left and why.
    assert str(raised.value) == (
        f"Endpoint {ENDPOINT} still has about 7 queued requests after 600 s "
        f"(endpoint_drain_timeout_minutes); it is left in place, with its endpoint config "
        f"and models, so that no queued request is lost, and the stack no longer manages "
        f"it: delete endpoint {ENDPOINT}, then its config and models, once its "
        f"ApproximateBacklogSize reads 0 (docs/updates.md)."
    )
    assert _generation_left() == ALL_LEFT
    # The drain timeout alarm's metric, for this stack.
    assert _timeouts_published() == [
        {
            "Namespace": handler.TIMEOUT_METRIC_NAMESPACE,
            "MetricName": handler.TIMEOUT_METRIC_NAME,
            "Dimensions": [{"Name": "StackName", "Value": "SageMakerAsyncInference"}],
        }
    ]


def test_cloudformations_retries_of_a_failed_delete_share_one_timeout(
    aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # CloudFormation tries a failed deletion three times, each a new Delete request.
    first = _started(monkeypatch, _delete_event(aws, timeout_seconds=600))
    _backlog(7, START + timedelta(minutes=9))
    _clock(monkeypatch, START + timedelta(minutes=10))
    with pytest.raises(handler.DrainTimedOut):
        handler.is_complete(first)
    retry_at = START + timedelta(minutes=12)
    retry = _started(monkeypatch, _delete_event(aws, timeout_seconds=600), at=retry_at)
    _backlog(5, START + timedelta(minutes=11))
    # The retry's first poll already knows the drain began at START: it fails at once
    # instead of waiting another 600 s.
    _clock(monkeypatch, retry_at + timedelta(minutes=1))
    with pytest.raises(handler.DrainTimedOut, match="after 780 s"):
        handler.is_complete(retry)
    # A retry that finds the queue empty deletes the generation after all.
    last_at = START + timedelta(minutes=15)
    last = _started(monkeypatch, _delete_event(aws, timeout_seconds=600), at=last_at)
    _backlog(0, START + timedelta(minutes=14))
    assert not _poll(monkeypatch, last, last_at + timedelta(minutes=1))
    assert _poll(monkeypatch, last, last_at + timedelta(minutes=2))
    assert _generation_left() == NONE_LEFT


def test_a_failed_endpoint_is_deleted_without_waiting(
    aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = _started(monkeypatch, _delete_event(aws))
    # moto keeps its endpoints InService; this one fails, as a SageMaker endpoint can.
    sagemaker_backends[ACCOUNT][REGION].endpoints[ENDPOINT].endpoint_status = "Failed"
    assert not _poll(monkeypatch, event, START + timedelta(seconds=30))
    assert _poll(monkeypatch, event, START + timedelta(seconds=90))
    assert _generation_left() == NONE_LEFT


def test_an_endpoint_that_is_already_gone_leaves_its_config_and_models_to_delete(
    aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = _started(monkeypatch, _delete_event(aws))
    boto3.client("sagemaker").delete_endpoint(EndpointName=ENDPOINT)
    assert _poll(monkeypatch, event, START + timedelta(seconds=30))
    assert _generation_left() == NONE_LEFT


def test_a_rollback_only_waits_for_the_queue_and_leaves_the_deletion_to_cloudformation(
    aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A rollback deletes the resources its operation created (RetainExceptOnCreate):
    # deleting them here too would fail CloudFormation's own deletion.
    event = _started(monkeypatch, _delete_event(aws))
    cloudformation_backends[ACCOUNT][REGION].stacks[
        aws
    ].status = "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
    assert not _poll(monkeypatch, event, START + timedelta(minutes=1))
    assert _poll(monkeypatch, event, START + timedelta(minutes=4))
    assert _generation_left() == ALL_LEFT


def test_a_drain_deployed_before_generations_were_kept_only_waits(
    aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its template lets CloudFormation delete the endpoint once the drain completes.
    legacy = _delete_event(aws)
    legacy["ResourceProperties"] = {
        "EndpointName": ENDPOINT,
        "DrainTimeoutSeconds": "3600",
    }
    event = _started(monkeypatch, legacy)
    _backlog(0, START + timedelta(minutes=3))
    assert _poll(monkeypatch, event, START + timedelta(minutes=4))
    assert _generation_left() == ALL_LEFT


# --- Transient errors --------------------------------------------------------------------


class _Raw:
    """The raw HTTP body botocore reads an answer from."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


@contextmanager
def answering(event_name: str, status: int, body: dict[str, str] | None) -> Iterator[list[str]]:
    """Every `event_name` request (e.g. `sagemaker.DescribeEndpoint`) is answered with
    HTTP `status` and JSON `body` instead of reaching moto; yields the requests seen."""
    seen: list[str] = []

    def answer(request: Any, **_: Any) -> AWSResponse:
        seen.append(request.url)
        content = json.dumps(body).encode() if body is not None else b""
        headers = HTTPHeaders()
        headers["Content-Type"] = "application/x-amz-json-1.1"
        return AWSResponse(request.url, status, headers, _Raw(content))

    events = boto3.DEFAULT_SESSION.events if boto3.DEFAULT_SESSION else None
    if events is None:
        boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None
        events = boto3.DEFAULT_SESSION.events
    # A before-send handler that returns a response is the answer (botocore's hook).
    hook = cast(Callable[..., None], answer)
    events.register_first(f"before-send.{event_name}", hook)
    try:
        yield seen
    finally:
        events.unregister(f"before-send.{event_name}", hook)


THROTTLED = {"__type": "ThrottlingException", "message": "Rate exceeded"}


@pytest.mark.parametrize(
    ("event_name", "status", "body"),
    [
        ("sagemaker.DescribeEndpoint", 400, THROTTLED),
        ("cloudwatch.GetMetricData", 503, None),
        ("cloudformation.DescribeStacks", 500, None),
    ],
    ids=["sagemaker-throttled", "cloudwatch-503", "cloudformation-500"],
)
def test_throttling_and_server_errors_answer_not_complete_and_the_next_poll_goes_on(
    aws: str,
    monkeypatch: pytest.MonkeyPatch,
    event_name: str,
    status: int,
    body: dict[str, str] | None,
) -> None:
    event = _started(monkeypatch, _delete_event(aws))
    _backlog(0, START + timedelta(minutes=3))
    with answering(event_name, status, body) as seen:
        # Not complete, not an exception: the provider framework asks again next minute.
        assert not _poll(monkeypatch, event, START + timedelta(minutes=4))
    assert len(seen) == 3, "botocore's standard retries ran first"
    assert _generation_left() == ALL_LEFT
    assert not _poll(monkeypatch, event, START + timedelta(minutes=5))
    assert _poll(monkeypatch, event, START + timedelta(minutes=6))
    assert _generation_left() == NONE_LEFT


def test_a_transient_error_past_the_timeout_fails_the_delete(
    aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = _started(monkeypatch, _delete_event(aws, timeout_seconds=600))
    with answering("cloudwatch.GetMetricData", 503, None):
        assert not _poll(monkeypatch, event, START + timedelta(minutes=5))
        _clock(monkeypatch, START + timedelta(minutes=10))
        with pytest.raises(handler.DrainTimedOut, match="could not be read"):
            handler.is_complete(event)
    assert _generation_left() == ALL_LEFT


def test_an_error_that_is_an_answer_fails_the_delete_at_once(
    aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = _started(monkeypatch, _delete_event(aws))
    denied = {"__type": "AccessDeniedException", "message": "not authorized"}
    with answering("sagemaker.DescribeEndpoint", 400, denied), pytest.raises(ClientError):
        _poll(monkeypatch, event, START + timedelta(minutes=4))
    assert _generation_left() == ALL_LEFT
