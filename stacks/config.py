"""The one typed, validated settings object the whole app is built from.

Settings come from CDK context: `cdk.json` and `cdk synth -c name=value`. Values given on
the command line arrive as strings, so every field is parsed from a string as well as
from its JSON type. Every problem is reported as one sentence naming the setting, the
value received and what is expected, before any construct is created, so a bad
configuration never surfaces as a jsii stack trace.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from asyncinfer.contract import DEFAULT_STACK_NAME

MODEL_SOURCES = ("huggingface", "s3-artifact", "container")
NOTIFICATION_TOPICS = ("SUCCESS_NOTIFICATION_TOPIC", "ERROR_NOTIFICATION_TOPIC")
REMOVAL_POLICIES = ("retain", "destroy")

# SageMaker hosting instance families (ml.<family>.<size>).
GPU_FAMILIES = frozenset(
    {"g4dn", "g5", "g6", "g6e", "p3", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en"}
)
ACCELERATOR_FAMILIES = frozenset({"inf1", "inf2", "trn1", "trn2"})
GRAVITON_FAMILIES = frozenset({"m6g", "m7g", "c6g", "c6gn", "c7g", "r6g", "r7g", "r8g"})
CPU_FAMILIES = frozenset(
    {
        "t2", "t3", "m4", "m5", "m5d", "m6i", "m6id", "m7i", "c4", "c5", "c5d",
        "c6i", "c6id", "c7i", "r5", "r5d", "r6i", "r6id", "r7i",
    }
)  # fmt: skip
KNOWN_FAMILIES = GPU_FAMILIES | ACCELERATOR_FAMILIES | GRAVITON_FAMILIES | CPU_FAMILIES
# Families whose storage is local NVMe: SageMaker rejects an endpoint config KmsKeyId
# for them, because instance storage is always encrypted by the hardware.
NVME_FAMILIES = frozenset(
    {"g4dn", "g5", "g6", "g6e", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en",
     "m5d", "c5d", "r5d", "m6id", "c6id", "r6id", "inf2", "trn1", "trn2"}
)  # fmt: skip

# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
    2557, 2922, 3288, 3653,
)  # fmt: skip

_INSTANCE_TYPE = re.compile(r"^ml\.([a-z0-9]+)\.([a-z0-9]+)$")
_S3_URI = re.compile(r"^s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])/(\S+)$")
_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>[a-z0-9][a-z0-9._/-]*)(?::[\w][\w.-]{0,127}|@sha256:[a-f0-9]{64})$"
)
_KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[\w/-]+$")
# 63 characters at most (SageMaker), less the generation suffix (`-` + 8 hex digits).
_ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,53}$")
_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HF_MODEL_ID = re.compile(r"^[\w.-]+(/[\w.-]+)?$")
_HF_TASK = re.compile(r"[a-z0-9-]+\Z")
_HF_DLC_VERSION = re.compile(r"\d+\.\d+\.\d+-transformers\d+\.\d+\.\d+\Z")

# Settings whose value, when set, must match a pattern: the pattern, and what a value
# must be (the error message's words).
_PATTERNS: dict[str, tuple[re.Pattern[str], str]] = {
    "stack_name": (
        _STACK_NAME,
        "start with a letter and hold only letters, digits and hyphens (at most 128)",
    ),
    "image_uri": (
        _ECR_IMAGE,
        "be an ECR image URI like '123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:tag'",
    ),
    "model_data_url": (_S3_URI, "be an S3 URI like 's3://bucket/path/model.tar.gz'"),
    "volume_kms_key_arn": (_KMS_KEY_ARN, "be a KMS key or alias ARN"),
    "endpoint_name": (
        _ENDPOINT_NAME,
        "be 1-54 letters, digits or hyphens, starting with a letter or digit (the stack "
        "appends '-' and an 8-character generation)",
    ),
    "alarm_email": (_EMAIL, "be an email address"),
}
# The Hugging Face Hub model and its DLC, checked only for model_source 'huggingface'.
_HF_PATTERNS: dict[str, tuple[re.Pattern[str], str]] = {
    "hf_model_id": (_HF_MODEL_ID, "be a Hugging Face Hub id like 'org/model'"),
    "hf_task": (_HF_TASK, "be a pipeline task like 'text-classification'"),
    "hf_dlc_version": (_HF_DLC_VERSION, "look like '2.6.0-transformers4.51.3'"),
}


MAX_INSTANCE_POOLS = 5


def is_gpu_type(instance_type: str) -> bool:
    match = _INSTANCE_TYPE.match(instance_type)
    assert match, "validated in Settings.__post_init__"
    return match.group(1) in GPU_FAMILIES


def between(low: int, high: int) -> dict[str, tuple[int, int]]:
    """Field metadata: the setting must lie in `low..high`, both included."""
    return {"range": (low, high)}


class ConfigError(ValueError):
    """A setting is invalid; the message is one sentence meant for the user."""


# Hand-written rather than pydantic: a pydantic v2 prototype of these fields (same types,
# ranges and patterns) costs 0.25-0.32 s of CPU per synth to import pydantic and build the
# model, against 0.04 s for this module, and took the default app's `cdk synth` from 9.30
# to 9.72 CPU seconds (ratio to the one-bucket app 1.40 -> 1.47, measured on a loaded
# machine). The synth ratio target (1.5, bench/results/synth.json) is already missed, so
# the prototype only moved away from it; it would also need a custom message for every
# rule to keep the one-sentence errors.
@dataclass(frozen=True, kw_only=True)
class Settings:
    """Every knob of the app. Field docs double as the README's configuration reference."""

    stack_name: str = DEFAULT_STACK_NAME
    """CloudFormation stack name (the client finds the stack by it)."""

    # --- Model -------------------------------------------------------------------------
    model_source: str = "huggingface"
    """Where the model comes from: `huggingface`, `s3-artifact` or `container`."""
    hf_model_id: str = "cardiffnlp/twitter-roberta-base-sentiment"
    """Hugging Face Hub model id (`HF_MODEL_ID`), for `model_source=huggingface`."""
    hf_task: str = "text-classification"
    """Pipeline task (`HF_TASK`), for `model_source=huggingface`."""
    hf_dlc_version: str = "2.6.0-transformers4.51.3"
    """Hugging Face PyTorch inference DLC version (`<pytorch>-transformers<version>`)."""
    hf_python_version: str = "py312"
    """Python tag of the DLC image."""
    hf_cuda_version: str = "cu124"
    """CUDA tag of the GPU DLC image (used when the instance type has a GPU)."""
    hf_os_version: str = "ubuntu22.04"
    """OS tag of the DLC image."""
    image_uri: str | None = None
    """ECR image URI; required for `s3-artifact` (framework image) and `container`."""
    model_data_url: str | None = None
    """`s3://` URI of model.tar.gz; required for `s3-artifact`, optional for `container`."""
    model_environment: Mapping[str, str] = field(default_factory=dict)
    """Extra container environment variables (JSON object)."""
    network_isolation: bool | None = None
    """Container without network access; unset: on, off for `huggingface` (Hub download)."""

    # --- Endpoint ----------------------------------------------------------------------
    endpoint_name: str | None = None
    """Endpoint name prefix (`<name>-<generation>`); generated by CloudFormation when unset."""
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
    volume_kms_key_arn: str | None = None
    """Customer KMS key for the instances' ML storage volume (not for NVMe families)."""

    # --- Storage -----------------------------------------------------------------------
    data_retention_days: int = field(default=30, metadata=between(1, 3650))
    """Days before payloads, outputs and failure documents expire from S3."""
    access_log_retention_days: int = field(default=90, metadata=between(1, 3650))
    """Days before S3 server access logs expire."""
    removal_policy: str = "retain"
    """`retain` keeps buckets, table and key on stack deletion; `destroy` deletes them."""

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
    """Period of the `HasBacklogWithoutCapacity` alarm (10, 30 or a multiple of 60)."""
    scale_out_from_zero_evaluation_periods: int = field(default=1, metadata=between(1, 10))
    """Periods the alarm must breach; period x periods must be <= 120 s."""
    # Below the drain's own settle time nothing could drain; CloudFormation waits at most
    # an hour for a custom resource (ServiceTimeout <= 3600 s), and the drain needs a few
    # minutes of that to answer.
    endpoint_drain_timeout_minutes: int = field(default=50, metadata=between(5, 55))
    """Longest an old endpoint may drain its queue after an instance type change (5..55)."""
    # CloudWatch re-runs an Auto Scaling alarm action every period while the alarm stays
    # in ALARM, and HasBacklogWithoutCapacity stays 1 until the first instance is
    # InService: a cooldown shorter than a cold start adds an instance per cooldown for a
    # single request. A cold start (instance, image pull, model load) takes minutes, so
    # below a minute is never right; an hour is the longest container start-up SageMaker
    # allows (ContainerStartupHealthCheckTimeoutInSeconds, 60..3600).
    scale_out_from_zero_cooldown_seconds: int = field(default=600, metadata=between(60, 3600))
    """Cooldown of the scale-out-from-zero step policy (60..3600); must cover a cold start."""

    # --- Results -----------------------------------------------------------------------
    results_retention_days: int = field(default=90, metadata=between(1, 3650))
    """Days before a results record expires (DynamoDB TTL)."""
    # 256 KiB is above the largest body a notification carries (128 KiB, about 171 KiB as
    # base64) and leaves a record well under DynamoDB's 400 KB item limit.
    results_inline_body_max_bytes: int = field(default=4096, metadata=between(0, 262144))
    """Largest response body a record keeps inline, bytes as sent (0..262144); else S3 only."""
    results_batch_size: int = field(default=100, metadata=between(1, 10000))
    """Notifications per results-writer invocation (1..10000)."""
    results_batching_window_seconds: int = field(default=1, metadata=between(0, 300))
    """Seconds the event source waits to fill a batch (0..300; >= 1 when batch > 10)."""
    results_max_receive_count: int = field(default=5, metadata=between(1, 1000))
    """Deliveries of a notification before it moves to the dead-letter queue."""
    results_writer_memory_mib: int = field(default=256, metadata=between(128, 10240))
    """Results writer Lambda memory (128..10240)."""
    results_writer_max_concurrency: int = field(default=10, metadata=between(2, 1000))
    """Most concurrent results-writer invocations (2..1000); bounds table write bursts."""
    log_retention_days: int = 30
    """Retention of the results writer's log group (a CloudWatch Logs value)."""

    # --- Monitoring --------------------------------------------------------------------
    alarm_email: str | None = None
    """Address subscribed to the alarm topic; no subscription when unset."""
    oldest_request_alarm_seconds: int = field(default=1800, metadata=between(60, 6 * 3600))
    """Alarm when the oldest queued request is older than this."""

    # --- Compliance --------------------------------------------------------------------
    nag_checks: bool = False
    """Run cdk-nag (AwsSolutions, Serverless) in this synth; `make test` always does."""

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
    def retain_data(self) -> bool:
        return self.removal_policy == "retain"

    @property
    def scale_out_from_zero_window_seconds(self) -> int:
        return self.scale_out_from_zero_period_seconds * self.scale_out_from_zero_evaluation_periods

    def __post_init__(self) -> None:
        _validate(self)

    @classmethod
    def from_context(cls, get_context: Callable[[str], Any]) -> Settings:
        """Build settings from CDK context (`app.node.try_get_context`)."""
        values: dict[str, Any] = {}
        for setting in fields(cls):
            raw = get_context(setting.name)
            if raw is not None:
                values[setting.name] = _parse(setting.name, raw, _field_kind(setting))
        return cls(**values)

    @classmethod
    def field_docs(cls) -> dict[str, str]:
        """Each field's doc string, read from the source so docs live next to the field."""
        import ast
        import inspect

        tree = ast.parse(inspect.getsource(cls))
        body = tree.body[0].body  # type: ignore[attr-defined]
        docs: dict[str, str] = {}
        for node, following in itertools.pairwise(body):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
            ):
                docs[node.target.id] = str(following.value.value)
        return docs


def unknown_settings(context_keys: list[str]) -> list[str]:
    """Context keys that look like settings (snake_case, no namespace) but are not one."""
    known = {setting.name for setting in fields(Settings)}
    return sorted(
        key for key in context_keys if re.fullmatch(r"[a-z][a-z0-9_]*", key) and key not in known
    )


def default_values() -> dict[str, Any]:
    """Each setting's default, for docs and tests."""
    defaults = {}
    for setting in fields(Settings):
        if setting.default is not dataclasses.MISSING:
            defaults[setting.name] = setting.default
        elif setting.default_factory is not dataclasses.MISSING:
            defaults[setting.name] = setting.default_factory()
    return defaults


# --- Parsing -----------------------------------------------------------------------------


def _field_kind(setting: dataclasses.Field[Any]) -> str:
    annotation = str(setting.type)
    for kind in ("bool", "int", "float", "tuple", "Mapping"):
        if annotation.startswith(kind):
            return kind
    return "str"


def _parse(name: str, raw: Any, kind: str) -> Any:
    shown = json.dumps(raw) if not isinstance(raw, str) else repr(raw)
    if kind == "str":
        if raw is None or isinstance(raw, str):
            return (raw or None) if name in _OPTIONAL_STRINGS else raw
        raise ConfigError(f"Setting '{name}' must be a string; received {shown}.")
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise ConfigError(f"Setting '{name}' must be true or false; received {shown}.")
    if kind == "int":
        if isinstance(raw, bool):
            raise ConfigError(f"Setting '{name}' must be a whole number; received {shown}.")
        if isinstance(raw, int):
            return raw
        if isinstance(raw, str) and re.fullmatch(r"-?\d+", raw.strip()):
            return int(raw)
        raise ConfigError(f"Setting '{name}' must be a whole number; received {shown}.")
    if kind == "float":
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return float(raw)
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"Setting '{name}' must be a number; received {shown}.") from None
    if kind == "tuple":
        items = raw
        if isinstance(raw, str):
            text = raw.strip()
            items = json.loads(text) if text.startswith("[") else [t for t in text.split(",") if t]
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ConfigError(
                f"Setting '{name}' must be a list of strings (JSON list or comma-separated); "
                f"received {shown}."
            )
        return tuple(item.strip() for item in items)
    # Mapping
    mapping = raw
    if isinstance(raw, str):
        try:
            mapping = json.loads(raw)
        except json.JSONDecodeError:
            mapping = None
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
    ):
        raise ConfigError(
            f"Setting '{name}' must be a JSON object of string values; received {shown}."
        )
    return dict(mapping)


_OPTIONAL_STRINGS = {
    "image_uri",
    "model_data_url",
    "endpoint_name",
    "volume_kms_key_arn",
    "alarm_email",
}


# --- Validation --------------------------------------------------------------------------


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _validate_patterns(s: Settings, patterns: Mapping[str, tuple[re.Pattern[str], str]]) -> None:
    for name, (pattern, expected) in patterns.items():
        value = getattr(s, name)
        _require(
            value is None or bool(pattern.match(value)),
            f"Setting '{name}' must {expected}; received {value!r}.",
        )


def _validate_ranges(s: Settings) -> None:
    for setting in fields(s):
        if "range" not in setting.metadata:
            continue
        low, high = setting.metadata["range"]
        value = getattr(s, setting.name)
        _require(
            low <= value <= high,
            f"Setting '{setting.name}' must be between {low:g} and {high:g}; received {value!r}.",
        )


def _validate(s: Settings) -> None:
    # Each setting on its own first: the rules between settings below rely on it.
    _validate_patterns(s, _PATTERNS)
    _validate_ranges(s)
    _validate_model(s)
    _validate_endpoint(s)
    _validate_scaling(s)
    _validate_results(s)
    _require(
        s.removal_policy in REMOVAL_POLICIES,
        f"Setting 'removal_policy' must be one of {', '.join(REMOVAL_POLICIES)}; "
        f"received {s.removal_policy!r}.",
    )


def _validate_model(s: Settings) -> None:
    _require(
        s.model_source in MODEL_SOURCES,
        f"Setting 'model_source' must be one of {', '.join(MODEL_SOURCES)}; "
        f"received {s.model_source!r}.",
    )
    if s.model_source == "huggingface":
        _validate_patterns(s, _HF_PATTERNS)
    else:
        _require(
            s.image_uri is not None,
            f"Setting 'image_uri' is required when model_source is {s.model_source!r}; "
            f"received nothing.",
        )
    # An isolated container has no outbound network (SageMaker Developer Guide, "Run
    # training and inference containers in internet-free mode"), and the Hugging Face
    # DLC downloads HF_MODEL_ID from the Hub when it starts.
    _require(
        not (s.model_source == "huggingface" and s.network_isolation),
        "Setting 'network_isolation' must be false or unset with model_source 'huggingface' "
        "(received true), because the container downloads the Hub model at start; package "
        "the model as model.tar.gz with model_source 's3-artifact' to run it isolated.",
    )
    if s.model_source == "s3-artifact":
        _require(
            s.model_data_url is not None,
            "Setting 'model_data_url' is required when model_source is 's3-artifact'; "
            "received nothing.",
        )


def _validate_endpoint(s: Settings) -> None:
    # Instance pools: up to five types, priorities 1-5 (SageMaker API Reference,
    # InstancePool; Developer Guide, "Deploy to multiple instance types with instance
    # pools", which supports them for asynchronous endpoints and with auto scaling).
    name = "instance_types" if s.instance_types else "instance_type"
    _require(
        len(s.instance_types) <= MAX_INSTANCE_POOLS,
        f"Setting 'instance_types' must list at most {MAX_INSTANCE_POOLS} instance types "
        f"(one per instance pool); received {len(s.instance_types)}.",
    )
    for instance_type in s.instance_types:
        _require(
            s.instance_types.count(instance_type) == 1,
            f"Setting 'instance_types' lists {instance_type!r} more than once; each instance "
            f"pool needs a type of its own.",
        )
    for instance_type in s.pool_instance_types:
        _validate_instance_type(s, name, instance_type)
    for topic in s.include_inference_response_in:
        _require(
            topic in NOTIFICATION_TOPICS,
            f"Setting 'include_inference_response_in' has unknown topic {topic!r}; "
            f"expected any of {', '.join(NOTIFICATION_TOPICS)}.",
        )


def _validate_instance_type(s: Settings, name: str, instance_type: str) -> None:
    match = _INSTANCE_TYPE.match(instance_type)
    _require(
        match is not None,
        f"Setting '{name}' must look like 'ml.m5.xlarge'; received {instance_type!r}.",
    )
    assert match is not None
    family = match.group(1)
    _require(
        family in KNOWN_FAMILIES,
        f"Setting '{name}' has unknown instance family {family!r} in "
        f"{instance_type!r}; expected one of {', '.join(sorted(KNOWN_FAMILIES))}.",
    )
    if s.model_source == "huggingface":
        _require(
            family not in ACCELERATOR_FAMILIES | GRAVITON_FAMILIES,
            f"Setting '{name}' {instance_type!r} needs a Neuron or Arm image, which "
            f"the Hugging Face PyTorch DLC is not; use an x86 CPU or GPU instance, or "
            f"model_source 'container' with a matching image_uri.",
        )
    if s.volume_kms_key_arn is not None:
        _require(
            family not in NVME_FAMILIES,
            f"Setting 'volume_kms_key_arn' cannot be used with instance type "
            f"{instance_type!r}: its local NVMe storage is always hardware-encrypted and "
            f"SageMaker rejects a volume KMS key; unset it or choose a family without "
            f"instance storage.",
        )


def _validate_scaling(s: Settings) -> None:
    _require(
        s.min_capacity <= s.max_capacity,
        f"Setting 'min_capacity' ({s.min_capacity}) must not exceed 'max_capacity' "
        f"({s.max_capacity}).",
    )
    _require(
        s.initial_instance_count <= s.max_capacity,
        f"Setting 'initial_instance_count' ({s.initial_instance_count}) must not exceed "
        f"'max_capacity' ({s.max_capacity}).",
    )
    _require(
        s.target_backlog_per_instance > 0,
        f"Setting 'target_backlog_per_instance' must be greater than 0; "
        f"received {s.target_backlog_per_instance!r}.",
    )
    period = s.scale_out_from_zero_period_seconds
    _require(
        period in (10, 30) or (period >= 60 and period % 60 == 0),
        f"Setting 'scale_out_from_zero_period_seconds' must be 10, 30 or a multiple of 60; "
        f"received {period!r}.",
    )
    _require(
        s.scale_out_from_zero_window_seconds <= 120,
        f"Settings 'scale_out_from_zero_period_seconds' x "
        f"'scale_out_from_zero_evaluation_periods' must be at most 120 s so the first request "
        f"on an idle endpoint starts an instance within 2 minutes; received "
        f"{period} x {s.scale_out_from_zero_evaluation_periods} = "
        f"{s.scale_out_from_zero_window_seconds} s.",
    )


def _validate_results(s: Settings) -> None:
    _require(
        s.results_batch_size <= 10 or s.results_batching_window_seconds >= 1,
        f"Setting 'results_batching_window_seconds' must be at least 1 when "
        f"'results_batch_size' is above 10 (an SQS event source rule); received "
        f"{s.results_batching_window_seconds!r} with a batch size of {s.results_batch_size}.",
    )
    _require(
        s.log_retention_days in LOG_RETENTION_DAYS,
        f"Setting 'log_retention_days' must be one of CloudWatch Logs' periods "
        f"({', '.join(map(str, LOG_RETENTION_DAYS))}); received {s.log_retention_days!r}.",
    )


def reference_table() -> str:
    """The README's configuration reference, generated from the fields and their docs."""
    docs = Settings.field_docs()
    rows = ["| setting | default | meaning |", "|---|---|---|"]
    for name, default in default_values().items():
        rows.append(f"| `{name}` | `{_shown_default(default)}` | {docs[name]} |")
    return "\n".join(rows)


def _shown_default(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ",".join(value) or "(none)"
    if isinstance(value, Mapping):
        return json.dumps(dict(value))
    return str(value)
