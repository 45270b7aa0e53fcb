"""The CDK feature flags these constructs' templates depend on, pinned on their own nodes.

A user's app may be older than this library or set fewer flags (`cdk init` writes today's
recommended ones); without these three the constructs would fail to synthesize or
synthesize something other than what the tests check. A flag set on a construct's node
applies to its subtree only, so the user's other constructs keep the app's own flags.
tests/infra/constructs/test_feature_flags.py holds that an app with no flags at all
synthesizes the same template as this project's cdk.json.
"""

from __future__ import annotations

from constructs import Construct

PINNED_FEATURE_FLAGS: dict[str, bool] = {
    # S3 server access logs delivered through a bucket policy: the legacy ACL grant
    # (LogDeliveryWrite) is refused on a bucket with BucketOwnerEnforced ownership.
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
    # SNS may use an SQS subscriber's KMS key only on behalf of the subscribed topic.
    "@aws-cdk/aws-sns-subscriptions:restrictSqsDescryption": True,
    # Policies merged into the fewest statements, as the tested templates have them.
    "@aws-cdk/aws-iam:minimizePolicies": True,
}


def pin_feature_flags(construct: Construct) -> None:
    """Set the flags on `construct`, which must not have children yet."""
    for flag, value in PINNED_FEATURE_FLAGS.items():
        construct.node.set_context(flag, value)
