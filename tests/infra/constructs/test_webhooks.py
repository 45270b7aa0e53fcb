"""Webhooks in the app's stack (on the job API's jobs table): least-privilege roles, the
secret on the system's key with its rotation, the queues' dead-letter paths, the job API's
redelivery, local-mode settings never deployed, and cdk-nag, cfn-lint and checkov clean."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app import build_app
from asyncinfer_runtime.contract import DEFAULT_STACK_NAME
from asyncinfer_runtime.environment import LOCAL_MODE
from tests.infra.conftest import CDK_JSON_CONTEXT

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
CHECKOV = Path(__file__).resolve().parents[3] / ".venv-checkov" / "bin" / "checkov"


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    outdir = tmp_path_factory.mktemp("cdk-webhooks")
    app = build_app(
        {**CDK_JSON_CONTEXT, "nag_checks": True, "webhook_secret_rotation_days": 30},
        outdir=str(outdir),
    )
    stack: Any = app.node.find_child(DEFAULT_STACK_NAME)
    app.synth()
    template = json.loads((outdir / f"{DEFAULT_STACK_NAME}.template.json").read_text())
    report_file = outdir / "validation-report.json"
    return {
        "outdir": outdir,
        "template": template,
        "report": json.loads(report_file.read_text()) if report_file.exists() else {},
        "ids": {
            name: stack.resolve(construct.node.default_child.logical_id)
            for name, construct in {
                "jobs": stack.job_api.table,
                "api_function": stack.job_api.function,
                "key": stack.system.key,
                "results": stack.system.pipeline.table,
                "secret": stack.webhooks.secret,
                "delivery": stack.webhooks.delivery_queue,
                "dlq": stack.webhooks.dead_letter_queue,
                "notifications": stack.webhooks.notification_queue,
                "notifications_dlq": stack.webhooks.notification_dead_letter_queue,
                "dispatcher": stack.webhooks.dispatcher,
                "rotation": stack.webhooks.rotation_function,
            }.items()
        },
    }


def resources(synth: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in synth["template"]["Resources"].items() if v["Type"] == kind}


def role_statements(synth: dict[str, Any], function_id: str) -> list[dict[str, Any]]:
    function = synth["template"]["Resources"][function_id]
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = [
        p
        for p in resources(synth, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    role = synth["template"]["Resources"][role_id]["Properties"]
    assert "ManagedPolicyArns" not in role  # no AWS managed policy
    return [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]


def actions_on(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Each resource (as JSON) -> the actions granted on it."""
    granted: dict[str, set[str]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        targets = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        for target in targets:
            granted.setdefault(json.dumps(target, sort_keys=True), set()).update(actions)
    return granted


def arn(logical_id: str) -> str:
    return json.dumps({"Fn::GetAtt": [logical_id, "Arn"]}, sort_keys=True)


def test_the_dispatcher_may_do_exactly_its_job(synth: dict[str, Any]) -> None:
    ids = synth["ids"]
    granted = actions_on(role_statements(synth, ids["dispatcher"]))
    assert granted.pop(arn(ids["jobs"])) == {"dynamodb:GetItem", "dynamodb:UpdateItem"}
    assert granted.pop(arn(ids["results"])) == {"dynamodb:GetItem"}
    assert granted.pop(json.dumps({"Ref": ids["secret"]})) == {"secretsmanager:GetSecretValue"}
    assert granted.pop(arn(ids["key"])) == {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"}
    assert granted.pop(arn(ids["dlq"])) == {"sqs:SendMessage"}
    delivery = granted.pop(arn(ids["delivery"]))
    notifications = granted.pop(arn(ids["notifications"]))
    assert "sqs:SendMessage" in delivery and "sqs:DeleteMessage" in delivery
    assert "sqs:ReceiveMessage" in notifications and "sqs:SendMessage" not in notifications
    (logs,) = granted.values()  # its own log group, nothing else
    assert logs == {"logs:CreateLogStream", "logs:PutLogEvents"}


def test_the_job_api_may_request_a_redelivery_and_nothing_more_of_the_webhooks(
    synth: dict[str, Any],
) -> None:
    ids = synth["ids"]
    function = synth["template"]["Resources"][ids["api_function"]]["Properties"]
    variables = function["Environment"]["Variables"]
    assert variables["WEBHOOK_DELIVERY_QUEUE_URL"] == {"Ref": ids["delivery"]}
    granted = actions_on(role_statements(synth, ids["api_function"]))
    assert granted[arn(ids["delivery"])] == {"sqs:SendMessage"}
    # A producer of an SSE-KMS queue needs GenerateDataKey and Decrypt; submitting already
    # has both on the same key.
    assert granted[arn(ids["key"])] >= {"kms:GenerateDataKey", "kms:Decrypt"}
    webhook_parts = {ids[name] for name in ("secret", "dlq", "notifications", "dispatcher")}
    assert not [target for target in granted if any(part in target for part in webhook_parts)]
    asset_hash = function["Code"]["S3Key"].removesuffix(".zip")
    asset = synth["outdir"] / f"asset.{asset_hash}"
    assert (asset / "asyncinfer_runtime" / "webhook_redelivery.py").is_file()
    assert not (asset / "webhook_delivery").exists()


def test_the_rotation_function_touches_only_its_secret(synth: dict[str, Any]) -> None:
    ids = synth["ids"]
    granted = actions_on(role_statements(synth, ids["rotation"]))
    assert granted.pop(json.dumps({"Ref": ids["secret"]})) == {
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
    }
    assert granted.pop(arn(ids["key"])) == {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"}
    # CDK's grant for a rotation function; the action takes no resource.
    assert granted.pop('"*"') == {"secretsmanager:GetRandomPassword"}
    assert len(granted) == 1  # its log group


def test_the_secret_is_encrypted_with_the_systems_key_and_rotates(synth: dict[str, Any]) -> None:
    ids = synth["ids"]
    secret = synth["template"]["Resources"][ids["secret"]]["Properties"]
    assert secret["KmsKeyId"] == {"Fn::GetAtt": [ids["key"], "Arn"]}
    generated = secret["GenerateSecretString"]
    assert generated["GenerateStringKey"] == "current" and generated["ExcludePunctuation"]
    assert generated["PasswordLength"] % 4 == 0  # letters and digits: valid base64
    (schedule,) = resources(synth, "AWS::SecretsManager::RotationSchedule").values()
    properties = schedule["Properties"]
    assert properties["SecretId"] == {"Ref": ids["secret"]}
    assert properties["RotationLambdaARN"] == {"Fn::GetAtt": [ids["rotation"], "Arn"]}
    assert properties["RotationRules"]["ScheduleExpression"] == "rate(30 days)"
    assert properties["RotateImmediatelyOnUpdate"] is False
    (permission,) = [
        p["Properties"]
        for p in resources(synth, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "secretsmanager.amazonaws.com"
    ]
    assert permission["SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_every_undeliverable_message_has_a_dead_letter_queue(synth: dict[str, Any]) -> None:
    ids = synth["ids"]
    queues = synth["template"]["Resources"]
    for queue, dead_letter in (("delivery", "dlq"), ("notifications", "notifications_dlq")):
        redrive = queues[ids[queue]]["Properties"]["RedrivePolicy"]
        assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": [ids[dead_letter], "Arn"]}
        assert queues[ids[queue]]["Properties"]["KmsMasterKeyId"] == {
            "Fn::GetAtt": [ids["key"], "Arn"]
        }
    subscriptions = [
        s["Properties"]
        for s in resources(synth, "AWS::SNS::Subscription").values()
        if s["Properties"]["Endpoint"] == {"Fn::GetAtt": [ids["notifications"], "Arn"]}
    ]
    assert len(subscriptions) == 2  # success and error topics
    for subscription in subscriptions:
        assert subscription["RawMessageDelivery"] is True
        assert subscription["RedrivePolicy"]["deadLetterTargetArn"] == {
            "Fn::GetAtt": [ids["notifications_dlq"], "Arn"]
        }
    mappings = [
        m["Properties"]
        for m in resources(synth, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": ids["dispatcher"]}
    ]
    assert {json.dumps(m["EventSourceArn"]) for m in mappings} == {
        json.dumps({"Fn::GetAtt": [ids[q], "Arn"]}) for q in ("delivery", "notifications")
    }
    assert all(m["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for m in mappings)
    alarms = [
        a["Properties"]["AlarmDescription"]
        for a in resources(synth, "AWS::CloudWatch::Alarm").values()
    ]
    assert any("webhook dead-letter queue" in a for a in alarms)


def test_loopback_http_is_never_a_deployed_setting(synth: dict[str, Any]) -> None:
    for function in resources(synth, "AWS::Lambda::Function").values():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        assert LOCAL_MODE not in variables


def test_the_dispatcher_asset_carries_the_signing_package(synth: dict[str, Any]) -> None:
    function = synth["template"]["Resources"][synth["ids"]["dispatcher"]]
    asset_hash = function["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    asset = synth["outdir"] / f"asset.{asset_hash}"
    assert (asset / "webhook_delivery" / "handler.py").is_file()
    assert (asset / "standardwebhooks" / "webhooks.py").is_file()
    assert (asset / "asyncinfer_runtime" / "job_view.py").is_file()
    assert not (asset / "results_writer").exists()


def test_cdk_nag_cfn_lint_and_checkov_are_clean(synth: dict[str, Any]) -> None:
    report = synth["report"]
    plugins = {plugin["pluginName"]: plugin for plugin in report.get("pluginReports", [])}
    assert set(plugins) >= {"AwsSolutions", "Serverless"}
    violations = [v for p in plugins.values() for v in p.get("violations", [])]
    assert violations == []
    template = synth["outdir"] / f"{DEFAULT_STACK_NAME}.template.json"
    lint = subprocess.run(
        [str(BIN / "cfn-lint"), "--format", "parseable", str(template)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert lint.returncode & 0b110 == 0, lint.stdout + lint.stderr
    checkov = subprocess.run(
        [str(CHECKOV), "-f", str(template), "--framework", "cloudformation", "--compact",
         "--quiet", "-o", "json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    result = json.loads(checkov.stdout)
    failed = [
        (c["check_id"], c["resource"]) for c in result.get("results", {}).get("failed_checks", [])
    ]
    assert failed == []
