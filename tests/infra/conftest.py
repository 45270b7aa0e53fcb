"""Synthesized apps shared by the infrastructure tests (synth is the slow part)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app import build_app
from asyncinfer_runtime.contract import DEFAULT_STACK_NAME

STACK_NAME = DEFAULT_STACK_NAME

# The configurations every template-level check runs against.
CONFIGURATIONS: dict[str, dict[str, Any]] = {
    # What `cdk synth` builds with no options.
    "default": {},
    # A GPU Hugging Face deployment with a fixed endpoint name and wider scaling; its job
    # API takes a Cognito user pool's tokens.
    "gpu": {
        "instance_type": "ml.g5.xlarge",
        "endpoint_name": "sentiment-gpu",
        "max_capacity": "4",
        "target_backlog_per_instance": "2",
        "include_inference_response_in": "SUCCESS_NOTIFICATION_TOPIC",
        "alarm_email": "ops@example.com",
        "api_authorizer": "cognito",
        "api_user_pool_arn": "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Abc123",
    },
    # A framework image with an S3 artifact, a volume key, no autoscaling, destroyable.
    "artifact": {
        "model_source": "s3-artifact",
        "image_uri": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312",
        "model_data_url": "s3://example-models/sentiment/model.tar.gz",
        "volume_kms_key_arn": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "instance_type": "ml.m5.2xlarge",
        "autoscaling_enabled": "false",
        "removal_policy": "destroy",
        "include_inference_response_in": "",
    },
    # Two endpoints on one pipeline: the default model and an isolated container model.
    "multi": {
        "endpoints": json.dumps(
            [
                {"name": "sentiment"},
                {
                    "name": "tabular",
                    "model_source": "container",
                    "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/tabular:1",
                    "instance_type": "ml.c5.xlarge",
                    "max_capacity": 4,
                },
            ]
        ),
    },
}


@dataclass(frozen=True)
class Synthesized:
    outdir: Path
    template: dict[str, Any]
    validation_report: dict[str, Any]
    app: Any

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.template["Resources"].items()
            if resource["Type"] == resource_type
        }

    def only(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        found = self.resources(resource_type)
        assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
        return next(iter(found.items()))

    def logical_id_matching(self, path_pattern: str) -> str:
        """Logical id of the one resource whose construct path matches the regular
        expression `path_pattern` (searched, e.g. `/Model[0-9a-f]{8}/Resource$`)."""
        matches = [
            logical_id
            for logical_id, resource in self.template["Resources"].items()
            if re.search(path_pattern, resource.get("Metadata", {}).get("aws:cdk:path", ""))
        ]
        assert len(matches) == 1, f"{path_pattern}: {matches}"
        return matches[0]

    def results_table(self) -> dict[str, Any]:
        """The results table (the template also has the job API's jobs table)."""
        return dict(self.template["Resources"][self.logical_id_of("/Results/Records/Resource")])

    def logical_id_of(self, path_suffix: str) -> str:
        """Logical id of the resource whose construct path ends with `path_suffix`."""
        matches = [
            logical_id
            for logical_id, resource in self.template["Resources"].items()
            if resource.get("Metadata", {}).get("aws:cdk:path", "").endswith(path_suffix)
        ]
        assert len(matches) == 1, f"{path_suffix}: {matches}"
        return matches[0]


REPO_ROOT = Path(__file__).resolve().parents[2]
# The CLI hands the app cdk.json's context (feature flags included); do the same so the
# tests synthesize exactly what `cdk synth` does.
CDK_JSON_CONTEXT: dict[str, Any] = {
    **json.loads((REPO_ROOT / "cdk.json").read_text())["context"],
    "aws:cdk:enable-path-metadata": True,
}


def synthesize(
    context: dict[str, Any], outdir: Path, *, control_tower_rules: bool = False
) -> Synthesized:
    """cdk-nag is opt-in for a user's synth; every synth the tests make runs it. The
    Control Tower rules run for each of CONFIGURATIONS (`synthesized`) and wherever
    `control_tower_rules` asks: cfn-guard takes ~4 CPU seconds a synth, and a variant
    that changes one setting of a configuration adds no resource of a new kind."""
    app = build_app(
        {**CDK_JSON_CONTEXT, "nag_checks": True, **context},
        outdir=str(outdir),
        control_tower_rules=control_tower_rules,
    )
    app.synth()
    template = json.loads((outdir / f"{STACK_NAME}.template.json").read_text())
    report_file = outdir / "validation-report.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else {}
    return Synthesized(outdir=outdir, template=template, validation_report=report, app=app)


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Synthesized]:
    cache: dict[str, Synthesized] = {}

    def get(name: str) -> Synthesized:
        if name not in cache:
            cache[name] = synthesize(
                CONFIGURATIONS[name],
                tmp_path_factory.mktemp(f"cdk-{name}"),
                control_tower_rules=True,
            )
        return cache[name]

    return get


@pytest.fixture(scope="session")
def default(synthesized: Callable[[str], Synthesized]) -> Synthesized:
    return synthesized("default")
