"""Drain an endpoint generation's queue, then delete the generation.

An async endpoint's internal queue goes with the endpoint: a request still queued when
the endpoint is deleted is lost. Changing what SageMaker refuses to update on an
autoscaled variant (the instance type), or the endpoint's name, deploys a new endpoint
generation, and the old one leaves the template. This custom resource belongs to one
generation and depends on its scaling, log group and grants, so CloudFormation deletes it
first: its Delete does not complete until the old endpoint's queue is empty, while the
old endpoint's autoscaling still runs (it can still scale out from zero to drain).

CloudFormation keeps the endpoint, its config and its models (RetainExceptOnCreate,
asyncinfer_constructs/endpoint_drain.py), so once the queue is empty this Delete deletes
them itself, endpoint first, and completes when they are gone. If the queue does not
empty in time it fails with a reason that says what was left, publishes a metric that
the drain timeout alarm watches, and deletes nothing. A rollback of the operation that
created the generation is the one case CloudFormation deletes them itself; then this
only waits for the queue, as a drain deployed before the generation was kept does.

Run by the CDK custom resource Provider framework: `on_event` once per Delete request,
then `is_complete` every `query_interval` until it says complete or raises. Only
raising fails the Delete, so a throttled or failing AWS call answers "not complete"
(aws_errors.py) and only the timeout raises.

AWS documents no API that reads an async endpoint's queue; CloudWatch's
`ApproximateBacklogSize` ("the number of items in the queue for an endpoint that are
currently being processed or yet to be processed", SageMaker Developer Guide, "Monitor
with CloudWatch" for asynchronous endpoints) is the only reading, published each minute.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from endpoint_drain.aws_errors import is_transient, is_validation_error

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_sagemaker import SageMakerClient

from asyncinfer_runtime.environment import LOG_LEVEL

LOGGER = logging.getLogger()
LOGGER.setLevel(os.environ.get(LOG_LEVEL, "INFO"))

# A request accepted just before the Delete began shows in the metric a minute or two
# later (1-minute datapoints, published with a delay): never call a queue empty sooner.
SETTLE_SECONDS = 180
# How far back to read the metric; the newest datapoint in it decides.
WINDOW_SECONDS = 600
STARTED_AT = "DrainStartedAt"
# CloudFormation tries a failed deletion three times before it gives up on the resource
# (CloudFormation User Guide, Troubleshooting, "Resource removed from stack but not
# deleted"), each try a new Delete request. The first one's start, kept on the endpoint,
# makes the timeout one timeout for all of them.
STARTED_TAG = "asyncinfer:drain-started-at"
# asyncinfer_constructs/endpoint_drain.py watches this metric with the drain timeout alarm.
TIMEOUT_METRIC_NAMESPACE = "AsyncInference/EndpointDrain"
TIMEOUT_METRIC_NAME = "DrainTimeouts"
TIMEOUT_METRIC_DIMENSION = "StackName"
# SageMaker's endpoint states (SageMaker API Reference, Endpoint, EndpointStatus) in which
# the drain deletes the endpoint; in Creating, Updating, SystemUpdating and RollingBack it
# waits for the next poll.
DELETABLE_STATES = frozenset({"InService", "OutOfService", "Failed", "UpdateRollbackFailed"})
# Each call gives up within about 50 s (3 attempts of at most 5 s to connect and 10 s to
# read, with backoff), well inside the function's 3 minutes.
CLIENT_CONFIG = Config(
    connect_timeout=5, read_timeout=10, retries={"mode": "standard", "total_max_attempts": 3}
)


class DrainTimedOut(RuntimeError):
    """The queue did not empty in time; the message is the Delete's reason in the stack's
    events."""


@dataclass(frozen=True)
class Generation:
    """What one Delete request says about the generation it drains."""

    endpoint_name: str
    config_name: str | None
    model_names: tuple[str, ...]
    timeout_seconds: int
    # Set on generations CloudFormation keeps: the drain deletes them once drained.
    delete_after_drain: bool
    stack_id: str
    started_at: datetime

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Generation:
        properties = event["ResourceProperties"]
        return cls(
            endpoint_name=properties["EndpointName"],
            config_name=properties.get("EndpointConfigName"),
            model_names=tuple(properties.get("ModelNames", ())),
            timeout_seconds=int(properties["DrainTimeoutSeconds"]),
            delete_after_drain=properties.get("DeleteAfterDrain") == "true",
            stack_id=event.get("StackId", ""),
            started_at=datetime.fromisoformat(event["Data"][STARTED_AT]),
        )


def on_event(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    endpoint_name = event["ResourceProperties"]["EndpointName"]
    response: dict[str, Any] = {"PhysicalResourceId": f"drain-{endpoint_name}"}
    if event["RequestType"] == "Delete":
        response["Data"] = {STARTED_AT: _now().isoformat()}
        _log("draining before delete", endpoint=endpoint_name)
    return response


def is_complete(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    if event["RequestType"] != "Delete":
        return {"IsComplete": True}
    generation = Generation.from_event(event)
    try:
        return {"IsComplete": _drain_step(generation)}
    except (ClientError, BotoCoreError) as error:
        if not is_transient(error):
            raise
        elapsed = _seconds_since(generation.started_at)
        _log("transient AWS error, trying again", endpoint=generation.endpoint_name, error=error)
        if elapsed >= generation.timeout_seconds:
            _report_timeout(
                generation,
                f"Endpoint {generation.endpoint_name}'s queue could not be read for the "
                f"last poll of its {generation.timeout_seconds} s drain ({error}); it is left "
                f"in place: {_left_in_place(generation, deletes=generation.delete_after_drain)}",
            )
        return {"IsComplete": False}


def _drain_step(generation: Generation) -> bool:
    """One poll: True once the generation may leave the stack."""
    name = generation.endpoint_name
    # A rollback deletes what it created (RetainExceptOnCreate) itself; deleting it here
    # too would make CloudFormation's own deletion fail.
    deletes = generation.delete_after_drain and not _stack_is_rolling_back(generation.stack_id)
    endpoint = _describe_endpoint(name)
    if endpoint is None:
        if deletes:
            _delete_config_and_models(generation)
        return True
    status, arn = endpoint
    if status == "Deleting":
        return False
    started = (
        _first_started(arn, generation.started_at)
        if generation.delete_after_drain
        else generation.started_at
    )
    elapsed = _seconds_since(started)
    # A failed endpoint serves nothing: there is nothing to wait for.
    backlog = None if status == "Failed" else newest_backlog(name)
    drained = status == "Failed" or is_drained(backlog, elapsed)
    _log("poll", endpoint=name, status=status, backlog=backlog, elapsed=elapsed, drained=drained)
    if drained:
        if not deletes:
            return True
        if status in DELETABLE_STATES:
            _delete_endpoint(name)
        return False
    if elapsed >= generation.timeout_seconds:
        about = f"about {backlog:g}" if backlog is not None else "an unknown number of"
        _report_timeout(
            generation,
            f"Endpoint {name} still has {about} queued requests after {elapsed:.0f} s "
            f"(endpoint_drain_timeout_minutes); {_left_in_place(generation, deletes=deletes)}",
        )
    return False


def _left_in_place(generation: Generation, *, deletes: bool) -> str:
    if deletes:
        return (
            f"it is left in place, with its endpoint config and models, so that no queued "
            f"request is lost, and the stack no longer manages it: delete endpoint "
            f"{generation.endpoint_name}, then its config and models, once its "
            f"ApproximateBacklogSize reads 0 (docs/updates.md)."
        )
    return (
        "CloudFormation deletes it after its retries of this deletion (a rollback, or a "
        "generation deployed before the drain deleted generations itself); let its "
        "ApproximateBacklogSize reach 0 first (docs/updates.md)."
    )


def is_drained(newest_backlog: float | None, elapsed_seconds: float) -> bool:
    """Empty once the settle time has passed and the newest reading is 0 (or none)."""
    if elapsed_seconds < SETTLE_SECONDS:
        return False
    return newest_backlog is None or newest_backlog == 0


def newest_backlog(endpoint_name: str) -> float | None:
    """The newest 1-minute maximum of ApproximateBacklogSize, or None without datapoints.

    SageMaker publishes no datapoint for a minute without a queue reading; a window with
    no datapoints at all means nothing has been queued for its whole length.
    """
    end = _now()
    response = _cloudwatch().get_metric_data(
        MetricDataQueries=[
            {
                "Id": "backlog",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/SageMaker",
                        "MetricName": "ApproximateBacklogSize",
                        "Dimensions": [{"Name": "EndpointName", "Value": endpoint_name}],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
            }
        ],
        StartTime=end - timedelta(seconds=WINDOW_SECONDS),
        EndTime=end,
        ScanBy="TimestampDescending",
    )
    values = [v for result in response["MetricDataResults"] for v in result["Values"]]
    return float(values[0]) if values else None


def _describe_endpoint(endpoint_name: str) -> tuple[str, str] | None:
    """The endpoint's status and ARN, or None when it does not exist (any more)."""
    try:
        description = _sagemaker().describe_endpoint(EndpointName=endpoint_name)
    except ClientError as error:
        if is_validation_error(error):
            return None  # SageMaker's answer for an endpoint that does not exist
        raise
    return description["EndpointStatus"], description["EndpointArn"]


def _stack_is_rolling_back(stack_id: str) -> bool:
    status = _cloudformation().describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
    return "ROLLBACK" in str(status)


def _first_started(endpoint_arn: str, started_at: datetime) -> datetime:
    """When the first Delete request of this generation began draining it."""
    sagemaker = _sagemaker()
    tags = sagemaker.list_tags(ResourceArn=endpoint_arn).get("Tags", [])
    for tag in tags:
        if tag["Key"] == STARTED_TAG:
            try:
                return min(datetime.fromisoformat(tag["Value"]), started_at)
            except ValueError:
                break
    sagemaker.add_tags(
        ResourceArn=endpoint_arn, Tags=[{"Key": STARTED_TAG, "Value": started_at.isoformat()}]
    )
    return started_at


def _delete_endpoint(endpoint_name: str) -> None:
    try:
        _sagemaker().delete_endpoint(EndpointName=endpoint_name)
    except ClientError as error:
        if not is_validation_error(error):
            raise
        # Refused in its present state (or already gone): the next poll looks again.
        _log("delete refused, trying again", endpoint=endpoint_name, error=error)
        return
    _log("queue drained: deleting the endpoint", endpoint=endpoint_name)


def _delete_config_and_models(generation: Generation) -> None:
    """The endpoint is gone: now nothing can scale out with its config or models."""
    sagemaker = _sagemaker()
    if generation.config_name:
        config_name = generation.config_name
        _delete_unless_gone(
            functools.partial(sagemaker.delete_endpoint_config, EndpointConfigName=config_name),
            f"endpoint config {config_name}",
        )
    for model_name in generation.model_names:
        _delete_unless_gone(
            functools.partial(sagemaker.delete_model, ModelName=model_name), f"model {model_name}"
        )
    _log("endpoint, config and models deleted", endpoint=generation.endpoint_name)


def _delete_unless_gone(delete: Callable[[], object], what: str) -> None:
    try:
        delete()
    except ClientError as error:
        if not is_validation_error(error):
            raise
        _log("already gone", resource=what)


def _report_timeout(generation: Generation, reason: str) -> None:
    """Fail the Delete with `reason`, after telling the drain timeout alarm."""
    stack_name = generation.stack_id.split(":")[-1].split("/")[1] if generation.stack_id else ""
    try:
        _cloudwatch().put_metric_data(
            Namespace=TIMEOUT_METRIC_NAMESPACE,
            MetricData=[
                {
                    "MetricName": TIMEOUT_METRIC_NAME,
                    "Dimensions": [{"Name": TIMEOUT_METRIC_DIMENSION, "Value": stack_name}],
                    "Value": 1.0,
                    "Unit": "Count",
                }
            ],
        )
    except (ClientError, BotoCoreError) as error:
        # The failed Delete still says it in the stack's events.
        _log("could not publish the timeout metric", endpoint=generation.endpoint_name, error=error)
    _log("drain timed out", endpoint=generation.endpoint_name, reason=reason)
    raise DrainTimedOut(reason)


def _sagemaker() -> SageMakerClient:
    return boto3.client("sagemaker", config=CLIENT_CONFIG)


def _cloudwatch() -> CloudWatchClient:
    return boto3.client("cloudwatch", config=CLIENT_CONFIG)


def _cloudformation() -> CloudFormationClient:
    return boto3.client("cloudformation", config=CLIENT_CONFIG)


def _log(message: str, **fields: Any) -> None:
    LOGGER.info(json.dumps({"message": message, **fields}, default=str))


def _seconds_since(moment: datetime) -> float:
    return (_now() - moment).total_seconds()


def _now() -> datetime:
    return datetime.now(UTC)
