"""Lint and type-check gates, so `make test` (and CI) enforce what `make lint` reports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

BIN = Path(sys.executable).parent
TYPED = [
    "app.py",
    "stacks",
    "lambda/results_writer",
    "lambda/endpoint_drain",
    "asyncinfer",
    "tests",
    "bench",
]


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)


def test_ruff_lint_is_clean() -> None:
    result = run(str(BIN / "ruff"), "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = run(str(BIN / "ruff"), "format", "--check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_is_clean() -> None:
    targets = [t for t in TYPED if (REPO_ROOT / t).exists()]
    result = run(str(BIN / "mypy"), "--no-incremental", *targets)
    assert result.returncode == 0, result.stdout + result.stderr
