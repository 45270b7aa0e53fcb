"""Which endpoint a client talks to, from the stack's outputs."""

from __future__ import annotations

import json

import pytest

from asyncinfer.errors import ConfigurationError, MissingOutputsError
from asyncinfer.stack_outputs import StackOutputs

SHARED = {"InputBucketName": "in", "ResultsTableName": "results"}


def outputs(**extra: str) -> StackOutputs:
    return StackOutputs.from_mapping("Stack", {**SHARED, "EndpointName": "first-1234", **extra})


def test_a_stack_without_an_endpoint_map_has_one_endpoint_named_default() -> None:
    single = outputs()
    assert single.endpoints == {"default": "first-1234"}
    assert single.endpoint_named(None) == "first-1234"
    assert single.endpoint_named("default") == "first-1234"
    with pytest.raises(
        ConfigurationError, match="has no endpoint 'sentiment'; expected one of default"
    ):
        single.endpoint_named("sentiment")


def test_several_endpoints_need_a_name_and_the_error_lists_them() -> None:
    several = outputs(Endpoints=json.dumps({"sentiment": "first-1234", "tabular": "second-99"}))
    assert several.endpoint_named("tabular") == "second-99"
    with pytest.raises(
        ConfigurationError, match=r"has 2 endpoints \(sentiment, tabular\); pass --endpoint NAME"
    ):
        several.endpoint_named(None)
    with pytest.raises(ConfigurationError, match="expected one of sentiment, tabular"):
        several.endpoint_named("vision")


def test_a_broken_endpoint_map_is_one_sentence() -> None:
    with pytest.raises(MissingOutputsError, match="not a JSON object of endpoint names"):
        _ = outputs(Endpoints="{not json").endpoints
