"""Every careless value a user can type gets one sentence, never a traceback or a jsii crash.

The parser reads each setting's type from its annotation and its rules from the props'
field metadata; these tests walk every field of a kind, so a new setting is covered by
the rule of its type without a new test.
"""

from __future__ import annotations

import re
import typing
from dataclasses import fields
from typing import Any

import pytest

from asyncinfer_constructs.props import ConfigError
from stacks.config import Settings, parse_value, suggestion, unknown_settings

HINTS = typing.get_type_hints(Settings)


def names_of(kind: type) -> list[str]:
    def base(hint: Any) -> Any:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if isinstance(hint, type) and not args:
            return hint
        return typing.get_origin(hint) or base(args[0])

    return [f.name for f in fields(Settings) if base(HINTS[f.name]) is kind]


def from_context(**values: str) -> Settings:
    return Settings.from_context(values.get)


def one_sentence(error: pytest.ExceptionInfo[ConfigError]) -> str:
    text = str(error.value)
    assert "\n" not in text and text.endswith("."), text
    assert "Traceback" not in text
    return text


NUMBER_FIELDS = names_of(int) + names_of(float)


@pytest.mark.parametrize("name", NUMBER_FIELDS)
@pytest.mark.parametrize("raw", ["inf", "-inf", "nan", "Infinity", "1e400"])
def test_no_number_setting_takes_an_infinity_or_nan(name: str, raw: str) -> None:
    with pytest.raises(ConfigError) as raised:
        from_context(**{name: raw})
    text = one_sentence(raised)
    assert f"Setting '{name}'" in text and repr(raw) in text


@pytest.mark.parametrize("name", names_of(float))
def test_a_float_from_cdk_json_must_be_finite_too(name: str) -> None:
    with pytest.raises(ConfigError, match=f"Setting '{name}' must be a finite number"):
        Settings.from_context({name: float("inf")}.get)


@pytest.mark.parametrize("name", names_of(int))
@pytest.mark.parametrize("raw", ["-5", "10" * 20])
def test_a_negative_or_huge_whole_number_is_refused_by_its_rule(name: str, raw: str) -> None:
    with pytest.raises(ConfigError) as raised:
        from_context(**{name: raw})
    text = one_sentence(raised)
    assert f"'{name}'" in text


@pytest.mark.parametrize("name", ["instance_types", "include_inference_response_in"])
@pytest.mark.parametrize("raw", ["[ml.m5.xlarge", '["ml.m5.xlarge"', '["a", ]'])
def test_an_unbalanced_json_list_is_one_sentence(name: str, raw: str) -> None:
    with pytest.raises(ConfigError) as raised:
        from_context(**{name: raw})
    text = one_sentence(raised)
    assert text.startswith(f"Setting '{name}' must be a JSON list; received {raw!r}")


@pytest.mark.parametrize("raw", ['{"A": "1"', '{"A": 1', "{A: 1}", '{"A": NaN}'])
def test_an_unbalanced_json_object_is_one_sentence(raw: str) -> None:
    with pytest.raises(ConfigError) as raised:
        from_context(model_environment=raw)
    assert one_sentence(raised).startswith("Setting 'model_environment' must be a JSON object")


@pytest.mark.parametrize("raw", ["[", "[]", "{}", '[{"name": "a"}', "[1]", "sentiment"])
def test_endpoints_must_be_a_non_empty_json_list_of_objects(raw: str) -> None:
    with pytest.raises(ConfigError) as raised:
        from_context(endpoints=raw)
    assert one_sentence(raised).startswith("Setting 'endpoints' must be a")


@pytest.mark.parametrize("name", names_of(str))
def test_a_whitespace_only_string_is_refused(name: str) -> None:
    with pytest.raises(ConfigError) as raised:
        from_context(**{name: "   "})
    assert f"'{name}'" in one_sentence(raised)


@pytest.mark.parametrize("raw", ["ml.m5.xlarge, ,ml.c5.xlarge", '["ml.m5.xlarge", " "]'])
def test_a_blank_item_in_a_list_is_refused(raw: str) -> None:
    with pytest.raises(ConfigError, match="must be a list of non-blank strings"):
        from_context(instance_types=raw)


def test_an_empty_optional_string_means_unset() -> None:
    assert from_context(endpoint_name="").endpoint_name is None
    assert from_context(network_isolation="").network_isolation is None


def test_a_setting_spelled_with_hyphens_or_capitals_is_not_silently_ignored() -> None:
    assert unknown_settings(["max-capacity", "Max_Capacity", "cli-telemetry", "@aws-cdk/x"]) == [
        "Max_Capacity",
        "max-capacity",
    ]
    assert suggestion("max-capacity") == "max_capacity"
    assert suggestion("instnce_type") is None


def test_types_come_from_the_annotations() -> None:
    assert parse_value("x", "3", int) == 3
    assert parse_value("x", "2.5", float) == 2.5
    assert parse_value("x", "true", bool) is True
    assert parse_value("x", "a,b", tuple[str, ...]) == ("a", "b")
    assert parse_value("x", "", str | None) is None
    assert parse_value("x", '[{"name": "a"}]', tuple[dict[str, Any], ...]) == ({"name": "a"},)


ENDPOINT_ITEMS = [
    ('[{"max_capacity": 2}]', "Setting 'endpoints[0].name' must be 1-31 lower-case letters"),
    ('[{"name": "Sentiment"}]', "Setting 'endpoints[0].name' must be 1-31 lower-case letters"),
    ('[{"name": "a"}, {"name": "a"}]', "Setting 'endpoints' names 'a' twice (items 0 and 1)"),
    ('[{"name": "a", "max_capcity": 2}]', "Setting 'endpoints[0]' has unknown key 'max_capcity'"),
    ('[{"name": "a", "max_capacity": "many"}]', "Setting 'endpoints[0].max_capacity' must be"),
    ('[{"name": "a", "max_capacity": 0}]', "In endpoints[0] ('a'): Setting 'max_capacity'"),
    (
        '[{"name": "a", "endpoint_name": "x"}, {"name": "b", "endpoint_name": "x"}]',
        "Setting 'endpoints[1].endpoint_name' 'x' is already another endpoint's",
    ),
    ('[{"name": "a", "stack_name": "x"}]', "Setting 'endpoints[0]' has unknown key 'stack_name'"),
]


@pytest.mark.parametrize(("raw", "message"), ENDPOINT_ITEMS)
def test_each_bad_endpoint_item_names_its_index(raw: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        from_context(endpoints=raw)
    text = one_sentence(raised)
    assert text.startswith(message), text


def test_an_endpoint_item_takes_what_it_leaves_out_from_the_top_level() -> None:
    settings = from_context(
        max_capacity="3",
        endpoints='[{"name": "sentiment"}, {"name": "tabular", "model_source": "container", '
        '"image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/tabular:1", '
        '"max_capacity": 8}]',
    )
    endpoints = settings.endpoint_props()
    assert list(endpoints) == ["sentiment", "tabular"]
    assert endpoints["sentiment"].max_capacity == 3
    assert endpoints["sentiment"].model_source == "huggingface"
    assert endpoints["tabular"].max_capacity == 8
    assert endpoints["tabular"].isolates_network is True


def test_without_endpoints_the_app_has_one_default_endpoint() -> None:
    assert list(Settings().endpoint_props()) == ["default"]


def test_error_messages_name_a_setting() -> None:
    with pytest.raises(ConfigError) as raised:
        from_context(target_backlog_per_instance="inf")
    assert re.search(r"'[a-z_]+'", str(raised.value))


# The careless values above, inside an `endpoints` item: each still one sentence that names
# the item and the field (the item's fields go through the same parser and rules).
CARELESS_ITEMS = [
    ('"target_backlog_per_instance": 1e400', "endpoints[0].target_backlog_per_instance"),
    ('"target_backlog_per_instance": "nan"', "endpoints[0].target_backlog_per_instance"),
    ('"target_backlog_per_instance": "-inf"', "endpoints[0].target_backlog_per_instance"),
    ('"max_capacity": 1e400', "endpoints[0].max_capacity"),
    ('"max_capacity": -5', "'max_capacity'"),
    ('"max_capacity": 100000000000000000000000000000', "'max_capacity'"),
    ('"hf_task": "   "', "endpoints[0].hf_task"),
    ('"endpoint_name": " "', "endpoints[0].endpoint_name"),
    ('"instance_types": "[ml.m5.xlarge"', "endpoints[0].instance_types"),
    ('"model_environment": "{\\"A\\": 1"', "endpoints[0].model_environment"),
    ('"max_capacity": 3, "Max_Capacity": 4', "unknown key 'Max_Capacity'"),
    ('"max-capacity": 3', "unknown key 'max-capacity'"),
]


@pytest.mark.parametrize(("field", "named"), CARELESS_ITEMS)
def test_careless_values_inside_an_endpoint_item_are_one_sentence(field: str, named: str) -> None:
    with pytest.raises(ConfigError) as raised:
        from_context(endpoints=f'[{{"name": "a", {field}}}]')
    assert named in one_sentence(raised)


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_json_number_tokens_python_would_accept_are_invalid_json(token: str) -> None:
    # Python's json module reads these tokens as floats; JSON has none of them.
    with pytest.raises(ConfigError) as raised:
        from_context(endpoints=f'[{{"name": "a", "target_backlog_per_instance": {token}}}]')
    assert one_sentence(raised).startswith("Setting 'endpoints' must be a JSON list")
