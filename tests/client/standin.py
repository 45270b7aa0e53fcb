"""Loopback stand-ins for a deployed stack, spoken to over real HTTP.

- ``Gateway``: one URL for every service, as ``--endpoint-url`` requires. It answers
  SageMaker runtime's ``InvokeEndpointAsync`` itself and forwards everything else (S3,
  DynamoDB, SNS, SQS, CloudFormation) to a moto server. It can throttle and add a
  per-request delay (the bench uses it to emulate a regional round trip).
- ``AsyncEndpoint``: what SageMaker does after accepting a request: read the input from
  S3, run a small deterministic model, write ``output/<id>.out`` or
  ``failure/<id>-error.out`` and publish the notification (the shape of
  ../shared/vectors) to the success or error topic, which moto delivers to the results
  queue.
- ``WriterDriver``: the Lambda SQS event source (local mode's): receives from the results
  queue, calls the project's real results writer with an SQS event, deletes what it
  processed.
- ``deploy_stack``: the resources and the CloudFormation outputs of one stack.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import boto3

from asyncinfer.local.endpoint_service import ContainerClient
from asyncinfer.local.event_source import EventSource, load_handler
from tests.results_table import create_results_table

ACCOUNT = "123456789012"
REGION = "us-east-1"


def aws_client(service: str, url: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name=REGION)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# -- the model ---------------------------------------------------------------------------


class ModelError(Exception):
    pass


def model(body: bytes, content_type: str) -> tuple[bytes, str]:
    """Deterministic stand-in for a sentiment model (and a tabular one for CSV).

    JSON {"inputs": text} -> [{"label", "score"}]; text containing "FAIL" -> a model error
    (HTTP 500 from the container, a failed inference); CSV rows -> the sum of each row.
    """
    media = content_type.split(";")[0].strip()
    if media == "text/csv":
        text = body.decode()
        if "FAIL" in text:
            raise ModelError("could not parse CSV row")
        sums = [str(sum(float(x) for x in line.split(","))) for line in text.splitlines() if line]
        return ("\n".join(sums) + "\n").encode(), "text/csv"
    if media == "application/json":
        document = json.loads(body)
        text = document.get("inputs", "") if isinstance(document, dict) else str(document)
        if "FAIL" in str(text):
            raise ModelError(f"model refused input {str(text)[:40]!r}")
        positive = any(word in str(text).lower() for word in ("love", "good", "great"))
        score = round(0.5 + (len(str(text)) % 50) / 100, 4)
        label = "POSITIVE" if positive else "NEGATIVE"
        return json.dumps([{"label": label, "score": score}]).encode(), "application/json"
    if media == "application/octet-stream":
        return body[::-1], "application/octet-stream"
    raise ModelError(f"unsupported content type {media}")


# -- SageMaker's side of an asynchronous endpoint ----------------------------------------


@dataclass
class EndpointConfig:
    name: str
    output_path: str  # s3://bucket/output/
    failure_path: str  # s3://bucket/failure/
    success_topic: str
    error_topic: str
    include_response_body: bool = False


@dataclass
class AsyncEndpoint:
    """Processes accepted requests on worker threads, as the endpoint's instances would."""

    moto_url: str
    workers: int = 2
    endpoints: dict[str, EndpointConfig] = field(default_factory=dict)
    gate: threading.Event = field(default_factory=threading.Event)
    processed: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.gate.set()
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._s3 = aws_client("s3", self.moto_url)
        self._sns = aws_client("sns", self.moto_url)
        self._threads = [
            threading.Thread(target=self._work, daemon=True) for _ in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()

    def accept(self, request: dict[str, Any]) -> None:
        self._queue.put(request)

    def stop(self) -> None:
        for _ in self._threads:
            self._queue.put(None)

    def _work(self) -> None:
        while True:
            request = self._queue.get()
            if request is None:
                return
            self.gate.wait()
            try:
                self._process(request)
            except Exception as error:
                print(f"stand-in endpoint: {error!r}")

    def _process(self, request: dict[str, Any]) -> None:
        config = self.endpoints[request["endpointName"]]
        inference_id = request["inferenceId"]
        bucket, key = request["inputLocation"][5:].split("/", 1)
        body = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        request_parameters = {
            k: v
            for k, v in {
                "accept": request.get("accept"),
                "contentType": request["contentType"],
                "customAttributes": request.get("customAttributes"),
                "endpointName": config.name,
                "inputLocation": request["inputLocation"],
            }.items()
            if v
        }
        message: dict[str, Any] = {
            "awsRegion": REGION,
            "receivedTime": request["receivedTime"],
            "requestParameters": request_parameters,
            "inferenceId": inference_id,
            "eventVersion": "1.0",
            "eventSource": "aws:sagemaker",
            "eventName": "InferenceResult",
        }
        try:
            output, output_type = model(body, request["contentType"])
        except (ModelError, ValueError) as error:
            out_bucket, prefix = config.failure_path[5:].split("/", 1)
            failure_key = f"{prefix}{inference_id}-error.out"
            self._s3.put_object(Bucket=out_bucket, Key=failure_key, Body=str(error).encode())
            message.update(
                invocationStatus="Failed",
                failureReason=(
                    f"ClientError: Received server error (500) from primary with message "
                    f'"{error}". See the SageMaker Endpoint logs in your account for more '
                    f"information."
                ),
                responseParameters={"failureLocation": f"s3://{out_bucket}/{failure_key}"},
            )
            topic = config.error_topic
            self.processed["failed"] += 1
        else:
            out_bucket, prefix = config.output_path[5:].split("/", 1)
            output_key = f"{prefix}{inference_id}.out"
            self._s3.put_object(
                Bucket=out_bucket, Key=output_key, Body=output, ContentType=output_type
            )
            message.update(
                invocationStatus="Completed",
                responseParameters={
                    "contentType": output_type,
                    "outputLocation": f"s3://{out_bucket}/{output_key}",
                },
            )
            if config.include_response_body:
                message["responseBody"] = {
                    "content": base64.b64encode(output).decode(),
                    "message": "",
                    "encoding": "BASE64",
                }
            topic = config.success_topic
            self.processed["completed"] += 1
        message["eventTime"] = iso(datetime.now(UTC))
        self._sns.publish(TopicArn=topic, Message=json.dumps(message))


# -- one URL for every service -----------------------------------------------------------


@dataclass
class Gateway:
    """Loopback HTTP front: InvokeEndpointAsync here, everything else to moto."""

    moto_url: str
    endpoint: AsyncEndpoint
    delay_seconds: float = 0.0
    throttle: Callable[[str], bool] | None = None  # service -> throttle this request?
    invocations: Counter[str] = field(default_factory=Counter)  # endpoint -> accepted
    requests: Counter[str] = field(default_factory=Counter)  # service -> seen

    def __post_init__(self) -> None:
        gateway = self
        upstream = ContainerClient(self.moto_url)  # kept-alive connections to moto

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks: list[bytes] = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _service(self) -> str:
                authorization = self.headers.get("Authorization", "")
                # Credential=AKID/date/region/SERVICE/aws4_request
                if "Credential=" in authorization:
                    return authorization.split("Credential=")[1].split("/")[3]
                return "unknown"

            def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                body = self._body()
                service = self._service()
                gateway.requests[service] += 1
                if gateway.delay_seconds:
                    time.sleep(gateway.delay_seconds)
                if gateway.throttle is not None and gateway.throttle(service):
                    payload = json.dumps(
                        {"__type": "ThrottlingException", "message": "Rate exceeded"}
                    ).encode()
                    self._reply(
                        400,
                        payload,
                        {
                            "Content-Type": "application/x-amz-json-1.0",
                            "x-amzn-ErrorType": "ThrottlingException",
                        },
                    )
                    return
                if service == "sagemaker" and "/async-invocations" in self.path:
                    self._invoke_async()
                    return
                self._forward(body)

            def _invoke_async(self) -> None:
                name = unquote(self.path.split("/")[2])
                config = gateway.endpoint.endpoints.get(name)
                if config is None:
                    message = f"Endpoint {name} of account {ACCOUNT} not found."
                    self._reply(
                        400,
                        json.dumps({"message": message}).encode(),
                        {
                            "Content-Type": "application/json",
                            "x-amzn-ErrorType": "ValidationError",
                        },
                    )
                    return
                headers = self.headers
                inference_id = headers.get("X-Amzn-SageMaker-Inference-Id") or str(uuid.uuid4())
                gateway.invocations[name] += 1
                gateway.endpoint.accept(
                    {
                        "endpointName": name,
                        "inferenceId": inference_id,
                        "inputLocation": headers["X-Amzn-SageMaker-InputLocation"],
                        "contentType": headers.get(
                            "X-Amzn-SageMaker-Content-Type", "application/octet-stream"
                        ),
                        "accept": headers.get("X-Amzn-SageMaker-Accept"),
                        "customAttributes": headers.get("X-Amzn-SageMaker-Custom-Attributes"),
                        "receivedTime": iso(datetime.now(UTC)),
                    }
                )
                self._reply(
                    202,
                    json.dumps({"InferenceId": inference_id}).encode(),
                    {
                        "Content-Type": "application/json",
                        "X-Amzn-SageMaker-OutputLocation": (
                            f"{config.output_path}{inference_id}.out"
                        ),
                        "X-Amzn-SageMaker-FailureLocation": (
                            f"{config.failure_path}{inference_id}-error.out"
                        ),
                    },
                )

            def _forward(self, body: bytes) -> None:
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() != "transfer-encoding"
                }
                headers["Content-Length"] = str(len(body))
                status, reply_headers, data = upstream.request(
                    self.command, self.path, body, headers, timeout=None
                )
                passed = {
                    k: v
                    for k, v in reply_headers.items()
                    if k.lower() not in {"content-length", "transfer-encoding", "connection"}
                }
                self._reply(status, data if self.command != "HEAD" else b"", passed)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# -- the results writer's event source ---------------------------------------------------


class WriterDriver:
    """Runs the real results writer on the results queue, as Lambda's SQS trigger does.

    Local mode's event source does the polling (batches, deletes, partial failures); the
    writer reads its table and DynamoDB endpoint from the environment, as on Lambda, and
    the previous values come back on ``stop()``.
    """

    ENVIRONMENT = ("RESULTS_TABLE_NAME", "AWS_ENDPOINT_URL_DYNAMODB")

    def __init__(self, moto_url: str, queue_url: str, queue_arn: str, table_name: str) -> None:
        self._saved = {name: os.environ.get(name) for name in self.ENVIRONMENT}
        os.environ["RESULTS_TABLE_NAME"] = table_name
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = moto_url
        self.source = EventSource(
            aws_client("sqs", moto_url), queue_url, queue_arn, load_handler(), region=REGION
        )
        self.source.start()

    def stop(self) -> None:
        self.source.stop(timeout=5)
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# -- a deployed stack --------------------------------------------------------------------


@dataclass
class Stack:
    name: str
    outputs: dict[str, str]


def deploy_stack(
    moto_url: str,
    endpoint: AsyncEndpoint,
    *,
    stack_name: str,
    table_name: str | None = None,
    include_response_body: bool = False,
    with_table: bool = True,
) -> Stack:
    """Create one stack's resources in moto and register its endpoint with the stand-in.

    ``table_name`` shares an existing results table (and its queue wiring is skipped).
    """
    suffix = uuid.uuid4().hex[:8]
    s3 = aws_client("s3", moto_url)
    sns = aws_client("sns", moto_url)
    sqs = aws_client("sqs", moto_url)
    input_bucket, output_bucket = f"input-{suffix}", f"output-{suffix}"
    s3.create_bucket(Bucket=input_bucket)
    s3.create_bucket(Bucket=output_bucket)
    success = sns.create_topic(Name=f"success-{suffix}")["TopicArn"]
    error = sns.create_topic(Name=f"error-{suffix}")["TopicArn"]
    endpoint_name = f"endpoint-{suffix}"
    outputs = {
        "EndpointName": endpoint_name,
        "InputBucketName": input_bucket,
        "OutputBucketName": output_bucket,
        "OutputPath": f"s3://{output_bucket}/output/",
        "FailurePath": f"s3://{output_bucket}/failure/",
        "SuccessTopicArn": success,
        "ErrorTopicArn": error,
    }
    if with_table:
        dlq_url = sqs.create_queue(QueueName=f"dlq-{suffix}")["QueueUrl"]
        queue_url = sqs.create_queue(QueueName=f"results-{suffix}")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        queue_arn = attributes["Attributes"]["QueueArn"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        for topic in (success, error):
            sns.subscribe(
                TopicArn=topic,
                Protocol="sqs",
                Endpoint=queue_arn,
                Attributes={"RawMessageDelivery": "true"},
            )
        if table_name is None:
            table_name = f"results-{suffix}"
            create_results_table(moto_url, table_name)
        outputs.update(
            ResultsTableName=table_name,
            ResultsQueueUrl=queue_url,
            ResultsQueueArn=queue_arn,
            DeadLetterQueueUrl=dlq_url,
            DeadLetterQueueArn=dlq_arn,
        )
    template = {
        # CloudFormation needs at least one resource; the outputs are what the client reads.
        "Resources": {"Marker": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    aws_client("cloudformation", moto_url).create_stack(
        StackName=stack_name, TemplateBody=json.dumps(template)
    )
    endpoint.endpoints[endpoint_name] = EndpointConfig(
        name=endpoint_name,
        output_path=outputs["OutputPath"],
        failure_path=outputs["FailurePath"],
        success_topic=success,
        error_topic=error,
        include_response_body=include_response_body,
    )
    return Stack(name=stack_name, outputs=outputs)
