"""The async endpoint: its config (AsyncInferenceConfig) and the endpoint itself."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.config import Settings

VARIANT_NAME = "AllTraffic"
GENERATION_LENGTH = 8


def endpoint_generation(settings: Settings) -> str:
    """A short digest of what SageMaker refuses to change on an autoscaled variant.

    SageMaker rejects an UpdateEndpoint that changes the instance type of a variant
    registered with Application Auto Scaling, or removes such a variant; changing its
    model is allowed (SageMaker Developer Guide, "Update endpoints that use auto
    scaling"). Everything that decides the variant's instance types or its name goes in.
    """
    identity = {"variant": VARIANT_NAME, "instanceTypes": list(settings.pool_instance_types)}
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    return digest[:GENERATION_LENGTH]


def generation_endpoint_name(settings: Settings) -> str | None:
    """`<endpoint_name>-<generation>`: two generations exist at once during a change."""
    if settings.endpoint_name is None:
        return None  # CloudFormation generates a new name for each generation
    return f"{settings.endpoint_name}-{endpoint_generation(settings)}"


def endpoint_name_pattern(settings: Settings) -> str:
    """Every generation's endpoint name, as an IAM resource pattern (ARNs are lower case)."""
    if settings.endpoint_name is None:
        return "*"
    return f"{settings.endpoint_name.lower()}-*"


def _instance_properties(settings: Settings, pool_models: Mapping[str, str]) -> dict[str, Any]:
    """`InstanceType`, or `InstancePools` in priority order when several types are set.

    Instance pools replace the variant's InstanceType; SageMaker provisions from priority 1
    first and falls back on insufficient capacity, for asynchronous endpoints and with auto
    scaling too (SageMaker Developer Guide, "Deploy to multiple instance types with
    instance pools"). A pool whose type needs another image names its own model.
    """
    if not settings.instance_types:
        return {"instance_type": settings.instance_type}
    pools = [
        sagemaker.CfnEndpointConfig.InstancePoolProperty(
            instance_type=instance_type,
            priority=priority,
            model_name_override=pool_models.get(instance_type),
        )
        for priority, instance_type in enumerate(settings.instance_types, start=1)
    ]
    return {"instance_pools": pools}


class AsyncEndpoint(Construct):
    """Endpoint config with async inference, and an endpoint that keeps scaled capacity."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        model_name: str,
        pool_models: Mapping[str, str],
        output_path: str,
        failure_path: str,
        success_topic: sns.ITopic,
        error_topic: sns.ITopic,
        output_key: kms.IKey,
        execution_policy: iam.Policy,
    ) -> None:
        super().__init__(scope, construct_id)
        notification_config = sagemaker.CfnEndpointConfig.AsyncInferenceNotificationConfigProperty(
            success_topic=success_topic.topic_arn,
            error_topic=error_topic.topic_arn,
            include_inference_response_in=list(settings.include_inference_response_in) or None,
        )
        self.config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT_NAME,
                    model_name=model_name,
                    initial_instance_count=settings.initial_instance_count,
                    initial_variant_weight=1,
                    **_instance_properties(settings, pool_models),
                )
            ],
            kms_key_id=settings.volume_kms_key_arn,
            async_inference_config=sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty(
                output_config=sagemaker.CfnEndpointConfig.AsyncInferenceOutputConfigProperty(
                    s3_output_path=output_path,
                    s3_failure_path=failure_path,
                    kms_key_id=output_key.key_arn,
                    notification_config=notification_config,
                ),
                client_config=sagemaker.CfnEndpointConfig.AsyncInferenceClientConfigProperty(
                    max_concurrent_invocations_per_instance=(
                        settings.max_concurrent_invocations_per_instance
                    )
                ),
            ),
        )
        # The generation is part of the endpoint's construct id: a change SageMaker refuses
        # on an autoscaled variant gives CloudFormation a new endpoint to create (and the
        # old one to delete after the update), instead of an UpdateEndpoint that fails.
        self.generation = endpoint_generation(settings)
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            f"Generation{self.generation}",
            endpoint_config_name=self.config.attr_endpoint_config_name,
            endpoint_name=generation_endpoint_name(settings),
            # Every AsyncInferenceConfig change replaces the endpoint config and so updates
            # the endpoint; without this the update would reset the instance count that
            # autoscaling has set (e.g. back to 1 on an endpoint scaled to zero).
            retain_all_variant_properties=True,
        )
        # SageMaker publishes a TestNotification to both topics while it creates the
        # endpoint: the role's permissions must exist first, not just the role.
        self.endpoint.node.add_dependency(execution_policy)

    @property
    def endpoint_name(self) -> str:
        return self.endpoint.attr_endpoint_name
