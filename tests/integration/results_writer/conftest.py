"""Fixtures shared by the results writer's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from results_writer import handler
from tests.support.results_table import create_results_table


@pytest.fixture
def table(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A results table on the moto server, named in the writer's environment."""
    name = create_results_table(moto_server)
    monkeypatch.setenv("RESULTS_TABLE_NAME", name)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", moto_server)
    handler.runtime.cache_clear()
    yield name
    handler.runtime.cache_clear()
