"""Each endpoint generation's SageMaker log group: its retention, and who may write it.

SageMaker writes an endpoint's container logs to `/aws/sagemaker/Endpoints/<EndpointName>`
and keeps them indefinitely unless the group has a retention (SageMaker Developer Guide,
"Log groups and streams that Amazon SageMaker AI sends to Amazon CloudWatch Logs").

- A generation named in the template (`endpoint_name` set) gets the group created here,
  before the endpoint, with the retention from its first line (`EndpointLogGroup`), and a
  write grant of its own on that group alone, kept until its drain has deleted it.
- A generation whose name CloudFormation generates has no name before it exists, and its
  instances log from their first minute, so SageMaker creates the group under the
  execution role's grant on `/aws/sagemaker/Endpoints/*` (`endpoint_log_statements`, in
  the role's policy); the retention is put on the group as soon as the endpoint exists
  (`EndpointLogRetention`). A retention applies to the events already in the group
  (CloudWatch Logs API Reference, PutRetentionPolicy), so the minutes before it are kept
  `log_retention_days` too.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, CfnResource, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct, IConstruct

from asyncinfer_constructs.compliance import (
    acknowledge,
    acknowledge_guard,
    ignore_cfn_lint,
    skip_checkov,
)
from asyncinfer_constructs.log_groups import set_retention

# Where SageMaker writes every endpoint's logs: the execution role's grant for generations
# named by CloudFormation (a name this template cannot know before the endpoint exists).
EVERY_ENDPOINT_LOG_GROUP = "/aws/sagemaker/Endpoints/*"
# The construct id CDK gives its one log retention function per stack (aws-cdk-lib,
# aws-logs LogRetention: ensureSingletonLogRetentionFunction).
LOG_RETENTION_FUNCTION_ID = "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a"


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


def endpoint_log_statements(scope: Construct, group_name: str) -> list[iam.PolicyStatement]:
    """Create the log group `group_name` (a name or a `*` pattern) and write its streams.

    CloudWatch Logs authorizes CreateLogGroup against the log group's ARN (`log-group:NAME`,
    no `:*`), and CreateLogStream / PutLogEvents / DescribeLogStreams against
    `log-group:NAME:*` (which covers its `:log-stream:...` ARNs). Service Authorization
    Reference, "Actions, resources, and condition keys for Amazon CloudWatch Logs".
    """
    group_arn = log_group_arn(scope, group_name)
    return [
        iam.PolicyStatement(
            sid="CreateEndpointLogGroup",
            actions=["logs:CreateLogGroup"],
            resources=[group_arn],
        ),
        iam.PolicyStatement(
            sid="WriteEndpointLogs",
            actions=["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            resources=[f"{group_arn}:*"],
        ),
    ]


def acknowledge_log_streams(policy: IConstruct, group_name: str, whose: str) -> None:
    acknowledge(
        policy,
        f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:"
        f"<AWS::AccountId>:log-group:{group_name}:*]",
        f"SageMaker names an endpoint's log streams per instance at run time; the grant "
        f"is limited to {whose}.",
    )


class EndpointLogGroup(Construct):
    """A named generation's log group ("Group"), created before its endpoint with the
    retention, and the policy ("WriteLogs") that lets `role` write to it and to no other."""

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
        # The group exists before the endpoint, so SageMaker's CreateLogGroup only finds
        # it there; it stays granted so that a missing grant can never be what fails an
        # endpoint's creation.
        self.policy = iam.Policy(
            self, "WriteLogs", roles=[role], statements=endpoint_log_statements(self, name)
        )
        acknowledge_log_streams(self.policy, name, "this one endpoint generation's own log group")


class EndpointLogRetention(Construct):
    """The retention of a generation whose name CloudFormation generates: CDK's
    LogRetention ("Retention"), a custom resource that creates the group if SageMaker has
    not yet (CreateLogGroup, tolerating ResourceAlreadyExists) and puts the retention
    (PutRetentionPolicy), once `endpoint` exists: it reads the endpoint's name.

    It leaves the group in place when it is deleted: a timed-out drain leaves its endpoint
    running (docs/updates.md), and a group deleted under a running endpoint would be
    created again by SageMaker without a retention.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint: sagemaker.CfnEndpoint,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        first_in_stack = stack.node.try_find_child(LOG_RETENTION_FUNCTION_ID) is None
        self.retention = logs.LogRetention(
            self,
            "Retention",
            log_group_name=endpoint_log_group_name(endpoint.attr_endpoint_name),
            # Replaced below: RetentionDays is an enum of names, and the validated day
            # count goes on the custom resource as the handler reads it.
            retention=logs.RetentionDays.ONE_DAY,
            removal_policy=RemovalPolicy.RETAIN,
        )
        resource = self.retention.node.default_child
        assert isinstance(resource, CfnResource)
        resource.add_property_override("RetentionInDays", log_retention_days)
        if first_in_stack:
            _acknowledge_log_retention_function(stack.node.find_child(LOG_RETENTION_FUNCTION_ID))


def _acknowledge_log_retention_function(provider: IConstruct) -> None:
    """Findings on CDK's log retention function (Node.js, its own role), which this project
    does not write and whose role and settings the LogRetention construct fixes."""
    function = provider.node.find_child("Resource")
    role = provider.node.find_child("ServiceRole")
    acknowledge(
        role,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
        "AWSLambdaBasicExecutionRole]",
        "CDK's log retention function gets the AWS managed basic execution policy: "
        "logs:CreateLogGroup, CreateLogStream and PutLogEvents, for its own log group and "
        "to create an endpoint's group SageMaker has not created yet; it runs a few "
        "times per deploy.",
    )
    acknowledge(
        role.node.find_child("DefaultPolicy"),
        "AwsSolutions-IAM5[Resource::*]",
        "CDK grants its log retention function logs:PutRetentionPolicy and "
        "DeleteRetentionPolicy on every log group: the endpoints' groups are named by "
        "CloudFormation-generated endpoint names, known only at deploy time.",
    )
    # Not narrowed by an override: the function is the stack's one LogRetention singleton,
    # which other constructs of a user's app may use for their own log groups.
    skip_checkov(
        role.node.find_child("DefaultPolicy"),
        "CKV_AWS_111",
        "CDK's log retention function sets retention on log groups named at deploy time "
        "(CloudFormation-generated endpoint names); the policy is CDK's own, for the "
        "stack's one LogRetention singleton.",
    )
    for check_id, reason in (
        (
            "CKV_AWS_116",
            "Invoked synchronously by CloudFormation for a custom resource, which hears "
            "failures through the response URL; a DLQ holds none.",
        ),
        (
            "CKV_AWS_115",
            "Runs a few times per deploy (one request per endpoint generation); reserved "
            "concurrency would reserve account capacity for no benefit.",
        ),
        (
            "CKV_AWS_117",
            "Calls only the CloudWatch Logs API; a VPC would add NAT or interface endpoints "
            "(standing cost) against the zero-cost-while-idle goal.",
        ),
    ):
        skip_checkov(function, check_id, reason)
    acknowledge_guard(
        function,
        "lambda_inside_vpc_check",
        "CDK's log retention function calls only the CloudWatch Logs API, a few times per "
        "deploy; a VPC would need NAT or interface endpoints, a standing cost on a stack "
        "that costs nothing while idle, and the construct offers no VPC setting.",
    )
    # CDK makes the function DependsOn its role although Role: GetAtt already orders
    # them; the duplicate is harmless and not removable through the construct (W3005).
    ignore_cfn_lint(function, "W3005")
