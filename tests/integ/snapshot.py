"""The integ test's snapshot: what integ-runner's offline comparison reads, kept reviewable.

integ-runner keeps a test's snapshot beside it in `<file>.snapshot/` and, without
`diffAssets`, compares the templates of the test's stacks with asset hashes ignored, and
the test cases in `integ.json`. This module writes and compares exactly those files:

- `integ.json`: the test cases (which stacks, which assertion stack, the workflow options);
- `<stack>.template.json`: each template, with asset hashes and the assertion
  custom resources' per-synth `salt` replaced by placeholders, so a snapshot changes
  only when the infrastructure or the assertions do.

Not kept: asset directories (the assertion provider's bundle alone is ~6 MB), tree.json,
metadata and the cloud assembly manifest, which change with every construct path and
which the comparison does not read.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

INTEG_DIR = Path(__file__).resolve().parent
INTEG_APP = INTEG_DIR / "integ_async_inference.py"
SNAPSHOT_DIR = INTEG_DIR / f"{INTEG_APP.name}.snapshot"

ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")
# integ-tests-alpha stamps each assertion call with the synth time (`salt`, epoch ms) so
# that CloudFormation runs it again on every deployment.
SALT = re.compile(r'"salt": "\d+"')


def normalised_text(document: dict[str, Any]) -> str:
    text = json.dumps(document, indent=1, sort_keys=True) + "\n"
    text = ASSET_HASH.sub("<asset-hash>", text)
    return SALT.sub('"salt": "<synth-time>"', text)


def snapshot_files(assembly_dir: Path) -> dict[str, str]:
    """File name -> normalised content, for the snapshot of a synthesized integ app."""
    integ_manifest = json.loads((assembly_dir / "integ.json").read_text())
    stacks: list[str] = []
    for case in integ_manifest["testCases"].values():
        stacks.extend(case["stacks"])
        stacks.append(case["assertionStackName"])
    files = {"integ.json": normalised_text(integ_manifest)}
    for stack in stacks:
        template = json.loads((assembly_dir / f"{stack}.template.json").read_text())
        files[f"{stack}.template.json"] = normalised_text(template)
    return files


def committed_files() -> dict[str, str]:
    if not SNAPSHOT_DIR.is_dir():
        return {}
    return {path.name: path.read_text() for path in sorted(SNAPSHOT_DIR.iterdir())}


def write_snapshot(files: dict[str, str]) -> None:
    SNAPSHOT_DIR.mkdir(exist_ok=True)
    for stale in set(committed_files()) - set(files):
        (SNAPSHOT_DIR / stale).unlink()
    for name, text in files.items():
        (SNAPSHOT_DIR / name).write_text(text)
