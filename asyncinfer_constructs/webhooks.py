"""Signed webhooks: a job's result announced to the URL its submitter named.

    notification topics -> notification queue -> dispatcher -> receiver (signed POST)
                                                     |  retry  -> delivery queue (delays)
                                                     |  give up -> webhook dead-letter queue
    POST /v1/jobs/{id}/webhook -> delivery queue (redelivery request)

The dispatcher (lambda/webhook_delivery) reads each job's webhook from the job API's jobs
table and signs with the secret kept here (Secrets Manager, encrypted with the system's
data key, rotated by lambda/webhook_secret_rotation).
"""

from __future__ import annotations

import json

from aws_cdk import Aws, CfnOutput, Duration, Names, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from asyncinfer_constructs.async_inference_system import AsyncInferenceSystem
from asyncinfer_constructs.compliance import (
    acknowledge,
    acknowledge_guard,
    ignore_cfn_lint,
    skip_checkov,
)
from asyncinfer_constructs.feature_flags import pin_feature_flags
from asyncinfer_constructs.functions import function_code, log_group_and_role, write_own_logs
from asyncinfer_constructs.monitoring import FIVE_MINUTES, ONE_MINUTE, threshold_alarm
from asyncinfer_constructs.results_queue import ResultsQueue
from asyncinfer_constructs.webhook_props import WebhooksProps
from asyncinfer_runtime.environment import (
    JOBS_TABLE_NAME,
    LOG_LEVEL,
    RESULTS_TABLE_NAME,
    WEBHOOK_ATTEMPT_TIMEOUT_SECONDS,
    WEBHOOK_DEAD_LETTER_QUEUE_URL,
    WEBHOOK_DELIVERY_QUEUE_URL,
    WEBHOOK_ENDPOINTS,
    WEBHOOK_RETRY_DELAY_SCALE,
    WEBHOOK_RETRY_FIRST_DELAY_SECONDS,
    WEBHOOK_RETRY_MAX_DELAY_SECONDS,
    WEBHOOK_RETRY_WINDOW_HOURS,
    WEBHOOK_SECRET_ARN,
    WEBHOOK_SECRET_OVERLAP_HOURS,
)

DISPATCHER_HANDLER = "webhook_delivery.handler.lambda_handler"
ROTATION_HANDLER = "webhook_secret_rotation.handler.lambda_handler"
# Ten attempts of a batch run at once, each bounded by the attempt timeout (<= 30 s).
DISPATCHER_TIMEOUT = Duration.seconds(90)
ROTATION_TIMEOUT = Duration.seconds(30)
# Latency matters more than batching: a notification is handed over as soon as it arrives.
BATCH_SIZE = 10
MAX_CONCURRENCY = 10


class Webhooks(Construct):
    """The signing secret and its rotation, the notification and delivery queues with
    their dead-letter queues, the dispatcher, and alarms on what would lose an event.

    `jobs_table` is the job API's (by interface): the dispatcher reads a job's webhook and
    updates its webhook attributes, nothing else. Attributes: `secret`, `dispatcher`,
    `notification_queue`, `notification_dead_letter_queue`, `delivery_queue`,
    `dead_letter_queue` (events given up), `alarms`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        system: AsyncInferenceSystem,
        jobs_table: dynamodb.ITable,
        props: WebhooksProps | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        pin_feature_flags(self)
        props = props or WebhooksProps()
        self.key = key = system.key
        removal_policy = RemovalPolicy.RETAIN if system.props.retain_data else RemovalPolicy.DESTROY
        log_retention_days = system.props.log_retention_days

        # The signing secret: letters and digits from Secrets Manager, valid base64 for 36
        # bytes (asyncinfer_runtime/webhook_secret.py adds the whsec_ prefix), encrypted
        # with the system's data key.
        self.secret = secretsmanager.Secret(
            self,
            "SigningSecret",
            description="Signs webhook deliveries (Standard Webhooks, whsec_ keys)",
            encryption_key=key,
            removal_policy=removal_policy,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({}),
                generate_string_key="current",
                exclude_punctuation=True,
                include_space=False,
                password_length=48,
            ),
        )
        self._rotation(props, key, removal_policy, log_retention_days)

        # Notifications wait in a queue of their own, as the results writer's do.
        notifications = ResultsQueue(
            self,
            "Notifications",
            key=key,
            consumer_timeout=DISPATCHER_TIMEOUT,
            max_receive_count=props.webhook_max_receive_count,
        )
        self.notification_queue = notifications.queue
        self.notification_dead_letter_queue = notifications.dead_letter_queue
        system.add_notification_consumer(
            queue=self.notification_queue, dead_letter_queue=self.notification_dead_letter_queue
        )
        # Retries (delayed messages), delay-chain hops and redelivery requests; its
        # dead-letter queue also receives the events the dispatcher gives up.
        delivery = ResultsQueue(
            self,
            "Delivery",
            key=key,
            consumer_timeout=DISPATCHER_TIMEOUT,
            max_receive_count=props.webhook_max_receive_count,
        )
        self.delivery_queue = delivery.queue
        self.dead_letter_queue = delivery.dead_letter_queue

        log_group, role = log_group_and_role(
            self,
            role_description="Webhook dispatcher: read jobs and records, sign, deliver, retry",
            key=key,
            log_retention_days=log_retention_days,
            removal_policy=removal_policy,
        )
        endpoint_names = {
            endpoint.endpoint_name: name for name, endpoint in system.endpoints.items()
        }
        self.dispatcher = lambda_.Function(
            self,
            "Dispatcher",
            description="Delivers signed webhooks for finished jobs, with retries",
            runtime=lambda_.Runtime.PYTHON_3_14,
            role=role,
            architecture=lambda_.Architecture.ARM_64,
            handler=DISPATCHER_HANDLER,
            code=function_code("webhook_delivery", "standardwebhooks"),
            memory_size=256,
            timeout=DISPATCHER_TIMEOUT,
            environment={
                JOBS_TABLE_NAME: jobs_table.table_name,
                RESULTS_TABLE_NAME: system.pipeline.table.table_name,
                WEBHOOK_SECRET_ARN: self.secret.secret_arn,
                WEBHOOK_DELIVERY_QUEUE_URL: self.delivery_queue.queue_url,
                WEBHOOK_DEAD_LETTER_QUEUE_URL: self.dead_letter_queue.queue_url,
                WEBHOOK_ENDPOINTS: Stack.of(self).to_json_string(endpoint_names),
                WEBHOOK_ATTEMPT_TIMEOUT_SECONDS: str(props.webhook_attempt_timeout_seconds),
                WEBHOOK_RETRY_FIRST_DELAY_SECONDS: str(props.webhook_retry_first_delay_seconds),
                WEBHOOK_RETRY_MAX_DELAY_SECONDS: str(props.webhook_retry_max_delay_seconds),
                WEBHOOK_RETRY_WINDOW_HOURS: str(props.webhook_retry_window_hours),
                WEBHOOK_RETRY_DELAY_SCALE: str(props.webhook_retry_delay_scale),
                LOG_LEVEL: "INFO",
            },
            environment_encryption=key,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
        )
        for queue in (self.notification_queue, self.delivery_queue):
            self.dispatcher.add_event_source_mapping(
                f"SqsEventSource:{Names.node_unique_id(queue.node)}",
                event_source_arn=queue.queue_arn,
                batch_size=BATCH_SIZE,
                report_batch_item_failures=True,
                max_concurrency=MAX_CONCURRENCY,
            )
            queue.grant_consume_messages(self.dispatcher)
        # Exactly what it does: read a job and update its webhook attributes, read a
        # record (redelivery), read the secret, send retries and given-up events, log.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="JobsWebhookState",
                actions=["dynamodb:GetItem", "dynamodb:UpdateItem"],
                resources=[jobs_table.table_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadRecords",
                actions=["dynamodb:GetItem"],
                resources=[system.pipeline.table.table_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadSigningSecret",
                actions=["secretsmanager:GetSecretValue"],
                resources=[self.secret.secret_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="SendRetriesAndGivenUp",
                actions=["sqs:SendMessage"],
                resources=[self.delivery_queue.queue_arn, self.dead_letter_queue.queue_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="UseDataKey",
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                resources=[key.key_arn],
            )
        )
        role.add_to_policy(write_own_logs(log_group))
        self._acknowledge_function(self.dispatcher, "dispatcher")

        action = cloudwatch_actions.SnsAction(system.alarm_topic)
        monitoring = Construct(self, "Monitoring")
        self.alarms = [
            threshold_alarm(
                monitoring,
                "GivenUpAlarm",
                "Webhook events were given up and wait in the webhook dead-letter queue",
                self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=ONE_MINUTE, statistic="Maximum"
                ),
                1,
                action,
            ),
            threshold_alarm(
                monitoring,
                "NotificationsDeadLetterAlarm",
                "Notifications the webhook dispatcher could not handle wait in its "
                "dead-letter queue",
                self.notification_dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=ONE_MINUTE, statistic="Maximum"
                ),
                1,
                action,
            ),
            threshold_alarm(
                monitoring,
                "DispatcherErrorsAlarm",
                "The webhook dispatcher raised errors",
                self.dispatcher.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                1,
                action,
            ),
        ]

    def _rotation(
        self,
        props: WebhooksProps,
        key: kms.IKey,
        removal_policy: RemovalPolicy,
        log_retention_days: int,
    ) -> None:
        scope = Construct(self, "Rotation")
        log_group, role = log_group_and_role(
            scope,
            role_description="Webhook secret rotation: write a new key beside the old one",
            key=key,
            log_retention_days=log_retention_days,
            removal_policy=removal_policy,
        )
        self.rotation_function = lambda_.Function(
            scope,
            "Function",
            description="Rotates the webhook signing secret; the old key signs for an overlap",
            runtime=lambda_.Runtime.PYTHON_3_14,
            role=role,
            architecture=lambda_.Architecture.ARM_64,
            handler=ROTATION_HANDLER,
            code=function_code("webhook_secret_rotation", "standardwebhooks"),
            memory_size=128,
            timeout=ROTATION_TIMEOUT,
            environment={WEBHOOK_SECRET_OVERLAP_HOURS: str(props.webhook_secret_overlap_hours)},
            environment_encryption=key,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
        )
        # add_rotation_schedule grants the steps of a rotation (DescribeSecret,
        # GetSecretValue, PutSecretValue, UpdateSecretVersionStage) on this secret alone;
        # the key encrypts and decrypts its versions.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="UseDataKey",
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                resources=[key.key_arn],
            )
        )
        role.add_to_policy(write_own_logs(log_group))
        self.secret.add_rotation_schedule(
            "Schedule",
            rotation_lambda=self.rotation_function,
            automatically_after=Duration.days(props.webhook_secret_rotation_days),
            # A deploy that changes the schedule must not rotate the key under receivers'
            # feet; rotations happen on the schedule (or by `aws secretsmanager
            # rotate-secret`).
            rotate_immediately_on_update=False,
        )
        # Only this account's Secrets Manager may invoke it: the permission CDK adds names
        # the service alone (Lambda Developer Guide, "Granting function access to AWS
        # services": SourceAccount guards against the confused deputy).
        for child in self.rotation_function.node.children:
            if isinstance(child, lambda_.CfnPermission):
                child.source_account = Aws.ACCOUNT_ID
                acknowledge_guard(
                    child,
                    "lambda_function_public_access_prohibited_check",
                    "The permission names Secrets Manager with SourceAccount set to this "
                    "account ({Ref: AWS::AccountId}); the rule takes only a literal account "
                    "id, which an environment-agnostic template knows only at deploy time.",
                )
        acknowledge(
            role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::*]",
            "secretsmanager:GetRandomPassword, which CDK grants a rotation function, acts on "
            "no resource (Service Authorization Reference: no resource types), so it is "
            "granted on *; the function generates its keys with Python's secrets instead.",
        )
        self._acknowledge_function(self.rotation_function, "rotation function")

    # --- Grants for the job API ---------------------------------------------------------

    def grant_request_redelivery(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` call `request_redelivery` (asyncinfer_runtime/webhook_redelivery.py):
        SendMessage to the delivery queue, and what its key asks of a producer,
        kms:GenerateDataKey and kms:Decrypt (Amazon SQS Developer Guide, "Amazon SQS key
        management": producer permissions). Not the queue's grant_send_messages, whose
        kms:GenerateDataKey* and kms:ReEncrypt* are more than a producer uses."""
        send = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sqs:SendMessage"],
            resource_arns=[self.delivery_queue.queue_arn],
        )
        key_use = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resource_arns=[self.key.key_arn],
        )
        return send.combine(key_use)

    def redelivery_environment(self) -> dict[str, str]:
        """The environment `request_redelivery` reads."""
        return {WEBHOOK_DELIVERY_QUEUE_URL: self.delivery_queue.queue_url}

    def serve_redelivery(self, function: lambda_.Function) -> None:
        """Let `function` (the job API's, JobApi.function) answer POST /v1/jobs/{id}/webhook:
        the grant and the environment above. Its asset already carries asyncinfer_runtime,
        where request_redelivery lives; without this, the API refuses Webhook-Url."""
        self.grant_request_redelivery(function)
        for name, value in self.redelivery_environment().items():
            function.add_environment(name, value)

    def grant_read_secret(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` read the signing secret (`asyncinfer webhook-secret`)."""
        return self.secret.grant_read(grantee)

    def add_client_outputs(self) -> None:
        """Stack outputs the client reads: the secret (to print it) and the dead-letter
        queue of given-up events."""
        stack = Stack.of(self)
        CfnOutput(
            stack,
            "WebhookSecretArn",
            value=self.secret.secret_arn,
            description="Webhook signing secret (asyncinfer webhook-secret prints it)",
        )
        CfnOutput(
            stack,
            "WebhookDeadLetterQueueUrl",
            value=self.dead_letter_queue.queue_url,
            description="Webhook events given up after their retries",
        )

    def _acknowledge_function(self, function: lambda_.Function, what: str) -> None:
        skip_checkov(
            function,
            "CKV_AWS_117",
            f"The {what} reaches only AWS APIs over TLS with IAM auth and (the dispatcher) "
            f"public receivers; a VPC would add NAT (standing cost) and no protection.",
        )
        skip_checkov(
            function,
            "CKV_AWS_116",
            f"The {what} is invoked synchronously (an SQS event source or Secrets Manager); "
            f"a function DLQ serves asynchronous invocations only.",
        )
        skip_checkov(
            function,
            "CKV_AWS_115",
            f"The {what}'s concurrency is bounded by its event source (MaximumConcurrency) or "
            f"by Secrets Manager's one rotation at a time.",
        )
        acknowledge_guard(
            function,
            "lambda_inside_vpc_check",
            f"The {what} calls AWS APIs and (the dispatcher) receivers on the internet; inside "
            f"a VPC it would need a NAT gateway, an hourly cost on a stack meant to cost "
            f"nothing while idle, and would still leave the VPC for every delivery.",
        )
        acknowledge(
            function,
            "Serverless-LambdaDLQ",
            f"The {what} is invoked synchronously; failed messages stay in their queue and "
            f"move to its dead-letter queue.",
        )
        acknowledge(
            function,
            "Serverless-LambdaEventSourceMappingDestination",
            "SQS event sources take no on-failure destination; the queue's redrive policy is it.",
        )
        acknowledge(
            function,
            "Serverless-LambdaTracing",
            f"The {what} logs each step with the job id; X-Ray would add IAM wildcards.",
        )
        # CDK makes the function DependsOn its role although Role: GetAtt already orders
        # them; the duplicate is harmless and not removable through the L2 (W3005).
        ignore_cfn_lint(function, "W3005")
