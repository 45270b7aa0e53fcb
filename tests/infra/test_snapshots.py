"""Snapshots of the synthesized templates: any infrastructure change shows up in review.

Asset hashes are replaced by a placeholder, so a snapshot changes only when the
infrastructure does (not when the Lambda's source does). Update deliberately with
`.venv/bin/python -m pytest tests/infra/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from tests.infra.conftest import CONFIGURATIONS, Synthesized

ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")


def normalised(template: dict[str, Any]) -> dict[str, Any]:
    text = ASSET_HASH.sub("<asset-hash>", json.dumps(template, sort_keys=True))
    return json.loads(text)


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("config", sorted(CONFIGURATIONS))
def test_template_matches_snapshot(
    synthesized: Callable[[str], Synthesized], snapshot_json: SnapshotAssertion, config: str
) -> None:
    assert normalised(synthesized(config).template) == snapshot_json


def test_normalisation_removes_asset_hashes_only() -> None:
    digest = "a" * 64
    template = {"Code": {"S3Key": f"{digest}.zip"}, "Name": "keep-me-1234"}
    assert normalised(template) == {"Code": {"S3Key": "<asset-hash>.zip"}, "Name": "keep-me-1234"}
