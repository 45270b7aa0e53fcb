"""README and docs say what the repository and its defaults are: every tool path they name
exists once `make setup` has run, and the headline agrees with the settings' defaults."""

from __future__ import annotations

import re

from stacks.config import Settings
from tests.conftest import REPO_ROOT

DOCUMENTS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
TOOL_PATH = re.compile(r"(?<![\w/$])((?:\.venv|node_modules)/(?:bin|\.bin)/[\w.-]+)")


def test_every_tool_path_in_the_documents_exists() -> None:
    named = {
        (document.name, match)
        for document in DOCUMENTS
        for match in TOOL_PATH.findall(document.read_text(encoding="utf-8"))
    }
    assert named, "the pattern finds no tool path at all"
    missing = sorted(f"{name}: {path}" for name, path in named if not (REPO_ROOT / path).exists())
    assert not missing, f"documents name tools that `make setup` does not install: {missing}"


def headline() -> str:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    return " ".join(readme.split("## Data flow", 1)[0].split())


def test_the_headline_payload_limit_is_the_default_max_payload_mib() -> None:
    # The model server refuses requests over max_payload_mib (MMS_MAX_REQUEST_SIZE), so
    # SageMaker's 1 GB is reachable only by raising the setting.
    assert f"up to {Settings().max_payload_mib} MiB by default (`max_payload_mib`" in headline()


def test_the_headline_does_not_call_an_idle_stack_free() -> None:
    # Keys, alarms and the dashboard are billed per month whether or not anything runs.
    text = headline()
    assert "nothing but storage" not in text
    assert "keys, alarms and dashboard" in text
