"""The stack: one async inference system, composed in the order data flows through it."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from constructs import Construct

from asyncinfer_constructs.autoscaling import ScaleToZero
from asyncinfer_constructs.dlc_image import DlcTag
from asyncinfer_constructs.encryption import EncryptionKeys
from asyncinfer_constructs.endpoint import AsyncEndpoint
from asyncinfer_constructs.endpoint_drain import EndpointDrainProvider
from asyncinfer_constructs.instance_types import is_gpu_type
from asyncinfer_constructs.model import (
    ExecutionRole,
    InferenceModel,
    ModelImage,
    model_environment,
    model_image,
)
from asyncinfer_constructs.monitoring import Monitoring
from asyncinfer_constructs.notifications import NotificationTopics
from asyncinfer_constructs.results import ResultsTable
from asyncinfer_constructs.results_queue import ResultsQueue
from asyncinfer_constructs.results_writer import ResultsWriter
from asyncinfer_constructs.storage import PayloadBuckets
from stacks.config import Settings


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
        image = model_image(
            self,
            image_uri=settings.image_uri,
            dlc_tag=DlcTag(
                version=settings.hf_dlc_version,
                python=settings.hf_python_version,
                cuda=settings.hf_cuda_version,
                os=settings.hf_os_version,
            )
            if settings.model_source == "huggingface"
            else None,
            preferred_instance_type=settings.pool_instance_types[0],
        )
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
        model, pool_models = self._models(settings, image, execution)

        # 4. The async endpoint queues requests, reads them from the input bucket, and
        # writes each response or failure to the output bucket and a topic of 2.
        endpoint = AsyncEndpoint(
            self,
            "Endpoint",
            model=model,
            instance_type=settings.instance_type,
            instance_pools=settings.instance_types,
            pool_models=pool_models,
            endpoint_name=settings.endpoint_name,
            initial_instance_count=settings.initial_instance_count,
            max_concurrent_invocations_per_instance=settings.max_concurrent_invocations_per_instance,
            include_inference_response_in=settings.include_inference_response_in,
            volume_kms_key_arn=settings.volume_kms_key_arn,
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
                endpoint=endpoint,
                min_capacity=settings.min_capacity,
                max_capacity=settings.max_capacity,
                target_backlog_per_instance=settings.target_backlog_per_instance,
                scale_in_cooldown=Duration.seconds(settings.scale_in_cooldown_seconds),
                scale_out_cooldown=Duration.seconds(settings.scale_out_cooldown_seconds),
                scale_out_from_zero_cooldown=Duration.seconds(
                    settings.scale_out_from_zero_cooldown_seconds
                ),
                scale_out_from_zero_period=Duration.seconds(
                    settings.scale_out_from_zero_period_seconds
                ),
                scale_out_from_zero_evaluation_periods=(
                    settings.scale_out_from_zero_evaluation_periods
                ),
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
            endpoint_name_pattern=endpoint.name_pattern,
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

        # 6. Both topics feed the results queue, and the writer turns every notification
        # into one record in the results table.
        results_table = ResultsTable(self, "Results", key=data_key, removal_policy=removal_policy)
        writer = ResultsWriter(
            self,
            "ResultsWriter",
            table=results_table.table,
            key=data_key,
            removal_policy=removal_policy,
            log_retention_days=settings.log_retention_days,
            memory_mib=settings.results_writer_memory_mib,
            results_retention_days=settings.results_retention_days,
            inline_body_max_bytes=settings.results_inline_body_max_bytes,
        )
        # Deployed stacks know the queues by the logical ids of the paths ResultsWriter/Queue
        # and ResultsWriter/DeadLetterQueue; a new id would replace a queue (and what waits
        # in it) and its subscriptions. "Default" is the one construct id CDK leaves out of
        # logical ids, so the queue construct keeps them as the writer's Default child.
        results_queue = ResultsQueue(
            writer,
            "Default",
            consumer_timeout=writer.timeout,
            key=data_key,
            max_receive_count=settings.results_max_receive_count,
        )
        for topic in topics.all:
            results_queue.subscribe(topic)
        writer.consume(
            results_queue.queue,
            batch_size=settings.results_batch_size,
            batching_window_seconds=settings.results_batching_window_seconds,
            max_concurrency=settings.results_writer_max_concurrency,
        )
        results_table.grant_put_records(writer.function)

        # 7. Alarms and a dashboard over the whole flow.
        monitoring = Monitoring(
            self,
            "Monitoring",
            endpoint=endpoint,
            writer=writer.function,
            results_queue=results_queue.queue,
            dead_letter_queue=results_queue.dead_letter_queue,
            key=keys.notifications,
            alarm_email=settings.alarm_email,
            oldest_request_alarm_seconds=settings.oldest_request_alarm_seconds,
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
            "ResultsQueueUrl": (results_queue.queue.queue_url, "Queue feeding the results writer"),
            "ResultsQueueArn": (results_queue.queue.queue_arn, "Queue feeding the results writer"),
            "DeadLetterQueueUrl": (
                results_queue.dead_letter_queue.queue_url,
                "Unwritable notifications",
            ),
            "DeadLetterQueueArn": (
                results_queue.dead_letter_queue.queue_arn,
                "Unwritable notifications",
            ),
            "DataKeyArn": (data_key.key_arn, "KMS key encrypting payloads and results"),
            "AlarmTopicArn": (monitoring.alarm_topic.topic_arn, "Every alarm notifies this topic"),
            "DeadLetterQueueAlarmName": (
                monitoring.dead_letter_queue_alarm.alarm_name,
                "Alarm on notifications waiting in the dead-letter queue",
            ),
        }
        for output_id, (value, description) in outputs.items():
            CfnOutput(self, output_id, value=value, description=description)

    def _models(
        self, settings: Settings, image: ModelImage, execution: ExecutionRole
    ) -> tuple[InferenceModel, dict[str, InferenceModel]]:
        """The model for the preferred instance type, and the pools' models where one needs
        the other image (GPU vs CPU): a pool names it with InstancePool.ModelNameOverride."""

        def inference_model(construct_id: str, instance_type: str) -> InferenceModel:
            model = InferenceModel(
                self,
                construct_id,
                image_uri=image.uri_for(instance_type),
                role=execution.role,
                model_data_url=settings.model_data_url,
                environment=model_environment(
                    model_source=settings.model_source,
                    hf_model_id=settings.hf_model_id,
                    hf_task=settings.hf_task,
                    max_payload_mib=settings.max_payload_mib,
                    invocation_timeout_seconds=settings.invocation_timeout_seconds,
                    extra=settings.model_environment,
                ),
                network_isolation=settings.isolates_network,
            )
            # CreateModel checks that SageMaker can pull the image with the role's
            # permissions.
            model.node.add_dependency(execution.policy)
            return model

        model = inference_model("Model", settings.pool_instance_types[0])
        other_types = [
            t for t in settings.pool_instance_types if image.uri_for(t) != model.image_uri
        ]
        if not other_types:
            return model, {}
        other_id = "GpuModel" if is_gpu_type(other_types[0]) else "CpuModel"
        other_model = inference_model(other_id, other_types[0])
        return model, dict.fromkeys(other_types, other_model)
