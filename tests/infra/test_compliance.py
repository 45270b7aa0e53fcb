"""cdk-nag, the Control Tower proactive controls, cfn-lint and checkov on every
synthesized configuration.

A finding passes only if it is acknowledged next to the code it concerns, with a reason
specific to this project.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from aws_cdk import Validations

from tests.infra.conftest import CONFIGURATIONS, STACK_NAME, Synthesized

Getter = Callable[[str], Synthesized]
BIN = Path(sys.executable).parent
# checkov pins its own boto3 and packaging, so `make setup` gives it a venv of its own.
CHECKOV = Path(__file__).resolve().parents[2] / ".venv-checkov" / "bin" / "checkov"


@pytest.mark.parametrize("config", sorted(CONFIGURATIONS))
def test_cdk_nag_reports_no_unacknowledged_finding(synthesized: Getter, config: str) -> None:
    # synth() raises on any unacknowledged AwsSolutions/Serverless finding; the report
    # must also be free of violations.
    report = synthesized(config).validation_report
    # Both packs ran (an empty report would pass the next assertion vacuously).
    plugins = {plugin["pluginName"]: plugin for plugin in report.get("pluginReports", [])}
    assert set(plugins) >= {"AwsSolutions", "Serverless"}, sorted(plugins)
    assert all(plugin["conclusion"] == "success" for plugin in plugins.values()), plugins
    assert plugins["AwsSolutions"]["suppressedViolations"], "acknowledged findings are reported"
    violations = [
        v for plugin in report.get("pluginReports", []) for v in plugin.get("violations", [])
    ]
    assert violations == []


GUARD = "cdk-validator-cfnguard"
# The Control Tower rules this project fixed rather than acknowledged: the keys' policies
# deny grants to all but AWS services, the dead-letter queue declares itself one
# (RedriveAllowPolicy), the drain's waiter state machine logs every state.
FIXED_CONTROL_TOWER_RULES = {
    "kms_create_grant_aws_service_check",
    "sqs_dlq_check",
    "step_functions_state_machine_logging_enabled_check",
}
# The ones left failing on purpose, each acknowledged per resource with its reason.
ACKNOWLEDGED_CONTROL_TOWER_RULES = {
    "api_gw_v1_execution_logging_enabled_check",
    "cloudwatch_log_group_retention_period_check",
    "lambda_function_public_access_prohibited_check",
    "lambda_inside_vpc_check",
    "s3_bucket_default_encryption_kms_check",
    "s3_bucket_logging_enabled_check",
    "s3_bucket_object_lock_enabled_check",
    "s3_bucket_versioning_enabled_check",
    "s3_event_notifications_enabled_check",
    "step_functions_state_machine_tracing_enabled_check",
}


@pytest.mark.parametrize("config", sorted(CONFIGURATIONS))
def test_control_tower_rules_report_no_unacknowledged_finding(
    synthesized: Getter, config: str
) -> None:
    # The AWS Control Tower proactive controls, as cfn-guard rules run by the
    # @cdklabs/cdk-validator-cfnguard plugin (offline: it ships cfn-guard).
    synth = synthesized(config)
    plugins = {p["pluginName"]: p for p in synth.validation_report.get("pluginReports", [])}
    assert GUARD in plugins, sorted(plugins)
    guard = plugins[GUARD]
    # The plugin reports "success" even beside violations; the violations decide.
    assert guard["violations"] == []
    suppressed = {v["ruleName"] for v in guard["suppressedViolations"]}
    assert suppressed == ACKNOWLEDGED_CONTROL_TOWER_RULES
    assert not suppressed & FIXED_CONTROL_TOWER_RULES
    # Each acknowledgement sits on the resource it is about (or its L2 construct), never on
    # a subtree that could hide a new resource's finding.
    for violation in guard["suppressedViolations"]:
        acknowledged_at = violation["acknowledgedAt"]
        for construct in violation["violatingConstructs"]:
            assert construct["constructPath"] in {acknowledged_at, f"{acknowledged_at}/Resource"}, (
                violation["ruleName"],
                acknowledged_at,
            )


def test_the_fixed_control_tower_rules_hold_in_the_template(default: Synthesized) -> None:
    for _, key in default.resources("AWS::KMS::Key").items():
        (deny,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s["Effect"] == "Deny"]
        assert deny["Action"] == "kms:CreateGrant" and deny["Principal"] == {"AWS": "*"}
        assert deny["Condition"] == {
            "BoolIfExists": {
                "kms:GrantIsForAWSResource": "false",
                "aws:PrincipalIsAWSService": "false",
            }
        }
    # Every dead-letter queue: the results writer's and the webhooks' two.
    dead_letters = [
        queue
        for queue in default.resources("AWS::SQS::Queue").values()
        if queue["Metadata"]["aws:cdk:path"].endswith("/DeadLetterQueue/Resource")
    ]
    assert len(dead_letters) == 3
    for dead_letter in dead_letters:
        assert dead_letter["Properties"]["RedriveAllowPolicy"] == {"redrivePermission": "allowAll"}
    _, waiter = default.only("AWS::StepFunctions::StateMachine")
    logging = waiter["Properties"]["LoggingConfiguration"]
    assert logging["Level"] == "ALL"
    drain_logs = default.logical_id_of("/EndpointDrain/Logs/Resource")
    assert logging["Destinations"] == [
        {"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [drain_logs, "Arn"]}}}
    ]


def _acknowledgements(synth: Synthesized) -> list[tuple[str, str, str]]:
    found = []
    for construct in synth.app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for rule_id, reason in entry.data.items():
                    found.append((construct.node.path, rule_id, reason))
    return found


@pytest.mark.parametrize("config", sorted(CONFIGURATIONS))
def test_every_nag_acknowledgement_has_a_specific_reason(synthesized: Getter, config: str) -> None:
    acknowledgements = _acknowledgements(synthesized(config))
    assert acknowledgements, "expected the project's acknowledgements to be recorded"
    for _, rule_id, _ in acknowledgements:
        assert rule_id.startswith(
            ("AwsSolutions::AwsSolutions-", "Serverless::Serverless-", f"{GUARD}::")
        ), rule_id
    for path, rule_id, reason in acknowledgements:
        assert len(reason) >= 60, f"{path} {rule_id}: reason too thin: {reason!r}"
    reasons = [reason for _, _, reason in acknowledgements]
    # A copy-pasted generic reason for different rules is not a reason.
    by_reason: dict[str, set[str]] = {}
    for _, rule_id, reason in acknowledgements:
        by_reason.setdefault(reason, set()).add(rule_id.split("[")[0])
    assert all(len(rules) == 1 for rules in by_reason.values()), by_reason
    assert len(reasons) >= 5


@pytest.mark.parametrize("config", sorted(CONFIGURATIONS))
def test_cfn_lint_reports_no_error_or_warning(synthesized: Getter, config: str) -> None:
    template = synthesized(config).outdir / f"{STACK_NAME}.template.json"
    result = subprocess.run(
        [str(BIN / "cfn-lint"), "--format", "parseable", str(template)],
        capture_output=True,
        text=True,
        check=False,
    )
    # Exit code bits: 2 error, 4 warning (8 informational is allowed).
    assert result.returncode & 0b110 == 0, result.stdout + result.stderr


def _cfn_lint_ignores(template: dict) -> list[tuple[str, list[str]]]:
    return [
        (logical_id, resource["Metadata"]["cfn-lint"]["config"]["ignore_checks"])
        for logical_id, resource in template["Resources"].items()
        if "cfn-lint" in resource.get("Metadata", {})
    ]


@pytest.mark.parametrize("config", sorted(CONFIGURATIONS))
def test_cfn_lint_ignores_are_only_cdk_generated_dependson_duplicates(
    synthesized: Getter, config: str
) -> None:
    synth = synthesized(config)
    ignores = dict(_cfn_lint_ignores(synth.template))
    assert set(map(tuple, ignores.values())) == {("W3005",)}
    expected = {
        synth.logical_id_of("/ResultsWriter/Function/Resource"),
        synth.logical_id_of("/JobApi/Function/Resource"),
        synth.logical_id_of("/Webhooks/Dispatcher/Resource"),
        synth.logical_id_of("/Webhooks/Rotation/Function/Resource"),
    } | {
        synth.logical_id_of(f"/EndpointDrain/{path}")
        for path in (
            "OnEvent/Resource",
            "IsComplete/Resource",
            "Provider/framework-onEvent/Resource",
            "Provider/framework-isComplete/Resource",
            "Provider/framework-onTimeout/Resource",
            "Provider/waiter-state-machine/Resource",
        )
    }
    if config != "gpu":  # a name CloudFormation generates: CDK's log retention function
        expected.add(synth.logical_id_matching(r"/LogRetention[0-9a-f]{32}/Resource$"))
    if config == "artifact":  # removal_policy=destroy adds CDK's bucket-emptying provider
        expected.add(
            synth.logical_id_of("/Custom::S3AutoDeleteObjectsCustomResourceProvider/Handler")
        )
    assert set(ignores) == expected
    # Each ignore is explained by a comment right above it in the code.
    stacks_dir = Path(__file__).resolve().parents[2] / "asyncinfer_constructs"
    for source in (
        stacks_dir / "results.py",
        stacks_dir / "storage.py",
        stacks_dir / "endpoint_drain.py",
        stacks_dir / "endpoint_logs.py",
        stacks_dir / "job_api.py",
        stacks_dir / "webhooks.py",
    ):
        lines = source.read_text().splitlines()
        for number, line in enumerate(lines):
            if "ignore_cfn_lint(" in line and "def " not in line:
                comment = lines[number - 3 : number]
                assert all(c.strip().startswith("#") for c in comment[-1:]), comment
                assert any("W3005" in c for c in comment), comment


@pytest.mark.parametrize("config", sorted(CONFIGURATIONS))
def test_checkov_has_no_failed_check_without_a_reasoned_skip(
    synthesized: Getter, config: str
) -> None:
    synth = synthesized(config)
    assert CHECKOV.exists(), f"checkov is not installed at {CHECKOV}; run `make setup`"
    result = subprocess.run(
        [
            str(CHECKOV),
            "--directory",
            str(synth.outdir),
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--quiet",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [
        (check["check_id"], check["resource"])
        for r in reports
        for check in r["results"]["failed_checks"]
    ]
    assert failed == []
    skipped = [check for r in reports for check in r["results"].get("skipped_checks", [])]
    for check in skipped:
        comment = check.get("check_result", {}).get("suppress_comment", "")
        assert len(comment) >= 60, f"{check['check_id']} on {check['resource']}: {comment!r}"
    passed = sum(r["summary"]["passed"] for r in reports)
    assert passed >= 50
