"""The SageMaker model and the execution role it runs with."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from asyncinfer_constructs.compliance import acknowledge, nag_resource, skip_checkov
from asyncinfer_constructs.dlc_image import DlcImage, DlcTag
from asyncinfer_constructs.endpoint_logs import (
    EVERY_ENDPOINT_LOG_GROUP,
    acknowledge_log_streams,
    endpoint_log_statements,
)
from asyncinfer_constructs.instance_types import is_gpu_type
from asyncinfer_constructs.storage import FAILURE_PREFIX, OUTPUT_PREFIX

_MIB = 1024 * 1024


def _ecr_repository_arn(image_uri: str) -> str:
    """ARN of the ECR repository an `<account>.dkr.ecr.<region>...` image lives in."""
    registry, _, rest = image_uri.partition("/")
    account, _, region_part = registry.partition(".dkr.ecr.")
    region = region_part.split(".amazonaws.com")[0]
    repository = rest.split("@")[0].rsplit(":", 1)[0] if ":" in rest or "@" in rest else rest
    return f"arn:{Aws.PARTITION}:ecr:{region}:{account}:repository/{repository}"


def _s3_object_arn(s3_uri: str) -> str:
    bucket, _, key = s3_uri.removeprefix("s3://").partition("/")
    return f"arn:{Aws.PARTITION}:s3:::{bucket}/{key}"


class ExecutionRole(Construct):
    """Exactly what every generation of the endpoint needs, in a policy the endpoint can
    depend on.

    SageMaker validates the role while it creates the endpoint (it publishes a
    TestNotification to both topics), so the endpoint must wait for the policy, not
    just the role: that is why the policy is its own resource (`self.policy`).

    Writing logs: with `generated_names` (no `endpoint_name`), on SageMaker's endpoint log
    groups, `/aws/sagemaker/Endpoints/*`, here, since a generated name is known only once
    the endpoint exists; otherwise per generation, on that generation's log group alone
    (endpoint_logs.py), so an old generation keeps its grant while it drains.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        input_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        topics: Sequence[sns.ITopic],
        keys: Sequence[kms.IKey],
        output_key: kms.IKey,
        image_repository_arn: str,
        model_data_url: str | None,
        generated_names: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Execution role of the async inference endpoint",
        )
        statements = [
            iam.PolicyStatement(
                sid="ReadRequestPayloads",
                actions=["s3:GetObject"],
                resources=[input_bucket.arn_for_objects("*")],
            ),
            iam.PolicyStatement(
                sid="WriteOutputsAndFailures",
                actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[
                    output_bucket.arn_for_objects(f"{OUTPUT_PREFIX}*"),
                    output_bucket.arn_for_objects(f"{FAILURE_PREFIX}*"),
                ],
            ),
            iam.PolicyStatement(
                sid="PublishNotifications",
                actions=["sns:Publish"],
                resources=[topic.topic_arn for topic in topics],
            ),
            iam.PolicyStatement(
                # Read encrypted payloads, write encrypted outputs, publish to encrypted topics.
                sid="UseEncryptionKeys",
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[key.key_arn for key in keys],
            ),
            iam.PolicyStatement(
                # The endpoint config's output KmsKeyId: for its other output KmsKeyId fields
                # SageMaker states that the execution role needs kms:Encrypt and
                # kms:DescribeKey on the key (SageMaker API Reference, TransformOutput and
                # DataCaptureConfig, KmsKeyId); AsyncInferenceOutputConfig says nothing, so
                # grant the same rather than find out at the first response upload.
                sid="EncryptOutputs",
                actions=["kms:Encrypt", "kms:DescribeKey"],
                resources=[output_key.key_arn],
            ),
            iam.PolicyStatement(
                sid="PullModelImage",
                actions=[
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                ],
                resources=[image_repository_arn],
            ),
            iam.PolicyStatement(
                sid="GetRegistryToken",
                actions=["ecr:GetAuthorizationToken"],
                resources=["*"],
            ),
            # Every generation logs while it exists, a draining old one included; naming
            # the generated name here would make this policy and the endpoint, which waits
            # for it, depend on each other.
            *(endpoint_log_statements(self, EVERY_ENDPOINT_LOG_GROUP) if generated_names else []),
            iam.PolicyStatement(
                sid="PublishContainerMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={
                    "StringLike": {"cloudwatch:namespace": ["AWS/SageMaker", "/aws/sagemaker/*"]}
                },
            ),
        ]
        if model_data_url is not None:
            statements.append(
                iam.PolicyStatement(
                    sid="ReadModelArtifact",
                    actions=["s3:GetObject"],
                    resources=[_s3_object_arn(model_data_url)],
                )
            )
        self.policy = iam.Policy(self, "Policy", statements=statements, roles=[self.role])
        policy = self.policy
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken and cloudwatch:PutMetricData support no resource "
            "scoping (AWS requires '*'); PutMetricData is limited to SageMaker namespaces by "
            "condition.",
        )
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{nag_resource(self, input_bucket.arn_for_objects('*'))}]",
            "Clients choose payload keys per request; the endpoint must read any "
            "object of the input bucket, which holds nothing but payloads.",
        )
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::"
            f"{nag_resource(self, output_bucket.arn_for_objects(f'{OUTPUT_PREFIX}*'))}]",
            "Output objects are named by inference id at run time; the grant is "
            "limited to the output/ prefix.",
        )
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::"
            f"{nag_resource(self, output_bucket.arn_for_objects(f'{FAILURE_PREFIX}*'))}]",
            "Failure documents are named by inference id at run time; the grant is "
            "limited to the failure/ prefix.",
        )
        if generated_names:
            acknowledge_log_streams(
                policy, EVERY_ENDPOINT_LOG_GROUP, "SageMaker's endpoint log groups"
            )
            acknowledge(
                policy,
                f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:"
                f"<AWS::AccountId>:log-group:{EVERY_ENDPOINT_LOG_GROUP}]",
                "CloudFormation generates each endpoint generation's name, known only once "
                "the endpoint exists, and the endpoint's instances log from their first "
                "minute (an old one while it drains too); the grant is limited to SageMaker's "
                "endpoint log groups.",
            )


class InferenceModel(Construct):
    """A SageMaker model from the Hugging Face Hub, an S3 artifact or any ECR image."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        image_uri: str,
        role: iam.IRole,
        model_data_url: str | None,
        environment: Mapping[str, str],
        network_isolation: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.image_uri = image_uri
        container = sagemaker.CfnModel.ContainerDefinitionProperty(
            image=image_uri,
            model_data_url=model_data_url,
            environment=dict(environment) or None,
        )
        self.model = sagemaker.CfnModel(
            self,
            "Resource",
            execution_role_arn=role.role_arn,
            primary_container=container,
            enable_network_isolation=network_isolation,
        )
        if not network_isolation:
            skip_checkov(
                self.model,
                "CKV_AWS_370",
                "This model's container needs the network: the Hugging Face DLC downloads "
                "HF_MODEL_ID from the Hub at start (or network_isolation=false was chosen); "
                "s3-artifact and container models run isolated by default.",
            )

    @property
    def model_name(self) -> str:
        return self.model.attr_model_name


def model_environment(
    *,
    model_source: str,
    hf_model_id: str,
    hf_task: str,
    max_payload_mib: int,
    invocation_timeout_seconds: int,
    extra: Mapping[str, str],
) -> dict[str, str]:
    """Container environment: the HF pipeline plus the model server's size and time limits.

    The HF inference toolkit runs on Multi Model Server, whose defaults (6.5 MB payloads,
    60 s responses) would fail large or slow async requests long before SageMaker's own
    1 GB / 1 hour limits. `extra` (the user's own variables) wins over all of these.
    """
    environment: dict[str, str] = {}
    if model_source == "huggingface":
        environment.update(
            {
                "HF_MODEL_ID": hf_model_id,
                "HF_TASK": hf_task,
                "MMS_MAX_REQUEST_SIZE": str(max_payload_mib * _MIB),
                "MMS_MAX_RESPONSE_SIZE": str(max_payload_mib * _MIB),
                "MMS_DEFAULT_RESPONSE_TIMEOUT": str(invocation_timeout_seconds),
            }
        )
    environment.update(extra)
    return environment


@dataclass(frozen=True)
class ModelImage:
    """The model container image: one URI per device (CPU/GPU), and its ECR repository."""

    cpu_uri: str
    gpu_uri: str
    repository_arn: str

    def uri_for(self, instance_type: str) -> str:
        return self.gpu_uri if is_gpu_type(instance_type) else self.cpu_uri


def model_image(
    scope: Construct,
    *,
    image_uri: str | None,
    dlc_tag: DlcTag | None,
    preferred_instance_type: str,
) -> ModelImage:
    """The Hugging Face DLC (CPU and GPU builds) when `dlc_tag` is given and no `image_uri`,
    else the one image `image_uri` names."""
    if image_uri is None:
        assert dlc_tag is not None, "validated: a model without image_uri is a Hub model"
        dlc = DlcImage(
            scope, "DlcImage", tag=dlc_tag, preferred_gpu=is_gpu_type(preferred_instance_type)
        )
        return ModelImage(
            cpu_uri=dlc.image_uri(gpu=False),
            gpu_uri=dlc.image_uri(gpu=True),
            repository_arn=dlc.repository_arn,
        )
    repository_arn = _ecr_repository_arn(image_uri)
    return ModelImage(cpu_uri=image_uri, gpu_uri=image_uri, repository_arn=repository_arn)
