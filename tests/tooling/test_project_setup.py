"""The project's own plumbing: CI runs what README promises, and the workflow is valid."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO_ROOT

BIN = Path(sys.executable).parent


def readme_commands() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text()
    block = readme.split("## Two commands", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]


def test_readme_names_exactly_two_setup_commands() -> None:
    assert readme_commands() == ["make synth", "make test"]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    script = (REPO_ROOT / ".ci" / "run").read_text()
    commands = [
        line.strip()
        for line in script.splitlines()
        if line.strip()
        and not line.lstrip().startswith("#")
        and not line.startswith(("set ", "cd "))
    ]
    assert commands == [readme_commands()[1]]


def test_github_workflow_passes_actionlint_and_runs_lint_tests_and_synth() -> None:
    workflow = REPO_ROOT / ".github" / "workflows" / "ci.yml"
    result = subprocess.run(
        [str(BIN / "actionlint"), "-no-color", str(workflow)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    runs = re.findall(r"^\s+run: (.+)$", workflow.read_text(), flags=re.MULTILINE)
    # Lint is a step of its own; the synth step also runs cdk-nag's packs on the
    # configuration being deployed.
    assert runs == ["make lint", "make test", 'make synth CDK_ARGS="-c nag_checks=true"']


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    # Guard against a linter that accepts anything.
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ nope.value }}\n"
    )
    result = subprocess.run(
        [str(BIN / "actionlint"), str(broken)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0


# The tools with a venv of their own (Makefile): pinned too, but not installed in .venv.
OWN_VENV_REQUIREMENTS = ("requirements-checkov.txt", "requirements-sagemaker-v3.txt")


def requirement_lines(
    names: tuple[str, ...] = ("requirements.txt", "requirements-dev.txt"),
) -> Iterator[tuple[str, str]]:
    """(file name, requirement) for each requirement line of the pinned requirements files."""
    for name in names:
        for line in (REPO_ROOT / name).read_text().splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "-r")):
                yield name, line


def test_dependencies_are_pinned() -> None:
    files = ("requirements.txt", "requirements-dev.txt", *OWN_VENV_REQUIREMENTS)
    for name, line in requirement_lines(files):
        assert "==" in line, f"{name}: {line} is not pinned"
    package = (REPO_ROOT / "package.json").read_text()
    assert '"aws-cdk": "2.1148.1"' in package
    assert '"@aws-cdk/integ-runner": "2.197.10"' in package


def pinned_versions() -> dict[str, str]:
    pins: dict[str, str] = {}
    for _, line in requirement_lines():
        requirement, _, version = line.split("#", 1)[0].strip().partition("==")
        pins[canonicalize_name(requirement.split("[", 1)[0])] = version
    return pins


def test_the_pins_the_tests_run_on_satisfy_the_packages_declared_ranges() -> None:
    # What `pip install asyncinfer[local,simulate]` accepts must include what is tested: a
    # floor raised for a feature (botocore's inline Body) may not pass the tested pin, and a
    # pin bumped past a declared ceiling must move the ceiling too.
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared.extend(extra)
    pins = pinned_versions()
    for line in declared:
        requirement = Requirement(line)
        pinned = pins[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(pinned), (
            f"pyproject.toml's {line!r} does not admit the tested pin {requirement.name}=={pinned}"
        )
