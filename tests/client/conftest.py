"""A deployed stack stood in for over loopback HTTP, and a way to run the CLI in-process."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from asyncinfer.cli import main
from tests.client.standin import (
    AsyncEndpoint,
    Gateway,
    Stack,
    WriterDriver,
    deploy_stack,
)
from tests.results_table import create_results_table


@dataclass
class Deployment:
    """Stand-ins shared by the client tests; each test deploys its own stack into them."""

    moto_url: str
    endpoint: AsyncEndpoint
    gateway: Gateway
    table_name: str
    drivers: list[WriterDriver] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.gateway.url

    def deploy(self, *, with_table: bool = True, **kwargs: Any) -> Stack:
        stack = deploy_stack(
            self.moto_url,
            self.endpoint,
            stack_name=f"Stack{uuid.uuid4().hex[:8]}",
            table_name=self.table_name if with_table else None,
            with_table=with_table,
            **kwargs,
        )
        if with_table:
            outputs = stack.outputs
            self.drivers.append(
                WriterDriver(
                    self.moto_url,
                    outputs["ResultsQueueUrl"],
                    outputs["ResultsQueueArn"],
                    self.table_name,
                )
            )
        return stack


# Package-scoped: the writer drivers stop when the client tests end. Left running, they
# polled queues that tests/local's in-process moto (mock_aws) wipes from this process's
# shared backends on exit, and their error lines reached later tests' captured stderr.
@pytest.fixture(scope="package")
def deployment(moto_server: str) -> Iterator[Deployment]:
    table_name = f"results-{uuid.uuid4().hex[:8]}"
    create_results_table(moto_server, table_name)
    endpoint = AsyncEndpoint(moto_server)
    gateway = Gateway(moto_server, endpoint)
    deployment = Deployment(moto_server, endpoint, gateway, table_name)
    try:
        yield deployment
    finally:
        for driver in deployment.drivers:
            driver.stop()
        gateway.stop()
        endpoint.stop()


@pytest.fixture
def stack(deployment: Deployment) -> Iterator[Stack]:
    """A fresh stack; the gateway's knobs are reset after the test."""
    yield deployment.deploy()
    deployment.gateway.throttle = None
    deployment.gateway.delay_seconds = 0.0
    deployment.endpoint.gate.set()


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(deployment: Deployment, stack: Stack) -> Callable[..., CliResult]:
    """Run ``asyncinfer`` in-process against the test's stack through the gateway."""

    def run(*argv: str, target: Stack | None = None) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        connection = ["--endpoint-url", deployment.url, "--stack", (target or stack).name]
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
