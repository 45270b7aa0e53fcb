"""The stack: one async inference system, composed in the order data flows through it."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from constructs import Construct

from stacks.autoscaling import ScaleToZero
from stacks.config import Settings, is_gpu_type
from stacks.encryption import EncryptionKeys
from stacks.endpoint import AsyncEndpoint, endpoint_name_pattern
from stacks.endpoint_drain import EndpointDrainProvider
from stacks.model import ExecutionRole, InferenceModel, model_image
from stacks.monitoring import Monitoring
from stacks.notifications import NotificationTopics
from stacks.results import ResultsTable, ResultsWriter
from stacks.storage import PayloadBuckets


class AsyncInferenceStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: Settings, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        removal_policy = RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY
        keys = EncryptionKeys(self, "Keys", removal_policy=removal_policy)
        data_key = keys.data

        # 1. Payloads arrive in the input bucket; outputs and failures land in the output bucket.
        payloads = PayloadBuckets(
            self,
            "Payloads",
            key=data_key,
            data_retention_days=settings.data_retention_days,
            access_log_retention_days=settings.access_log_retention_days,
            removal_policy=removal_policy,
        )
        # 2. SageMaker announces each outcome on a success or an error topic.
        topics = NotificationTopics(self, "Notifications", key=keys.notifications)

        # 3. The model runs with a role that can do exactly that, and no more.
        image = model_image(self, settings)
        execution = ExecutionRole(
            self,
            "Execution",
            input_bucket=payloads.input,
            output_bucket=payloads.output,
            topics=topics.all,
            keys=[data_key, keys.notifications],
            output_key=data_key,
            image_repository_arn=image.repository_arn,
            model_data_url=settings.model_data_url,
            endpoint_name=settings.endpoint_name,
        )
        preferred_type = settings.pool_instance_types[0]
        model = InferenceModel(
            self,
            "Model",
            settings=settings,
            image_uri=image.uri_for(preferred_type),
            role=execution.role,
        )
        # An instance pool whose type needs the other image (GPU vs CPU) runs a model of
        # its own on that image (InstancePool.ModelNameOverride).
        pool_models: dict[str, str] = {}
        other_types = [
            t for t in settings.pool_instance_types if image.uri_for(t) != model.image_uri
        ]
        if other_types:
            other_model = InferenceModel(
                self,
                "GpuModel" if is_gpu_type(other_types[0]) else "CpuModel",
                settings=settings,
                image_uri=image.uri_for(other_types[0]),
                role=execution.role,
            )
            other_model.node.add_dependency(execution.policy)
            pool_models = dict.fromkeys(other_types, other_model.model_name)
        # CreateModel checks that SageMaker can pull the image with the role's permissions.
        model.node.add_dependency(execution.policy)

        # 4. The async endpoint queues requests and writes to 1. and 2.
        endpoint = AsyncEndpoint(
            self,
            "Endpoint",
            settings=settings,
            model_name=model.model_name,
            pool_models=pool_models,
            output_path=payloads.output_path(),
            failure_path=payloads.failure_path(),
            success_topic=topics.success,
            error_topic=topics.error,
            output_key=data_key,
            execution_policy=execution.policy,
        )

        # 5. It costs nothing while idle and starts an instance for the first request.
        # Scaling belongs to one endpoint generation, like the endpoint itself.
        generation = endpoint.generation
        scaling = (
            ScaleToZero(
                self,
                f"Scaling{generation}",
                settings=settings,
                endpoint_name=endpoint.endpoint_name,
            )
            if settings.autoscaling_enabled
            else None
        )
        # A new generation (instance type change) replaces the endpoint; the old one's
        # queue drains before CloudFormation deletes it (docs/updates.md).
        drain = EndpointDrainProvider(
            self,
            "EndpointDrain",
            key=data_key,
            log_retention_days=settings.log_retention_days,
            endpoint_name_pattern=endpoint_name_pattern(settings),
            removal_policy=removal_policy,
        ).drain(
            self,
            f"DrainEndpoint{generation}",
            endpoint_name=endpoint.endpoint_name,
            timeout_seconds=settings.endpoint_drain_timeout_minutes * 60,
        )
        # Deleted first, so the old generation still scales (out of zero too) while it drains.
        if scaling is not None:
            drain.node.add_dependency(scaling)

        # 6. Every notification becomes one record in the results table.
        results_table = ResultsTable(self, "Results", key=data_key, removal_policy=removal_policy)
        writer = ResultsWriter(
            self,
            "ResultsWriter",
            settings=settings,
            topics=topics.all,
            table=results_table.table,
            key=data_key,
        )

        # 7. Alarms and a dashboard over the whole flow.
        monitoring = Monitoring(
            self,
            "Monitoring",
            settings=settings,
            endpoint_name=endpoint.endpoint_name,
            writer=writer.function,
            results_queue=writer.queue,
            dead_letter_queue=writer.dead_letter_queue,
            key=keys.notifications,
        )

        # What the client (asyncinfer) and users need to find each piece.
        outputs = {
            "EndpointName": (endpoint.endpoint_name, "SageMaker endpoint name"),
            "InputBucketName": (payloads.input.bucket_name, "Upload request payloads here"),
            "OutputBucketName": (payloads.output.bucket_name, "Holds output/ and failure/"),
            "OutputPath": (payloads.output_path(), "Where successful responses land"),
            "FailurePath": (payloads.failure_path(), "Where error documents land"),
            "SuccessTopicArn": (topics.success.topic_arn, "Success notifications"),
            "ErrorTopicArn": (topics.error.topic_arn, "Error notifications"),
            "ResultsTableName": (results_table.table.table_name, "One record per inference"),
            "ResultsQueueUrl": (writer.queue.queue_url, "Queue feeding the results writer"),
            "ResultsQueueArn": (writer.queue.queue_arn, "Queue feeding the results writer"),
            "DeadLetterQueueUrl": (writer.dead_letter_queue.queue_url, "Unwritable notifications"),
            "DeadLetterQueueArn": (writer.dead_letter_queue.queue_arn, "Unwritable notifications"),
            "DataKeyArn": (data_key.key_arn, "KMS key encrypting payloads and results"),
            "AlarmTopicArn": (monitoring.alarm_topic.topic_arn, "Every alarm notifies this topic"),
            "DeadLetterQueueAlarmName": (
                monitoring.dead_letter_queue_alarm.alarm_name,
                "Alarm on notifications waiting in the dead-letter queue",
            ),
        }
        for output_id, (value, description) in outputs.items():
            CfnOutput(self, output_id, value=value, description=description)
