"""Drain an endpoint generation's queue before CloudFormation deletes it.

See lambda/endpoint_drain/handler.py for why and how; docs/updates.md for what a user
and a client see while it runs.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, CustomResource, Duration, RemovalPolicy, Stack, custom_resources
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, IConstruct

from asyncinfer_constructs.compliance import acknowledge, ignore_cfn_lint, logical_id, skip_checkov
from asyncinfer_constructs.feature_flags import pin_feature_flags
from asyncinfer_constructs.functions import function_code, log_group_and_role, write_own_logs
from asyncinfer_runtime.environment import LOG_LEVEL

# CloudFormation waits at most an hour for a custom resource to answer
# (AWS::CloudFormation::CustomResource, ServiceTimeout: 1 to 3600 s, default 3600).
CUSTOM_RESOURCE_TIMEOUT = Duration.hours(1)


class EndpointDrainProvider(Construct):
    """One function and custom resource provider serving every endpoint generation.

    It outlives the generations: the provider of the generation being deleted must still
    exist while that generation drains, so nothing here is generation-specific. One per
    stack (`of`) serves every endpoint of every system in it.
    """

    ID = "EndpointDrain"

    @classmethod
    def of(
        cls,
        scope: Construct,
        *,
        key: kms.IKey,
        log_retention_days: int,
        removal_policy: RemovalPolicy,
    ) -> EndpointDrainProvider:
        """The stack's drain provider, created with these settings on first use."""
        stack = Stack.of(scope)
        existing = stack.node.try_find_child(cls.ID)
        if existing is not None:
            assert isinstance(existing, EndpointDrainProvider), f"{cls.ID} is taken"
            return existing
        return cls(
            stack,
            cls.ID,
            key=key,
            log_retention_days=log_retention_days,
            removal_policy=removal_policy,
        )

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        log_retention_days: int,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        # A stack-level singleton, outside the systems' subtrees: it pins the flags itself.
        pin_feature_flags(self)
        self.log_group, self.role = log_group_and_role(
            self,
            role_description="Endpoint drain: read endpoint status and backlog, write its logs",
            key=key,
            log_retention_days=log_retention_days,
            removal_policy=removal_policy,
        )
        # Each endpoint adds its generations' names (allow_endpoints); the statement
        # exists from the start so the policy keeps one statement per job.
        self._describe_endpoints = iam.PolicyStatement(
            sid="DescribeEndpoints", actions=["sagemaker:DescribeEndpoint"]
        )
        self._allowed_patterns: list[str] = []
        self.role.add_to_policy(self._describe_endpoints)
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadBacklogMetric",
                # GetMetricData supports no resource scoping.
                actions=["cloudwatch:GetMetricData"],
                resources=["*"],
            )
        )
        self.role.add_to_policy(write_own_logs(self.log_group))
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="UseDataKey",
                actions=["kms:Decrypt"],
                resources=[key.key_arn],
            )
        )
        code = function_code("endpoint_drain")

        def handler(construct_id: str, entry: str) -> lambda_.Function:
            function = lambda_.Function(
                self,
                construct_id,
                description="Waits until an old endpoint generation's queue is empty",
                runtime=lambda_.Runtime.PYTHON_3_14,
                architecture=lambda_.Architecture.ARM_64,
                role=self.role,
                handler=f"endpoint_drain.handler.{entry}",
                code=code,
                timeout=Duration.seconds(60),
                memory_size=128,
                environment={LOG_LEVEL: "INFO"},
                environment_encryption=key,
                log_group=self.log_group,
                logging_format=lambda_.LoggingFormat.JSON,
            )
            _acknowledge_custom_resource_function(function)
            return function

        on_event = handler("OnEvent", "on_event")
        is_complete = handler("IsComplete", "is_complete")
        self.provider = custom_resources.Provider(
            self,
            "Provider",
            on_event_handler=on_event,
            is_complete_handler=is_complete,
            query_interval=Duration.minutes(1),
            total_timeout=CUSTOM_RESOURCE_TIMEOUT,
            log_group=self.log_group,
            provider_function_env_encryption=key,
        )
        _acknowledge_provider_framework(self.provider, self.role)
        # The framework invokes each handler and the waiter invokes the framework's own
        # functions, by ARN and by version (`<function ARN>:*`), CDK's grant.
        framework = {
            name: self.provider.node.find_child(f"framework-{name}")
            for name in ("onEvent", "isComplete", "onTimeout")
        }
        for function in [on_event, is_complete, *framework.values()]:
            _acknowledge_scanner_findings(function)
        # CDK makes the waiter state machine DependsOn its role although RoleArn: GetAtt
        # already orders them; the duplicate is harmless and not removable here (W3005).
        ignore_cfn_lint(self.provider.node.find_child("waiter-state-machine"), "W3005")
        invoked = [on_event, is_complete, framework["isComplete"], framework["onTimeout"]]
        for function in invoked:
            acknowledge(
                self.provider,
                f"AwsSolutions-IAM5[Resource::<{logical_id(function)}.Arn>:*]",
                "CDK's provider framework grants lambda:InvokeFunction on this one function "
                "and its versions (`:*`), which is how it invokes the drain step handlers.",
            )

    def allow_endpoints(self, endpoint_name_pattern: str) -> None:
        """Let the drain read the endpoints whose names match `endpoint_name_pattern`
        (every generation of one endpoint, old ones included)."""
        if endpoint_name_pattern in self._allowed_patterns:
            return
        self._allowed_patterns.append(endpoint_name_pattern)
        self._describe_endpoints.add_resources(
            Stack.of(self).format_arn(
                service="sagemaker",
                resource="endpoint",
                resource_name=endpoint_name_pattern,
                arn_format=ArnFormat.SLASH_RESOURCE_NAME,
            )
        )
        acknowledge(
            self.role.node.find_child("DefaultPolicy"),
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:"
            f"<AWS::AccountId>:endpoint/{endpoint_name_pattern}]",
            "Each endpoint generation has its own name, and the generation being deleted "
            "must stay readable while it drains; the pattern covers this stack's endpoints.",
        )

    def drain(
        self, scope: Construct, construct_id: str, *, endpoint_name: str, timeout_seconds: int
    ) -> CustomResource:
        """A custom resource whose Delete waits until `endpoint_name`'s queue is empty."""
        return CustomResource(
            scope,
            construct_id,
            service_token=self.provider.service_token,
            resource_type="Custom::EndpointDrain",
            service_timeout=CUSTOM_RESOURCE_TIMEOUT,
            properties={
                "EndpointName": endpoint_name,
                "DrainTimeoutSeconds": str(timeout_seconds),
            },
        )


def _acknowledge_custom_resource_function(function: lambda_.Function) -> None:
    acknowledge(
        function,
        "Serverless-LambdaDLQ",
        "Invoked synchronously by the custom resource provider framework, which reports a "
        "failure to CloudFormation itself; a DLQ only serves asynchronous invocations.",
    )
    acknowledge(
        function,
        "Serverless-LambdaTracing",
        "Runs a few times per stack update (a status read once a minute); its JSON logs "
        "name the endpoint and backlog at every step, which is the trace that matters.",
    )


def _acknowledge_scanner_findings(function: IConstruct) -> None:
    """checkov and cfn-lint findings on the drain's functions and the framework's."""
    skip_checkov(
        function,
        "CKV_AWS_116",
        "Invoked synchronously by CloudFormation or the custom resource provider framework "
        "during stack updates; failures are reported to CloudFormation, a DLQ holds none.",
    )
    skip_checkov(
        function,
        "CKV_AWS_115",
        "Runs only during stack updates, one invocation per minute per draining endpoint; "
        "reserved concurrency would reserve account capacity for no benefit.",
    )
    skip_checkov(
        function,
        "CKV_AWS_117",
        "Reads SageMaker and CloudWatch APIs over TLS with IAM auth; a VPC would add NAT "
        "or interface endpoints (standing cost) against the zero-cost-while-idle goal.",
    )
    # CDK makes each function DependsOn its role although Role: GetAtt already orders
    # them; the duplicate is harmless and not removable through the L2 (W3005).
    ignore_cfn_lint(function, "W3005")


def _acknowledge_provider_framework(provider: IConstruct, role: iam.IRole) -> None:
    # Findings on CDK's own provider framework (its Node.js functions and waiter state
    # machine), which this project does not write and cannot change.
    for rule_id, reason in (
        (
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]",
            "CDK's custom resource provider framework attaches the AWS managed basic "
            "execution policy to its own functions' roles; it is limited to writing logs.",
        ),
        (
            "AwsSolutions-SF1",
            "CDK's provider framework waiter state machine logs errors to the drain log "
            "group; every poll's result is logged by the isComplete handler itself.",
        ),
        (
            "AwsSolutions-L1",
            "The provider framework's functions are CDK's own Node.js handlers; their "
            "runtime is chosen by the pinned aws-cdk-lib, not by this project.",
        ),
        (
            "Serverless-LambdaDLQ",
            "The provider framework's functions are invoked by CloudFormation and its waiter "
            "state machine, which report failures themselves; no asynchronous DLQ applies.",
        ),
        (
            "Serverless-LambdaTracing",
            "X-Ray tracing of CDK's provider framework functions is not configurable "
            "through the Provider construct; they log each step to the drain log group.",
        ),
        (
            "Serverless-StepFunctionStateMachineXray",
            "The provider framework's waiter state machine is CDK's own; it polls the "
            "isComplete handler once a minute and logs to the drain log group.",
        ),
        (
            "AwsSolutions-SF2",
            "X-Ray tracing is not configurable on CDK's provider framework waiter state "
            "machine; its execution history and logs show every poll.",
        ),
        (
            "Serverless-LambdaDefaultMemorySize",
            "The provider framework's functions use CDK's default memory for a few "
            "short calls per stack update; their size is not configurable.",
        ),
    ):
        acknowledge(provider, rule_id, reason)
    acknowledge(
        role.node.find_child("DefaultPolicy"),
        "AwsSolutions-IAM5[Resource::*]",
        "cloudwatch:GetMetricData supports no resource scoping; the drain reads only the "
        "endpoint's ApproximateBacklogSize with it.",
    )
