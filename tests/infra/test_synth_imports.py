"""The CDK app imports only what synth needs.

The constructs import the record contract and the environment-variable names from
asyncinfer_runtime (standard library only), and the client package's public names load
lazily (asyncinfer/__init__.py): nothing at synth may pull in boto3, about 0.23 s of every
`cdk synth` (bench/bench_synth.py measures the synth).
"""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT


def modules_loaded_by(statement: str) -> set[str]:
    probe = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    completed = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return {line.partition(".")[0] for line in completed.stdout.split()}


def test_the_stacks_load_no_aws_sdk() -> None:
    loaded = modules_loaded_by("import stacks.async_inference_stack")
    assert "asyncinfer_runtime" in loaded  # the contract
    assert not loaded & {"boto3", "botocore", "urllib3"}


def test_the_packages_public_names_still_resolve() -> None:
    loaded = modules_loaded_by(
        "import asyncinfer\n"
        "assert asyncinfer.ThrottledError.__module__ == 'asyncinfer.errors'\n"
        "assert 'boto3' not in sys.modules\n"
        "from asyncinfer import AsyncInferenceClient, InferenceRecord"
    )
    assert "boto3" in loaded
