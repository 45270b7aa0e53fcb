"""The unit tier's guard fails a test that reaches for moto, aws_cdk or a child process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

UNIT_CONFTEST = REPO_ROOT / "tests" / "unit" / "conftest.py"


def run_as_unit_tier(tmp_path: Path, test_source: str) -> subprocess.CompletedProcess[str]:
    """pytest on one test file beside a copy of tests/unit/conftest.py, in a fresh process."""
    (tmp_path / "conftest.py").write_text(UNIT_CONFTEST.read_text())
    (tmp_path / "test_sample.py").write_text(test_source)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": str(Path(sys.executable).parent)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_pure_logic_passes(tmp_path: Path) -> None:
    result = run_as_unit_tier(
        tmp_path, "import json\n\ndef test_x():\n    assert json.loads('1') == 1\n"
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("statement", "package"),
    [
        ("import moto", "moto"),
        ("from aws_cdk import assertions", "aws_cdk"),
        # Reached through the code under test, not named in the test itself.
        ("import asyncinfer.local.platform_io", "moto"),
    ],
)
def test_importing_a_forbidden_package_fails_collection(
    tmp_path: Path, statement: str, package: str
) -> None:
    result = run_as_unit_tier(tmp_path, f"{statement}\n\ndef test_x():\n    pass\n")
    assert result.returncode != 0
    assert f"{package} may not be imported here" in result.stdout, result.stdout


def test_starting_a_child_process_fails_the_test(tmp_path: Path) -> None:
    source = "import subprocess\n\ndef test_x():\n    subprocess.run(['true'])\n"
    result = run_as_unit_tier(tmp_path, source)
    assert result.returncode != 0
    assert "a unit test started a child process" in result.stdout, result.stdout
