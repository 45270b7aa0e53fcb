from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from asyncinfer.local.model_server import ModelServer
from tests.local.helpers import Local, start_local


@pytest.fixture(scope="session")
def state_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("local-mode")


@pytest.fixture(scope="session")
def model(state_root: Path) -> Iterator[ModelServer]:
    """The built-in XGBoost model in this process, so tests can see its in-flight count."""
    server = ModelServer(port=0, state_dir=state_root / "model-state").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def local(state_root: Path, model: ModelServer) -> Iterator[Local]:
    running = start_local(state_root / "shared", "--model-url", model.url)
    yield running
    running.stop()


@pytest.fixture
def moto_in_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's mock in this process; endpoint overrides from other tests are set aside."""
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    with mock_aws():
        yield
