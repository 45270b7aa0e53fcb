"""The job API's function against moto on loopback: its tables, buckets and SageMaker's
runtime stand-in, and each request as the REST proxy event local mode's gateway builds."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from asyncinfer.local.api_gateway import proxy_event
from asyncinfer_runtime.jobs import JOBS_PARTITION_KEY
from job_api import aws, handler, settings
from job_api.routes import OPENAPI_FILE
from tests.support.results_table import create_results_table

ENDPOINTS = {"default": "sagemaker-default", "tabular": "sagemaker-tabular"}
ALICE = "arn:aws:iam::123456789012:user/alice"
BOB = "arn:aws:sts::123456789012:assumed-role/Bob/session-1"
_ROUTES = [
    (re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$"), path)
    for path in json.loads(OPENAPI_FILE.read_text())["paths"]
]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class JobApi:
    """The function, with the stand-ins it works on."""

    jobs_table: str
    results_table: str
    input_bucket: str
    output_bucket: str
    endpoint_url: str

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    def call(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        query: list[tuple[str, str]] | None = None,
        caller: str = ALICE,
    ) -> Answer:
        resource, parameters = next(
            (template, found.groupdict())
            for pattern, template in _ROUTES
            if (found := pattern.match(path))
        )
        event = proxy_event(
            resource=resource,
            stage="prod",
            method=method,
            path=path,
            path_parameters=parameters,
            query=query or [],
            headers={"Host": "api.example.com", "X-Forwarded-Proto": "https", **(headers or {})},
            body=body,
            binary=True,  # the API's binary media types are */*
            identity={"userArn": caller, "sourceIp": "127.0.0.1"},
            domain="api.example.com",
            request_id=str(uuid.uuid4()),
        )
        answer = handler.lambda_handler(json.loads(json.dumps(event)), None)
        raw = answer.get("body") or ""
        data = base64.b64decode(raw) if answer.get("isBase64Encoded") else raw.encode()
        flat = {k: ", ".join(v) for k, v in (answer.get("multiValueHeaders") or {}).items()}
        flat.update(answer.get("headers") or {})
        return Answer(int(answer["statusCode"]), flat, data)

    def record(self, job_id: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = (
            self.client("dynamodb")
            .get_item(TableName=self.results_table, Key={"inferenceId": {"S": job_id}})
            .get("Item")
        )
        return item

    def job_item(self, key: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = (
            self.client("dynamodb")
            .get_item(TableName=self.jobs_table, Key={JOBS_PARTITION_KEY: {"S": key}})
            .get("Item")
        )
        return item


@pytest.fixture
def job_api(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[JobApi]:
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_server)
    jobs_table = f"jobs-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=jobs_table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": JOBS_PARTITION_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": JOBS_PARTITION_KEY, "AttributeType": "S"}],
    )
    s3 = boto3.client("s3", endpoint_url=moto_server)
    buckets = [f"input-{uuid.uuid4().hex[:8]}", f"output-{uuid.uuid4().hex[:8]}"]
    for bucket in buckets:
        s3.create_bucket(Bucket=bucket)
    api = JobApi(
        jobs_table=jobs_table,
        results_table=create_results_table(moto_server),
        input_bucket=buckets[0],
        output_bucket=buckets[1],
        endpoint_url=moto_server,
    )
    for name, value in {
        "JOBS_TABLE_NAME": api.jobs_table,
        "RESULTS_TABLE_NAME": api.results_table,
        "INPUT_BUCKET_NAME": api.input_bucket,
        "API_ENDPOINTS": json.dumps({"default": ENDPOINTS["default"]}),
        "RESULTS_RETENTION_DAYS": "7",
        "AWS_ENDPOINT_URL": moto_server,
    }.items():
        monkeypatch.setenv(name, value)
    settings.settings.cache_clear()
    aws.client.cache_clear()
    yield api
    settings.settings.cache_clear()
    aws.client.cache_clear()


@pytest.fixture
def two_endpoints(job_api: JobApi, monkeypatch: pytest.MonkeyPatch) -> JobApi:
    monkeypatch.setenv("API_ENDPOINTS", json.dumps(ENDPOINTS))
    settings.settings.cache_clear()
    return job_api
