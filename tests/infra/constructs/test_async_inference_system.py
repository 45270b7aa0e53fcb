"""AsyncInferenceSystem in a user's own stack: several endpoints on one pipeline, your own
key, buckets and alarm topic, grants, metrics and the client's outputs."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match, Template

from app import add_compliance_checks
from asyncinfer_constructs import (
    AsyncInferenceSystem,
    AsyncInferenceSystemProps,
    ConfigError,
    InferenceEndpointProps,
)
from tests.infra.constructs.conftest import StackFactory, own_key, own_topic

TABULAR = InferenceEndpointProps(
    model_source="container",
    image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/tabular:1",
    instance_type="ml.c5.xlarge",
    max_capacity=4,
)


def two_endpoints(stack: cdk.Stack, **resources: object) -> AsyncInferenceSystem:
    system = AsyncInferenceSystem(stack, "Inference", **resources)  # type: ignore[arg-type]
    system.add_endpoint("sentiment", InferenceEndpointProps(instance_type="ml.g5.xlarge"))
    system.add_endpoint("tabular", TABULAR)
    return system


def test_two_endpoints_share_one_pipeline_table_and_alarm_topic(new_stack: StackFactory) -> None:
    stack = new_stack()
    system = two_endpoints(stack)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SageMaker::Endpoint", 2)
    template.resource_count_is("AWS::SageMaker::EndpointConfig", 2)
    template.resource_count_is("AWS::DynamoDB::Table", 1)
    template.resource_count_is("AWS::Lambda::EventSourceMapping", 1)
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    # Every endpoint announces on the same two topics.
    topics = [stack.resolve(t.topic_arn) for t in system.pipeline.topics]
    for config in template.find_resources("AWS::SageMaker::EndpointConfig").values():
        notification = config["Properties"]["AsyncInferenceConfig"]["OutputConfig"][
            "NotificationConfig"
        ]
        assert [notification["SuccessTopic"], notification["ErrorTopic"]] == topics
    # Every alarm that tells a person, the endpoints', the pipeline's and the drain
    # timeout's, notifies the one alarm topic (the others start scaling policies).
    alarm_topic = stack.resolve(system.alarm_topic.topic_arn)
    actions = [
        a["Properties"]["AlarmActions"]
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
        if "ScaleOutFromZero" not in json.dumps(a["Properties"]["AlarmActions"])
    ]
    assert len(actions) == 2 * 3 + 2 + 1
    assert all(action == [alarm_topic] for action in actions), actions
    # Each endpoint's scaling, drain and role are its own.
    template.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 2)
    template.resource_count_is("Custom::EndpointDrain", 2)
    # One writer and one drain (its two steps and the provider framework's three) for both,
    # and CDK's one log retention function for the endpoints CloudFormation names.
    template.resource_count_is("AWS::Lambda::Function", 7)


def test_each_named_endpoint_has_its_own_dashboard_rows(new_stack: StackFactory) -> None:
    stack = new_stack()
    two_endpoints(stack)
    (dashboard,) = Template.from_stack(stack).find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(stack.resolve(dashboard["Properties"]["DashboardBody"]))
    for title in ("sentiment: Backlog", "tabular: Backlog", "Results writer"):
        assert title in body


def test_your_own_key_and_alarm_topic_replace_the_systems(new_stack: StackFactory) -> None:
    stack = new_stack()
    key = own_key(stack, "PlatformKey")
    topic = own_topic(stack, own_key(stack, "AlarmKey"))
    system = two_endpoints(stack, key=key, alarm_topic=topic)
    assert system.key is key and system.alarm_topic is topic
    template = Template.from_stack(stack)
    # The system's own topic key, plus the user's two.
    template.resource_count_is("AWS::KMS::Key", 3)
    template.resource_count_is("AWS::SNS::Topic", 3)  # success, error, the user's alarms
    key_arn = stack.resolve(key.key_arn)
    template.has_resource_properties(
        "AWS::DynamoDB::Table", {"SSESpecification": {"KMSMasterKeyId": key_arn}}
    )
    for bucket in template.find_resources("AWS::S3::Bucket").values():
        rules = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        if rules[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms":
            assert rules[0]["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == key_arn


def test_an_imported_key_is_used_and_its_policy_needs_are_a_warning(
    new_stack: StackFactory,
) -> None:
    stack = new_stack()
    key = kms.Key.from_key_arn(
        stack,
        "Imported",
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    )
    two_endpoints(stack, key=key)
    Annotations.from_stack(stack).has_warning(
        "/UserStack/Inference/Keys", Match.string_like_regexp("imported.*CloudWatch Logs")
    )


def test_your_own_buckets_are_used_and_acknowledged_by_their_own_arns(
    new_stack: StackFactory,
) -> None:
    stack = new_stack()
    incoming = s3.Bucket.from_bucket_name(stack, "Incoming", "platform-incoming")
    results = s3.Bucket.from_bucket_name(stack, "Results", "platform-results")
    system = two_endpoints(stack, input_bucket=incoming, output_bucket=results)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::S3::Bucket", 0)
    assert system.input_bucket is incoming
    # cdk-nag and the Control Tower rules find nothing unacknowledged (synth raises on a
    # finding): the execution roles' grants on the imported buckets are acknowledged under
    # the ARNs cdk-nag reports, and a user's stack needs no acknowledgement of its own.
    app = cdk.App.of(stack)
    assert isinstance(app, cdk.App)
    add_compliance_checks(app)
    # Template.from_stack above synthesized the app already (without validation): force a
    # new synth, or app.synth() returns that assembly and no plugin runs.
    assembly = app.synth(force=True)
    report = json.loads(Path(assembly.directory, "validation-report.json").read_text())
    plugins = {plugin["pluginName"]: plugin for plugin in report["pluginReports"]}
    assert {"AwsSolutions", "Serverless", "cdk-validator-cfnguard"} <= set(plugins)
    assert all(plugin["violations"] == [] for plugin in plugins.values())


def test_a_created_bucket_setting_beside_your_own_buckets_is_refused(
    new_stack: StackFactory,
) -> None:
    stack = new_stack()
    with pytest.raises(ConfigError, match="Setting 'data_retention_days' applies only to buckets"):
        AsyncInferenceSystem(
            stack,
            "Inference",
            props=AsyncInferenceSystemProps(data_retention_days=7),
            input_bucket=s3.Bucket.from_bucket_name(stack, "In", "platform-in"),
            output_bucket=s3.Bucket.from_bucket_name(stack, "Out", "platform-out"),
        )


def test_an_alarm_email_beside_your_own_alarm_topic_is_refused(new_stack: StackFactory) -> None:
    stack = new_stack()
    with pytest.raises(ConfigError, match="Setting 'alarm_email' applies only to the alarm topic"):
        AsyncInferenceSystem(
            stack,
            "Inference",
            props=AsyncInferenceSystemProps(alarm_email="ops@example.com"),
            alarm_topic=own_topic(stack, own_key(stack)),
        )


def test_one_created_key_for_both_data_and_topics_is_refused(new_stack: StackFactory) -> None:
    stack = new_stack()
    key = own_key(stack)
    with pytest.raises(ConfigError, match="Setting 'topic_key' must be another key"):
        AsyncInferenceSystem(stack, "Inference", key=key, topic_key=key)


@pytest.mark.parametrize(
    ("name", "message"),
    [("Sentiment", "must be 1-31 lower-case"), ("sentiment", "is already used in this system")],
)
def test_endpoint_names_are_checked(new_stack: StackFactory, name: str, message: str) -> None:
    system = AsyncInferenceSystem(new_stack(), "Inference")
    system.add_endpoint("sentiment")
    with pytest.raises(ConfigError, match=message):
        system.add_endpoint(name)


def test_submit_grant_covers_invoke_upload_pending_write_and_key(new_stack: StackFactory) -> None:
    stack = new_stack()
    system = two_endpoints(stack)
    submitter = iam.Role(stack, "Submitter", assumed_by=iam.AccountRootPrincipal())
    reader = iam.Role(stack, "ResultReader", assumed_by=iam.AccountRootPrincipal())
    grant = system.endpoint("tabular").grant_submit(submitter)
    read = system.grant_read_results(reader)
    assert isinstance(grant, iam.Grant) and grant.success and isinstance(read, iam.Grant)
    policies = Template.from_stack(stack).find_resources("AWS::IAM::Policy")

    def actions_of(role_prefix: str) -> dict[str, list[object]]:
        (policy,) = [
            p
            for p in policies.values()
            if p["Properties"]["Roles"][0]["Ref"].startswith(role_prefix)
        ]
        found: dict[str, list[object]] = {}
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            for action in (
                [statement["Action"]]
                if isinstance(statement["Action"], str)
                else statement["Action"]
            ):
                found.setdefault(action, []).append(statement["Resource"])
        return found

    submit = actions_of("Submitter")
    tabular = system.endpoint("tabular").endpoint_arn
    assert submit["sagemaker:InvokeEndpointAsync"] == [stack.resolve(tabular)]
    assert "s3:PutObject" in submit and "dynamodb:PutItem" in submit
    assert "kms:GenerateDataKey" in submit
    assert "s3:GetObject" not in submit and "dynamodb:Query" not in submit
    read_actions = actions_of("ResultReader")
    assert {"s3:GetObject", "dynamodb:Query", "dynamodb:GetItem", "kms:Decrypt"} <= set(
        read_actions
    )
    assert "sagemaker:InvokeEndpointAsync" not in read_actions


def test_endpoint_metrics_are_cloudwatch_metrics_of_that_endpoint(new_stack: StackFactory) -> None:
    stack = new_stack()
    system = two_endpoints(stack)
    tabular = system.endpoint("tabular")
    names = {
        tabular.metric_backlog(): "ApproximateBacklogSize",
        tabular.metric_backlog_without_capacity(): "HasBacklogWithoutCapacity",
        tabular.metric_age_of_oldest_request(): "ApproximateAgeOfOldestRequest",
        tabular.metric_failures(): "InvocationFailures",
    }
    for metric, name in names.items():
        assert isinstance(metric, cloudwatch.Metric)
        assert metric.metric_name == name and metric.namespace == "AWS/SageMaker"
        assert metric.dimensions is not None
        assert stack.resolve(metric.dimensions["EndpointName"]) == stack.resolve(
            tabular.endpoint_name
        )


def test_client_outputs_map_each_endpoint(new_stack: StackFactory) -> None:
    stack = new_stack()
    system = two_endpoints(stack)
    system.add_client_outputs()
    outputs = Template.from_stack(stack).to_json()["Outputs"]
    assert {"EndpointName", "Endpoints", "InputBucketName", "ResultsTableName"} <= set(outputs)
    endpoints = json.dumps(outputs["Endpoints"]["Value"])
    assert '\\"sentiment\\"' in endpoints and '\\"tabular\\"' in endpoints


def test_an_endpoint_added_after_the_outputs_fails_synth(new_stack: StackFactory) -> None:
    stack = new_stack()
    system = AsyncInferenceSystem(stack, "Inference")
    system.add_endpoint("first")
    system.add_client_outputs()
    system.add_endpoint("late")
    with pytest.raises(Exception, match="add_client_outputs ran before endpoint"):
        cdk.App.of(stack).synth()  # type: ignore[union-attr]


def test_no_warning_for_the_systems_own_keys(new_stack: StackFactory) -> None:
    stack = new_stack()
    two_endpoints(stack)
    assert (
        Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("imported")) == []
    )
