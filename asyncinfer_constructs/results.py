"""The results table: one record per inference, the end of the data flow."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

# The key schema and the indexes are the contract the writer and the client rely on; they
# live in asyncinfer_runtime/contract.py (docs/design.md).
from asyncinfer_runtime.contract import PARTITION_KEY, RESULTS_INDEXES, SORT_KEY, TTL_ATTRIBUTE


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

    def grant_read_records(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` read records by id (GetItem, BatchGetItem) and list them through
        the indexes (Query); never write, scan or change the table."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"],
            resource_arns=[self.table.table_arn, f"{self.table.table_arn}/index/*"],
        )
