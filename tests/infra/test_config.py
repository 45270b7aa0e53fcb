"""Settings: defaults, parsing of `-c` strings, and one clear sentence per bad value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app import build_app
from stacks.config import ConfigError
from tests.infra.conftest import CDK_JSON_CONTEXT

REPO_ROOT = Path(__file__).resolve().parents[2]

BAD_CONFIGURATIONS = [
    (
        {"instance_type": "ml.zz9.xlarge"},
        "Setting 'instance_type' has unknown instance family 'zz9' in 'ml.zz9.xlarge'; expected one of",
    ),
    (
        {"instance_type": "m5.xlarge"},
        "Setting 'instance_type' must look like 'ml.m5.xlarge'; received 'm5.xlarge'.",
    ),
    (
        {"min_capacity": "3", "max_capacity": "2"},
        "Setting 'min_capacity' (3) must not exceed 'max_capacity' (2).",
    ),
    (
        {"max_concurrent_invocations_per_instance": "0"},
        "Setting 'max_concurrent_invocations_per_instance' must be between 1 and 1000; received 0.",
    ),
    (
        {"max_concurrent_invocations_per_instance": 1001},
        "Setting 'max_concurrent_invocations_per_instance' must be between 1 and 1000; received 1001.",
    ),
    (
        {"invocation_timeout_seconds": "3601"},
        "Setting 'invocation_timeout_seconds' must be between 1 and 3600; received 3601.",
    ),
    (
        {
            "model_source": "s3-artifact",
            "image_uri": "763104351884.dkr.ecr.us-east-1.amazonaws.com/x:1",
            "model_data_url": "https://bucket/model.tar.gz",
        },
        "Setting 'model_data_url' must be an S3 URI like 's3://bucket/path/model.tar.gz'; received 'https://bucket/model.tar.gz'.",
    ),
    (
        {"model_source": "onnx"},
        "Setting 'model_source' must be one of huggingface, s3-artifact, container; received 'onnx'.",
    ),
    (
        {
            "instance_type": "ml.g5.xlarge",
            "volume_kms_key_arn": "arn:aws:kms:us-east-1:111122223333:key/abc",
        },
        "Setting 'volume_kms_key_arn' cannot be used with instance type 'ml.g5.xlarge': its local NVMe storage",
    ),
    (
        {"model_source": "container"},
        "Setting 'image_uri' is required when model_source is 'container'; received nothing.",
    ),
    (
        {"model_source": "container", "image_uri": "docker.io/library/nginx:latest"},
        "Setting 'image_uri' must be an ECR image URI like '123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:tag'; received 'docker.io/library/nginx:latest'.",
    ),
    (
        {
            "instance_types": "ml.g6.xlarge,ml.g5.xlarge,ml.g5.2xlarge,ml.g4dn.xlarge,ml.m5.xlarge,ml.c5.xlarge"
        },
        "Setting 'instance_types' must list at most 5 instance types (one per instance pool); received 6.",
    ),
    (
        {"instance_types": "ml.g5.xlarge,ml.g5.xlarge"},
        "Setting 'instance_types' lists 'ml.g5.xlarge' more than once; each instance pool needs a type of its own.",
    ),
    (
        {"instance_types": "ml.g5.xlarge,g5.2xlarge"},
        "Setting 'instance_types' must look like 'ml.m5.xlarge'; received 'g5.2xlarge'.",
    ),
    (
        {"instance_types": "ml.m5.xlarge,ml.inf2.xlarge"},
        "Setting 'instance_types' 'ml.inf2.xlarge' needs a Neuron or Arm image",
    ),
    (
        {"network_isolation": "true"},
        "Setting 'network_isolation' must be false or unset with model_source 'huggingface' (received true), because",
    ),
    (
        {"scale_out_from_zero_cooldown_seconds": "30"},
        "Setting 'scale_out_from_zero_cooldown_seconds' must be between 60 and 3600; received 30.",
    ),
    (
        {"scale_out_from_zero_cooldown_seconds": "ten minutes"},
        "Setting 'scale_out_from_zero_cooldown_seconds' must be a whole number; received 'ten minutes'.",
    ),
    (
        {"scale_out_from_zero_period_seconds": "60", "scale_out_from_zero_evaluation_periods": "3"},
        "Settings 'scale_out_from_zero_period_seconds' x 'scale_out_from_zero_evaluation_periods' must be at most 120 s",
    ),
    (
        {"scale_out_from_zero_period_seconds": "30"},
        "Setting 'scale_out_from_zero_period_seconds' must be a multiple of 60, because",
    ),
    ({"max_capacity": "many"}, "Setting 'max_capacity' must be a whole number; received 'many'."),
    (
        {"results_inline_body_max_bytes": "262145"},
        "Setting 'results_inline_body_max_bytes' must be between 0 and 262144; received 262145.",
    ),
    (
        {"results_inline_body_max_bytes": "-1"},
        "Setting 'results_inline_body_max_bytes' must be between 0 and 262144; received -1.",
    ),
    (
        {"results_inline_body_max_bytes": "4KB"},
        "Setting 'results_inline_body_max_bytes' must be a whole number; received '4KB'.",
    ),
    (
        {"autoscaling_enabled": "yes"},
        "Setting 'autoscaling_enabled' must be true or false; received 'yes'.",
    ),
    (
        {"include_inference_response_in": "SUCCESS_NOTIFICATION_TOPIC,EVERYWHERE"},
        "Setting 'include_inference_response_in' has unknown topic 'EVERYWHERE'; expected any of",
    ),
    (
        {"log_retention_days": "10"},
        "Setting 'log_retention_days' must be one of CloudWatch Logs' periods",
    ),
    (
        {"results_batch_size": "100", "results_batching_window_seconds": "0"},
        "Setting 'results_batching_window_seconds' must be at least 1 when 'results_batch_size' is above 10",
    ),
    (
        {"removal_policy": "snapshot"},
        "Setting 'removal_policy' must be one of retain, destroy; received 'snapshot'.",
    ),
    (
        {"instance_type": "ml.inf2.xlarge"},
        "Setting 'instance_type' 'ml.inf2.xlarge' needs a Neuron or Arm image",
    ),
    (
        {"model_environment": "[1, 2]"},
        "Setting 'model_environment' must be a JSON object of string values; received '[1, 2]'.",
    ),
    (
        {"endpoint_name": "bad_name!"},
        "Setting 'endpoint_name' must be 1-54 letters, digits or hyphens",
    ),
    ({"instnce_type": "ml.m5.xlarge"}, "Unknown setting 'instnce_type'"),
]


@pytest.mark.parametrize(("context", "message"), BAD_CONFIGURATIONS, ids=lambda v: str(v)[:60])
def test_bad_configuration_fails_before_synth_with_one_sentence(
    context: dict, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        build_app({**CDK_JSON_CONTEXT, **context})
    text = str(raised.value)
    assert text.startswith(message), text
    # One sentence: no line breaks, ends with a full stop, names a setting.
    assert "\n" not in text and text.endswith(".")
    assert re.search(r"'[a-z_]+'", text)
