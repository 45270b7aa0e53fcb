"""Which stand-in serves an endpoint: its model's environment, or --model."""

from __future__ import annotations

import pytest

from asyncinfer.local.stand_ins import ModelChoice, UnsupportedModel, choose

HUB = {
    "HF_MODEL_ID": "cardiffnlp/twitter-roberta-base-sentiment",
    "HF_TASK": "text-classification",
    "MMS_MAX_REQUEST_SIZE": "104857600",
}


def test_the_default_hub_model_gets_the_sentiment_stand_in_with_its_request_limit() -> None:
    choice = choose(HUB, "ep")
    assert (choice.stand_in, choice.max_request_bytes) == ("sentiment", 104_857_600)
    assert "cardiffnlp/twitter-roberta-base-sentiment" in choice.source


def test_a_model_without_hf_task_gets_xgboost_and_no_limit() -> None:
    assert choose({}, "ep") == ModelChoice("xgboost", None, choose({}, "ep").source)


def test_sentiment_analysis_is_the_same_task() -> None:
    assert choose({"HF_TASK": "sentiment-analysis"}, "ep").stand_in == "sentiment"


def test_model_overrides_the_template() -> None:
    choice = choose(HUB, "ep", forced="xgboost")
    assert choice.stand_in == "xgboost"
    assert choice.max_request_bytes == 104_857_600  # the container's limit still applies


def test_a_task_without_a_stand_in_is_one_sentence_naming_it() -> None:
    with pytest.raises(UnsupportedModel) as raised:
        choose({"HF_TASK": "summarization"}, "my-endpoint")
    assert str(raised.value) == (
        "endpoint my-endpoint serves HF_TASK 'summarization', which local mode has no "
        "stand-in for; expected text-classification or sentiment-analysis, or pass --model "
        "sentiment|xgboost or --model-url URL of your own container"
    )


def test_a_request_limit_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(UnsupportedModel, match="MMS_MAX_REQUEST_SIZE '10MB'"):
        choose({"MMS_MAX_REQUEST_SIZE": "10MB"}, "ep")
