"""The in-repo copy of the notification vectors must equal ../shared/vectors."""

from __future__ import annotations

import pytest

from tests.conftest import REPO_ROOT, SHARED_DIR

COPY = REPO_ROOT / "tests" / "fixtures" / "vectors"


def test_vector_copy_matches_shared_vectors() -> None:
    original = SHARED_DIR / "vectors"
    if not original.is_dir():
        pytest.skip("../shared is not beside this checkout (a user's own CI); nothing to compare")
    originals = {p.name: p.read_bytes() for p in original.glob("*.json")}
    copies = {p.name: p.read_bytes() for p in COPY.glob("*.json")}
    assert originals and copies == originals
