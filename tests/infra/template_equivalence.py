"""Compare this tree's templates with the snapshots committed at a git revision.

A refactor of the constructs must leave what CloudFormation deploys alone: the same
logical ids with the same type, properties, dependencies and policies, the same outputs,
mappings, rules and parameters. A resource's `aws:cdk:path` metadata (where it sits in
the construct tree) may differ, and so may the order of a policy's statements, which IAM
evaluates as a set. Prints each difference; exits 1 if there is any.

Run, with the pinned Node.js first on PATH as the Makefile puts it (jsii runs on it):
    PATH=node_modules/.bin:$PATH .venv/bin/python -m tests.infra.template_equivalence [--base main]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.infra.conftest import CONFIGURATIONS, REPO_ROOT, synthesize
from tests.infra.test_snapshots import normalised

SNAPSHOTS = Path("tests/infra/__snapshots__/test_snapshots")
PATH_METADATA = "aws:cdk:path"


def snapshot_at(revision: str, config: str) -> dict[str, Any] | None:
    """The configuration's snapshot at `revision`; None if it had none (a configuration
    added since, which has nothing to be equivalent to)."""
    path = SNAPSHOTS / f"test_template_matches_snapshot[{config}].json"
    shown = subprocess.run(
        ["git", "show", f"{revision}:{path.as_posix()}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if shown.returncode != 0:
        return None
    template: dict[str, Any] = json.loads(shown.stdout)
    return template


def without_paths(template: dict[str, Any]) -> dict[str, Any]:
    """The template less each resource's construct path."""
    copied: dict[str, Any] = json.loads(json.dumps(template))
    for resource in copied.get("Resources", {}).values():
        metadata = resource.get("Metadata", {})
        metadata.pop(PATH_METADATA, None)
        if not metadata:
            resource.pop("Metadata", None)
    return copied


def statements_as_sets(value: Any) -> Any:
    """`value` with every policy's Statement list in one order: IAM evaluates a policy's
    statements as a set, so their order has no effect."""
    if isinstance(value, list):
        return [statements_as_sets(item) for item in value]
    if not isinstance(value, dict):
        return value
    canonical = {key: statements_as_sets(item) for key, item in value.items()}
    if isinstance(canonical.get("Statement"), list):
        canonical["Statement"] = sorted(canonical["Statement"], key=json.dumps)
    return canonical


def differences(before: dict[str, Any], after: dict[str, Any]) -> tuple[list[str], list[str]]:
    """What CloudFormation would deploy differently, and what differs only in form."""
    found, reordered = [], []
    for section in sorted(set(before) | set(after)):
        old, new = before.get(section, {}), after.get(section, {})
        if not isinstance(old, dict) or not isinstance(new, dict):
            if old != new:
                found.append(f"{section}: {old!r} -> {new!r}")
            continue
        for logical_id in sorted(set(old) - set(new)):
            found.append(f"{section}: {logical_id} removed")
        for logical_id in sorted(set(new) - set(old)):
            found.append(f"{section}: {logical_id} added")
        for logical_id in sorted(set(old) & set(new)):
            if old[logical_id] == new[logical_id]:
                continue
            if statements_as_sets(old[logical_id]) == statements_as_sets(new[logical_id]):
                reordered.append(f"{section}: {logical_id} has its statements in another order")
            else:
                found.append(f"{section}: {logical_id} changed")
    return found, reordered


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main", help="git revision of the snapshots")
    base = parser.parse_args().base
    total = 0
    with tempfile.TemporaryDirectory() as scratch:
        for config in sorted(CONFIGURATIONS):
            before = snapshot_at(base, config)
            if before is None:
                print(f"{config}: no snapshot at {base}, skipped")
                continue
            after = normalised(synthesize(CONFIGURATIONS[config], Path(scratch) / config).template)
            found, reordered = differences(without_paths(before), without_paths(after))
            moved = sum(
                1
                for logical_id, resource in after.get("Resources", {}).items()
                if before.get("Resources", {})
                .get(logical_id, {})
                .get("Metadata", {})
                .get(PATH_METADATA)
                != resource.get("Metadata", {}).get(PATH_METADATA)
            )
            print(
                f"{config}: {len(after.get('Resources', {}))} resources, "
                f"{len(found)} differences, {len(reordered)} policies reordered, "
                f"{moved} construct paths moved"
            )
            for line in found + reordered:
                print(f"  {line}")
            total += len(found)
    print("equivalent" if total == 0 else f"{total} differences")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
