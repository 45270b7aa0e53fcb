"""SNS topics SageMaker publishes each request's success or error to."""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct


def encrypted_topic(
    scope: Construct, construct_id: str, *, display_name: str, key: kms.IKey
) -> sns.Topic:
    """A topic encrypted with `key` that refuses publishing without TLS."""
    return sns.Topic(
        scope, construct_id, display_name=display_name, master_key=key, enforce_ssl=True
    )


class NotificationTopics(Construct):
    """The success and error topics of the endpoint's AsyncInferenceConfig."""

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.success = encrypted_topic(
            self, "SuccessTopic", display_name="Async inference successes", key=key
        )
        self.error = encrypted_topic(
            self, "ErrorTopic", display_name="Async inference errors", key=key
        )

    @property
    def all(self) -> list[sns.Topic]:
        return [self.success, self.error]
