"""The integ test's snapshot, compared offline: a change to the stack or the assertions shows.

The same comparison integ-runner makes before it deploys anything (templates with asset
hashes ignored, and the test cases). Update it deliberately with `make integ-snapshot-update`
(INTEG_SNAPSHOT_UPDATE=1 on this file) after changing the stack, and review the diff.
"""

from __future__ import annotations

import difflib
import os

from tests.integ.conftest import IntegAssembly
from tests.integ.snapshot import (
    SNAPSHOT_DIR,
    committed_files,
    normalised_text,
    snapshot_files,
    write_snapshot,
)

UPDATE = os.environ.get("INTEG_SNAPSHOT_UPDATE") == "1"


def test_integ_app_matches_its_snapshot(integ_assembly: IntegAssembly) -> None:
    synthesized = snapshot_files(integ_assembly.outdir)
    if UPDATE:
        write_snapshot(synthesized)
    committed = committed_files()
    assert sorted(committed) == sorted(synthesized), (
        f"{SNAPSHOT_DIR.name} holds {sorted(committed)}, the app synthesizes "
        f"{sorted(synthesized)}; run `make integ-snapshot-update` if the change is intended"
    )
    for name, text in synthesized.items():
        if committed[name] != text:
            diff = "".join(
                difflib.unified_diff(
                    committed[name].splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    f"committed/{name}",
                    f"synthesized/{name}",
                    n=2,
                )
            )
            raise AssertionError(
                f"{name} differs from the committed snapshot; run `make integ-snapshot-update` "
                f"if the change is intended:\n{diff[:6000]}"
            )


def test_snapshot_keeps_no_assets_and_stays_small() -> None:
    names = sorted(path.name for path in SNAPSHOT_DIR.iterdir())
    assert all(name.endswith(".json") for name in names), names
    assert sum((SNAPSHOT_DIR / name).stat().st_size for name in names) < 400_000


def test_normalisation_hides_only_asset_hashes_and_synth_time() -> None:
    digest = "b" * 64
    text = normalised_text(
        {"S3Key": f"{digest}.zip", "salt": "1796196923399", "Name": "keep-me-1234"}
    )
    assert '"S3Key": "<asset-hash>.zip"' in text
    assert '"salt": "<synth-time>"' in text
    assert '"Name": "keep-me-1234"' in text
