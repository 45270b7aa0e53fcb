"""The pinned integ-runner against this app, offline: why `make integ` does not call it yet.

`@aws-cdk/integ-runner` 2.197.10 (package.json; the newest release on npm) bundles
`@aws-cdk/toolkit-lib` 1.20.1, which reads cloud assembly schema up to 53. aws-cdk-lib
2.275.0 writes schema 55 (`integ.json` and `manifest.json` say `"version": "55.0.0"`,
`"minimumCliVersion": "2.1148.0"`), and the CLI's toolkit refuses an assembly newer than
it knows ("Consumers ... should reject cloud assemblies with a major version that is
higher than what they expect": aws-cdk-lib cloud-assembly-schema README). Both integ-runner's
snapshot check and its deploy stop at that error, so `make integ` deploys the same
integ app with the pinned CDK CLI, and tests/integ compares the snapshot itself.

When this test fails, the pinned integ-runner reads the assembly: point `make integ` and
`make integ-snapshot` at it (the Makefile says how) and delete this test.
"""

from __future__ import annotations

from tests.conftest import REPO_ROOT
from tests.integ.snapshot import INTEG_DIR
from tests.support.node_tools import run_node_tool


def test_pinned_integ_runner_cannot_read_this_cloud_assembly_yet() -> None:
    # tests/conftest.py's fake credentials stay; no lookup may fall back to the instance
    # metadata service either. A snapshot check needs no account.
    result = run_node_tool(
        "integ-runner",
        *("--language", "python", "--directory", str(INTEG_DIR.relative_to(REPO_ROOT))),
        *("--app", f"{REPO_ROOT / '.venv' / 'bin' / 'python'} {{filePath}}"),
        timeout=120,
        env={"AWS_EC2_METADATA_DISABLED": "true"},
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "integ_async_inference" in output, output
    assert (
        "Cloud assembly schema version mismatch: Maximum schema version supported is 53.x.x, "
        "but found 55.0.0" in output
    ), output
