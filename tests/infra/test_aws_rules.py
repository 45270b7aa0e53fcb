"""Rules AWS enforces at deploy time or at run time that a template can break while it
still synthesizes, lints and scans clean. Each test names the AWS document it follows."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from asyncinfer_constructs.dlc_image import DLC_ACCOUNTS, REPOSITORY
from stacks.config import Settings
from tests.infra.conftest import CONFIGURATIONS, Synthesized

Getter = Callable[[str], Synthesized]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return as_list(document["Statement"])


# --- Topics that an AWS service publishes to --------------------------------------------

ALARM_ACTION_KEYS = ("AlarmActions", "OKActions", "InsufficientDataActions")


def _topics_alarms_publish_to(synth: Synthesized) -> set[str]:
    topics = set(synth.resources("AWS::SNS::Topic"))
    published: set[str] = set()
    for alarm in synth.resources("AWS::CloudWatch::Alarm").values():
        for key in ALARM_ACTION_KEYS:
            for action in alarm["Properties"].get(key, []):
                if isinstance(action, dict) and action.get("Ref") in topics:
                    published.add(action["Ref"])
    return published


def _topic_policy_statements(synth: Synthesized, topic_id: str) -> Iterator[dict[str, Any]]:
    for policy in synth.resources("AWS::SNS::TopicPolicy").values():
        if {"Ref": topic_id} in policy["Properties"]["Topics"]:
            yield from _statements(policy["Properties"]["PolicyDocument"])


def _allows_service_publish(statement: dict[str, Any], service: str) -> bool:
    return (
        statement["Effect"] == "Allow"
        and statement.get("Principal") == {"Service": service}
        and "sns:Publish" in as_list(statement["Action"])
    )


@pytest.mark.parametrize("configuration", sorted(CONFIGURATIONS))
def test_every_topic_an_alarm_publishes_to_lets_cloudwatch_publish(
    synthesized: Getter, configuration: str
) -> None:
    # A topic policy replaces SNS's default policy; enforce_ssl's policy holds only a Deny,
    # so CloudWatch needs an explicit Allow, scoped to this account's alarms (AWS Knowledge
    # Center: "Why didn't I receive an SNS notification for my CloudWatch alarm trigger?").
    synth = synthesized(configuration)
    topics = _topics_alarms_publish_to(synth)
    assert topics, "the stack's alarms notify a topic"
    for topic_id in topics:
        statements = list(_topic_policy_statements(synth, topic_id))
        if not statements:
            continue  # no topic policy: SNS's default policy lets the account's alarms publish
        allows = [s for s in statements if _allows_service_publish(s, "cloudwatch.amazonaws.com")]
        assert allows, f"{topic_id}: its topic policy lets no CloudWatch alarm publish"
        for statement in allows:
            conditions = statement["Condition"]
            assert conditions["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
            source_arn = json.dumps(conditions["ArnLike"]["aws:SourceArn"])
            assert ":cloudwatch:" in source_arn and ":alarm:*" in source_arn
            assert '{"Ref": "AWS::AccountId"}' in source_arn
        # The topic is encrypted: CloudWatch must also be able to use its key.
        key_id = synth.template["Resources"][topic_id]["Properties"]["KmsMasterKeyId"][
            "Fn::GetAtt"
        ][0]
        key_statements = synth.template["Resources"][key_id]["Properties"]["KeyPolicy"]
        assert any(
            s["Effect"] == "Allow"
            and s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
            and {"kms:Decrypt", "kms:GenerateDataKey"} <= set(as_list(s["Action"]))
            and s["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
            for s in _statements(key_statements)
        ), f"{topic_id}: CloudWatch may not use the topic's key"


@pytest.mark.parametrize("configuration", sorted(CONFIGURATIONS))
def test_sagemaker_may_publish_to_its_notification_topics(
    synthesized: Getter, configuration: str
) -> None:
    # SageMaker publishes as the execution role: a same-account identity policy covers it,
    # and the topic policy must not deny it (its only Deny is on non-TLS transport).
    synth = synthesized(configuration)
    resources = synth.template["Resources"]
    configs = synth.resources("AWS::SageMaker::EndpointConfig")
    assert configs
    for config in configs.values():
        notification = config["Properties"]["AsyncInferenceConfig"]["OutputConfig"][
            "NotificationConfig"
        ]
        # The endpoint's own execution role: its model's, through the variant.
        model_id = config["Properties"]["ProductionVariants"][0]["ModelName"]["Fn::GetAtt"][0]
        role_id = resources[model_id]["Properties"]["ExecutionRoleArn"]["Fn::GetAtt"][0]
        # The role's policies: what every generation needs, and each generation's log grant.
        role_policies = [
            r
            for r in synth.resources("AWS::IAM::Policy").values()
            if {"Ref": role_id} in r["Properties"]["Roles"]
        ]
        assert role_policies
        published = [
            r
            for role_policy in role_policies
            for s in _statements(role_policy["Properties"]["PolicyDocument"])
            if "sns:Publish" in as_list(s["Action"]) and s["Effect"] == "Allow"
            for r in as_list(s["Resource"])
        ]
        for key in ("SuccessTopic", "ErrorTopic"):
            topic = notification[key]
            assert topic in published, f"{key} {topic} is not publishable by the execution role"
            for statement in _topic_policy_statements(synth, topic["Ref"]):
                if statement["Effect"] == "Deny":
                    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


# --- Scaling out from zero -----------------------------------------------------------------


def _step_policy(synth: Synthesized) -> dict[str, Any]:
    (step,) = [
        p["Properties"]
        for p in synth.resources("AWS::ApplicationAutoScaling::ScalingPolicy").values()
        if p["Properties"]["PolicyType"] == "StepScaling"
    ]
    return step


def test_scale_out_from_zero_cooldown_covers_a_cold_start(default: Synthesized) -> None:
    # CloudWatch re-runs an Auto Scaling action every period while the alarm stays in
    # ALARM (CloudWatch User Guide, "Alarm actions"); HasBacklogWithoutCapacity stays 1
    # until the first instance is InService. A cooldown shorter than a cold start lets the
    # repeated action add a second instance for one request. AWS's example uses 300 s.
    cooldown = _step_policy(default)["StepScalingPolicyConfiguration"]["Cooldown"]
    assert cooldown == Settings().scale_out_from_zero_cooldown_seconds == 600
    assert cooldown >= 300
    # It is its own setting: target tracking's scale-out cooldown is unchanged.
    (tracking,) = [
        p["Properties"]
        for p in default.resources("AWS::ApplicationAutoScaling::ScalingPolicy").values()
        if p["Properties"]["PolicyType"] == "TargetTrackingScaling"
    ]
    assert tracking["TargetTrackingScalingPolicyConfiguration"]["ScaleOutCooldown"] == 120


def test_scale_out_from_zero_cooldown_follows_its_setting(tmp_path: Path) -> None:
    from tests.infra.conftest import synthesize

    synth = synthesize({"scale_out_from_zero_cooldown_seconds": "900"}, tmp_path)
    assert _step_policy(synth)["StepScalingPolicyConfiguration"]["Cooldown"] == 900


# --- Regions of the Hugging Face image -----------------------------------------------------


def _sdk_image_table(settings: Settings) -> dict[str, Any]:
    """The SageMaker Python SDK's entry for this DLC version (its image_uri_config JSON)."""
    import importlib.resources

    table = json.loads(
        importlib.resources.files("sagemaker")
        .joinpath("image_uri_config/huggingface.json")
        .read_text()
    )
    pytorch, _, transformers = settings.hf_dlc_version.partition("-transformers")
    versions = table["inference"]["versions"]
    assert transformers in versions, f"the SDK lists no inference image for {transformers}"
    entry = versions[transformers][f"pytorch{pytorch}"]
    assert isinstance(entry, dict)
    return entry


def test_region_mapping_is_the_sagemaker_sdks_image_table() -> None:
    settings = Settings()
    entry = _sdk_image_table(settings)
    assert entry["repository"] == REPOSITORY
    # A region the SDK adds (or drops) for this image shows up here.
    assert entry["registries"] == DLC_ACCOUNTS
    assert settings.hf_python_version in entry["py_versions"]
    assert entry["container_version"] == {
        "cpu": settings.hf_os_version,
        "gpu": f"{settings.hf_cuda_version}-{settings.hf_os_version}",
    }


def test_a_region_without_the_image_stops_the_deploy_before_any_resource(
    default: Synthesized,
) -> None:
    (rule,) = [
        rule
        for logical_id, rule in default.template["Rules"].items()
        if logical_id.startswith("DlcImageImagePublishedInRegion")
    ]
    (assertion,) = rule["Assertions"]
    regions, region = assertion["Assert"]["Fn::Contains"]
    assert region == {"Ref": "AWS::Region"}
    assert sorted(regions) == sorted(DLC_ACCOUNTS)
    assert "ap-southeast-5" not in regions  # listed by AWS for other DLCs, not this image
    assert assertion["AssertDescription"].startswith(
        f"The Hugging Face image {REPOSITORY}:2.6.0-transformers4.51.3-cpu-py312-ubuntu22.04 "
        "is not published in this region;"
    )


def test_own_images_need_no_region_rule(synthesized: Getter) -> None:
    rules = synthesized("artifact").template.get("Rules", {})
    assert not [r for r in rules if "ImagePublishedInRegion" in r]


# --- Execution role ------------------------------------------------------------------------


def _role_statements(synth: Synthesized) -> dict[str, dict[str, Any]]:
    policy = synth.template["Resources"][synth.logical_id_of("/Execution/Policy/Resource")]
    return {s["Sid"]: s for s in _statements(policy["Properties"]["PolicyDocument"])}


def _joined(value: Any) -> str:
    """A Fn::Join'ed ARN as text, with pseudo parameters as `<Name>`."""
    if isinstance(value, str):
        return value
    parts = value["Fn::Join"][1]
    return "".join(p if isinstance(p, str) else f"<{p['Ref']}>" for p in parts)


LOG_GROUP_ARN = "arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"


def _assert_endpoint_log_grant(by_sid: dict[str, dict[str, Any]], log_group: str) -> None:
    # CreateLogGroup is authorized against `log-group:NAME` (no `:*`); streams and events
    # against `log-group:NAME:log-stream:...` (Service Authorization Reference, CloudWatch Logs).
    assert as_list(by_sid["CreateEndpointLogGroup"]["Action"]) == ["logs:CreateLogGroup"]
    assert _joined(by_sid["CreateEndpointLogGroup"]["Resource"]) == f"{LOG_GROUP_ARN}{log_group}"
    write = by_sid["WriteEndpointLogs"]
    assert "logs:CreateLogGroup" not in as_list(write["Action"])
    assert {"logs:CreateLogStream", "logs:PutLogEvents"} <= set(as_list(write["Action"]))
    assert _joined(write["Resource"]) == f"{LOG_GROUP_ARN}{log_group}:*"


def test_a_generated_name_logs_under_the_role_and_gets_the_retention_once_it_exists(
    default: Synthesized,
) -> None:
    # SageMaker logs to /aws/sagemaker/Endpoints/<EndpointName> (SageMaker Developer Guide,
    # "Log groups and streams that Amazon SageMaker AI sends to Amazon CloudWatch Logs").
    # A name CloudFormation generates exists only with the endpoint: the role may create
    # and write any endpoint's group, as deployed before (a grant naming the generated name
    # would make the role's policy and the endpoint, which waits for it, depend on each
    # other).
    endpoint_id, endpoint = default.only("AWS::SageMaker::Endpoint")
    assert "EndpointName" not in endpoint["Properties"]
    _assert_endpoint_log_grant(_role_statements(default), "/aws/sagemaker/Endpoints/*")
    assert default.logical_id_of("/Execution/Policy/Resource") in endpoint["DependsOn"]
    # The retention goes on the group as soon as the endpoint exists (CDK's LogRetention
    # creates the group if SageMaker has not yet); it covers the events already written.
    ((retention_id, retention),) = default.resources("Custom::LogRetention").items()
    assert retention["Properties"]["LogGroupName"] == {
        "Fn::Join": [
            "",
            ["/aws/sagemaker/Endpoints/", {"Fn::GetAtt": [endpoint_id, "EndpointName"]}],
        ]
    }
    assert retention["Properties"]["RetentionInDays"] == 30  # log_retention_days
    # Kept when it leaves the template: a timed-out drain's endpoint still logs to it.
    assert retention["Properties"]["RemovalPolicy"] == "retain"
    # It outlives the generation's drain, like the endpoint's scaling.
    (drain,) = default.resources("Custom::EndpointDrain").values()
    assert retention_id in drain["DependsOn"]
    # The endpoint's log group is the only one CloudFormation does not create itself.
    assert not [
        g
        for g in default.resources("AWS::Logs::LogGroup").values()
        if "/aws/sagemaker/" in json.dumps(g["Properties"].get("LogGroupName", ""))
    ]


def test_a_named_generation_writes_only_its_own_log_group_which_exists_first(
    synthesized: Getter,
) -> None:
    synth = synthesized("gpu")
    _, endpoint = synth.only("AWS::SageMaker::Endpoint")
    name = endpoint["Properties"]["EndpointName"]
    assert isinstance(name, str) and name.startswith("sentiment-gpu-")
    log_group_name = f"/aws/sagemaker/Endpoints/{name}"
    groups = {
        logical_id: group
        for logical_id, group in synth.resources("AWS::Logs::LogGroup").items()
        if group["Properties"].get("LogGroupName") == log_group_name
    }
    ((group_id, group),) = groups.items()
    assert group["Properties"]["RetentionInDays"] == 30  # log_retention_days
    assert "KmsKeyId" in group["Properties"]
    assert not synth.resources("Custom::LogRetention")
    policy_id = synth.logical_id_matching(r"/Logs[0-9a-f]{8}/WriteLogs/Resource$")
    policy = synth.template["Resources"][policy_id]
    by_sid = {s["Sid"]: s for s in _statements(policy["Properties"]["PolicyDocument"])}
    assert set(by_sid) == {"CreateEndpointLogGroup", "WriteEndpointLogs"}
    _assert_endpoint_log_grant(by_sid, log_group_name)
    # The group and the grant exist before the endpoint's first instance logs.
    assert {group_id, policy_id} <= set(endpoint["DependsOn"])
    # No other policy of the execution role grants CloudWatch Logs.
    role = policy["Properties"]["Roles"]
    others = [
        statement
        for logical_id, other in synth.resources("AWS::IAM::Policy").items()
        if other["Properties"]["Roles"] == role and logical_id != policy_id
        for statement in _statements(other["Properties"]["PolicyDocument"])
    ]
    assert others and not [s for s in others if "logs:" in json.dumps(s["Action"])]


def test_execution_role_may_encrypt_with_and_describe_the_output_key(
    default: Synthesized,
) -> None:
    _, config = default.only("AWS::SageMaker::EndpointConfig")
    output_key = config["Properties"]["AsyncInferenceConfig"]["OutputConfig"]["KmsKeyId"]
    statement = _role_statements(default)["EncryptOutputs"]
    assert set(as_list(statement["Action"])) == {"kms:Encrypt", "kms:DescribeKey"}
    assert as_list(statement["Resource"]) == [output_key]


# --- Network isolation ---------------------------------------------------------------------

ISOLATION_CASES = [
    ({}, False),  # Hugging Face: the DLC downloads the Hub model at start
    ({"network_isolation": "false"}, False),
    (
        {
            "model_source": "container",
            "image_uri": "111122223333.dkr.ecr.eu-west-1.amazonaws.com/my-model:1.4",
        },
        True,
    ),
    (
        {
            "model_source": "container",
            "image_uri": "111122223333.dkr.ecr.eu-west-1.amazonaws.com/my-model:1.4",
            "network_isolation": "false",
        },
        False,
    ),
]


@pytest.mark.parametrize(("context", "isolated"), ISOLATION_CASES, ids=str)
def test_network_isolation_follows_the_model_source_and_the_setting(
    tmp_path: Path, context: dict[str, str], isolated: bool
) -> None:
    from tests.infra.conftest import synthesize

    synth = synthesize(context, tmp_path)
    _, model = synth.only("AWS::SageMaker::Model")
    assert model["Properties"]["EnableNetworkIsolation"] is isolated
    # checkov's CKV_AWS_370 is skipped, with its reason, exactly where isolation is off.
    skips = model.get("Metadata", {}).get("checkov", {}).get("skip", [])
    assert [s["id"] for s in skips] == ([] if isolated else ["CKV_AWS_370"])


def test_artifact_models_run_isolated_by_default(synthesized: Getter) -> None:
    _, model = synthesized("artifact").only("AWS::SageMaker::Model")
    assert model["Properties"]["EnableNetworkIsolation"] is True


# --- Instance pools ------------------------------------------------------------------------


def test_instance_types_become_instance_pools_with_the_matching_image(tmp_path: Path) -> None:
    # Pools replace InstanceType, priority 1 first (SageMaker API Reference, InstancePool);
    # a CPU pool behind GPU pools runs the CPU build of the DLC through ModelNameOverride.
    from tests.infra.conftest import synthesize

    synth = synthesize({"instance_types": "ml.g6.xlarge,ml.g5.xlarge,ml.m5.xlarge"}, tmp_path)
    _, config = synth.only("AWS::SageMaker::EndpointConfig")
    (variant,) = config["Properties"]["ProductionVariants"]
    assert "InstanceType" not in variant
    pools = variant["InstancePools"]
    assert [(p["InstanceType"], p["Priority"]) for p in pools] == [
        ("ml.g6.xlarge", 1),
        ("ml.g5.xlarge", 2),
        ("ml.m5.xlarge", 3),
    ]
    models = synth.resources("AWS::SageMaker::Model")
    primary = synth.logical_id_matching(r"/Model[0-9a-f]{8}/Resource$")
    cpu = synth.logical_id_matching(r"/CpuModel[0-9a-f]{8}/Resource$")
    assert set(models) == {primary, cpu}
    assert variant["ModelName"] == {"Fn::GetAtt": [primary, "ModelName"]}
    assert "ModelNameOverride" not in pools[0] and "ModelNameOverride" not in pools[1]
    assert pools[2]["ModelNameOverride"] == {"Fn::GetAtt": [cpu, "ModelName"]}

    def tag(logical_id: str) -> str:
        return str(models[logical_id]["Properties"]["PrimaryContainer"]["Image"]["Fn::Join"][1][-1])

    assert "-gpu-py312-cu124-" in tag(primary)
    assert "-cpu-py312-" in tag(cpu)
    # The CPU model can pull its image and start only once the role's policy exists too.
    policy = synth.logical_id_of("/Execution/Policy/Resource")
    assert policy in models[cpu]["DependsOn"]
    # CloudFormation's schema for AWS::SageMaker::EndpointConfig takes this shape.
    template = synth.outdir / "SageMakerAsyncInference.template.json"
    linted = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", str(template)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert linted.returncode & 0b110 == 0, linted.stdout + linted.stderr


def test_one_image_for_every_pool_when_the_image_is_given(tmp_path: Path) -> None:
    from tests.infra.conftest import synthesize

    synth = synthesize(
        {
            "model_source": "container",
            "image_uri": "111122223333.dkr.ecr.eu-west-1.amazonaws.com/my-model:1.4",
            "instance_types": "ml.g5.xlarge,ml.g4dn.xlarge",
        },
        tmp_path,
    )
    synth.only("AWS::SageMaker::Model")
    _, config = synth.only("AWS::SageMaker::EndpointConfig")
    pools = config["Properties"]["ProductionVariants"][0]["InstancePools"]
    assert all("ModelNameOverride" not in p for p in pools)
