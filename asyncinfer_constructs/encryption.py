"""Customer-managed keys that encrypt the system's data at rest.

Customer-managed keys (not the AWS-managed `aws/sns` or `aws/sqs` keys) are required
because other services must use them: SageMaker publishes to the encrypted topics, SNS
delivers into the encrypted queues, CloudWatch alarms publish to the encrypted alarm
topic. AWS-managed keys cannot be granted to them.

There are two keys because the queue key's policy names the topics (SNS may decrypt
only on behalf of these topics) while the topics are encrypted: one key for both would
make the key and the topics depend on each other.
"""

from __future__ import annotations

from aws_cdk import Annotations, Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct, IConstruct


def _rotating_key(
    scope: Construct, construct_id: str, description: str, removal_policy: RemovalPolicy
) -> kms.Key:
    key = kms.Key(
        scope,
        construct_id,
        description=description,
        enable_key_rotation=True,
        removal_policy=removal_policy,
        pending_window=Duration.days(30),
    )
    key.add_to_resource_policy(grants_only_for_aws_services())
    return key


def grants_only_for_aws_services() -> iam.PolicyStatement:
    """Nobody but an AWS service, on a caller's behalf, may create grants on the key.

    The services using these keys through grants (DynamoDB for the results table, Lambda
    for encrypted environment variables) call CreateGrant themselves, where
    kms:GrantIsForAWSResource is true (AWS KMS Developer Guide, "kms:GrantIsForAWSResource");
    aws:PrincipalIsAWSService is true for a service principal's own calls (IAM User Guide,
    "AWS global condition context keys"). The statement is the one AWS Control Tower's
    proactive control CT.KMS.PR.3 requires ("Require an AWS KMS key policy to have a
    statement that limits creation of AWS KMS grants to AWS services").
    """
    return iam.PolicyStatement(
        sid="AllowGrantsOnlyForAwsServices",
        effect=iam.Effect.DENY,
        principals=[iam.AnyPrincipal()],
        actions=["kms:CreateGrant"],
        resources=["*"],
        conditions={
            "BoolIfExists": {
                "kms:GrantIsForAWSResource": "false",
                "aws:PrincipalIsAWSService": "false",
            }
        },
    )


def allow_cloudwatch_logs(key: kms.IKey) -> bool:
    """Let CloudWatch Logs encrypt this account's log groups with `key`; its service
    principal is regional and limited to this account's log groups. False when `key` is
    imported, whose policy this app cannot change."""
    return key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchLogsInThisAccount",
            principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:*"
                    )
                }
            },
        )
    ).statement_added


def allow_cloudwatch_alarms(key: kms.IKey) -> bool:
    """Let this account's CloudWatch alarms publish to topics encrypted with `key`; the
    alarm topic's own policy must allow them too (monitoring.allow_alarms_to_publish). Key
    policy from the SNS Developer Guide, "Configuring AWS KMS permissions" (CloudWatch
    example), scoped to this account's alarms. False when `key` is imported."""
    return key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchAlarmsToPublish",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=["*"],
            conditions={
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                "ArnLike": {
                    "aws:SourceArn": (
                        f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"
                    )
                },
            },
        )
    ).statement_added


def warn_unless_added(scope: IConstruct, added: bool, key: kms.IKey, needs: str) -> None:
    """A synth warning when a statement could not be added to an imported key's policy."""
    if not added:
        Annotations.of(scope).add_warning_v2(
            "asyncinfer:importedKeyPolicy",
            f"The key {key.node.path} is imported, so its policy was left as it is: it must "
            f"already allow {needs}.",
        )


class EncryptionKeys(Construct):
    """`data` encrypts buckets, queues, table and logs; `notifications` the SNS topics.

    Either key may be the caller's own (by interface); the other is created here.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        removal_policy: RemovalPolicy,
        data: kms.IKey | None = None,
        notifications: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.data: kms.IKey = data or _rotating_key(
            self,
            "DataKey",
            "Encrypts async inference payloads, outputs, results and logs",
            removal_policy,
        )
        # CloudWatch Logs encrypts the functions' log groups with the data key.
        warn_unless_added(
            self,
            allow_cloudwatch_logs(self.data),
            self.data,
            "CloudWatch Logs (logs.<region>.amazonaws.com) to use it for this account's log groups",
        )
        self.notifications: kms.IKey = notifications or _rotating_key(
            self,
            "NotificationsKey",
            "Encrypts async inference notification and alarm topics",
            # Holds no data of its own (messages are transient), so it follows the stack.
            removal_policy,
        )
