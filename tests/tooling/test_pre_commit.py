"""pre-commit's hooks run the venv's own ruff and mypy, offline, and catch what make lint does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

VENV = Path(sys.executable).parent.parent
CLEAN = 'def greeting(name: str) -> str:\n    return f"hello {name}"\n'


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A git repository with this project's hook configuration, its venv, and one module."""
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(REPO_ROOT / ".pre-commit-config.yaml", root)
    (root / "pyproject.toml").write_text('[tool.mypy]\nfiles = ["app.py"]\nstrict = true\n')
    (root / ".venv").symlink_to(VENV)
    (root / "app.py").write_text(CLEAN)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def pre_commit(root: Path) -> subprocess.CompletedProcess[str]:
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    environment = {
        **os.environ,
        # A cache of its own, so no hook environment from elsewhere is reused; with
        # `repo: local` and `language: system` nothing is ever downloaded into it.
        "PRE_COMMIT_HOME": str(root.parent / "pre-commit-home"),
        "NO_COLOR": "1",
    }
    return subprocess.run(
        [str(VENV / "bin" / "pre-commit"), "run", "--all-files"],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.slow
def test_hooks_pass_on_a_clean_tree_without_network(repository: Path) -> None:
    result = pre_commit(repository)
    assert result.returncode == 0, result.stdout + result.stderr
    for hook in ("ruff check", "ruff format", "mypy"):
        assert f"{hook}." in result.stdout and "Passed" in result.stdout, result.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("source", "failing_hook"),
    [
        ("import os\n" + CLEAN, "ruff check"),
        (CLEAN.replace("(name: str)", "( name:str )"), "ruff format"),
        (CLEAN.replace("-> str", "-> int"), "mypy"),
    ],
    ids=["unused-import", "unformatted", "type-error"],
)
def test_each_hook_fails_on_what_it_checks(
    repository: Path, source: str, failing_hook: str
) -> None:
    (repository / "app.py").write_text(source)
    result = pre_commit(repository)
    assert result.returncode != 0
    failed = [line for line in result.stdout.splitlines() if line.endswith("Failed")]
    assert [line.split(".", 1)[0] for line in failed] == [failing_hook], result.stdout


def test_hooks_are_local_and_run_the_pinned_tools() -> None:
    config = (REPO_ROOT / ".pre-commit-config.yaml").read_text()
    assert "repo: local" in config and "rev:" not in config
    entries = [
        line.split("entry:", 1)[1].split()[0] for line in config.splitlines() if "entry:" in line
    ]
    assert entries == [".venv/bin/ruff", ".venv/bin/ruff", ".venv/bin/mypy"]
