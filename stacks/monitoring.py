"""Alarms on everything that loses or delays results, and one dashboard of the flow."""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.autoscaling import NAMESPACE, endpoint_metric
from stacks.compliance import acknowledge
from stacks.config import Settings
from stacks.endpoint import VARIANT_NAME

FIVE_MINUTES = Duration.minutes(5)
ONE_MINUTE = Duration.minutes(1)


def variant_metric(
    endpoint_name: str, metric_name: str, *, statistic: str = "Sum"
) -> cloudwatch.Metric:
    """A per-variant async-inference metric (EndpointName + VariantName dimensions)."""
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"EndpointName": endpoint_name, "VariantName": VARIANT_NAME},
        statistic=statistic,
        period=FIVE_MINUTES,
    )


def allow_alarms_to_publish(topic: sns.Topic) -> None:
    """Let this account's CloudWatch alarms publish to `topic`.

    A topic policy replaces SNS's default access policy, and `enforce_ssl` creates one
    holding only a Deny on non-TLS publishing: without this Allow, every alarm action
    fails to publish (AWS Knowledge Center, "Why didn't I receive an SNS notification
    for my CloudWatch alarm trigger?"). The conditions keep other accounts' alarms out
    (SNS Developer Guide, "Example cases for Amazon SNS access control": aws:SourceArn /
    aws:SourceAccount for service principals, against the confused deputy).
    """
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchAlarmsOfThisAccount",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                "ArnLike": {
                    "aws:SourceArn": (
                        f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"
                    )
                },
            },
        )
    )


class Monitoring(Construct):
    """An encrypted alarm topic, the alarms that matter, and the dashboard."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        endpoint_name: str,
        writer: lambda_.IFunction,
        results_queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarm_topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name="Async inference alarms",
            master_key=key,
            enforce_ssl=True,
        )
        allow_alarms_to_publish(self.alarm_topic)
        if settings.alarm_email:
            email = subscriptions.EmailSubscription(settings.alarm_email)
            self.alarm_topic.add_subscription(email)
            acknowledge(
                self.alarm_topic,
                "Serverless-SNSRedrivePolicy",
                "The only subscription here is the operator's alarm email; the alarm state "
                "stays in CloudWatch, so an undeliverable email loses no data to redrive.",
            )
        alarm_action = cloudwatch_actions.SnsAction(self.alarm_topic)
        at_least_one = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD

        def alarm(
            construct_id: str, description: str, metric: cloudwatch.IMetric, threshold: float
        ) -> cloudwatch.Alarm:
            created = cloudwatch.Alarm(
                self,
                construct_id,
                alarm_description=description,
                metric=metric,
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=at_least_one,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            created.add_alarm_action(alarm_action)
            return created

        self.dead_letter_queue_alarm = alarm(
            "DeadLetterQueueAlarm",
            "Notifications could not be written and wait in the dead-letter queue",
            dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=ONE_MINUTE, statistic="Maximum"
            ),
            1,
        )
        self.alarms = [
            alarm(
                "InvocationFailuresAlarm",
                "The model failed requests (see the failure path and the FAILED records)",
                variant_metric(endpoint_name, "InvocationFailures"),
                1,
            ),
            alarm(
                "NotificationFailuresAlarm",
                "SageMaker could not publish a notification: results records will be missing",
                variant_metric(endpoint_name, "NotificationFailures"),
                1,
            ),
            alarm(
                "WriterErrorsAlarm",
                "The results writer raised errors",
                writer.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                1,
            ),
            self.dead_letter_queue_alarm,
            alarm(
                "OldestRequestAlarm",
                "A request has waited in the endpoint queue too long",
                endpoint_metric(
                    endpoint_name,
                    "ApproximateAgeOfOldestRequest",
                    statistic="Maximum",
                    period=ONE_MINUTE,
                ),
                settings.oldest_request_alarm_seconds,
            ),
        ]

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            default_interval=Duration.hours(3),
            widgets=_dashboard_rows(endpoint_name, writer, results_queue, dead_letter_queue),
        )


def _dashboard_rows(
    endpoint_name: str,
    writer: lambda_.IFunction,
    results_queue: sqs.IQueue,
    dead_letter_queue: sqs.IQueue,
) -> list[list[cloudwatch.IWidget]]:
    backlog = endpoint_metric(
        endpoint_name, "ApproximateBacklogSize", statistic="Average", period=ONE_MINUTE
    )
    per_instance = endpoint_metric(
        endpoint_name, "ApproximateBacklogSizePerInstance", statistic="Average", period=ONE_MINUTE
    )
    # Async endpoints publish no instance-count metric; backlog / backlog-per-instance is
    # the instance count whenever there is a backlog.
    instances = cloudwatch.MathExpression(
        expression="IF(perInstance > 0, backlog / perInstance, 0)",
        using_metrics={"backlog": backlog, "perInstance": per_instance},
        label="Instances (while a backlog exists)",
        period=ONE_MINUTE,
    )
    without_capacity = endpoint_metric(
        endpoint_name, "HasBacklogWithoutCapacity", statistic="Maximum", period=ONE_MINUTE
    )
    width = 8
    return [
        [
            cloudwatch.GraphWidget(
                title="Backlog", left=[backlog, per_instance], right=[without_capacity], width=width
            ),
            cloudwatch.GraphWidget(title="Instances", left=[instances], width=width),
            cloudwatch.GraphWidget(
                title="Oldest queued request (s)",
                left=[
                    endpoint_metric(
                        endpoint_name,
                        "ApproximateAgeOfOldestRequest",
                        statistic="Maximum",
                        period=ONE_MINUTE,
                    )
                ],
                width=width,
            ),
        ],
        [
            cloudwatch.GraphWidget(
                title="Processing time (ms)",
                left=[
                    variant_metric(endpoint_name, "TotalProcessingTime", statistic="Average"),
                    variant_metric(endpoint_name, "TimeInBacklog", statistic="Average"),
                ],
                width=width,
            ),
            cloudwatch.GraphWidget(
                title="Processed and failed",
                left=[
                    # Sic: SageMaker spells this metric with three s.
                    variant_metric(endpoint_name, "InvocationsProcesssed"),
                    variant_metric(endpoint_name, "InvocationFailures"),
                    variant_metric(endpoint_name, "ExpiredRequests"),
                ],
                width=width,
            ),
            cloudwatch.GraphWidget(
                title="Transfer and notification failures",
                left=[
                    variant_metric(endpoint_name, "RequestDownloadFailures"),
                    variant_metric(endpoint_name, "ResponseUploadFailures"),
                    variant_metric(endpoint_name, "NotificationFailures"),
                ],
                width=width,
            ),
        ],
        [
            cloudwatch.GraphWidget(
                title="Results writer",
                left=[
                    writer.metric_invocations(period=FIVE_MINUTES),
                    writer.metric_errors(period=FIVE_MINUTES),
                ],
                right=[writer.metric_duration(period=FIVE_MINUTES, statistic="p95")],
                width=width,
            ),
            cloudwatch.GraphWidget(
                title="Results queue",
                left=[
                    results_queue.metric_approximate_number_of_messages_visible(period=ONE_MINUTE),
                    dead_letter_queue.metric_approximate_number_of_messages_visible(
                        period=ONE_MINUTE
                    ),
                ],
                right=[results_queue.metric_approximate_age_of_oldest_message(period=ONE_MINUTE)],
                width=width,
            ),
        ],
    ]
