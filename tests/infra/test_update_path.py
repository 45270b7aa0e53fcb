"""The update path: what CloudFormation does with the before/after template pair.

SageMaker rejects an UpdateEndpoint that changes the instance type of a variant
registered with Application Auto Scaling, or removes such a variant; changing the model
is allowed (SageMaker Developer Guide, "Update endpoints that use auto scaling"). A
resource whose logical id is gone from the new template is deleted after the update
(CloudFormation User Guide, "Update behaviors of stack resources"), in reverse
dependency order, as in a stack deletion, under the DeletionPolicy it was deployed with;
a replaced resource under UpdateReplacePolicy (CloudFormation Template Reference,
DeletionPolicy and UpdateReplacePolicy attributes). A deletion that fails is tried three
times, then the resource is removed from the stack and the update goes on (CloudFormation
User Guide, Troubleshooting, "Resource removed from stack but not deleted").
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from asyncinfer_constructs import endpoint_drain
from asyncinfer_constructs.endpoint import endpoint_generation
from endpoint_drain import handler
from tests.infra.conftest import CONFIGURATIONS, Synthesized, synthesize
from tests.infra.template_equivalence import snapshot_at

Getter = Callable[[str], Synthesized]

GENERATION_TYPES = (
    "AWS::SageMaker::Endpoint",
    "AWS::SageMaker::EndpointConfig",
    "AWS::SageMaker::Model",
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
    "Custom::EndpointDrain",
)
# Kept by CloudFormation except on the rollback of the operation that created them; the
# drain deletes them once their queue is empty.
DRAINED_TYPES = (
    "AWS::SageMaker::Endpoint",
    "AWS::SageMaker::EndpointConfig",
    "AWS::SageMaker::Model",
)


def _ids(synth: Synthesized, resource_type: str) -> set[str]:
    return set(synth.resources(resource_type))


def _depends_on(resource: dict[str, Any]) -> set[str]:
    depends = resource.get("DependsOn", [])
    return set([depends] if isinstance(depends, str) else depends)


def _generation(synth: Synthesized) -> str:
    """The (one) endpoint generation of a single-endpoint template."""
    (endpoint_id,) = _ids(synth, "AWS::SageMaker::Endpoint")
    path = synth.template["Resources"][endpoint_id]["Metadata"]["aws:cdk:path"]
    match = re.search(r"/Generation([0-9a-f]{8})$", path)
    assert match, path
    return match.group(1)


def _generation_resources(synth: Synthesized) -> dict[str, str]:
    """Logical id -> type of every resource whose construct id carries the generation."""
    generation = _generation(synth)
    return {
        logical_id: resource["Type"]
        for logical_id, resource in synth.template["Resources"].items()
        if generation in resource.get("Metadata", {}).get("aws:cdk:path", "")
    }


def _drain(synth: Synthesized) -> dict[str, Any]:
    (drain,) = synth.resources("Custom::EndpointDrain").values()
    return drain


@pytest.fixture(scope="module")
def before(synthesized: Getter) -> Synthesized:
    return synthesized("default")


@pytest.fixture(scope="module")
def after_instance_type(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(
        {**CONFIGURATIONS["default"], "instance_type": "ml.g5.xlarge"},
        tmp_path_factory.mktemp("cdk-instance-type"),
    )


def test_an_instance_type_change_creates_a_new_endpoint_generation(
    before: Synthesized, after_instance_type: Synthesized
) -> None:
    for resource_type in GENERATION_TYPES:
        old, new = _ids(before, resource_type), _ids(after_instance_type, resource_type)
        assert old and new, resource_type
        # Nothing of the old generation is updated in place: no UpdateEndpoint on a scaled
        # variant, its scaling is deregistered only when its endpoint goes, and its config
        # and models stay its own until the drain has deleted the endpoint.
        assert not old & new, f"{resource_type} {old & new} would be updated in place"
    assert not set(_generation_resources(before)) & set(_generation_resources(after_instance_type))
    # The drain's function and provider outlive generations: the old drain needs them.
    old_functions = _ids(before, "AWS::Lambda::Function")
    assert old_functions == _ids(after_instance_type, "AWS::Lambda::Function")
    # The stack output switches to the new endpoint when the update completes.
    (new_endpoint,) = _ids(after_instance_type, "AWS::SageMaker::Endpoint")
    assert after_instance_type.template["Outputs"]["EndpointName"]["Value"] == {
        "Fn::GetAtt": [new_endpoint, "EndpointName"]
    }


def test_the_old_generation_drains_before_its_endpoint_and_scaling_are_deleted(
    before: Synthesized,
) -> None:
    # Deletion runs in reverse dependency order: whatever the drain depends on is
    # deleted after the drain's Delete has completed (its queue is empty).
    drain = _drain(before)
    (endpoint_id,) = _ids(before, "AWS::SageMaker::Endpoint")
    (config_id,) = _ids(before, "AWS::SageMaker::EndpointConfig")
    (model_id,) = _ids(before, "AWS::SageMaker::Model")
    properties = drain["Properties"]
    assert properties["EndpointName"] == {"Fn::GetAtt": [endpoint_id, "EndpointName"]}
    assert properties["EndpointConfigName"] == {"Fn::GetAtt": [config_id, "EndpointConfigName"]}
    assert properties["ModelNames"] == [{"Fn::GetAtt": [model_id, "ModelName"]}]
    assert properties["DeleteAfterDrain"] == "true"
    scaling = (
        _ids(before, "AWS::ApplicationAutoScaling::ScalableTarget")
        | _ids(before, "AWS::ApplicationAutoScaling::ScalingPolicy")
        | {
            logical_id
            for logical_id, alarm in before.resources("AWS::CloudWatch::Alarm").items()
            if alarm["Properties"].get("MetricName") == "HasBacklogWithoutCapacity"
        }
    )
    assert len(scaling) == 4
    assert scaling <= _depends_on(drain), "scaling could be deleted while the queue drains"
    # The old endpoint's log group keeps its retention, and the drain may still delete
    # the endpoint, until the drain is gone: the retention and the drain's own grant go
    # after it.
    kept_until_drained = {
        before.logical_id_matching(r"/Logs[0-9a-f]{8}/Retention/Resource$"),
        before.logical_id_matching(r"/DrainEndpoint[0-9a-f]{8}Access/Resource$"),
    }
    assert kept_until_drained <= _depends_on(drain)
    timeout = int(properties["DrainTimeoutSeconds"])
    assert timeout == 50 * 60
    # CloudFormation waits at most an hour for a custom resource: the drain must give up
    # (and keep the endpoint) before CloudFormation does.
    assert int(properties["ServiceTimeout"]) == 3600
    assert timeout < 3600


def test_cloudformation_never_deletes_an_endpoint_its_config_or_models_outside_a_rollback(
    synthesized: Getter,
) -> None:
    # A failed drain is removed from the stack after three tries, and the update goes on
    # to delete what it depended on: only a kept endpoint keeps its queue. Kept except on
    # the rollback of the operation that created it (RetainExceptOnCreate), so a failed
    # creation leaves nothing behind; replaced in place (a new model) means deleted.
    for configuration in CONFIGURATIONS:
        synth = synthesized(configuration)
        for resource_type in DRAINED_TYPES:
            resources = synth.resources(resource_type)
            assert resources, (configuration, resource_type)
            for logical_id, resource in resources.items():
                assert resource["DeletionPolicy"] == "RetainExceptOnCreate", logical_id
                assert resource["UpdateReplacePolicy"] == "Delete", logical_id
        # Every kept resource is one a drain deletes: its endpoint, config or one of its
        # models.
        named = {
            json.dumps(value)
            for drain in synth.resources("Custom::EndpointDrain").values()
            for key in ("EndpointName", "EndpointConfigName", "ModelNames")
            for value in (
                drain["Properties"][key]
                if isinstance(drain["Properties"][key], list)
                else [drain["Properties"][key]]
            )
        }
        for resource_type, attribute in (
            ("AWS::SageMaker::Endpoint", "EndpointName"),
            ("AWS::SageMaker::EndpointConfig", "EndpointConfigName"),
            ("AWS::SageMaker::Model", "ModelName"),
        ):
            for logical_id in synth.resources(resource_type):
                assert json.dumps({"Fn::GetAtt": [logical_id, attribute]}) in named, logical_id


def test_the_drain_may_delete_exactly_its_own_generation(synthesized: Getter) -> None:
    synth = synthesized("gpu")
    access = synth.template["Resources"][
        synth.logical_id_matching(r"/DrainEndpoint[0-9a-f]{8}Access/Resource$")
    ]
    by_sid = {s["Sid"]: s for s in access["Properties"]["PolicyDocument"]["Statement"]}
    (endpoint_id,) = _ids(synth, "AWS::SageMaker::Endpoint")
    (config_id,) = _ids(synth, "AWS::SageMaker::EndpointConfig")
    (model_id,) = _ids(synth, "AWS::SageMaker::Model")
    assert by_sid["DeleteEndpointOnceDrained"]["Resource"] == {"Ref": endpoint_id}
    assert set(by_sid["DeleteEndpointOnceDrained"]["Action"]) == {
        "sagemaker:DeleteEndpoint",
        "sagemaker:AddTags",
        "sagemaker:ListTags",
    }
    assert by_sid["DeleteItsConfigAndModels"]["Resource"] == [
        {"Ref": config_id},
        {"Ref": model_id},
    ]
    # Attached to the drain's role, beside its stack-wide read-only statements.
    drain_role = synth.logical_id_of("/EndpointDrain/Role/Resource")
    assert access["Properties"]["Roles"] == [{"Ref": drain_role}]
    default_policy = synth.template["Resources"][
        synth.logical_id_of("/EndpointDrain/Role/DefaultPolicy/Resource")
    ]
    stack_wide = {s["Sid"]: s for s in default_policy["Properties"]["PolicyDocument"]["Statement"]}
    assert stack_wide["DescribeEndpoints"]["Action"] == "sagemaker:DescribeEndpoint"
    assert stack_wide["ReadOwnStackStatus"] == {
        "Action": "cloudformation:DescribeStacks",
        "Effect": "Allow",
        "Resource": {"Ref": "AWS::StackId"},
        "Sid": "ReadOwnStackStatus",
    }
    assert stack_wide["ReportDrainTimeouts"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": handler.TIMEOUT_METRIC_NAMESPACE}
    }
    assert not [s for s in stack_wide.values() if "Delete" in json.dumps(s["Action"])], (
        "deletions are granted per generation only"
    )


def test_a_drain_that_times_out_sounds_the_alarm(default: Synthesized) -> None:
    # The handler publishes what the alarm watches (the two modules hold their own names).
    assert endpoint_drain.TIMEOUT_METRIC_NAMESPACE == handler.TIMEOUT_METRIC_NAMESPACE
    assert endpoint_drain.TIMEOUT_METRIC_NAME == handler.TIMEOUT_METRIC_NAME
    assert endpoint_drain.TIMEOUT_METRIC_DIMENSION == handler.TIMEOUT_METRIC_DIMENSION
    alarm_id = default.logical_id_of("/EndpointDrain/Monitoring/DrainTimeoutAlarm/Resource")
    alarm = default.template["Resources"][alarm_id]["Properties"]
    assert alarm["Namespace"] == handler.TIMEOUT_METRIC_NAMESPACE
    assert alarm["MetricName"] == handler.TIMEOUT_METRIC_NAME
    assert alarm["Dimensions"] == [
        {"Name": handler.TIMEOUT_METRIC_DIMENSION, "Value": {"Ref": "AWS::StackName"}}
    ]
    assert alarm["Threshold"] == 1 and alarm["Statistic"] == "Sum"
    topic = default.logical_id_of("/Monitoring/AlarmTopic/Resource")
    assert alarm["AlarmActions"] == [{"Ref": topic}]
    # Each poll's AWS calls give up well within the function's timeout (a Lambda timeout
    # would fail the Delete).
    for path in ("/EndpointDrain/OnEvent/Resource", "/EndpointDrain/IsComplete/Resource"):
        function = default.template["Resources"][default.logical_id_of(path)]
        assert function["Properties"]["Timeout"] == 180


def test_a_model_change_updates_the_endpoint_in_place(before: Synthesized, tmp_path: Path) -> None:
    # Changing only the model is an UpdateEndpoint SageMaker accepts on a scaled variant,
    # and it keeps the endpoint's queue. The model and the config are replaced under the
    # same logical ids (their names change), and the old ones deleted once the endpoint
    # uses the new ones (UpdateReplacePolicy Delete).
    after = synthesize({"hf_model_id": "distilbert/distilbert-base-uncased"}, tmp_path)
    for resource_type in GENERATION_TYPES:
        assert _ids(before, resource_type) == _ids(after, resource_type), resource_type
    assert _generation(before) == _generation(after)


@pytest.fixture(scope="module")
def named(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(
        {**CONFIGURATIONS["default"], "endpoint_name": "sentiment"},
        tmp_path_factory.mktemp("cdk-named"),
    )


@pytest.fixture(scope="module")
def renamed(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(
        {**CONFIGURATIONS["default"], "endpoint_name": "sentiment-v2"},
        tmp_path_factory.mktemp("cdk-renamed"),
    )


def _assert_drained_into_a_new_generation(old: Synthesized, new: Synthesized) -> None:
    """Nothing of the old generation is in the new template: CloudFormation creates the
    new one beside it and the old one's drain deletes it after the update."""
    old_resources, new_resources = _generation_resources(old), _generation_resources(new)
    assert _generation(old) != _generation(new)
    assert not set(old_resources) & set(new_resources)
    assert set(GENERATION_TYPES) <= set(old_resources.values())
    assert set(GENERATION_TYPES) <= set(new_resources.values())


def test_setting_the_endpoint_name_drains_the_generated_name_generation(
    before: Synthesized, named: Synthesized
) -> None:
    # EndpointName is create-only: under the same logical id, a name would replace the
    # endpoint, and delete its queue, with no drain. A set name is part of the generation.
    _assert_drained_into_a_new_generation(before, named)
    _, endpoint = named.only("AWS::SageMaker::Endpoint")
    assert endpoint["Properties"]["EndpointName"] == f"sentiment-{_generation(named)}"
    # The old generation's log retention stays until its drain is done.
    retention = before.logical_id_matching(r"/Logs[0-9a-f]{8}/Retention/Resource$")
    assert retention in _depends_on(_drain(before))
    assert retention not in named.template["Resources"]


def test_renaming_the_endpoint_drains_the_old_name_with_its_own_grants(
    named: Synthesized, renamed: Synthesized
) -> None:
    _assert_drained_into_a_new_generation(named, renamed)
    # The old generation keeps what its drain and its draining endpoint need, under the
    # old name, in resources of its own: they leave the stack only after the drain.
    _, old_endpoint = named.only("AWS::SageMaker::Endpoint")
    old_name = old_endpoint["Properties"]["EndpointName"]
    old_logs = named.resources("AWS::Logs::LogGroup")[
        named.logical_id_matching(r"/Logs[0-9a-f]{8}/Group/Resource$")
    ]
    assert old_logs["Properties"]["LogGroupName"] == f"/aws/sagemaker/Endpoints/{old_name}"
    old_grants = {
        named.logical_id_matching(r"/Logs[0-9a-f]{8}/Group/Resource$"),
        named.logical_id_matching(r"/Logs[0-9a-f]{8}/WriteLogs/Resource$"),
        named.logical_id_matching(r"/DrainEndpoint[0-9a-f]{8}Access/Resource$"),
    }
    assert old_grants <= _depends_on(_drain(named))
    assert not old_grants & set(renamed.template["Resources"])


def test_unsetting_the_endpoint_name_drains_the_named_generation(
    named: Synthesized, before: Synthesized
) -> None:
    _assert_drained_into_a_new_generation(named, before)
    _, endpoint = before.only("AWS::SageMaker::Endpoint")
    assert "EndpointName" not in endpoint["Properties"]


def test_named_endpoints_get_a_name_per_generation(synthesized: Getter, tmp_path: Path) -> None:
    gpu = synthesized("gpu")
    other = synthesize({**CONFIGURATIONS["gpu"], "instance_type": "ml.g6.xlarge"}, tmp_path)

    def name(synth: Synthesized) -> str:
        _, endpoint = synth.only("AWS::SageMaker::Endpoint")
        return str(endpoint["Properties"]["EndpointName"])

    # Both exist at once while the old one drains, so they cannot share a name.
    assert name(gpu).startswith("sentiment-gpu-") and name(other).startswith("sentiment-gpu-")
    assert name(gpu) != name(other)
    assert len(name(gpu)) == len("sentiment-gpu-") + 8


# --- Upgrading a stack deployed from main --------------------------------------------------

# The revision whose snapshots are the templates deployed before this version: main with the
# runtime, the articles and the job API (e1e50df). What each configuration deployed there,
# read from its snapshot (test_the_recorded_deployment_is_the_snapshot_at_the_base holds
# this record to it): per endpoint, its logical id and EndpointName (None: CloudFormation
# generated the name); the drains and scalable targets by logical id; the ids of the
# endpoint configs and models, which this version carries the generation in.
UPGRADE_BASE = "e1e50df"
DEPLOYED_AT_BASE: dict[str, dict[str, dict[str, str | None]]] = {
    "default": {
        "AWS::SageMaker::Endpoint": {"EndpointGenerationc8426549AFD48DC8": None},
        "Custom::EndpointDrain": {"DrainEndpointc8426549": None},
        "AWS::ApplicationAutoScaling::ScalableTarget": {"Scalingc8426549TargetDA3A9096": None},
        "AWS::SageMaker::EndpointConfig": {"EndpointConfig24AD0A28": None},
        "AWS::SageMaker::Model": {"Model0301700E": None},
    },
    "multi": {
        "AWS::SageMaker::Endpoint": {
            "EndpointGenerationc8426549AFD48DC8": None,
            "tabularEndpointGeneration305935ca9F3E0257": None,
        },
        "Custom::EndpointDrain": {
            "DrainEndpointc8426549": None,
            "tabularDrainEndpoint305935ca0D5F567C": None,
        },
        "AWS::ApplicationAutoScaling::ScalableTarget": {
            "Scalingc8426549TargetDA3A9096": None,
            "tabularScaling305935caTarget7B159257": None,
        },
        "AWS::SageMaker::EndpointConfig": {
            "EndpointConfig24AD0A28": None,
            "tabularEndpointConfig961D834C": None,
        },
        "AWS::SageMaker::Model": {"Model0301700E": None, "tabularModel6E7D90E8": None},
    },
    "gpu": {
        "AWS::SageMaker::Endpoint": {
            "EndpointGenerationded13723585AA2EB": "sentiment-gpu-ded13723"
        },
        "Custom::EndpointDrain": {"DrainEndpointded13723": None},
        "AWS::ApplicationAutoScaling::ScalableTarget": {"Scalingded13723TargetA4A2458C": None},
        "AWS::SageMaker::EndpointConfig": {"EndpointConfig24AD0A28": None},
        "AWS::SageMaker::Model": {"Model0301700E": None},
    },
}
KEPT_ON_UPGRADE = (
    "AWS::SageMaker::Endpoint",
    "Custom::EndpointDrain",
    "AWS::ApplicationAutoScaling::ScalableTarget",
)


def _deployed(template: dict[str, Any], resource_type: str) -> dict[str, str | None]:
    return {
        logical_id: resource.get("Properties", {}).get("EndpointName")
        if resource_type == "AWS::SageMaker::Endpoint"
        else None
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def test_the_recorded_deployment_is_the_snapshot_at_the_base() -> None:
    for configuration, deployed in DEPLOYED_AT_BASE.items():
        snapshot = snapshot_at(UPGRADE_BASE, configuration)
        if snapshot is None:
            pytest.skip(f"{UPGRADE_BASE} is not in this clone's history (a shallow clone)")
        for resource_type, record in deployed.items():
            assert _deployed(snapshot, resource_type) == record, (configuration, resource_type)


def test_a_generation_without_a_name_keeps_the_digest_deployed_before_names_counted() -> None:
    # The identity of an unnamed endpoint is {"variant", "instanceTypes"}, as at the base.
    assert endpoint_generation(("ml.m5.xlarge",), None) == "c8426549"
    assert endpoint_generation(("ml.c5.xlarge",), None) == "305935ca"
    assert endpoint_generation(("ml.g5.xlarge",), "sentiment-gpu") != "ded13723"


@pytest.mark.parametrize("configuration", ["default", "multi"])
def test_upgrading_updates_every_endpoint_in_place_under_its_name(
    synthesized: Getter, configuration: str
) -> None:
    # Same logical id and no EndpointName where the base had none: CloudFormation updates
    # each endpoint (UpdateEndpoint to its new config, which SageMaker allows on an
    # autoscaled variant whose instance types are unchanged: SageMaker Developer Guide,
    # "Update endpoints that use auto scaling") and never replaces it; its
    # CloudFormation-generated name, which clients hold, stays.
    synth = synthesized(configuration)
    deployed = DEPLOYED_AT_BASE[configuration]
    for resource_type in KEPT_ON_UPGRADE:
        assert _deployed(synth.template, resource_type) == deployed[resource_type], resource_type
    for endpoint_id in deployed["AWS::SageMaker::Endpoint"]:
        endpoint = synth.template["Resources"][endpoint_id]
        assert set(endpoint["Properties"]) == {"EndpointConfigName", "RetainAllVariantProperties"}
        # The updatable property that changes: the config, now under the generation's id.
        (config_id, _) = endpoint["Properties"]["EndpointConfigName"]["Fn::GetAtt"]
        assert config_id not in deployed["AWS::SageMaker::EndpointConfig"]
    # Issue 23's one id change: configs and models carry the generation, so an old
    # generation never loses its config to a replacement while it drains.
    for resource_type in ("AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Model"):
        assert not set(deployed[resource_type]) & set(synth.resources(resource_type))


def test_upgrading_a_named_endpoint_drains_it_into_a_new_generation(synthesized: Getter) -> None:
    # A set endpoint_name is part of the generation now, so the one deployed at the base
    # (named `<endpoint_name>-<digest of its instance types>`) is drained and replaced once
    # (docs/updates.md, "Upgrading"); its drain, deployed at the base, only waits for the
    # queue and lets CloudFormation delete it.
    synth = synthesized("gpu")
    for resource_type in KEPT_ON_UPGRADE:
        old = DEPLOYED_AT_BASE["gpu"][resource_type]
        assert not set(old) & set(synth.resources(resource_type)), resource_type
    # The drain deployed at the base polls the old endpoint with this version's code and
    # role: DescribeEndpoint must cover a name this template does not know.
    default_policy = synth.template["Resources"][
        synth.logical_id_of("/EndpointDrain/Role/DefaultPolicy/Resource")
    ]
    (describe,) = [
        s
        for s in default_policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "DescribeEndpoints"
    ]
    assert describe["Resource"]["Fn::Join"][1][-1] == ":endpoint/*"
    # The execution role keeps its logical id: the old endpoint runs under it while it
    # drains.
    assert "ExecutionRole829ADBFF" in synth.template["Resources"]


# What deployed stacks hold data or deliveries in, by the logical ids they were deployed
# with: a construct moved in the tree must keep these, or an update replaces the resource
# (a new, empty queue or table; a re-created subscription, which SNS treats as the same one
# and the deletion of the old one then removes; a second event source mapping on the same
# queue and function, which Lambda refuses).
DEPLOYED_LOGICAL_IDS = {
    "AWS::KMS::Key": {"KeysDataKey8F3FE3A4", "KeysNotificationsKeyF628B47E"},
    "AWS::S3::Bucket": {
        "PayloadsAccessLogs1CFA2538",
        "PayloadsInput4C942ECE",
        "PayloadsOutput2DA24BAC",
    },
    "AWS::SNS::Topic": {
        "NotificationsSuccessTopic8BA6593D",
        "NotificationsErrorTopic4155E3BB",
        "MonitoringAlarmTopicAF62D4F1",
    },
    # The webhooks' queues, subscriptions, mappings, log groups and signing secret (issue
    # 21) keep theirs as well: a new secret would be a new key every receiver must learn.
    "AWS::SQS::Queue": {
        "ResultsWriterQueue86D92AC4",
        "ResultsWriterDeadLetterQueueA7BEFE3E",
        "WebhooksNotificationsQueue5E36BC8F",
        "WebhooksNotificationsDeadLetterQueue5172D9EC",
        "WebhooksDeliveryQueueAF018C07",
        "WebhooksDeliveryDeadLetterQueue5577D6B7",
    },
    "AWS::SQS::QueuePolicy": {
        "ResultsWriterQueuePolicyC882679B",
        "ResultsWriterDeadLetterQueuePolicy32F9CBE7",
        "WebhooksNotificationsQueuePolicy1A2C4E84",
        "WebhooksNotificationsDeadLetterQueuePolicyF434E4C7",
        "WebhooksDeliveryQueuePolicy6AFAC29D",
        "WebhooksDeliveryDeadLetterQueuePolicy3938E1B5",
    },
    "AWS::SNS::Subscription": {
        "ResultsWriterQueueSageMakerAsyncInferenceNotificationsSuccessTopic47FC1DC7FCE59B80",
        "ResultsWriterQueueSageMakerAsyncInferenceNotificationsErrorTopic29E1F66A713B6FFE",
        "WebhooksNotificationsQueueSageMakerAsyncInferenceNotificationsSuccessTopic47FC1DC762D6A0A3",
        "WebhooksNotificationsQueueSageMakerAsyncInferenceNotificationsErrorTopic29E1F66A13750885",
    },
    "AWS::Lambda::EventSourceMapping": {
        "ResultsWriterFunctionSqsEventSourceSageMakerAsyncInferenceResultsWriterQueue54B5A6747B218EAE",
        "WebhooksDispatcherSqsEventSourceSageMakerAsyncInferenceWebhooksNotificationsQueueB7F25B12A6A3661E",
        "WebhooksDispatcherSqsEventSourceSageMakerAsyncInferenceWebhooksDeliveryQueue63F7E5EA548EB6DE",
    },
    # The job API's jobs table and log groups came with issue 21; they keep theirs too.
    "AWS::DynamoDB::Table": {"ResultsRecords220C5824", "JobApiJobsDDFC45BF"},
    "AWS::Logs::LogGroup": {
        "ResultsWriterLogs98334703",
        "EndpointDrainLogs67ACAF9C",
        "JobApiLogsD29EF726",
        "JobApiAccessLogs71C391F4",
        "WebhooksLogs2491A35F",
        "WebhooksRotationLogs6F76BA33",
    },
    "AWS::SecretsManager::Secret": {"WebhooksSigningSecret5A8B1E17"},
}


@pytest.mark.parametrize("resource_type", sorted(DEPLOYED_LOGICAL_IDS))
def test_stateful_resources_keep_their_deployed_logical_ids(
    before: Synthesized, resource_type: str
) -> None:
    outside_generations = _ids(before, resource_type) - set(_generation_resources(before))
    assert outside_generations == DEPLOYED_LOGICAL_IDS[resource_type]
