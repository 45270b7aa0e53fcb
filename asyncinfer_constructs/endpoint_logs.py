"""One endpoint generation's SageMaker log group, and its execution role's right to write it.

SageMaker writes an endpoint's container logs to `/aws/sagemaker/Endpoints/<EndpointName>`
and keeps them indefinitely unless the group has a retention (SageMaker Developer Guide,
"Log groups and streams that Amazon SageMaker AI sends to Amazon CloudWatch Logs"). The
group is created here, before the endpoint, so that it has the configured retention from
its first line; the write grant is per generation, so a draining old generation keeps it
until the drain has deleted that endpoint, whatever the new generation is named.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from asyncinfer_constructs.compliance import acknowledge
from asyncinfer_constructs.log_groups import set_retention


def endpoint_log_group_name(endpoint_name: str) -> str:
    return f"/aws/sagemaker/Endpoints/{endpoint_name}"


def log_group_arn(scope: Construct, name: str) -> str:
    """`arn:...:log-group:NAME`, without the `:*` that CDK's log_group_arn appends."""
    return Stack.of(scope).format_arn(
        service="logs",
        resource="log-group",
        resource_name=name,
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


class EndpointLogs(Construct):
    """The log group `/aws/sagemaker/Endpoints/<endpoint_name>` ("Group") and the policy
    ("WriteLogs") that lets `role` write to it and to no other."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        role: iam.IRole,
        key: kms.IKey,
        log_retention_days: int,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        name = endpoint_log_group_name(endpoint_name)
        self.log_group = logs.LogGroup(
            self,
            "Group",
            log_group_name=name,
            encryption_key=key,
            removal_policy=removal_policy,
        )
        set_retention(self.log_group, log_retention_days)
        group_arn = log_group_arn(self, name)
        # CloudWatch Logs authorizes CreateLogGroup against the log group's ARN
        # (`log-group:NAME`, no `:*`), and CreateLogStream / PutLogEvents /
        # DescribeLogStreams against `log-group:NAME:*` (which covers its `:log-stream:...`
        # ARNs). Service Authorization Reference, "Actions, resources, and condition keys for
        # Amazon CloudWatch Logs". The group exists before the endpoint, so SageMaker's
        # CreateLogGroup only finds it there; it stays granted so that a missing grant can
        # never be what fails an endpoint's creation.
        self.policy = iam.Policy(
            self,
            "WriteLogs",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="CreateEndpointLogGroup",
                    actions=["logs:CreateLogGroup"],
                    resources=[group_arn],
                ),
                iam.PolicyStatement(
                    sid="WriteEndpointLogs",
                    actions=[
                        "logs:CreateLogStream",
                        "logs:DescribeLogStreams",
                        "logs:PutLogEvents",
                    ],
                    resources=[f"{group_arn}:*"],
                ),
            ],
        )
        acknowledge(
            self.policy,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:"
            f"<AWS::AccountId>:log-group:{name}:*]",
            "SageMaker names an endpoint's log streams per instance at run time; the grant "
            "is limited to this one endpoint generation's own log group.",
        )
