"""The async endpoint: its config (AsyncInferenceConfig), the endpoint, and its metrics."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct, IDependable

from asyncinfer_constructs.model import InferenceModel

VARIANT_NAME = "AllTraffic"
GENERATION_LENGTH = 8
METRIC_NAMESPACE = "AWS/SageMaker"


def endpoint_generation(instance_types: Sequence[str], endpoint_name: str | None) -> str:
    """A short digest of what SageMaker refuses to change on an autoscaled variant, and of
    the endpoint's name when one is set.

    SageMaker rejects an UpdateEndpoint that changes the instance type of a variant
    registered with Application Auto Scaling, or removes such a variant; changing its
    model is allowed (SageMaker Developer Guide, "Update endpoints that use auto
    scaling"). Everything that decides the variant's instance types or its name goes in.

    A set `endpoint_name` goes in too: EndpointName is create-only (AWS::SageMaker::Endpoint,
    "Update requires: Replacement"), so a new name under the same logical id would replace
    the endpoint, and delete its queue, without a drain; in a new generation the old one is
    drained. Without it the identity is exactly the one deployed before names counted
    (variant and instance types), so an endpoint whose name CloudFormation generates keeps
    its generation, its logical id and its name across the upgrade (docs/updates.md).
    """
    identity: dict[str, object] = {"variant": VARIANT_NAME, "instanceTypes": list(instance_types)}
    if endpoint_name is not None:
        identity["endpointName"] = endpoint_name
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    return digest[:GENERATION_LENGTH]


def _instance_properties(
    instance_type: str, instance_pools: Sequence[str], pool_models: Mapping[str, InferenceModel]
) -> dict[str, Any]:
    """`InstanceType`, or `InstancePools` in priority order when pools are set.

    Instance pools replace the variant's InstanceType; SageMaker provisions from priority 1
    first and falls back on insufficient capacity, for asynchronous endpoints and with auto
    scaling too (SageMaker Developer Guide, "Deploy to multiple instance types with
    instance pools"). A pool whose type needs another image names its own model.
    """
    if not instance_pools:
        return {"instance_type": instance_type}
    pools = [
        sagemaker.CfnEndpointConfig.InstancePoolProperty(
            instance_type=pool_type,
            priority=priority,
            model_name_override=(
                pool_models[pool_type].model_name if pool_type in pool_models else None
            ),
        )
        for priority, pool_type in enumerate(instance_pools, start=1)
    ]
    return {"instance_pools": pools}


class AsyncEndpoint(Construct):
    """One generation's endpoint config with async inference, and its endpoint, which keeps
    the capacity autoscaling has set."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        generation: str,
        endpoint_name: str | None,
        model: InferenceModel,
        instance_type: str,
        instance_pools: Sequence[str],
        pool_models: Mapping[str, InferenceModel],
        initial_instance_count: int,
        max_concurrent_invocations_per_instance: int,
        include_inference_response_in: Sequence[str],
        volume_kms_key_arn: str | None,
        output_path: str,
        failure_path: str,
        success_topic: sns.ITopic,
        error_topic: sns.ITopic,
        output_key: kms.IKey,
        created_after: Sequence[IDependable],
    ) -> None:
        """`instance_pools`, preferred first, replace `instance_type` when set; a pool whose
        type needs another image than `model`'s runs the model `pool_models` names for it.
        `endpoint_name` is this generation's whole name, or None for a name CloudFormation
        generates. The endpoint is created only after everything in `created_after` (its
        role's permissions, its log group when it is named)."""
        super().__init__(scope, construct_id)
        self.generation = generation
        notification_config = sagemaker.CfnEndpointConfig.AsyncInferenceNotificationConfigProperty(
            success_topic=success_topic.topic_arn,
            error_topic=error_topic.topic_arn,
            include_inference_response_in=list(include_inference_response_in) or None,
        )
        # The generation is part of the config's construct id too: an old endpoint keeps
        # its own config (and models) until the drain has deleted it, instead of sharing a
        # logical id whose replacement CloudFormation deletes in no documented order with
        # the old endpoint (docs/updates.md).
        self.config = sagemaker.CfnEndpointConfig(
            self,
            f"Config{generation}",
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT_NAME,
                    model_name=model.model_name,
                    initial_instance_count=initial_instance_count,
                    initial_variant_weight=1,
                    **_instance_properties(instance_type, instance_pools, pool_models),
                )
            ],
            kms_key_id=volume_kms_key_arn,
            async_inference_config=sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty(
                output_config=sagemaker.CfnEndpointConfig.AsyncInferenceOutputConfigProperty(
                    s3_output_path=output_path,
                    s3_failure_path=failure_path,
                    kms_key_id=output_key.key_arn,
                    notification_config=notification_config,
                ),
                client_config=sagemaker.CfnEndpointConfig.AsyncInferenceClientConfigProperty(
                    max_concurrent_invocations_per_instance=(
                        max_concurrent_invocations_per_instance
                    )
                ),
            ),
        )
        # The generation is part of the endpoint's construct id: a change SageMaker refuses
        # on an autoscaled variant, or a new name, gives CloudFormation a new endpoint to
        # create (and the old one to drain and delete after the update), instead of an
        # UpdateEndpoint that fails or a replacement that drops the queue.
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            f"Generation{generation}",
            endpoint_config_name=self.config.attr_endpoint_config_name,
            endpoint_name=endpoint_name,
            # Every AsyncInferenceConfig change replaces the endpoint config and so updates
            # the endpoint; without this the update would reset the instance count that
            # autoscaling has set (e.g. back to 1 on an endpoint scaled to zero).
            retain_all_variant_properties=True,
        )
        # SageMaker publishes a TestNotification to both topics while it creates the
        # endpoint, and its instances log from their first minute: the role's permissions
        # (and a named generation's log group) must exist first, not just the role.
        for dependency in created_after:
            self.endpoint.node.add_dependency(dependency)

    @property
    def endpoint_name(self) -> str:
        return self.endpoint.attr_endpoint_name

    def metric(self, metric_name: str, *, statistic: str, period: Duration) -> cloudwatch.Metric:
        """An async-inference metric published with only the EndpointName dimension."""
        return self._metric(metric_name, statistic, period, {})

    def metric_variant(self, metric_name: str, *, statistic: str = "Sum") -> cloudwatch.Metric:
        """A per-variant metric over five minutes (EndpointName and VariantName dimensions)."""
        return self._metric(
            metric_name, statistic, Duration.minutes(5), {"VariantName": VARIANT_NAME}
        )

    def _metric(
        self, metric_name: str, statistic: str, period: Duration, dimensions: dict[str, str]
    ) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=METRIC_NAMESPACE,
            metric_name=metric_name,
            dimensions_map={"EndpointName": self.endpoint_name, **dimensions},
            statistic=statistic,
            period=period,
        )
