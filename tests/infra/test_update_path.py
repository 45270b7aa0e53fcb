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
from endpoint_drain import handler
from tests.infra.conftest import CONFIGURATIONS, Synthesized, synthesize

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
    # The old endpoint still logs, and the drain may still delete it, until the drain is
    # gone: the log group, its write grant and the drain's own grant go after it.
    kept_until_drained = {
        before.logical_id_matching(r"/Logs[0-9a-f]{8}/Group/Resource$"),
        before.logical_id_matching(r"/Logs[0-9a-f]{8}/WriteLogs/Resource$"),
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
def after_rename(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(
        {**CONFIGURATIONS["default"], "endpoint_name": "sentiment"},
        tmp_path_factory.mktemp("cdk-rename"),
    )


def test_renaming_the_endpoint_creates_a_new_generation_and_drains_the_old_one(
    before: Synthesized, after_rename: Synthesized
) -> None:
    # EndpointName is create-only: under the same logical id a new name would replace the
    # endpoint, and delete its queue, with no drain. In a new generation the old one is
    # drained like after an instance type change.
    old, new = _generation_resources(before), _generation_resources(after_rename)
    assert not set(old) & set(new)
    assert (
        set(old.values())
        == set(new.values())
        >= {
            *GENERATION_TYPES,
            "AWS::CloudWatch::Alarm",
            "AWS::IAM::Policy",
            "AWS::Logs::LogGroup",
        }
    )
    (new_endpoint,) = after_rename.resources("AWS::SageMaker::Endpoint").values()
    assert new_endpoint["Properties"]["EndpointName"] == f"sentiment-{_generation(after_rename)}"
    # The old generation keeps what its drain and its draining endpoint need, under the
    # old name, in resources of its own: they leave the stack only after the drain.
    (old_endpoint,) = before.resources("AWS::SageMaker::Endpoint").values()
    old_name = old_endpoint["Properties"]["EndpointName"]
    old_logs = before.resources("AWS::Logs::LogGroup")[
        before.logical_id_matching(r"/Logs[0-9a-f]{8}/Group/Resource$")
    ]
    assert old_logs["Properties"]["LogGroupName"] == f"/aws/sagemaker/Endpoints/{old_name}"
    old_grants = {
        before.logical_id_matching(r"/Logs[0-9a-f]{8}/WriteLogs/Resource$"),
        before.logical_id_matching(r"/DrainEndpoint[0-9a-f]{8}Access/Resource$"),
    }
    assert old_grants <= _depends_on(_drain(before))
    assert not old_grants & set(after_rename.template["Resources"])


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


def test_the_first_endpoint_is_named_after_the_stack(default: Synthesized) -> None:
    _, endpoint = default.only("AWS::SageMaker::Endpoint")
    assert endpoint["Properties"]["EndpointName"] == (
        f"SageMakerAsyncInference-{_generation(default)}"
    )


# The endpoint generation of the default stack as deployed before generations were kept by
# CloudFormation and named in the template (main at 063baf7): the first deploy of this
# version creates a new generation (named, with its own config and models) and drains this
# one with the drain deployed then, which waits for the queue and lets CloudFormation
# delete the endpoint, its config and its model (docs/updates.md, "Upgrading").
PREVIOUS_GENERATION = {
    "Custom::EndpointDrain": "DrainEndpointc8426549",
    "AWS::SageMaker::Endpoint": "EndpointGenerationc8426549AFD48DC8",
    "AWS::SageMaker::EndpointConfig": "EndpointConfig24AD0A28",
    "AWS::SageMaker::Model": "Model0301700E",
    "AWS::ApplicationAutoScaling::ScalableTarget": "Scalingc8426549TargetDA3A9096",
}


def test_the_upgrade_replaces_the_previous_generation_and_can_still_read_it(
    before: Synthesized,
) -> None:
    resources = before.template["Resources"]
    for resource_type, logical_id in PREVIOUS_GENERATION.items():
        assert logical_id not in resources, f"{resource_type} {logical_id} would be updated"
        assert _ids(before, resource_type), resource_type
    # The previous drain polls the old endpoint with the new code under the new role
    # policy: DescribeEndpoint must cover a name this template does not know.
    default_policy = resources[before.logical_id_of("/EndpointDrain/Role/DefaultPolicy/Resource")]
    (describe,) = [
        s
        for s in default_policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "DescribeEndpoints"
    ]
    assert describe["Resource"]["Fn::Join"][1][-1] == ":endpoint/*"
    # The execution role keeps the same logical id: the old endpoint runs under it while
    # it drains.
    assert "ExecutionRole829ADBFF" in resources


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
    "AWS::SQS::Queue": {"ResultsWriterQueue86D92AC4", "ResultsWriterDeadLetterQueueA7BEFE3E"},
    "AWS::SQS::QueuePolicy": {
        "ResultsWriterQueuePolicyC882679B",
        "ResultsWriterDeadLetterQueuePolicy32F9CBE7",
    },
    "AWS::SNS::Subscription": {
        "ResultsWriterQueueSageMakerAsyncInferenceNotificationsSuccessTopic47FC1DC7FCE59B80",
        "ResultsWriterQueueSageMakerAsyncInferenceNotificationsErrorTopic29E1F66A713B6FFE",
    },
    "AWS::Lambda::EventSourceMapping": {
        "ResultsWriterFunctionSqsEventSourceSageMakerAsyncInferenceResultsWriterQueue54B5A6747B218EAE"
    },
    # The job API's jobs table and log groups came with issue 21; they keep theirs too.
    "AWS::DynamoDB::Table": {"ResultsRecords220C5824", "JobApiJobsDDFC45BF"},
    "AWS::Logs::LogGroup": {
        "ResultsWriterLogs98334703",
        "EndpointDrainLogs67ACAF9C",
        "JobApiLogsD29EF726",
        "JobApiAccessLogs71C391F4",
    },
}


@pytest.mark.parametrize("resource_type", sorted(DEPLOYED_LOGICAL_IDS))
def test_stateful_resources_keep_their_deployed_logical_ids(
    before: Synthesized, resource_type: str
) -> None:
    outside_generations = _ids(before, resource_type) - set(_generation_resources(before))
    assert outside_generations == DEPLOYED_LOGICAL_IDS[resource_type]
