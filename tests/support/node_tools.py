"""Run a pinned npm tool (node_modules/.bin, installed by `make setup`) from a test."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import REPO_ROOT

NODE_BIN = REPO_ROOT / "node_modules" / ".bin"


def run_node_tool(
    tool: str, *args: str, timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`tool args...` from the repository root, with the pinned tools and the venv's Python
    first on PATH; output captured, the exit status left to the test."""
    if not (NODE_BIN / tool).exists():
        pytest.fail(f"node_modules/.bin/{tool} is missing; run `make setup` (make test does it)")
    path = os.pathsep.join([str(NODE_BIN), str(REPO_ROOT / ".venv" / "bin"), os.environ["PATH"]])
    return subprocess.run(
        [str(NODE_BIN / tool), *args],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {}), "PATH": path},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
