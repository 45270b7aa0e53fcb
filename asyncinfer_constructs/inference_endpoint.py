"""One inference endpoint: its model, its role, its generations, scaling, drain and alarms.

An endpoint reads payloads from the system's input bucket, writes outputs and failures
to its output bucket, and announces each outcome on the results pipeline's topics, so
several endpoints share one pipeline and one results table.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from asyncinfer_constructs.autoscaling import ScaleToZero
from asyncinfer_constructs.dlc_image import DlcTag
from asyncinfer_constructs.endpoint import AsyncEndpoint, endpoint_generation
from asyncinfer_constructs.endpoint_drain import EndpointDrainProvider
from asyncinfer_constructs.endpoint_logs import EndpointLogGroup, EndpointLogRetention
from asyncinfer_constructs.endpoint_props import InferenceEndpointProps
from asyncinfer_constructs.feature_flags import pin_feature_flags
from asyncinfer_constructs.instance_types import is_gpu_type
from asyncinfer_constructs.model import (
    ExecutionRole,
    InferenceModel,
    ModelImage,
    model_environment,
    model_image,
)
from asyncinfer_constructs.monitoring import ONE_MINUTE, graph, monitoring_alarms
from asyncinfer_constructs.pipeline_props import ResultsPipelineProps
from asyncinfer_constructs.results_pipeline import ResultsPipeline
from asyncinfer_constructs.storage import failure_path, output_path


class InferenceEndpoint(Construct):
    """A SageMaker asynchronous endpoint and everything that belongs to it alone.

    Attributes: `props`, `execution_role`, `generation`, `model` (and `pool_models`),
    `endpoint` (the generation's config and endpoint), `logs` (the generation's log group
    and write grant when `endpoint_name` is set, else its log retention), `scaling` (None
    without autoscaling), `drain`, `alarms`.

    Everything of one generation has the generation in its construct id: an instance type
    change, or setting, changing or unsetting `endpoint_name`, creates a new generation
    beside the old one, and the old one is drained, then deleted, after the update
    (docs/updates.md).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline: ResultsPipeline,
        input_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        key: kms.IKey,
        alarm_topic: sns.ITopic,
        drain_provider: EndpointDrainProvider,
        props: InferenceEndpointProps | None = None,
        log_retention_days: int = ResultsPipelineProps().log_retention_days,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        """`key` encrypts the outputs SageMaker writes and the endpoint's logs;
        `drain_provider` drains an old generation before it is deleted. `props` defaults to
        InferenceEndpointProps(). Each generation's SageMaker log group keeps its events
        `log_retention_days`; a named generation's group (created by the stack) is deleted
        with the stack only when `removal_policy` says so, one named by SageMaker is kept."""
        super().__init__(scope, construct_id)
        pin_feature_flags(self)
        self.props = props = props or InferenceEndpointProps()
        self._pipeline = pipeline
        self._input_bucket = input_bucket
        self._key = key

        # The model runs with a role that can do exactly that, and no more.
        image = model_image(
            self,
            image_uri=props.image_uri,
            dlc_tag=DlcTag(
                version=props.hf_dlc_version,
                python=props.hf_python_version,
                cuda=props.hf_cuda_version,
                os=props.hf_os_version,
            )
            if props.model_source == "huggingface"
            else None,
            preferred_instance_type=props.pool_instance_types[0],
        )
        self.execution_role = ExecutionRole(
            self,
            "Execution",
            input_bucket=input_bucket,
            output_bucket=output_bucket,
            topics=pipeline.topics,
            keys=list(dict.fromkeys([key, pipeline.topic_key])),
            output_key=key,
            image_repository_arn=image.repository_arn,
            model_data_url=props.model_data_url,
            generated_names=props.endpoint_name is None,
        )
        self.generation = generation = endpoint_generation(
            props.pool_instance_types, props.endpoint_name
        )
        # `endpoint_name` is a prefix: each generation is `<endpoint_name>-<generation>`,
        # or a name CloudFormation generates when unset.
        endpoint_name = f"{props.endpoint_name}-{generation}" if props.endpoint_name else None
        self.model, self.pool_models = self._models(image)
        named_logs = (
            EndpointLogGroup(
                self,
                f"Logs{generation}",
                endpoint_name=endpoint_name,
                role=self.execution_role.role,
                key=key,
                log_retention_days=log_retention_days,
                removal_policy=removal_policy,
            )
            if endpoint_name
            else None
        )

        # The async endpoint queues requests, reads them from the input bucket, and writes
        # each response or failure to the output bucket and one of the pipeline's topics.
        self.endpoint = AsyncEndpoint(
            self,
            "Endpoint",
            generation=generation,
            endpoint_name=endpoint_name,
            model=self.model,
            instance_type=props.instance_type,
            instance_pools=props.instance_types,
            pool_models=self.pool_models,
            initial_instance_count=props.initial_instance_count,
            max_concurrent_invocations_per_instance=props.max_concurrent_invocations_per_instance,
            include_inference_response_in=props.include_inference_response_in,
            volume_kms_key_arn=props.volume_kms_key_arn,
            output_path=output_path(output_bucket),
            failure_path=failure_path(output_bucket),
            success_topic=pipeline.success_topic,
            error_topic=pipeline.error_topic,
            output_key=key,
            created_after=[self.execution_role.policy, *([named_logs] if named_logs else [])],
        )
        self.logs: EndpointLogGroup | EndpointLogRetention = named_logs or EndpointLogRetention(
            self,
            f"Logs{generation}",
            endpoint=self.endpoint.endpoint,
            log_retention_days=log_retention_days,
        )

        # It costs nothing while idle and starts an instance for the first request.
        # Scaling belongs to one endpoint generation, like the endpoint itself.
        self.scaling = (
            ScaleToZero(
                self,
                f"Scaling{generation}",
                endpoint=self.endpoint,
                min_capacity=props.min_capacity,
                max_capacity=props.max_capacity,
                target_backlog_per_instance=props.target_backlog_per_instance,
                scale_in_cooldown=Duration.seconds(props.scale_in_cooldown_seconds),
                scale_out_cooldown=Duration.seconds(props.scale_out_cooldown_seconds),
                scale_out_from_zero_cooldown=Duration.seconds(
                    props.scale_out_from_zero_cooldown_seconds
                ),
                scale_out_from_zero_period=Duration.seconds(
                    props.scale_out_from_zero_period_seconds
                ),
                scale_out_from_zero_evaluation_periods=props.scale_out_from_zero_evaluation_periods,
            )
            if props.autoscaling_enabled
            else None
        )
        # A new generation (instance type or name change) replaces the endpoint; the old
        # one's queue drains, then the drain deletes it (docs/updates.md). The drain is
        # deleted first, so the old generation still scales (out of zero too), logs and
        # keeps its log retention while it drains.
        self.drain = drain_provider.drain(
            self,
            f"DrainEndpoint{generation}",
            endpoint=self.endpoint,
            models=[self.model, *dict.fromkeys(self.pool_models.values())],
            timeout_seconds=props.endpoint_drain_timeout_minutes * 60,
            deleted_before=[self.logs, *([self.scaling] if self.scaling else [])],
        )

        self.alarms = monitoring_alarms(
            self,
            alarm_topic,
            {
                "InvocationFailuresAlarm": (
                    "The model failed requests (see the failure path and the FAILED records)",
                    self.metric_failures(),
                    1,
                ),
                "NotificationFailuresAlarm": (
                    "SageMaker could not publish a notification: results records will be missing",
                    self.endpoint.metric_variant("NotificationFailures"),
                    1,
                ),
                "OldestRequestAlarm": (
                    "A request has waited in the endpoint queue too long",
                    self.metric_age_of_oldest_request(),
                    props.oldest_request_alarm_seconds,
                ),
            },
        )

    @property
    def endpoint_name(self) -> str:
        """The current generation's SageMaker endpoint name (a token)."""
        return self.endpoint.endpoint_name

    @property
    def endpoint_arn(self) -> str:
        """The current generation's ARN (Ref of AWS::SageMaker::Endpoint)."""
        return self.endpoint.endpoint.ref

    # --- Grants --------------------------------------------------------------------------

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """InvokeEndpointAsync on this endpoint's current generation."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:InvokeEndpointAsync"],
            resource_arns=[self.endpoint_arn],
        )

    def grant_submit(self, grantee: iam.IGrantable) -> iam.Grant:
        """Everything a client needs to submit a request the way asyncinfer does: upload
        the payload to the input bucket (any key; SSE-KMS needs kms:GenerateDataKey, and
        kms:Decrypt for multipart uploads: Amazon S3 User Guide, "Using server-side
        encryption with AWS KMS keys"), invoke, and write the PENDING record first."""
        upload = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:PutObject", "s3:AbortMultipartUpload"],
            resource_arns=[self._input_bucket.arn_for_objects("*")],
        )
        key_use = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resource_arns=[self._key.key_arn],
        )
        return (
            self.grant_invoke(grantee)
            .combine(upload)
            .combine(key_use)
            .combine(self._pipeline.grant_write_pending(grantee))
        )

    # --- Metrics ---------------------------------------------------------------------------

    def metric_backlog(self) -> cloudwatch.Metric:
        """ApproximateBacklogSize: requests queued or in process (Average over a minute)."""
        return self.endpoint.metric(
            "ApproximateBacklogSize", statistic="Average", period=ONE_MINUTE
        )

    def metric_backlog_per_instance(self) -> cloudwatch.Metric:
        """ApproximateBacklogSizePerInstance, what target tracking follows."""
        return self.endpoint.metric(
            "ApproximateBacklogSizePerInstance", statistic="Average", period=ONE_MINUTE
        )

    def metric_backlog_without_capacity(self) -> cloudwatch.Metric:
        """HasBacklogWithoutCapacity: 1 while a request waits and no instance runs."""
        return self.endpoint.metric(
            "HasBacklogWithoutCapacity", statistic="Maximum", period=ONE_MINUTE
        )

    def metric_age_of_oldest_request(self) -> cloudwatch.Metric:
        """ApproximateAgeOfOldestRequest, in seconds (Maximum over a minute)."""
        return self.endpoint.metric(
            "ApproximateAgeOfOldestRequest", statistic="Maximum", period=ONE_MINUTE
        )

    def metric_failures(self) -> cloudwatch.Metric:
        """InvocationFailures of the variant (Sum over five minutes)."""
        return self.endpoint.metric_variant("InvocationFailures")

    # --- Dashboard -------------------------------------------------------------------------

    def dashboard_rows(self, title_prefix: str = "") -> list[list[cloudwatch.IWidget]]:
        """Backlog, instances and age of the oldest request; processing time, outcomes and
        transfer failures: two dashboard rows, each title after `title_prefix`."""
        backlog = self.metric_backlog()
        per_instance = self.metric_backlog_per_instance()
        # Async endpoints publish no instance-count metric; backlog / backlog-per-instance
        # is the instance count whenever there is a backlog.
        instances = cloudwatch.MathExpression(
            expression="IF(perInstance > 0, backlog / perInstance, 0)",
            using_metrics={"backlog": backlog, "perInstance": per_instance},
            label="Instances (while a backlog exists)",
            period=ONE_MINUTE,
        )

        def variant_sums(*metric_names: str) -> list[cloudwatch.IMetric]:
            return [self.endpoint.metric_variant(name) for name in metric_names]

        p = title_prefix
        return [
            [
                graph(
                    f"{p}Backlog", [backlog, per_instance], [self.metric_backlog_without_capacity()]
                ),
                graph(f"{p}Instances", [instances]),
                graph(f"{p}Oldest queued request (s)", [self.metric_age_of_oldest_request()]),
            ],
            [
                graph(
                    f"{p}Processing time (ms)",
                    [
                        self.endpoint.metric_variant("TotalProcessingTime", statistic="Average"),
                        self.endpoint.metric_variant("TimeInBacklog", statistic="Average"),
                    ],
                ),
                # Both spellings: the Developer Guide's table of async metrics ("Monitoring
                # asynchronous endpoints") names InvocationsProcesssed, three s, while code
                # that reads deployed async endpoints (Cloud Custodian's SageMaker docs)
                # queries InvocationsProcessed and calls the guide's name a misspelling, as
                # local mode publishes it. Unverified in an account: whichever SageMaker
                # publishes is drawn; the other stays empty.
                graph(
                    f"{p}Processed and failed",
                    variant_sums(
                        "InvocationsProcessed",
                        "InvocationsProcesssed",
                        "InvocationFailures",
                        "ExpiredRequests",
                    ),
                ),
                graph(
                    f"{p}Transfer and notification failures",
                    variant_sums(
                        "RequestDownloadFailures", "ResponseUploadFailures", "NotificationFailures"
                    ),
                ),
            ],
        ]

    def _models(self, image: ModelImage) -> tuple[InferenceModel, dict[str, InferenceModel]]:
        """The model for the preferred instance type, and the pools' models where one needs
        the other image (GPU vs CPU): a pool names it with InstancePool.ModelNameOverride."""
        props = self.props

        def inference_model(construct_id: str, instance_type: str) -> InferenceModel:
            model = InferenceModel(
                self,
                construct_id,
                image_uri=image.uri_for(instance_type),
                role=self.execution_role.role,
                model_data_url=props.model_data_url,
                environment=model_environment(
                    model_source=props.model_source,
                    hf_model_id=props.hf_model_id,
                    hf_task=props.hf_task,
                    max_payload_mib=props.max_payload_mib,
                    invocation_timeout_seconds=props.invocation_timeout_seconds,
                    extra=props.model_environment,
                ),
                network_isolation=props.isolates_network,
            )
            # CreateModel checks that SageMaker can pull the image with the role's
            # permissions.
            model.node.add_dependency(self.execution_role.policy)
            return model

        # Like the config, each model belongs to one generation (its construct id), so an
        # old endpoint never outlives the models it may still scale out with.
        model = inference_model(f"Model{self.generation}", props.pool_instance_types[0])
        other_types = [t for t in props.pool_instance_types if image.uri_for(t) != model.image_uri]
        if not other_types:
            return model, {}
        other_id = ("GpuModel" if is_gpu_type(other_types[0]) else "CpuModel") + self.generation
        other_model = inference_model(other_id, other_types[0])
        return model, dict.fromkeys(other_types, other_model)
