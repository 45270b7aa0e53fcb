from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from asyncinfer.local.model_server import ModelServer
from tests.support.local_mode import Local, start_local


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
