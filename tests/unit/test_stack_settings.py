"""Settings: defaults, parsing of `-c` strings, and the README's reference table."""

from __future__ import annotations

from asyncinfer_constructs.props import field_docs
from stacks.config import Settings, default_values, reference_table
from tests.conftest import REPO_ROOT


def test_defaults_are_the_documented_deployment() -> None:
    settings = Settings()
    assert settings.model_source == "huggingface"
    assert settings.hf_model_id == "cardiffnlp/twitter-roberta-base-sentiment"
    assert settings.hf_task == "text-classification"
    assert settings.min_capacity == 0
    assert settings.retain_data
    assert settings.scale_out_from_zero_window_seconds <= 120


def test_command_line_strings_are_parsed_to_typed_values() -> None:
    context = {
        "max_capacity": "7",
        "target_backlog_per_instance": "2.5",
        "autoscaling_enabled": "False",
        "include_inference_response_in": '["ERROR_NOTIFICATION_TOPIC"]',
        "model_environment": '{"MY_FLAG": "1"}',
        "endpoint_name": "",
    }
    settings = Settings.from_context(context.get)
    assert settings.max_capacity == 7
    assert settings.target_backlog_per_instance == 2.5
    assert settings.autoscaling_enabled is False
    assert settings.include_inference_response_in == ("ERROR_NOTIFICATION_TOPIC",)
    assert settings.model_environment == {"MY_FLAG": "1"}
    assert settings.endpoint_name is None


def test_readme_configuration_reference_is_current() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    docs = field_docs(Settings)
    assert set(docs) == set(default_values(Settings)), "every setting needs a doc string"
    # Regenerate with: .venv/bin/python -c "from stacks.config import reference_table; print(reference_table())"
    assert reference_table() in readme
