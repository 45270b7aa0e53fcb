"""Notifications of inline requests (InvokeEndpointAsync with Body): no input object.

AWS does not document how such a notification names its input, so every shape a missing
input could take must still become a complete record: the field absent, null, empty, or
of another type, and requestParameters itself absent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from results_writer import handler
from tests.support.writer_harness import scan_records, sqs_event

MISSING_INPUT = {
    "absent": lambda parameters: parameters.pop("inputLocation"),
    "null": lambda parameters: parameters.update(inputLocation=None),
    "empty": lambda parameters: parameters.update(inputLocation=""),
    "not a string": lambda parameters: parameters.update(inputLocation={"inline": True}),
}


def vector(vectors_dir: Path, name: str) -> dict[str, Any]:
    return dict(json.loads((vectors_dir / name).read_text()))


@pytest.mark.parametrize("shape", sorted(MISSING_INPUT))
@pytest.mark.parametrize("name", ["success.json", "error-with-failure-location.json"])
def test_a_notification_without_input_location_is_a_complete_record(
    moto_server: str, table: str, vectors_dir: Path, shape: str, name: str
) -> None:
    message = vector(vectors_dir, name)
    MISSING_INPUT[shape](message["requestParameters"])
    message["inferenceId"] = f"inline-{shape.replace(' ', '-')}-{name}"
    result = handler.lambda_handler(sqs_event([json.dumps(message)]), None)
    assert result == {"batchItemFailures": []}
    record = scan_records(moto_server, table)[message["inferenceId"]]
    assert "inputLocation" not in record
    assert record["status"] == ("COMPLETED" if name == "success.json" else "FAILED")
    assert record["endpointName"] == message["requestParameters"]["endpointName"]
    assert record["requestContentType"] == message["requestParameters"]["contentType"]
    location = "outputLocation" if name == "success.json" else "failureLocation"
    assert record[location] == message["responseParameters"][location]
    assert record["latencyMs"] >= 0 and record["expiresAt"] > 0
