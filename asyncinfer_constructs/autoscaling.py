"""Scale to zero when idle, and out of zero as soon as a request waits."""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from constructs import Construct

from asyncinfer_constructs.endpoint import VARIANT_NAME, AsyncEndpoint


class ScaleToZero(Construct):
    """Target tracking on backlog per instance, plus a step policy that leaves zero.

    Target tracking alone never starts the first instance: with zero instances the
    backlog per instance is undefined, and the policy only acts once the backlog passes
    the target (minutes, and more than `target` queued requests). The step policy,
    driven by an alarm on HasBacklogWithoutCapacity, adds one instance as soon as a
    single request waits. Application Auto Scaling applies whichever asks for more.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint: AsyncEndpoint,
        min_capacity: int,
        max_capacity: int,
        target_backlog_per_instance: float,
        scale_in_cooldown: Duration,
        scale_out_cooldown: Duration,
        scale_out_from_zero_cooldown: Duration,
        scale_out_from_zero_period: Duration,
        scale_out_from_zero_evaluation_periods: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.target = appscaling.ScalableTarget(
            self,
            "Target",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"endpoint/{endpoint.endpoint_name}/variant/{VARIANT_NAME}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=min_capacity,
            max_capacity=max_capacity,
            # Application Auto Scaling's service-linked role for SageMaker; naming it makes
            # the service create it if the account lacks it. Without a role CDK would
            # create an empty one that cannot change the endpoint's capacity.
            role=iam.Role.from_role_arn(
                self,
                "ServiceLinkedRole",
                f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/aws-service-role/"
                "sagemaker.application-autoscaling.amazonaws.com/"
                "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
            ),
        )
        # The variant must exist before Application Auto Scaling can register it: the
        # resource id's GetAtt on the endpoint name makes CloudFormation wait for it (an
        # extra DependsOn would be redundant; cfn-lint W3005).

        self.target.scale_to_track_metric(
            "BacklogPerInstance",
            target_value=target_backlog_per_instance,
            custom_metric=endpoint.metric(
                "ApproximateBacklogSizePerInstance",
                statistic="Average",
                period=Duration.minutes(1),
            ),
            scale_in_cooldown=scale_in_cooldown,
            scale_out_cooldown=scale_out_cooldown,
        )

        self.scale_out_from_zero = appscaling.StepScalingAction(
            self,
            "ScaleOutFromZero",
            scaling_target=self.target,
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            # For Auto Scaling actions CloudWatch runs the action again every period while
            # the alarm stays in ALARM (CloudWatch User Guide, "Alarm actions"), and
            # HasBacklogWithoutCapacity stays 1 until the first instance is InService.
            # Within the cooldown a repeated +1 counts the capacity already added
            # (Application Auto Scaling API Reference, StepScalingPolicyConfiguration,
            # Cooldown), so the cooldown must outlast a cold start or one request starts a second
            # instance. AWS's async example uses 300 s; the default of 600 s also covers a
            # GPU image pull plus a Hub model download (the HF walkthrough's 7-9 minutes to
            # a first result from zero).
            cooldown=scale_out_from_zero_cooldown,
            metric_aggregation_type=appscaling.MetricAggregationType.AVERAGE,
        )
        # One step: +1 instance whenever the alarm fires (metric - threshold >= 0).
        self.scale_out_from_zero.add_adjustment(adjustment=1, lower_bound=0)

        self.backlog_without_capacity_alarm = cloudwatch.Alarm(
            self,
            "BacklogWithoutCapacityAlarm",
            alarm_description="A request is waiting and the endpoint has no instance: scale out",
            metric=endpoint.metric(
                "HasBacklogWithoutCapacity",
                statistic="Average",
                period=scale_out_from_zero_period,
            ),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=scale_out_from_zero_evaluation_periods,
            datapoints_to_alarm=scale_out_from_zero_evaluation_periods,
            # The metric is only published while the endpoint exists and is queried;
            # silence is "no backlog", never a reason to scale.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.backlog_without_capacity_alarm.add_alarm_action(
            cloudwatch_actions.ApplicationScalingAction(self.scale_out_from_zero)
        )
