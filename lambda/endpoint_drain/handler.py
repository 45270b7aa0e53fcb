"""Drain an endpoint generation's queue before CloudFormation deletes the endpoint.

An async endpoint's internal queue goes with the endpoint: a request still queued when
the endpoint is deleted is lost. Changing what SageMaker refuses to update on an
autoscaled variant (the instance type) deploys a new endpoint, and CloudFormation deletes
the old one in the update's cleanup phase. This custom resource belongs to one endpoint
generation and depends on its endpoint and scaling policies, so CloudFormation deletes it
first: its Delete does not complete until the old endpoint's queue is empty, while the
old endpoint's autoscaling still runs (it can still scale out from zero to drain).

Run by the CDK custom resource Provider framework: `on_event` once, then `is_complete`
every `query_interval` until it says complete or raises.

AWS documents no API that reads an async endpoint's queue; CloudWatch's
`ApproximateBacklogSize` ("the number of items in the queue for an endpoint that are
currently being processed or yet to be processed", SageMaker Developer Guide, "Monitor
with CloudWatch" for asynchronous endpoints) is the only reading, published each minute.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import ClientError

from asyncinfer_runtime.environment import LOG_LEVEL

LOGGER = logging.getLogger()
LOGGER.setLevel(os.environ.get(LOG_LEVEL, "INFO"))

# A request accepted just before the Delete began shows in the metric a minute or two
# later (1-minute datapoints, published with a delay): never call a queue empty sooner.
SETTLE_SECONDS = 180
# How far back to read the metric; the newest datapoint in it decides.
WINDOW_SECONDS = 600
STARTED_AT = "DrainStartedAt"


def on_event(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    endpoint_name = event["ResourceProperties"]["EndpointName"]
    response: dict[str, Any] = {"PhysicalResourceId": f"drain-{endpoint_name}"}
    if event["RequestType"] == "Delete":
        response["Data"] = {STARTED_AT: _now().isoformat()}
        LOGGER.info(json.dumps({"message": "draining before delete", "endpoint": endpoint_name}))
    return response


def is_complete(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    if event["RequestType"] != "Delete":
        return {"IsComplete": True}
    properties = event["ResourceProperties"]
    endpoint_name = properties["EndpointName"]
    timeout = int(properties["DrainTimeoutSeconds"])
    started = datetime.fromisoformat(event["Data"][STARTED_AT])
    elapsed = (_now() - started).total_seconds()
    if not _endpoint_can_process(endpoint_name):
        return {"IsComplete": True}
    backlog = newest_backlog(endpoint_name)
    done = is_drained(backlog, elapsed)
    LOGGER.info(
        json.dumps(
            {"endpoint": endpoint_name, "backlog": backlog, "elapsed": elapsed, "drained": done}
        )
    )
    if done:
        return {"IsComplete": True}
    if elapsed >= timeout:
        # Failing the Delete keeps the endpoint (and its queued requests) instead of
        # losing them; an operator deletes it once the backlog reads 0.
        raise RuntimeError(
            f"Endpoint {endpoint_name} still has about {backlog:g} queued requests after "
            f"{elapsed:.0f} s; it is kept so that they are not lost: delete it when its "
            f"ApproximateBacklogSize reads 0."
        )
    return {"IsComplete": False}


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
    response = boto3.client("cloudwatch").get_metric_data(
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


def _endpoint_can_process(endpoint_name: str) -> bool:
    """False when there is nothing to drain: the endpoint is gone or has failed."""
    try:
        status = boto3.client("sagemaker").describe_endpoint(EndpointName=endpoint_name)[
            "EndpointStatus"
        ]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ValidationException":
            return False  # SageMaker's answer for an endpoint that does not exist
        raise
    return status != "Failed"


def _now() -> datetime:
    return datetime.now(UTC)
