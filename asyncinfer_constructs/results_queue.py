"""The results queue: where every notification waits for the results writer."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from asyncinfer_constructs.compliance import acknowledge


class ResultsQueue(Construct):
    """The queue between the notification topics and the writer, with a dead-letter queue.

    SQS between SNS and Lambda gives batching (one invocation per batch of
    notifications), partial batch failure reporting (one bad message does not fail its
    neighbours), and a dead-letter queue that can be redriven after a fix. SNS -> Lambda
    directly would invoke once per message and drop a message after two retries unless a
    separate DLQ is wired.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        consumer_timeout: Duration,
        max_receive_count: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            # Declares this queue a dead-letter queue, as AWS Control Tower's CT.SQS.PR.1
            # asks of one. byQueue, naming the results queue, would make the two queues
            # reference each other (the results queue's RedrivePolicy names this one), so
            # allowAll: SQS's default, any queue of this account and region.
            redrive_allow_policy=sqs.RedriveAllowPolicy(
                redrive_permission=sqs.RedrivePermission.ALLOW_ALL
            ),
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
            visibility_timeout=Duration.seconds(consumer_timeout.to_seconds() * 6),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=max_receive_count
            ),
        )

    def subscribe(self, topic: sns.ITopic) -> None:
        """Deliver every message of `topic` into the queue."""
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
