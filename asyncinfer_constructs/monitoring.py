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

from asyncinfer_constructs.compliance import acknowledge
from asyncinfer_constructs.endpoint import AsyncEndpoint
from asyncinfer_constructs.notifications import encrypted_topic

FIVE_MINUTES = Duration.minutes(5)
ONE_MINUTE = Duration.minutes(1)
DASHBOARD_WIDGET_WIDTH = 8  # three graphs to a row of 24 columns


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
        endpoint: AsyncEndpoint,
        writer: lambda_.IFunction,
        results_queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        key: kms.IKey,
        alarm_email: str | None,
        oldest_request_alarm_seconds: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarm_topic = encrypted_topic(
            self, "AlarmTopic", display_name="Async inference alarms", key=key
        )
        allow_alarms_to_publish(self.alarm_topic)
        if alarm_email:
            self.alarm_topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
            acknowledge(
                self.alarm_topic,
                "Serverless-SNSRedrivePolicy",
                "The only subscription here is the operator's alarm email; the alarm state "
                "stays in CloudWatch, so an undeliverable email loses no data to redrive.",
            )
        oldest_request = endpoint.metric(
            "ApproximateAgeOfOldestRequest", statistic="Maximum", period=ONE_MINUTE
        )
        # Each alarms when its metric reaches the threshold in one period.
        alarms: dict[str, tuple[str, cloudwatch.IMetric, float]] = {
            "InvocationFailuresAlarm": (
                "The model failed requests (see the failure path and the FAILED records)",
                endpoint.metric_variant("InvocationFailures"),
                1,
            ),
            "NotificationFailuresAlarm": (
                "SageMaker could not publish a notification: results records will be missing",
                endpoint.metric_variant("NotificationFailures"),
                1,
            ),
            "WriterErrorsAlarm": (
                "The results writer raised errors",
                writer.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                1,
            ),
            "DeadLetterQueueAlarm": (
                "Notifications could not be written and wait in the dead-letter queue",
                dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=ONE_MINUTE, statistic="Maximum"
                ),
                1,
            ),
            "OldestRequestAlarm": (
                "A request has waited in the endpoint queue too long",
                oldest_request,
                oldest_request_alarm_seconds,
            ),
        }
        action = cloudwatch_actions.SnsAction(self.alarm_topic)
        created = {
            alarm_id: self._alarm(alarm_id, description, metric, threshold, action)
            for alarm_id, (description, metric, threshold) in alarms.items()
        }
        self.alarms = list(created.values())
        self.dead_letter_queue_alarm = created["DeadLetterQueueAlarm"]

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            default_interval=Duration.hours(3),
            widgets=_dashboard_rows(
                endpoint, oldest_request, writer, results_queue, dead_letter_queue
            ),
        )

    def _alarm(
        self,
        construct_id: str,
        description: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        action: cloudwatch.IAlarmAction,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(action)
        return alarm


def _graph(
    title: str, left: list[cloudwatch.IMetric], right: list[cloudwatch.IMetric] | None = None
) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=left, right=right, width=DASHBOARD_WIDGET_WIDTH)


def _dashboard_rows(
    endpoint: AsyncEndpoint,
    oldest_request: cloudwatch.IMetric,
    writer: lambda_.IFunction,
    results_queue: sqs.IQueue,
    dead_letter_queue: sqs.IQueue,
) -> list[list[cloudwatch.IWidget]]:
    backlog = endpoint.metric("ApproximateBacklogSize", statistic="Average", period=ONE_MINUTE)
    per_instance = endpoint.metric(
        "ApproximateBacklogSizePerInstance", statistic="Average", period=ONE_MINUTE
    )
    # Async endpoints publish no instance-count metric; backlog / backlog-per-instance is
    # the instance count whenever there is a backlog.
    instances = cloudwatch.MathExpression(
        expression="IF(perInstance > 0, backlog / perInstance, 0)",
        using_metrics={"backlog": backlog, "perInstance": per_instance},
        label="Instances (while a backlog exists)",
        period=ONE_MINUTE,
    )
    without_capacity = endpoint.metric(
        "HasBacklogWithoutCapacity", statistic="Maximum", period=ONE_MINUTE
    )

    def variant_sums(*metric_names: str) -> list[cloudwatch.IMetric]:
        return [endpoint.metric_variant(name) for name in metric_names]

    return [
        [
            _graph("Backlog", [backlog, per_instance], [without_capacity]),
            _graph("Instances", [instances]),
            _graph("Oldest queued request (s)", [oldest_request]),
        ],
        [
            _graph(
                "Processing time (ms)",
                [
                    endpoint.metric_variant("TotalProcessingTime", statistic="Average"),
                    endpoint.metric_variant("TimeInBacklog", statistic="Average"),
                ],
            ),
            # Sic: SageMaker spells InvocationsProcesssed with three s.
            _graph(
                "Processed and failed",
                variant_sums("InvocationsProcesssed", "InvocationFailures", "ExpiredRequests"),
            ),
            _graph(
                "Transfer and notification failures",
                variant_sums(
                    "RequestDownloadFailures", "ResponseUploadFailures", "NotificationFailures"
                ),
            ),
        ],
        [
            _graph(
                "Results writer",
                [
                    writer.metric_invocations(period=FIVE_MINUTES),
                    writer.metric_errors(period=FIVE_MINUTES),
                ],
                [writer.metric_duration(period=FIVE_MINUTES, statistic="p95")],
            ),
            _graph(
                "Results queue",
                [
                    results_queue.metric_approximate_number_of_messages_visible(period=ONE_MINUTE),
                    dead_letter_queue.metric_approximate_number_of_messages_visible(
                        period=ONE_MINUTE
                    ),
                ],
                [results_queue.metric_approximate_age_of_oldest_message(period=ONE_MINUTE)],
            ),
        ],
    ]
