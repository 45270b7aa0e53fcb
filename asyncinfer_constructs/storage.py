"""S3 buckets: where payloads arrive and where outputs and failures land."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from asyncinfer_constructs.compliance import (
    acknowledge,
    acknowledge_guard,
    ignore_cfn_lint,
    skip_checkov,
)

OUTPUT_PREFIX = "output/"
FAILURE_PREFIX = "failure/"


class PayloadBuckets(Construct):
    """Input bucket, output bucket (output/ and failure/ prefixes) and their access logs.

    Either payload bucket may be the caller's own (by interface); the other one, and the
    access-log bucket, are created here.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        data_retention_days: int,
        access_log_retention_days: int,
        removal_policy: RemovalPolicy,
        input_bucket: s3.IBucket | None = None,
        output_bucket: s3.IBucket | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        destroy = removal_policy == RemovalPolicy.DESTROY

        # Server access logs cannot be delivered to an SSE-KMS bucket, so this one bucket
        # uses S3-managed keys.
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs", expiration=Duration.days(access_log_retention_days)
                )
            ],
            removal_policy=removal_policy,
            auto_delete_objects=destroy,
        )
        acknowledge(
            self.access_logs,
            "AwsSolutions-S1",
            "This is the access-log destination of the payload buckets; logging it "
            "into itself would loop and into another bucket would only move the finding.",
        )
        skip_checkov(
            self.access_logs,
            "CKV_AWS_18",
            "This is the access-log destination of the payload buckets; logging it into "
            "itself would loop.",
        )
        skip_checkov(
            self.access_logs,
            "CKV_AWS_21",
            "Access logs are written once by S3 and expire by lifecycle; versions would only "
            "duplicate them.",
        )
        # The Control Tower proactive controls this bucket does not meet, each on purpose.
        for rule, reason in (
            (
                "s3_bucket_logging_enabled_check",
                "This bucket is where the payload buckets' access logs go; logging it into "
                "itself would loop, and into another bucket would only move the finding.",
            ),
            (
                "s3_bucket_default_encryption_kms_check",
                "S3 delivers server access logs to SSE-S3 destinations (Amazon S3 User Guide, "
                "'Enabling Amazon S3 server access logging'); the data key's policy stays "
                "limited to the services that carry payloads and results.",
            ),
            (
                "s3_bucket_versioning_enabled_check",
                "S3 writes each access-log object once and the lifecycle expires it after "
                "access_log_retention_days; versions would only keep copies of expired logs.",
            ),
            (
                "s3_event_notifications_enabled_check",
                "Nothing reads access logs as they arrive: an operator queries them on "
                "demand, so an event per log object would have no consumer.",
            ),
            (
                "s3_bucket_object_lock_enabled_check",
                "Access logs must expire after access_log_retention_days, and the bucket must "
                "empty on cdk destroy with removal_policy=destroy; Object Lock forbids both.",
            ),
        ):
            acknowledge_guard(self.access_logs, rule, reason)

        self.input: s3.IBucket = input_bucket or self._payload_bucket(
            "Input", key, data_retention_days, removal_policy, log_prefix="input/"
        )
        if input_bucket is None:
            require_data_key(self.input, key)
        self.output: s3.IBucket = output_bucket or self._payload_bucket(
            "Output", key, data_retention_days, removal_policy, log_prefix="output/"
        )
        if destroy:
            self._explain_auto_delete_provider()

    def _explain_auto_delete_provider(self) -> None:
        """Findings on the Lambda CDK adds to empty buckets on `cdk destroy`.

        The provider is CDK's own singleton (one per stack), runs only during stack
        deletion, and exposes no props to change; its findings are acknowledged here.
        """
        provider = Stack.of(self).node.find_child(
            "Custom::S3AutoDeleteObjectsCustomResourceProvider"
        )
        handler = provider.node.find_child("Handler")
        skip_checkov(
            handler,
            "CKV_AWS_116",
            "CDK's bucket-emptying handler is invoked synchronously by CloudFormation only "
            "at stack deletion; CloudFormation reports its failures, a DLQ would see none.",
        )
        skip_checkov(
            handler,
            "CKV_AWS_115",
            "CDK's bucket-emptying handler runs once per bucket at stack deletion; a "
            "reserved concurrency would only take capacity from the account pool.",
        )
        skip_checkov(
            handler,
            "CKV_AWS_117",
            "CDK's bucket-emptying handler calls only the S3 API during stack deletion; "
            "the stack has no VPC to place it in.",
        )
        acknowledge_guard(
            handler,
            "lambda_inside_vpc_check",
            "CDK's bucket-emptying handler runs only when `cdk destroy` deletes a bucket of a "
            "removal_policy=destroy stack, calling the S3 API; the stack has no VPC to put "
            "it in, and CDK's provider exposes no VPC setting.",
        )
        # CDK's provider declares DependsOn its role besides referencing it (W3005); the
        # duplicate ordering is harmless and the provider offers no way to drop it.
        ignore_cfn_lint(handler, "W3005")

    def _payload_bucket(
        self,
        construct_id: str,
        key: kms.IKey,
        data_retention_days: int,
        removal_policy: RemovalPolicy,
        *,
        log_prefix: str,
    ) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            construct_id,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            # Bucket keys cut KMS requests (and cost) by orders of magnitude for
            # high-volume small objects such as one payload per request.
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=log_prefix,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpirePayloads",
                    expiration=Duration.days(data_retention_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=removal_policy,
            auto_delete_objects=removal_policy == RemovalPolicy.DESTROY,
        )
        skip_checkov(
            bucket,
            "CKV_AWS_21",
            "Payloads, outputs and failure documents are written once under a per-request "
            "key and expire by lifecycle; versioning would keep a second copy of every "
            "(up to 1 GB) payload with nothing to recover.",
        )
        # The Control Tower proactive controls a payload bucket does not meet, on purpose.
        for rule, reason in (
            (
                "s3_bucket_versioning_enabled_check",
                "Each payload, output and failure document is written once under its own "
                "request's key and expires after data_retention_days; versions would keep "
                "copies of up-to-1-GB payloads past that retention, with nothing to recover.",
            ),
            (
                "s3_event_notifications_enabled_check",
                "SageMaker announces every outcome on the success and error SNS topics, which "
                "feed the results pipeline; an S3 event per object would duplicate each one "
                "with no consumer.",
            ),
            (
                "s3_bucket_object_lock_enabled_check",
                "Payloads and outputs must expire after data_retention_days and the bucket "
                "must empty on cdk destroy with removal_policy=destroy; Object Lock forbids "
                "deleting them.",
            ),
        ):
            acknowledge_guard(bucket, rule, reason)
        return bucket


def require_data_key(bucket: s3.IBucket, key: kms.IKey) -> None:
    """Refuse a PUT that asks for any encryption but SSE-KMS with `key`.

    The bucket's default encryption covers a PUT that asks for none (asyncinfer's uploads,
    presigned upload URLs); a request header would override it (Amazon S3 User Guide,
    "Setting default server-side encryption behavior for Amazon S3 buckets"), so the policy
    denies one that names another algorithm or key (S3 User Guide, "Requiring server-side
    encryption with AWS KMS keys": s3:x-amz-server-side-encryption and
    s3:x-amz-server-side-encryption-aws-kms-key-id condition keys).
    """
    for sid, condition_key, value in (
        ("DenyOtherEncryption", "s3:x-amz-server-side-encryption", "aws:kms"),
        ("DenyOtherKey", "s3:x-amz-server-side-encryption-aws-kms-key-id", key.key_arn),
    ):
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid,
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects("*")],
                conditions={"StringNotEqualsIfExists": {condition_key: value}},
            )
        )


def output_path(output_bucket: s3.IBucket) -> str:
    """Where SageMaker writes each successful response (`s3://<bucket>/output/`)."""
    return output_bucket.s3_url_for_object(OUTPUT_PREFIX)


def failure_path(output_bucket: s3.IBucket) -> str:
    """Where SageMaker writes each error document (`s3://<bucket>/failure/`)."""
    return output_bucket.s3_url_for_object(FAILURE_PREFIX)
