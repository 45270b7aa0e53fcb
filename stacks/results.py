"""Where every notification becomes a record: queue, dead-letter queue, writer, table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, Names, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.compliance import acknowledge, ignore_cfn_lint, skip_checkov
from stacks.config import Settings

LAMBDA_SOURCE = Path(__file__).resolve().parent.parent / "lambda"
WRITER_HANDLER = "results_writer.handler.lambda_handler"
WRITER_TIMEOUT = Duration.seconds(60)

# Key schema and indexes; docs/design.md is the contract the writer and client rely on.
PARTITION_KEY = "inferenceId"
TTL_ATTRIBUTE = "expiresAt"
SORT_KEY = "eventTime"
# Index partition keys are sharded: the writer appends `#<crc32(inferenceId) % SHARDS>`, so a
# stream of results spreads evenly over SHARDS key values per endpoint (and for failures)
# instead of landing on one. One partition key value of a GSI takes at most 1,000 write
# units per second, and a GSI that cannot keep up throttles writes to the table itself
# (DynamoDB Developer Guide: "Understanding GSI write throttling and back pressure in
# DynamoDB"; "Using write sharding to distribute workloads evenly"). Readers query every
# shard and merge (asyncinfer/results.py). Writer: lambda/results_writer/record.py.
INDEX_SHARDS = 4


@dataclass(frozen=True)
class ResultsIndex:
    """A sparse, sharded GSI: only items carrying `partition_key` appear in it."""

    name: str
    partition_key: str
    # Attributes copied into the index besides the keys: what its queries return. A GSI
    # write costs write units for the projected size (1 per KB), so no response bodies
    # (Developer Guide, "Global secondary indexes in DynamoDB", Write capacity units).
    projected: tuple[str, ...]


# What an endpoint finished (COMPLETED or FAILED) between two times; the client's poll for
# many outstanding ids. PENDING records carry no `endpointShard`, so the writer's record
# *adds* the index entry (one index write) instead of moving it (two).
ENDPOINT_HISTORY_INDEX = ResultsIndex(
    name="EndpointHistory",
    partition_key="endpointShard",
    projected=(
        "status",
        "endpointName",
        "inputLocation",
        "outputLocation",
        "failureLocation",
        "latencyMs",
        "responseBodyOmitted",
    ),
)
# Failures by time, every endpoint of the table: only FAILED records carry `failureShard`.
FAILURES_INDEX = ResultsIndex(
    name="Failures",
    partition_key="failureShard",
    projected=("status", "endpointName", "inputLocation", "failureLocation", "failureReason"),
)
RESULTS_INDEXES = (ENDPOINT_HISTORY_INDEX, FAILURES_INDEX)


class ResultsTable(Construct):
    """One item per inference id; finished records listable by endpoint and time, failures
    by time."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        string = dynamodb.AttributeType.STRING
        # "Records", not "Resource": this table's indexes replace two GSIs with two others,
        # and CloudFormation adds or deletes one GSI per table update ("You can delete or
        # add one global secondary index without interruption", AWS::DynamoDB::Table
        # GlobalSecondaryIndexes). A new logical id gives a deployed stack a new table in
        # one deploy instead of a failed update; the old table is retained (or deleted
        # with removal_policy=destroy), records are not migrated (docs/updates.md).
        self.table = dynamodb.Table(
            self,
            "Records",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=string),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=TTL_ATTRIBUTE,
            removal_policy=removal_policy,
            deletion_protection=removal_policy == RemovalPolicy.RETAIN,
        )
        for index in RESULTS_INDEXES:
            self.table.add_global_secondary_index(
                index_name=index.name,
                partition_key=dynamodb.Attribute(name=index.partition_key, type=string),
                sort_key=dynamodb.Attribute(name=SORT_KEY, type=string),
                projection_type=dynamodb.ProjectionType.INCLUDE,
                non_key_attributes=list(index.projected),
            )


class ResultsWriter(Construct):
    """Both topics -> one queue -> the writer Lambda, with a dead-letter queue.

    SQS between SNS and Lambda gives batching (one invocation per up to
    `results_batch_size` notifications), partial batch failure reporting (one bad
    message does not fail its neighbours), and a dead-letter queue that can be
    redriven after a fix. SNS -> Lambda directly would invoke once per message and
    drop a message after two retries unless a separate DLQ is wired.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        topics: Sequence[sns.ITopic],
        table: dynamodb.ITable,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.dead_letter_queue,
            "Serverless-SQSRedrivePolicy",
            "Messages here are never consumed automatically (an operator redrives them "
            "after a fix), so there is no receive count to exceed and nowhere further to "
            "redrive to.",
        )
        acknowledge(
            self.dead_letter_queue,
            "AwsSolutions-SQS3",
            "This is the dead-letter queue of the results queue and of the SNS "
            "subscriptions; a dead-letter queue of a dead-letter queue would only move the "
            "messages.",
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            # Reusing the data key for an hour saves a KMS call per message.
            data_key_reuse=Duration.hours(1),
            enforce_ssl=True,
            # Lambda's guidance: at least six times the function timeout, so a batch that
            # is retried inside one invocation is not delivered again meanwhile.
            visibility_timeout=Duration.seconds(WRITER_TIMEOUT.to_seconds() * 6),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue,
                max_receive_count=settings.results_max_receive_count,
            ),
        )
        for topic in topics:
            topic.add_subscription(
                subscriptions.SqsSubscription(
                    self.queue,
                    # The queue holds the SageMaker message itself, not the SNS envelope.
                    raw_message_delivery=True,
                    # If SNS itself cannot deliver (e.g. a key policy mistake), keep the
                    # notification instead of dropping it after SNS's retries.
                    dead_letter_queue=self.dead_letter_queue,
                )
            )

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            encryption_key=key,
            removal_policy=RemovalPolicy.DESTROY
            if not settings.retain_data
            else RemovalPolicy.RETAIN,
        )
        # RetentionDays is an enum of names; the validated day count goes on the L1.
        log_group_resource = self.log_group.node.default_child
        assert isinstance(log_group_resource, logs.CfnLogGroup)
        log_group_resource.retention_in_days = settings.log_retention_days

        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Results writer: read the results queue, put records, write its logs",
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description="Turns async inference notifications into results records",
            runtime=lambda_.Runtime.PYTHON_3_14,
            role=self.role,
            architecture=lambda_.Architecture.ARM_64,
            handler=WRITER_HANDLER,
            code=lambda_.Code.from_asset(
                str(LAMBDA_SOURCE),
                exclude=["**/__pycache__", "**/*.pyc", "**/.mypy_cache"],
            ),
            memory_size=settings.results_writer_memory_mib,
            timeout=WRITER_TIMEOUT,
            environment={
                "RESULTS_TABLE_NAME": table.table_name,
                "RESULTS_RETENTION_DAYS": str(settings.results_retention_days),
                "RESULTS_INLINE_BODY_MAX_BYTES": str(settings.results_inline_body_max_bytes),
                "LOG_LEVEL": "INFO",
            },
            environment_encryption=key,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            tracing=lambda_.Tracing.ACTIVE,
        )
        # The mapping directly rather than aws_lambda_event_sources.SqsEventSource: same
        # resource and construct id (so deployed stacks keep it), but synth no longer
        # loads that module, which pulls in every event source (Kafka, Kinesis, API
        # Gateway, ...) and cost ~0.1 s of each `cdk synth`.
        self.function.add_event_source_mapping(
            f"SqsEventSource:{Names.node_unique_id(self.queue.node)}",
            event_source_arn=self.queue.queue_arn,
            batch_size=settings.results_batch_size,
            max_batching_window=(
                Duration.seconds(settings.results_batching_window_seconds)
                if settings.results_batching_window_seconds
                else None
            ),
            report_batch_item_failures=True,
            max_concurrency=settings.results_writer_max_concurrency,
        )
        self.queue.grant_consume_messages(self.function)
        # Explicit statements instead of grant_*(): the writer only ever puts whole items
        # (one conditional PutItem per notification), never reads, and never touches the
        # indexes; and it logs only to its own log group (no AWS managed policy).
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="PutResultsRecords", actions=["dynamodb:PutItem"], resources=[table.table_arn]
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="UseDataKey",
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=[key.key_arn],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        acknowledge(
            self.role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords) supports no "
            "resource scoping; CDK adds these for tracing=ACTIVE.",
        )
        acknowledge(
            self.function,
            "Serverless-LambdaDLQ",
            "The writer is invoked only by its SQS event source mapping (a synchronous "
            "poll); failed messages return to the queue and move to its dead-letter queue. "
            "A function DLQ applies to asynchronous invocations, which never happen here.",
        )
        skip_checkov(
            self.function,
            "CKV_AWS_116",
            "Invoked only by its SQS event source; the queue's redrive policy is the "
            "dead-letter path (a function DLQ serves asynchronous invocations only).",
        )
        skip_checkov(
            self.function,
            "CKV_AWS_115",
            "Concurrency is bounded by the event source mapping's MaximumConcurrency; "
            "reserved concurrency on an SQS-fed function makes throttled receives count "
            "towards maxReceiveCount and pushes good notifications to the DLQ.",
        )
        skip_checkov(
            self.function,
            "CKV_AWS_117",
            "The writer reaches only SQS, DynamoDB and CloudWatch over TLS with IAM auth; a "
            "VPC would add NAT or interface endpoints (standing cost) and no data-path "
            "protection, against the project's zero-cost-while-idle goal.",
        )
        # CDK makes the function DependsOn its role although Role: GetAtt already orders
        # them; the duplicate is harmless and not removable through the L2 (W3005).
        ignore_cfn_lint(self.function, "W3005")
        acknowledge(
            self.function,
            "Serverless-LambdaEventSourceMappingDestination",
            "SQS event sources do not support on-failure destinations; the queue's redrive "
            "policy (maxReceiveCount -> dead-letter queue) is the failure destination.",
        )
