"""The unit tier's promise, enforced: pure logic, no AWS stand-in, no synth, no child process.

`make test-fast` and `make test` run this tier in a pytest process of its own, so the
import guard sees every import its tests make.
"""

from __future__ import annotations

import subprocess
import warnings
from typing import Any

import pytest

from tests.support.import_guard import forbid_imports

ALREADY_IMPORTED = forbid_imports(
    ["moto", "aws_cdk"],
    "a unit test needs no AWS stand-in and no synth; put it in tests/integration or tests/infra.",
)
if ALREADY_IMPORTED:
    warnings.warn(
        f"{', '.join(ALREADY_IMPORTED)} imported by another tier in this run; the unit tier's "
        "import guard cannot check them (run `make test-fast`).",
        stacklevel=1,
    )


@pytest.fixture(autouse=True)
def no_child_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(
            f"a unit test started a child process ({args[0] if args else kwargs}); "
            "put it in tests/e2e or tests/integration."
        )

    monkeypatch.setattr(subprocess, "Popen", refuse)
