"""The client tests run against local mode: the stack's own template, provisioned in moto,
with local mode's endpoint service and the project's real results writer.

Local mode runs in a child process (as `asyncinfer local up` does) with the tests' own model
container (sentiment_model.py, ``--model-url``), so results are exact. Faults (added
latency, throttling, a paused endpoint) are set through local mode's ``/local/faults``
and cleared after every test; counts of requests come from ``/local/faults`` (per
service) and ``/local/metrics`` (requests each endpoint accepted).
"""

from __future__ import annotations

import io
import json
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import boto3
import pytest

from asyncinfer import AsyncInferenceClient
from asyncinfer.cli import main
from asyncinfer_runtime.contract import DEFAULT_STACK_NAME
from tests.e2e.client.sentiment_model import SentimentModel
from tests.support.local_mode import Local, start_local

STACK = DEFAULT_STACK_NAME


@dataclass
class Deployment:
    """Local mode with the sentiment model; what the client tests read and steer."""

    local: Local
    model: SentimentModel

    @property
    def url(self) -> str:
        return self.local.url

    @property
    def outputs(self) -> dict[str, str]:
        return self.local.outputs

    @property
    def outputs_file(self) -> Path:
        return self.local.outputs_file

    def aws(self, service: str) -> Any:
        # boto3-stubs type only literal service names; this one is named at run time.
        return boto3.client(cast(Any, service), endpoint_url=self.url, region_name="us-east-1")

    def client(self, **kwargs: Any) -> AsyncInferenceClient:
        kwargs.setdefault("poll_interval", 0.1)
        return AsyncInferenceClient.from_stack(
            outputs_file=self.outputs_file, endpoint_url=self.url, **kwargs
        )

    def faults(self, method: str = "GET", **fields: Any) -> dict[str, Any]:
        body = json.dumps(fields).encode() if fields else None
        request = urllib.request.Request(self.url + "/local/faults", data=body, method=method)
        with urllib.request.urlopen(request, timeout=10) as reply:
            return dict(json.loads(reply.read()))

    def requests(self, service: str) -> int:
        """AWS requests local mode has seen for a signing name (``s3``, ``sagemaker``...)."""
        return int(self.faults()["requests"].get(service, 0))

    def accepted(self) -> int:
        """Requests the stack's endpoint has accepted so far."""
        with urllib.request.urlopen(self.url + "/local/metrics", timeout=10) as reply:
            metrics = json.loads(reply.read())
        return int(metrics[self.outputs["EndpointName"]]["AcceptedRequests"])

    def outputs_variant(self, directory: Path, **changes: str | None) -> Path:
        """An outputs file like local mode's with some keys changed (None: removed)."""
        outputs = dict(self.outputs)
        for key, value in changes.items():
            if value is None:
                outputs.pop(key, None)
            else:
                outputs[key] = value
        path = directory / f"outputs-{len(list(directory.glob('outputs-*')))}.json"
        path.write_text(json.dumps({STACK: outputs}))
        return path


@pytest.fixture(scope="package")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    model = SentimentModel()
    local = start_local(tmp_path_factory.mktemp("client-local"), "--model-url", model.url)
    try:
        yield Deployment(local, model)
    finally:
        local.stop()
        model.stop()


@pytest.fixture
def stack(deployment: Deployment) -> Iterator[Deployment]:
    """The deployment, with every fault cleared after the test."""
    yield deployment
    deployment.faults("DELETE")


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(stack: Deployment) -> Callable[..., CliResult]:
    """Run ``asyncinfer`` in-process against local mode (its outputs file unless given)."""

    def run(*argv: str, outputs_file: Path | None = None) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        connection = [
            "--endpoint-url", stack.url, "--outputs-file", str(outputs_file or stack.outputs_file)
        ]  # fmt: skip
        code = main([*connection, *argv], stdout=out, stderr=err)
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


def assert_one_line_error(result: CliResult, *fragments: str) -> None:
    """The CLI's error contract: non-zero, one line on stderr, no traceback."""
    assert result.code != 0, result
    assert "Traceback" not in result.err, result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
