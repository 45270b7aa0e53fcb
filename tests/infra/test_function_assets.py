"""Each function's asset: its own folder and asyncinfer_runtime, and nothing else.

The asset is what Lambda runs, so its handler must import from the asset alone, as Lambda
imports it with the asset root on sys.path (no repository, no installed library).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from asyncinfer_constructs.functions import _fingerprint
from tests.infra.conftest import Synthesized


def python_functions(synthesized: Synthesized) -> dict[str, tuple[str, Path]]:
    """Logical id -> (handler, asset folder) of every Python function in the template."""
    found = {}
    for logical_id, resource in synthesized.resources("AWS::Lambda::Function").items():
        properties = resource["Properties"]
        if str(properties.get("Runtime", "")).startswith("python"):
            asset_hash = properties["Code"]["S3Key"].removesuffix(".zip")
            found[logical_id] = (properties["Handler"], synthesized.outdir / f"asset.{asset_hash}")
    return found


def test_each_function_ships_its_own_folder_and_the_runtime(default: Synthesized) -> None:
    functions = python_functions(default)
    assert {handler.partition(".")[0] for handler, _ in functions.values()} == {
        "results_writer",
        "endpoint_drain",
        "job_api",
    }
    for handler, asset in functions.values():
        folder = handler.partition(".")[0]
        assert sorted(path.name for path in asset.iterdir()) == ["asyncinfer_runtime", folder]
        assert not list(asset.rglob("__pycache__"))


def test_each_handler_imports_from_its_asset_alone(default: Synthesized) -> None:
    for handler, asset in {*python_functions(default).values()}:
        module, _, function = handler.rpartition(".")
        # Lambda's Python runtime: the asset root (/var/task) is the working directory and
        # on sys.path; boto3 comes with the runtime (here from the test's environment).
        probe = (
            f"import importlib, sys\n"
            f"handler = getattr(importlib.import_module({module!r}), {function!r})\n"
            f"print(sys.modules[{module!r}].__file__)\n"
            f"print(sys.modules['asyncinfer_runtime'].__file__)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=asset,
            env={"PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert all(Path(line).is_relative_to(asset) for line in done.stdout.split()), done.stdout


def test_the_asset_hash_follows_the_shipped_files_only(tmp_path: Path) -> None:
    own, runtime = tmp_path / "own_function", tmp_path / "asyncinfer_runtime"
    for folder in (own, runtime):
        folder.mkdir()
        (folder / "module.py").write_text("X = 1\n")
    before = _fingerprint((own, runtime))
    (runtime / "__pycache__").mkdir()
    (runtime / "__pycache__" / "module.cpython-311.pyc").write_bytes(b"compiled")
    assert _fingerprint.__wrapped__((own, runtime)) == before
    (runtime / "module.py").write_text("X = 2\n")
    assert _fingerprint.__wrapped__((own, runtime)) != before


@pytest.mark.parametrize("config", ["gpu", "artifact"])
def test_every_configuration_ships_the_same_assets(
    synthesized: Callable[[str], Synthesized], default: Synthesized, config: str
) -> None:
    # A setting that does not touch the code must not redeploy the functions.
    assert {*python_functions(synthesized(config)).values()} == {
        (handler, synthesized(config).outdir / asset.name)
        for handler, asset in python_functions(default).values()
    }
