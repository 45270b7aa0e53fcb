"""SNS topics SageMaker publishes each request's success or error to."""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct


class NotificationTopics(Construct):
    """The success and error topics of the endpoint's AsyncInferenceConfig."""

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.success = sns.Topic(
            self,
            "SuccessTopic",
            display_name="Async inference successes",
            master_key=key,
            enforce_ssl=True,
        )
        self.error = sns.Topic(
            self,
            "ErrorTopic",
            display_name="Async inference errors",
            master_key=key,
            enforce_ssl=True,
        )

    @property
    def all(self) -> list[sns.Topic]:
        return [self.success, self.error]
