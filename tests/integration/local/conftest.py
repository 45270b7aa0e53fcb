"""Fixtures of local mode's in-process stand-in tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from moto import mock_aws


@pytest.fixture
def moto_in_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's mock in this process; endpoint overrides from other tests are set aside."""
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    with mock_aws():
        yield
