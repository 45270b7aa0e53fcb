"""The results pipeline: notification topics -> results queue -> writer -> results table.

Every endpoint of a system announces each request's outcome on the same two topics;
the pipeline turns each announcement into one record, so results are findable later
whichever endpoint served them.
"""

from __future__ import annotations

from typing import TypedDict, Unpack

from aws_cdk import RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from asyncinfer_constructs.feature_flags import pin_feature_flags
from asyncinfer_constructs.monitoring import FIVE_MINUTES, ONE_MINUTE, graph, monitoring_alarms
from asyncinfer_constructs.notifications import NotificationTopics
from asyncinfer_constructs.pipeline_props import ResultsPipelineProps
from asyncinfer_constructs.props import ConfigError
from asyncinfer_constructs.results import ResultsTable
from asyncinfer_constructs.results_queue import ResultsQueue
from asyncinfer_constructs.results_writer import ResultsWriter


class NotificationConsumer(TypedDict, total=False):
    """Another reader of every notification: exactly one of `queue` or `function`, and
    where SNS puts what it cannot deliver."""

    queue: sqs.IQueue
    function: lambda_.IFunction
    dead_letter_queue: sqs.IQueue


class ResultsPipeline(Construct):
    """Success and error topics, the results queue and its dead-letter queue, the writer,
    the results table, and the alarms on what would lose a record.

    Attributes: `success_topic`, `error_topic`, `queue`, `dead_letter_queue`, `table`,
    `writer` (the function), `alarms`, `dead_letter_queue_alarm`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        topic_key: kms.IKey,
        alarm_topic: sns.ITopic,
        removal_policy: RemovalPolicy,
        props: ResultsPipelineProps | None = None,
    ) -> None:
        """`key` encrypts the queues, the table and the writer's logs; `topic_key` the
        two notification topics; every alarm notifies `alarm_topic`. `props` defaults to
        ResultsPipelineProps()."""
        super().__init__(scope, construct_id)
        pin_feature_flags(self)
        props = props or ResultsPipelineProps()
        self.topic_key = topic_key
        self.key = key
        # SageMaker announces each outcome on a success or an error topic.
        topics = NotificationTopics(self, "Notifications", key=topic_key)
        self.success_topic: sns.Topic = topics.success
        self.error_topic: sns.Topic = topics.error

        results_table = ResultsTable(self, "Results", key=key, removal_policy=removal_policy)
        self.table = results_table.table
        writer = ResultsWriter(
            self,
            "ResultsWriter",
            table=self.table,
            key=key,
            removal_policy=removal_policy,
            log_retention_days=props.log_retention_days,
            memory_mib=props.results_writer_memory_mib,
            results_retention_days=props.results_retention_days,
            inline_body_max_bytes=props.results_inline_body_max_bytes,
        )
        self.writer: lambda_.Function = writer.function
        # Deployed stacks know the queues by the logical ids of the paths ResultsWriter/Queue
        # and ResultsWriter/DeadLetterQueue; a new id would replace a queue (and what waits
        # in it) and its subscriptions. "Default" is the one construct id CDK leaves out of
        # logical ids, so the queue construct keeps them as the writer's Default child.
        results_queue = ResultsQueue(
            writer,
            "Default",
            consumer_timeout=writer.timeout,
            key=key,
            max_receive_count=props.results_max_receive_count,
        )
        self.queue = results_queue.queue
        self.dead_letter_queue = results_queue.dead_letter_queue
        # Both topics feed the results queue, and the writer turns every notification into
        # one record in the results table.
        for topic in self.topics:
            results_queue.subscribe(topic)
        writer.consume(
            self.queue,
            batch_size=props.results_batch_size,
            batching_window_seconds=props.results_batching_window_seconds,
            max_concurrency=props.results_writer_max_concurrency,
        )
        results_table.grant_put_records(self.writer)
        self._results_table = results_table

        self.alarms = monitoring_alarms(
            self,
            alarm_topic,
            {
                "WriterErrorsAlarm": (
                    "The results writer raised errors",
                    self.writer.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                    1,
                ),
                "DeadLetterQueueAlarm": (
                    "Notifications could not be written and wait in the dead-letter queue",
                    self.metric_dead_letter_queue_depth(),
                    1,
                ),
            },
        )
        self.dead_letter_queue_alarm = self.alarms[1]

    @property
    def topics(self) -> list[sns.Topic]:
        """The success topic, then the error topic."""
        return [self.success_topic, self.error_topic]

    def add_notification_consumer(self, **consumer: Unpack[NotificationConsumer]) -> None:
        """Deliver every success and error notification to `queue` or to `function` too.

        A queue receives the SageMaker message itself (raw message delivery), as the
        results queue does; a function receives SNS's event. For a queue encrypted with a
        customer managed key in this app, CDK adds the key policy statement that lets SNS
        use it (the `@aws-cdk/aws-sns-subscriptions:restrictSqsDescryption` behaviour:
        scoped to these topics); for an imported key, its policy must allow
        `sns.amazonaws.com` kms:GenerateDataKey and kms:Decrypt. Messages SNS cannot
        deliver go to `dead_letter_queue` when given (SNS Developer Guide, "Amazon SNS
        dead-letter queues").
        """
        queue, function = consumer.get("queue"), consumer.get("function")
        dead_letter_queue = consumer.get("dead_letter_queue")
        if (queue is None) == (function is None):
            raise ConfigError(
                "add_notification_consumer takes exactly one of queue or function; received "
                f"{'both' if queue is not None else 'neither'}."
            )
        for topic in self.topics:
            if queue is not None:
                topic.add_subscription(
                    subscriptions.SqsSubscription(
                        queue, raw_message_delivery=True, dead_letter_queue=dead_letter_queue
                    )
                )
            else:
                assert function is not None
                topic.add_subscription(
                    subscriptions.LambdaSubscription(function, dead_letter_queue=dead_letter_queue)
                )

    def grant_write_pending(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` write a PENDING record before it submits (asyncinfer's client does,
        so a request is findable before its notification arrives): PutItem on the table
        (its conditions keep a finished record from being overwritten), BatchWriteItem for
        new ids' records 25 at a time (asyncinfer's batch, the job API), DeleteItem to take
        a PENDING record back when the invoke is refused (conditional on PENDING), and the
        key."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["dynamodb:PutItem", "dynamodb:BatchWriteItem", "dynamodb:DeleteItem"],
            resource_arns=[self.table.table_arn],
        ).combine(self._grant_key(grantee, "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"))

    def grant_read_records(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` read records: by id, and through the EndpointHistory and Failures
        indexes (the key decrypts them)."""
        return self._results_table.grant_read_records(grantee).combine(
            self._grant_key(grantee, "kms:Decrypt", "kms:DescribeKey")
        )

    def _grant_key(self, grantee: iam.IGrantable, *actions: str) -> iam.Grant:
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=list(actions), resource_arns=[self.key.key_arn]
        )

    def metric_dead_letter_queue_depth(self) -> cloudwatch.Metric:
        """Notifications waiting in the dead-letter queue (Maximum over a minute)."""
        return self.dead_letter_queue.metric_approximate_number_of_messages_visible(
            period=ONE_MINUTE, statistic="Maximum"
        )

    def dashboard_row(self) -> list[cloudwatch.IWidget]:
        """The writer and the queues, as one dashboard row."""
        return [
            graph(
                "Results writer",
                [
                    self.writer.metric_invocations(period=FIVE_MINUTES),
                    self.writer.metric_errors(period=FIVE_MINUTES),
                ],
                [self.writer.metric_duration(period=FIVE_MINUTES, statistic="p95")],
            ),
            graph(
                "Results queue",
                [
                    self.queue.metric_approximate_number_of_messages_visible(period=ONE_MINUTE),
                    self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                        period=ONE_MINUTE
                    ),
                ],
                [self.queue.metric_approximate_age_of_oldest_message(period=ONE_MINUTE)],
            ),
        ]
