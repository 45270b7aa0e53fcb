"""The update path: what CloudFormation does with the before/after template pair.

SageMaker rejects an UpdateEndpoint that changes the instance type of a variant
registered with Application Auto Scaling, or removes such a variant; changing the model
is allowed (SageMaker Developer Guide, "Update endpoints that use auto scaling"). A
resource whose logical id is gone from the new template is deleted after the update
(CloudFormation User Guide, "Update behaviors of stack resources"), in reverse
dependency order, as in a stack deletion.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import CONFIGURATIONS, Synthesized, synthesize

Getter = Callable[[str], Synthesized]

GENERATION_TYPES = (
    "AWS::SageMaker::Endpoint",
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
    "Custom::EndpointDrain",
)


def _ids(synth: Synthesized, resource_type: str) -> set[str]:
    return set(synth.resources(resource_type))


def _depends_on(resource: dict[str, Any]) -> set[str]:
    depends = resource.get("DependsOn", [])
    return set([depends] if isinstance(depends, str) else depends)


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
        # variant, and its scaling is deregistered only when its endpoint goes.
        assert not old & new, f"{resource_type} {old & new} would be updated in place"
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
    (drain,) = before.resources("Custom::EndpointDrain").values()
    (endpoint_id,) = _ids(before, "AWS::SageMaker::Endpoint")
    assert drain["Properties"]["EndpointName"] == {"Fn::GetAtt": [endpoint_id, "EndpointName"]}
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
    timeout = int(drain["Properties"]["DrainTimeoutSeconds"])
    assert timeout == 50 * 60
    # CloudFormation waits at most an hour for a custom resource: the drain must give up
    # (and keep the endpoint) before CloudFormation does.
    assert int(drain["Properties"]["ServiceTimeout"]) == 3600
    assert timeout < 3600


def test_a_model_change_updates_the_endpoint_in_place(before: Synthesized, tmp_path: Path) -> None:
    # Changing only the model is an UpdateEndpoint SageMaker accepts on a scaled variant,
    # and it keeps the endpoint's queue.
    after = synthesize({"hf_model_id": "distilbert/distilbert-base-uncased"}, tmp_path)
    for resource_type in GENERATION_TYPES:
        assert _ids(before, resource_type) == _ids(after, resource_type), resource_type
    (config_before,) = _ids(before, "AWS::SageMaker::EndpointConfig")
    (config_after,) = _ids(after, "AWS::SageMaker::EndpointConfig")
    assert config_before == config_after  # replaced (new name), endpoint updated to it


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
    assert _ids(before, resource_type) == DEPLOYED_LOGICAL_IDS[resource_type]
