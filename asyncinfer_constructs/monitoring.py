"""What every alarm and dashboard of the system is built from: the alarm topic, a threshold
alarm, a graph."""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from asyncinfer_constructs.compliance import acknowledge
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


def alarm_topic(
    scope: Construct, construct_id: str, *, key: kms.IKey, email: str | None
) -> sns.Topic:
    """An encrypted topic every alarm notifies, that this account's alarms may publish to,
    with `email` subscribed when given."""
    topic = encrypted_topic(scope, construct_id, display_name="Async inference alarms", key=key)
    allow_alarms_to_publish(topic)
    if email:
        topic.add_subscription(subscriptions.EmailSubscription(email))
        acknowledge(
            topic,
            "Serverless-SNSRedrivePolicy",
            "The only subscription here is the operator's alarm email; the alarm state "
            "stays in CloudWatch, so an undeliverable email loses no data to redrive.",
        )
    return topic


def threshold_alarm(
    scope: Construct,
    construct_id: str,
    description: str,
    metric: cloudwatch.IMetric,
    threshold: float,
    action: cloudwatch.IAlarmAction,
) -> cloudwatch.Alarm:
    """An alarm when `metric` reaches `threshold` in one period; silence is not a breach."""
    alarm = cloudwatch.Alarm(
        scope,
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


def monitoring_alarms(
    scope: Construct,
    alarm_topic: sns.ITopic,
    alarms: dict[str, tuple[str, cloudwatch.IMetric, float]],
) -> list[cloudwatch.Alarm]:
    """A `Monitoring` child of `scope` holding one threshold alarm per entry
    (id: description, metric, threshold), each notifying `alarm_topic`."""
    monitoring = Construct(scope, "Monitoring")
    action = cloudwatch_actions.SnsAction(alarm_topic)
    return [
        threshold_alarm(monitoring, alarm_id, description, metric, threshold, action)
        for alarm_id, (description, metric, threshold) in alarms.items()
    ]


def graph(
    title: str, left: list[cloudwatch.IMetric], right: list[cloudwatch.IMetric] | None = None
) -> cloudwatch.GraphWidget:
    """A dashboard graph a third of a row wide."""
    return cloudwatch.GraphWidget(title=title, left=left, right=right, width=DASHBOARD_WIDGET_WIDTH)
