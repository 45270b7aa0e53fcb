"""The results table: one record per inference, the end of the data flow."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

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

    def grant_put_records(self, grantee: iam.IGrantable) -> None:
        """Let `grantee` put whole records, and nothing else.

        Narrower than `grant_write_data`: the writer only ever puts whole items (one
        conditional PutItem per notification), never reads, updates or deletes, and never
        touches the indexes.
        """
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PutResultsRecords",
                actions=["dynamodb:PutItem"],
                resources=[self.table.table_arn],
            )
        )
