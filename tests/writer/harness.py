"""Shared by the writer tests: the results table on the stand-in, SQS events, a fault proxy."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.request import Request, urlopen

import boto3

from stacks.results import BY_ENDPOINT_INDEX, BY_STATUS_INDEX, PARTITION_KEY, TTL_ATTRIBUTE


def create_results_table(endpoint_url: str, name: str | None = None) -> str:
    """The results table with the stack's key schema, indexes and TTL (stacks/results.py)."""
    name = name or f"results-{uuid.uuid4().hex[:8]}"
    client = boto3.client("dynamodb", endpoint_url=endpoint_url)
    string = "S"
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": a, "AttributeType": string}
            for a in (PARTITION_KEY, "endpointName", "status", "eventTime")
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": partition, "KeyType": "HASH"},
                    {"AttributeName": "eventTime", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, partition in (
                (BY_ENDPOINT_INDEX, "endpointName"),
                (BY_STATUS_INDEX, "status"),
            )
        ],
    )
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )
    return name


def sqs_event(bodies: list[str]) -> dict[str, Any]:
    """An SQS event as Lambda's event source mapping delivers it."""
    return {
        "Records": [
            {
                "messageId": f"m-{index}-{uuid.uuid4().hex[:6]}",
                "receiptHandle": "handle",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "eventSource": "aws:sqs",
            }
            for index, body in enumerate(bodies)
        ]
    }


def sns_envelope(message: str) -> str:
    """The SNS envelope around a message (a subscription without raw delivery)."""
    return json.dumps({"Type": "Notification", "MessageId": str(uuid.uuid4()), "Message": message})


@contextmanager
def throttling_proxy(target: str, *, throttle: bool = True) -> Iterator[dict[str, int]]:
    """A loopback proxy to the stand-in that answers DynamoDB writes with throttling errors.

    Yields counters; every PutItem gets HTTP 400 ProvisionedThroughputExceededException (the
    real error shape) while `throttle` is on; everything else is forwarded.
    """
    counts = {"forwarded": 0, "throttled": 0}

    class Proxy(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            target_op = self.headers.get("X-Amz-Target", "")
            if throttle and target_op.endswith(".PutItem"):
                counts["throttled"] += 1
                payload = json.dumps(
                    {
                        "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                        "message": "The level of configured provisioned throughput for the table was exceeded.",
                    }
                ).encode()
                self.send_response(400)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            counts["forwarded"] += 1
            headers = {
                k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
            }
            with urlopen(
                Request(target + self.path, data=body, headers=headers, method="POST")
            ) as upstream:
                answer = upstream.read()
                self.send_response(upstream.status)
                for key, value in upstream.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        counts["port"] = server.server_address[1]
        yield counts
    finally:
        server.shutdown()
        server.server_close()
