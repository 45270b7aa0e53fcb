"""The endpoint drain's handlers against moto's SageMaker and CloudWatch."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from endpoint_drain import handler

ENDPOINT = "sentiment-0a1b2c3d"
START = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        sagemaker = boto3.client("sagemaker")
        sagemaker.create_model(
            ModelName="m",
            ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
            PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1"},
        )
        sagemaker.create_endpoint_config(
            EndpointConfigName="c",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "m",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.xlarge",
                }
            ],
        )
        sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="c")
        yield


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


def _delete_event(timeout_seconds: int = 3600) -> dict[str, Any]:
    return {
        "RequestType": "Delete",
        "ResourceProperties": {
            "EndpointName": ENDPOINT,
            "DrainTimeoutSeconds": str(timeout_seconds),
        },
    }


def _started(monkeypatch: pytest.MonkeyPatch, timeout_seconds: int = 3600) -> dict[str, Any]:
    _clock(monkeypatch, START)
    event = _delete_event(timeout_seconds)
    response = handler.on_event(event)
    return {**event, **response}


def test_create_and_update_complete_at_once() -> None:
    for request in ("Create", "Update"):
        event = {**_delete_event(), "RequestType": request}
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


def test_delete_waits_while_requests_are_queued_then_completes(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = _started(monkeypatch)
    _backlog(3, START + timedelta(minutes=3))
    _clock(monkeypatch, START + timedelta(minutes=4))
    assert handler.is_complete(event) == {"IsComplete": False}
    # The newest datapoint decides: an older non-zero one does not hold the drain.
    _backlog(0, START + timedelta(minutes=5))
    _clock(monkeypatch, START + timedelta(minutes=6))
    assert handler.is_complete(event) == {"IsComplete": True}


def test_a_backlog_that_outlasts_the_timeout_fails_the_delete_and_keeps_the_endpoint(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = _started(monkeypatch, timeout_seconds=600)
    _backlog(7, START + timedelta(minutes=9))
    _clock(monkeypatch, START + timedelta(minutes=10))
    with pytest.raises(RuntimeError) as raised:
        handler.is_complete(event)
    assert str(raised.value) == (
        f"Endpoint {ENDPOINT} still has about 7 queued requests after 600 s; it is kept so "
        "that they are not lost: delete it when its ApproximateBacklogSize reads 0."
    )


def test_an_endpoint_that_is_already_gone_has_nothing_to_drain(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = _started(monkeypatch)
    boto3.client("sagemaker").delete_endpoint(EndpointName=ENDPOINT)
    assert handler.is_complete(event) == {"IsComplete": True}
