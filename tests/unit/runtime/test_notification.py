"""Parsing SageMaker's async notifications into what the writer records."""

from __future__ import annotations

import json
from pathlib import Path

from asyncinfer_runtime.notification import parse


def test_a_notification_without_request_parameters_is_still_parsed(vectors_dir: Path) -> None:
    message = json.loads((vectors_dir / "success.json").read_text())
    del message["requestParameters"]
    notification = parse(json.dumps(message))
    assert notification is not None
    assert notification.status == "COMPLETED"
    assert notification.request == {}
