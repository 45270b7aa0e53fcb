"""What one inference endpoint is: its model, instances, limits, scaling and alarms.

Plain data, no aws_cdk import: the app's settings (stacks/config.py) extend these props,
and `asyncinfer` tools read them without starting jsii.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from asyncinfer_constructs.instance_types import (
    ACCELERATOR_FAMILIES,
    GRAVITON_FAMILIES,
    INSTANCE_TYPE,
    KNOWN_FAMILIES,
    MAX_INSTANCE_POOLS,
    NVME_FAMILIES,
    is_gpu_type,
)
from asyncinfer_constructs.props import (
    between,
    check_fields,
    check_value,
    matching,
    non_blank,
    one_of,
    require,
)

# An endpoint's name in a system: its construct id, its dashboard titles, its key in the
# `Endpoints` stack output and what `asyncinfer --endpoint` takes.
ENDPOINT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
MODEL_SOURCES = ("huggingface", "s3-artifact", "container")
NOTIFICATION_TOPICS = ("SUCCESS_NOTIFICATION_TOPIC", "ERROR_NOTIFICATION_TOPIC")

_ECR_IMAGE = (
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>[a-z0-9][a-z0-9._/-]*)(?::[\w][\w.-]{0,127}|@sha256:[a-f0-9]{64})$"
)
# The Hugging Face Hub model and its DLC, checked only for model_source 'huggingface'.
_HF_FIELDS = {
    "hf_model_id": matching(r"^[\w.-]+(/[\w.-]+)?$", "be a Hugging Face Hub id like 'org/model'"),
    "hf_task": matching(r"[a-z0-9-]+\Z", "be a pipeline task like 'text-classification'"),
    "hf_dlc_version": matching(
        r"\d+\.\d+\.\d+-transformers\d+\.\d+\.\d+\Z", "look like '2.6.0-transformers4.51.3'"
    ),
}


@dataclass(frozen=True, kw_only=True)
class InferenceEndpointProps:
    """One endpoint's settings. Each field's doc is also its row in README.md."""

    # --- Model -------------------------------------------------------------------------
    model_source: str = field(default="huggingface", metadata=one_of(*MODEL_SOURCES))
    """Where the model comes from: `huggingface`, `s3-artifact` or `container`."""
    hf_model_id: str = "cardiffnlp/twitter-roberta-base-sentiment"
    """Hugging Face Hub model id (`HF_MODEL_ID`), for `model_source=huggingface`."""
    hf_task: str = "text-classification"
    """Pipeline task (`HF_TASK`), for `model_source=huggingface`."""
    hf_dlc_version: str = "2.6.0-transformers4.51.3"
    """Hugging Face PyTorch inference DLC version (`<pytorch>-transformers<version>`)."""
    hf_python_version: str = field(default="py312", metadata=non_blank())
    """Python tag of the DLC image."""
    hf_cuda_version: str = field(default="cu124", metadata=non_blank())
    """CUDA tag of the GPU DLC image (used when the instance type has a GPU)."""
    hf_os_version: str = field(default="ubuntu22.04", metadata=non_blank())
    """OS tag of the DLC image."""
    image_uri: str | None = field(
        default=None,
        metadata=matching(
            _ECR_IMAGE,
            "be an ECR image URI like '123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:tag'",
        ),
    )
    """ECR image URI; required for `s3-artifact` (framework image) and `container`."""
    model_data_url: str | None = field(
        default=None,
        metadata=matching(
            r"^s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])/(\S+)$",
            "be an S3 URI like 's3://bucket/path/model.tar.gz'",
        ),
    )
    """`s3://` URI of model.tar.gz; required for `s3-artifact`, optional for `container`."""
    model_environment: Mapping[str, str] = field(default_factory=dict)
    """Extra container environment variables (JSON object)."""
    network_isolation: bool | None = None
    """Container without network access; unset: on, off for `huggingface` (Hub download)."""

    # --- Endpoint ----------------------------------------------------------------------
    # 63 characters at most (SageMaker), less the generation suffix (`-` + 8 hex digits).
    endpoint_name: str | None = field(
        default=None,
        metadata=matching(
            r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,53}$",
            "be 1-54 letters, digits or hyphens, starting with a letter or digit (the stack "
            "appends '-' and an 8-character generation)",
        ),
    )
    """Endpoint name prefix (`<name>-<generation>`); unset: the stack name and endpoint path."""
    instance_type: str = "ml.m5.xlarge"
    """Instance type (`ml.<family>.<size>`); a GPU family selects the GPU DLC image."""
    instance_types: tuple[str, ...] = ()
    """Up to 5 instance types for instance pools, preferred first; replaces `instance_type`."""
    initial_instance_count: int = field(default=1, metadata=between(1, 100))
    """Instances at creation; autoscaling takes over afterwards."""
    max_concurrent_invocations_per_instance: int = field(default=4, metadata=between(1, 1000))
    """Requests one instance processes at once (1..1000)."""
    include_inference_response_in: tuple[str, ...] = NOTIFICATION_TOPICS
    """Topics whose notifications carry the response body (<= 128 KB); empty for none."""
    invocation_timeout_seconds: int = field(default=900, metadata=between(1, 3600))
    """Longest a container may take per request (1..3600); sets the model server's timeout."""
    max_payload_mib: int = field(default=100, metadata=between(1, 1024))
    """Largest request/response the model server accepts, in MiB (1..1024)."""
    volume_kms_key_arn: str | None = field(
        default=None,
        metadata=matching(
            r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[\w/-]+$",
            "be a KMS key or alias ARN",
        ),
    )
    """Customer KMS key for the instances' ML storage volume (not for NVMe families)."""

    # --- Scaling -----------------------------------------------------------------------
    autoscaling_enabled: bool = True
    """Attach the scale-to-zero and scale-out-from-zero policies."""
    min_capacity: int = field(default=0, metadata=between(0, 1000))
    """Fewest instances; 0 means nothing runs (or costs) while idle."""
    max_capacity: int = field(default=2, metadata=between(1, 1000))
    """Most instances autoscaling may run."""
    target_backlog_per_instance: float = 5.0
    """Target of `ApproximateBacklogSizePerInstance` for target tracking."""
    scale_in_cooldown_seconds: int = field(default=600, metadata=between(0, 86400))
    """Wait after a scale-in before the next one."""
    scale_out_cooldown_seconds: int = field(default=120, metadata=between(0, 86400))
    """Wait after a scale-out before the next one."""
    # SageMaker publishes its endpoint metrics once a minute (Developer Guide, "Monitor
    # Amazon SageMaker AI with Amazon CloudWatch"). On such a metric a 10, 20 or 30 s period
    # "does not receive data for the attempts that do not correspond to a one-minute data
    # resolution" and makes a high-resolution alarm, which costs more (CloudWatch API
    # Reference, PutMetricAlarm, Period): 60 s is the shortest useful period. The metric is
    # 1 only while requests wait and no instance is in service (Developer Guide, "Alarms
    # and logs for tracking metrics from asynchronous endpoints"), so one breaching minute
    # already means scale out; a second period only delays the first instance by a minute.
    # The simulator's sweep (bench/results/advise.json, docs/scaling.md): 60 s x 1 gives
    # the earliest first result (startup + 70.5 s, was + 130.5 s) and launches no more
    # instances than 60 s x 2 on any scenario or held trace.
    scale_out_from_zero_period_seconds: int = 60
    """Period of the `HasBacklogWithoutCapacity` alarm (a multiple of 60; published per minute)."""
    scale_out_from_zero_evaluation_periods: int = field(default=1, metadata=between(1, 10))
    """Periods the alarm must breach; period x periods must be <= 120 s."""
    # Below the drain's own settle time nothing could drain; CloudFormation waits at most
    # an hour for a custom resource (ServiceTimeout <= 3600 s), and the drain needs a few
    # minutes of that to answer.
    endpoint_drain_timeout_minutes: int = field(default=50, metadata=between(5, 55))
    """Longest an old endpoint may drain its queue after an instance type or name change (5..55)."""
    # CloudWatch re-runs an Auto Scaling alarm action every period while the alarm stays
    # in ALARM, and HasBacklogWithoutCapacity stays 1 until the first instance is
    # InService: a cooldown shorter than a cold start adds an instance per cooldown for a
    # single request. A cold start (instance, image pull, model load) takes minutes, so
    # below a minute is never right; an hour is the longest container start-up SageMaker
    # allows (ContainerStartupHealthCheckTimeoutInSeconds, 60..3600).
    scale_out_from_zero_cooldown_seconds: int = field(default=600, metadata=between(60, 3600))
    """Cooldown of the scale-out-from-zero step policy (60..3600); must cover a cold start."""

    # --- Monitoring --------------------------------------------------------------------
    oldest_request_alarm_seconds: int = field(default=1800, metadata=between(60, 6 * 3600))
    """Alarm when the oldest queued request is older than this."""

    # --- Derived -----------------------------------------------------------------------
    @property
    def pool_instance_types(self) -> tuple[str, ...]:
        """The variant's instance types, most preferred first (one without pools)."""
        return self.instance_types or (self.instance_type,)

    @property
    def uses_gpu(self) -> bool:
        """Whether the most preferred instance type has a GPU."""
        return is_gpu_type(self.pool_instance_types[0])

    @property
    def isolates_network(self) -> bool:
        """Network isolation as deployed: the setting, or the model source's default."""
        if self.network_isolation is not None:
            return self.network_isolation
        return self.model_source != "huggingface"

    @property
    def scale_out_from_zero_window_seconds(self) -> int:
        return self.scale_out_from_zero_period_seconds * self.scale_out_from_zero_evaluation_periods

    def __post_init__(self) -> None:
        check_endpoint_props(self)


def check_endpoint_props(props: InferenceEndpointProps) -> None:
    """Each field on its own first: the rules between fields below rely on it."""
    from dataclasses import fields

    check_fields(props, [f.name for f in fields(InferenceEndpointProps)])
    _check_model(props)
    _check_instances(props)
    _check_scaling(props)


def _check_model(p: InferenceEndpointProps) -> None:
    if p.model_source == "huggingface":
        for name, metadata in _HF_FIELDS.items():
            check_value(name, getattr(p, name), metadata)
    else:
        require(
            p.image_uri is not None,
            f"Setting 'image_uri' is required when model_source is {p.model_source!r}; "
            f"received nothing.",
        )
    # An isolated container has no outbound network (SageMaker Developer Guide, "Run
    # training and inference containers in internet-free mode"), and the Hugging Face
    # DLC downloads HF_MODEL_ID from the Hub when it starts.
    require(
        not (p.model_source == "huggingface" and p.network_isolation),
        "Setting 'network_isolation' must be false or unset with model_source 'huggingface' "
        "(received true), because the container downloads the Hub model at start; package "
        "the model as model.tar.gz with model_source 's3-artifact' to run it isolated.",
    )
    if p.model_source == "s3-artifact":
        require(
            p.model_data_url is not None,
            "Setting 'model_data_url' is required when model_source is 's3-artifact'; "
            "received nothing.",
        )
    for key, value in p.model_environment.items():
        require(
            isinstance(key, str) and isinstance(value, str) and key.strip() != "",
            f"Setting 'model_environment' must map non-empty names to string values; "
            f"received {key!r}: {value!r}.",
        )


def _check_instances(p: InferenceEndpointProps) -> None:
    # Instance pools: up to five types, priorities 1-5 (SageMaker API Reference,
    # InstancePool; Developer Guide, "Deploy to multiple instance types with instance
    # pools", which supports them for asynchronous endpoints and with auto scaling).
    name = "instance_types" if p.instance_types else "instance_type"
    require(
        len(p.instance_types) <= MAX_INSTANCE_POOLS,
        f"Setting 'instance_types' must list at most {MAX_INSTANCE_POOLS} instance types "
        f"(one per instance pool); received {len(p.instance_types)}.",
    )
    for instance_type in p.instance_types:
        require(
            p.instance_types.count(instance_type) == 1,
            f"Setting 'instance_types' lists {instance_type!r} more than once; each instance "
            f"pool needs a type of its own.",
        )
    for instance_type in p.pool_instance_types:
        _check_instance_type(p, name, instance_type)
    for topic in p.include_inference_response_in:
        require(
            topic in NOTIFICATION_TOPICS,
            f"Setting 'include_inference_response_in' has unknown topic {topic!r}; "
            f"expected any of {', '.join(NOTIFICATION_TOPICS)}.",
        )


def _check_instance_type(p: InferenceEndpointProps, name: str, instance_type: str) -> None:
    match = INSTANCE_TYPE.match(instance_type)
    require(
        match is not None,
        f"Setting '{name}' must look like 'ml.m5.xlarge'; received {instance_type!r}.",
    )
    assert match is not None
    family = match.group(1)
    require(
        family in KNOWN_FAMILIES,
        f"Setting '{name}' has unknown instance family {family!r} in "
        f"{instance_type!r}; expected one of {', '.join(sorted(KNOWN_FAMILIES))}.",
    )
    if p.model_source == "huggingface":
        require(
            family not in ACCELERATOR_FAMILIES | GRAVITON_FAMILIES,
            f"Setting '{name}' {instance_type!r} needs a Neuron or Arm image, which "
            f"the Hugging Face PyTorch DLC is not; use an x86 CPU or GPU instance, or "
            f"model_source 'container' with a matching image_uri.",
        )
    if p.volume_kms_key_arn is not None:
        require(
            family not in NVME_FAMILIES,
            f"Setting 'volume_kms_key_arn' cannot be used with instance type "
            f"{instance_type!r}: its local NVMe storage is always hardware-encrypted and "
            f"SageMaker rejects a volume KMS key; unset it or choose a family without "
            f"instance storage.",
        )


def _check_scaling(p: InferenceEndpointProps) -> None:
    require(
        p.min_capacity <= p.max_capacity,
        f"Setting 'min_capacity' ({p.min_capacity}) must not exceed 'max_capacity' "
        f"({p.max_capacity}).",
    )
    require(
        p.target_backlog_per_instance > 0,
        f"Setting 'target_backlog_per_instance' must be greater than 0; "
        f"received {p.target_backlog_per_instance!r}.",
    )
    require(
        p.initial_instance_count <= p.max_capacity,
        f"Setting 'initial_instance_count' ({p.initial_instance_count}) must not exceed "
        f"'max_capacity' ({p.max_capacity}).",
    )
    period = p.scale_out_from_zero_period_seconds
    require(
        period >= 60 and period % 60 == 0,
        f"Setting 'scale_out_from_zero_period_seconds' must be a multiple of 60, because "
        f"SageMaker publishes HasBacklogWithoutCapacity once a minute and a shorter alarm "
        f"period gets no data in most periods (it may never scale out); received {period!r}.",
    )
    require(
        p.scale_out_from_zero_window_seconds <= 120,
        f"Settings 'scale_out_from_zero_period_seconds' x "
        f"'scale_out_from_zero_evaluation_periods' must be at most 120 s so the first request "
        f"on an idle endpoint starts an instance within 2 minutes; received "
        f"{period} x {p.scale_out_from_zero_evaluation_periods} = "
        f"{p.scale_out_from_zero_window_seconds} s.",
    )
