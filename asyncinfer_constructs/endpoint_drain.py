"""Drain an endpoint generation's queue, then delete the generation, never the other way.

See lambda/endpoint_drain/handler.py for why and how; docs/updates.md for what a user
and a client see while it runs.

CloudFormation gives no way to keep a resource in place when the custom resource in front
of it fails to delete: it tries a failed deletion three times, then removes the resource
from the stack and goes on with the update, deleting what came after it (CloudFormation
User Guide, Troubleshooting, "Resource removed from stack but not deleted"). So the
endpoint, its config and its models are never deleted by CloudFormation outside a
rollback (DeletionPolicy RetainExceptOnCreate: kept, except when the operation that
created them rolls back; CloudFormation Template Reference, DeletionPolicy attribute):
the drain deletes them itself once the queue is empty, and on a timeout leaves them.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import (
    ArnFormat,
    Aws,
    CfnDeletionPolicy,
    CfnResource,
    CustomResource,
    Duration,
    RemovalPolicy,
    Stack,
    custom_resources,
)
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as stepfunctions
from constructs import Construct, IConstruct, IDependable

from asyncinfer_constructs.compliance import (
    acknowledge,
    acknowledge_guard,
    ignore_cfn_lint,
    logical_id,
    skip_checkov,
)
from asyncinfer_constructs.endpoint import AsyncEndpoint
from asyncinfer_constructs.feature_flags import pin_feature_flags
from asyncinfer_constructs.functions import function_code, log_group_and_role, write_own_logs
from asyncinfer_constructs.model import InferenceModel
from asyncinfer_constructs.monitoring import ONE_MINUTE, monitoring_alarms
from asyncinfer_runtime.environment import LOG_LEVEL

# CloudFormation waits at most an hour for a custom resource to answer
# (AWS::CloudFormation::CustomResource, ServiceTimeout: 1 to 3600 s, default 3600).
CUSTOM_RESOURCE_TIMEOUT = Duration.hours(1)
# What the drain publishes when it gives up on a queue (lambda/endpoint_drain/handler.py
# has the same names; tests/infra/test_update_path.py holds them equal).
TIMEOUT_METRIC_NAMESPACE = "AsyncInference/EndpointDrain"
TIMEOUT_METRIC_NAME = "DrainTimeouts"
TIMEOUT_METRIC_DIMENSION = "StackName"
# A poll reads the stack status, the endpoint and the backlog metric, each with botocore's
# standard retries (3 attempts, 5 s to connect, 10 s to read): well within this, so a
# slow AWS answer becomes "not complete" (retried next minute) rather than a Lambda
# timeout, which the provider framework reports as a failed Delete.
HANDLER_TIMEOUT = Duration.minutes(3)


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
        alarm_topic: sns.ITopic,
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
            alarm_topic=alarm_topic,
        )

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        log_retention_days: int,
        removal_policy: RemovalPolicy,
        alarm_topic: sns.ITopic,
    ) -> None:
        """`alarm_topic` hears when a drain gives up and leaves an endpoint in place."""
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
        self.role.add_to_policy(
            iam.PolicyStatement(
                # Read-only. Each generation's drain also gets a policy of its own (drain()),
                # but a generation deployed before those policies existed, under a name
                # CloudFormation generated or a former endpoint_name, is only readable so.
                sid="DescribeEndpoints",
                actions=["sagemaker:DescribeEndpoint"],
                resources=[
                    Stack.of(self).format_arn(
                        service="sagemaker",
                        resource="endpoint",
                        resource_name="*",
                        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                    )
                ],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadBacklogMetric",
                # GetMetricData supports no resource scoping.
                actions=["cloudwatch:GetMetricData"],
                resources=["*"],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReportDrainTimeouts",
                # PutMetricData supports no resource scoping; the namespace condition does.
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": TIMEOUT_METRIC_NAMESPACE}},
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                # A rollback deletes the generation it created itself (RetainExceptOnCreate):
                # the drain reads the stack's status to leave that deletion to CloudFormation.
                sid="ReadOwnStackStatus",
                actions=["cloudformation:DescribeStacks"],
                resources=[Aws.STACK_ID],
            )
        )
        acknowledge(
            self.role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:"
            "<AWS::AccountId>:endpoint/*]",
            "Read-only DescribeEndpoint: a generation deployed before the per-generation drain "
            "policies has a name this template no longer knows (generated by CloudFormation, "
            "or a former endpoint_name) and must stay readable while it drains.",
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
                timeout=HANDLER_TIMEOUT,
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
            # Every state of every poll, in the drain's own log group (the Provider turns
            # the waiter's logging off unless asked).
            disable_waiter_state_machine_logging=False,
            waiter_state_machine_log_options=custom_resources.LogOptions(
                destination=self.log_group, level=stepfunctions.LogLevel.ALL
            ),
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
        (self.timeout_alarm,) = monitoring_alarms(
            self,
            alarm_topic,
            {
                "DrainTimeoutAlarm": (
                    "An old endpoint generation still had queued requests when its drain timed "
                    "out: it was left in place, outside the stack (docs/updates.md)",
                    cloudwatch.Metric(
                        namespace=TIMEOUT_METRIC_NAMESPACE,
                        metric_name=TIMEOUT_METRIC_NAME,
                        dimensions_map={TIMEOUT_METRIC_DIMENSION: Aws.STACK_NAME},
                        statistic="Sum",
                        period=ONE_MINUTE,
                    ),
                    1,
                )
            },
        )

    def drain(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint: AsyncEndpoint,
        models: Sequence[InferenceModel],
        timeout_seconds: int,
        deleted_before: Sequence[IDependable],
    ) -> CustomResource:
        """A custom resource whose Delete waits until `endpoint`'s queue is empty, then
        deletes the endpoint, its config and `models`, the generation's own resources.

        CloudFormation keeps those three (RetainExceptOnCreate) instead of deleting them;
        everything in `deleted_before` (the generation's scaling, its log group and grants)
        is deleted only after this resource, so the old endpoint still scales, logs and can
        be deleted by the drain while it drains. Its policy ("<construct_id>Access") grants
        the drain exactly those deletions.
        """
        generation = [endpoint.endpoint, endpoint.config, *(model.model for model in models)]
        for resource in generation:
            retain_except_on_create(resource)
        access = iam.Policy(
            scope,
            f"{construct_id}Access",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    # The start time of the drain is a tag on the endpoint, so that
                    # CloudFormation's retries of a failed Delete share its timeout.
                    sid="DeleteEndpointOnceDrained",
                    actions=["sagemaker:DeleteEndpoint", "sagemaker:AddTags", "sagemaker:ListTags"],
                    resources=[endpoint.endpoint.ref],
                ),
                iam.PolicyStatement(
                    sid="DeleteItsConfigAndModels",
                    actions=["sagemaker:DeleteEndpointConfig", "sagemaker:DeleteModel"],
                    resources=[endpoint.config.ref, *(model.model.ref for model in models)],
                ),
            ],
        )
        drain = CustomResource(
            scope,
            construct_id,
            service_token=self.provider.service_token,
            resource_type="Custom::EndpointDrain",
            service_timeout=CUSTOM_RESOURCE_TIMEOUT,
            properties={
                "EndpointName": endpoint.endpoint_name,
                "EndpointConfigName": endpoint.config.attr_endpoint_config_name,
                "ModelNames": [model.model_name for model in models],
                "DrainTimeoutSeconds": str(timeout_seconds),
                # The marker of a generation CloudFormation keeps: the drain deletes it. A
                # drain resource deployed before this marker only waits (its template
                # lets CloudFormation delete the endpoint).
                "DeleteAfterDrain": "true",
            },
        )
        drain.node.add_dependency(access)
        for dependency in deleted_before:
            drain.node.add_dependency(dependency)
        return drain


def retain_except_on_create(resource: CfnResource) -> None:
    """CloudFormation keeps `resource` when it leaves the template or the stack is deleted,
    and deletes it only when the operation that created it rolls back.

    UpdateReplacePolicy is Delete, and said so (cfn-lint W3011 asks for both policies): a
    model or config replaced in place (a new model within one generation) is no longer
    used by the endpoint once the update completes, and the endpoint itself is never
    replaced in place: its one create-only property, EndpointName, is either unset (named
    by CloudFormation) or part of its generation (AWS::SageMaker::Endpoint, "Update
    requires: Replacement" only for EndpointName)."""
    resource.cfn_options.deletion_policy = CfnDeletionPolicy.RETAIN_EXCEPT_ON_CREATE
    resource.cfn_options.update_replace_policy = CfnDeletionPolicy.DELETE


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
    acknowledge_guard(
        function,
        "lambda_inside_vpc_check",
        "Calls only SageMaker, CloudWatch and CloudFormation APIs, a few times per stack "
        "update; a VPC would need NAT or interface endpoints, a standing cost on a stack "
        "that costs nothing while idle, for no data that leaves AWS's APIs.",
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
    waiter = provider.node.find_child("waiter-state-machine")
    acknowledge_guard(
        waiter,
        "step_functions_state_machine_tracing_enabled_check",
        "CDK's provider framework offers no tracing option for its waiter state machine, "
        "which only invokes the isComplete handler once a minute; every state of every "
        "poll is logged to the drain log group instead.",
    )
    acknowledge(
        waiter,
        "AwsSolutions-IAM5[Resource::*]",
        "Step Functions delivers its execution logs through CloudWatch Logs' log delivery "
        "APIs, which take no resource ARN; CDK's waiter grants them for its logging.",
    )
    skip_checkov(
        waiter.node.find_child("Role").node.find_child("DefaultPolicy"),
        "CKV_AWS_111",
        "The waiter's log delivery actions (logs:CreateLogDelivery, PutResourcePolicy, ...) "
        "take no resource ARN (Step Functions Developer Guide, logging to CloudWatch Logs); "
        "CDK grants exactly those for the waiter's execution logs.",
    )
    acknowledge(
        role.node.find_child("DefaultPolicy"),
        "AwsSolutions-IAM5[Resource::*]",
        "cloudwatch:GetMetricData and PutMetricData support no resource scoping; the drain "
        "reads ApproximateBacklogSize and writes only its own timeout metric namespace.",
    )
