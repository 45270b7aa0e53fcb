"""ResultsPipeline on its own: topics -> queue -> writer -> table, consumers, grants."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template

from asyncinfer_constructs import ConfigError, ResultsPipeline, ResultsPipelineProps
from tests.infra.constructs.conftest import StackFactory, own_key, own_topic


def pipeline_in(stack: cdk.Stack, props: ResultsPipelineProps | None = None) -> ResultsPipeline:
    key = own_key(stack, "DataKey")
    topic_key = own_key(stack, "TopicKey")
    return ResultsPipeline(
        stack,
        "Results",
        key=key,
        topic_key=topic_key,
        alarm_topic=own_topic(stack, topic_key),
        removal_policy=cdk.RemovalPolicy.DESTROY,
        props=props,
    )


def inline_function(stack: cdk.Stack, construct_id: str) -> lambda_.Function:
    """A user's own small function, to subscribe as a consumer."""
    return lambda_.Function(
        stack,
        construct_id,
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
    )


def test_both_topics_feed_one_queue_that_the_writer_consumes(new_stack: StackFactory) -> None:
    stack = new_stack()
    pipeline = pipeline_in(stack, ResultsPipelineProps(results_batch_size=50))
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SNS::Topic", 3)  # success, error and the user's own
    template.resource_count_is("AWS::SQS::Queue", 2)
    template.resource_count_is("AWS::DynamoDB::Table", 1)
    subscriptions = template.find_resources(
        "AWS::SNS::Subscription", {"Properties": {"Protocol": "sqs", "RawMessageDelivery": True}}
    )
    assert len(subscriptions) == 2
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"BatchSize": 50, "FunctionResponseTypes": ["ReportBatchItemFailures"]},
    )
    resolved = stack.resolve(pipeline.queue.queue_arn)
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping", {"EventSourceArn": resolved}
    )


def test_its_alarms_notify_the_given_topic(new_stack: StackFactory) -> None:
    stack = new_stack()
    pipeline_in(stack)
    template = Template.from_stack(stack)
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 2
    topic_id = next(
        iter(
            template.find_resources(
                "AWS::SNS::Topic", {"Properties": {"DisplayName": Match.absent()}}
            )
        )
    )
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]


def test_an_extra_queue_consumer_gets_both_topics_raw_and_the_kms_wiring(
    new_stack: StackFactory,
) -> None:
    stack = new_stack()
    pipeline = pipeline_in(stack)
    audit_key = own_key(stack, "AuditKey")
    audit = sqs.Queue(
        stack, "Audit", encryption=sqs.QueueEncryption.KMS, encryption_master_key=audit_key
    )
    pipeline.add_notification_consumer(queue=audit)
    template = Template.from_stack(stack)
    audit_arn = stack.resolve(audit.queue_arn)
    for topic in pipeline.topics:
        template.has_resource_properties(
            "AWS::SNS::Subscription",
            {
                "Protocol": "sqs",
                "Endpoint": audit_arn,
                "RawMessageDelivery": True,
                "TopicArn": stack.resolve(topic.topic_arn),
            },
        )
    # SNS may use the consumer queue's key, on behalf of these topics only.
    key_resource = audit_key.node.default_child
    assert isinstance(key_resource, cdk.CfnElement)
    key_policy = template.to_json()["Resources"][stack.resolve(key_resource.logical_id)]
    statements = key_policy["Properties"]["KeyPolicy"]["Statement"]
    sns_statements = [
        s for s in statements if s.get("Principal") == {"Service": "sns.amazonaws.com"}
    ]
    # One statement per topic, each limited to that topic.
    assert sorted(
        str(s["Condition"]["ArnEquals"]["aws:SourceArn"]) for s in sns_statements
    ) == sorted(str(stack.resolve(topic.topic_arn)) for topic in pipeline.topics)
    for statement in sns_statements:
        assert {"kms:Decrypt", "kms:GenerateDataKey"} <= set(statement["Action"])


def test_an_extra_function_consumer_is_subscribed_and_may_be_invoked_by_sns(
    new_stack: StackFactory,
) -> None:
    stack = new_stack()
    pipeline = pipeline_in(stack)
    notifier = inline_function(stack, "Notifier")
    pipeline.add_notification_consumer(function=notifier)
    template = Template.from_stack(stack)
    assert (
        len(
            template.find_resources(
                "AWS::SNS::Subscription", {"Properties": {"Protocol": "lambda"}}
            )
        )
        == 2
    )
    assert (
        len(
            template.find_resources(
                "AWS::Lambda::Permission", {"Properties": {"Principal": "sns.amazonaws.com"}}
            )
        )
        == 2
    )


def test_a_consumer_is_a_queue_or_a_function_not_both_nor_neither(
    new_stack: StackFactory,
) -> None:
    stack = new_stack()
    pipeline = pipeline_in(stack)
    queue = sqs.Queue(stack, "Q")
    function = inline_function(stack, "F")
    with pytest.raises(ConfigError, match="exactly one of queue or function; received both"):
        pipeline.add_notification_consumer(queue=queue, function=function)
    with pytest.raises(ConfigError, match="exactly one of queue or function; received neither"):
        pipeline.add_notification_consumer()


def test_grants_are_iam_grants_of_exactly_what_they_say(new_stack: StackFactory) -> None:
    stack = new_stack()
    pipeline = pipeline_in(stack)
    reader = iam.Role(stack, "Reader", assumed_by=iam.AccountRootPrincipal())
    writer = iam.Role(stack, "PendingWriter", assumed_by=iam.AccountRootPrincipal())
    read = pipeline.grant_read_records(reader)
    pending = pipeline.grant_write_pending(writer)
    assert isinstance(read, iam.Grant) and read.success
    assert isinstance(pending, iam.Grant) and pending.success
    template = Template.from_stack(stack).to_json()
    policies = {
        r["Properties"]["Roles"][0]["Ref"]: str(r["Properties"]["PolicyDocument"])
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
    }
    reader_policy = next(v for k, v in policies.items() if k.startswith("Reader"))
    writer_policy = next(v for k, v in policies.items() if k.startswith("PendingWriter"))
    assert "dynamodb:Query" in reader_policy and "/index/*" in reader_policy
    assert "dynamodb:PutItem" not in reader_policy and "kms:Decrypt" in reader_policy
    assert "dynamodb:PutItem" in writer_policy and "dynamodb:Query" not in writer_policy


def test_its_metric_is_a_cloudwatch_metric(new_stack: StackFactory) -> None:
    pipeline = pipeline_in(new_stack())
    metric = pipeline.metric_dead_letter_queue_depth()
    assert isinstance(metric, cloudwatch.Metric)
    assert metric.metric_name == "ApproximateNumberOfMessagesVisible"
