"""The integ app, synthesized once per session, offline (no account, no credentials)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integ.integ_async_inference import (
    POOLED_STACK_NAME,
    STACK_NAME,
    TEST_NAME,
    build_integ_app,
)


@dataclass(frozen=True)
class IntegAssembly:
    outdir: Path
    integ_manifest: dict[str, Any]

    @property
    def test_case(self) -> dict[str, Any]:
        case: dict[str, Any] = self.integ_manifest["testCases"][f"{TEST_NAME}/DefaultTest"]
        return case

    def template(self, stack_name: str) -> dict[str, Any]:
        template: dict[str, Any] = json.loads(
            (self.outdir / f"{stack_name}.template.json").read_text()
        )
        return template

    @property
    def stack_under_test(self) -> dict[str, Any]:
        """The main case's stack: the whole flow on one endpoint."""
        assert self.test_case["stacks"] == [STACK_NAME, POOLED_STACK_NAME]
        return self.template(STACK_NAME)

    @property
    def pooled_stack_under_test(self) -> dict[str, Any]:
        """The stack whose endpoint runs on instance pools of two types."""
        return self.template(POOLED_STACK_NAME)

    @property
    def assertion_stack(self) -> dict[str, Any]:
        return self.template(self.test_case["assertionStackName"])


@pytest.fixture(scope="session")
def integ_assembly(tmp_path_factory: pytest.TempPathFactory) -> IntegAssembly:
    outdir = tmp_path_factory.mktemp("cdk-integ")
    build_integ_app(str(outdir)).synth()
    return IntegAssembly(
        outdir=outdir, integ_manifest=json.loads((outdir / "integ.json").read_text())
    )
