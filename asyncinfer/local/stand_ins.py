"""Which model stand-in local mode serves for an endpoint, and what it expects.

Each endpoint of the template names its model, and the model's container environment
says what it is: the Hugging Face DLC reads ``HF_TASK`` and ``HF_MODEL_ID``, and
``MMS_MAX_REQUEST_SIZE`` bounds the requests its model server accepts. Local mode serves
a stand-in speaking the same contract:

- ``sentiment`` (sentiment_model.py) for ``HF_TASK`` ``text-classification`` (or its
  alias ``sentiment-analysis``), the stack's default;
- ``xgboost`` (xgboost_model.py) for a model without ``HF_TASK`` (``model_source``
  ``s3-artifact`` or ``container``).

``local up --model NAME`` serves one stand-in whatever the template says;
``--model-url`` serves your own container instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

STAND_INS = ("sentiment", "xgboost")
SENTIMENT_TASKS = ("text-classification", "sentiment-analysis")


class InvalidInput(ValueError):
    """The request body is not what the model accepts; the message says why."""


class UnsupportedModel(ValueError):
    """The template's model has no stand-in; the message names it and what to do."""


class StandIn(Protocol):
    name: str

    def answer(self, body: bytes, content_type: str, accept: str | None) -> tuple[bytes, str]:
        """The reply body and its content type; InvalidInput for a request it refuses."""
        ...

    def error(self, message: str, content_type: str) -> tuple[bytes, str]:
        """The error document the container answers a refused request with."""
        ...


@dataclass(frozen=True)
class ModelChoice:
    """What serves one endpoint locally, and why."""

    stand_in: str
    # MMS_MAX_REQUEST_SIZE of the model's environment; None: the model sets no limit.
    max_request_bytes: int | None
    source: str  # what the template says, for the banner


@dataclass(frozen=True)
class Contract:
    model: str
    payload: str
    example: str


CONTRACTS = {
    "sentiment": Contract(
        model="sentiment stand-in (VADER lexicon) with the labels of "
        "cardiffnlp/twitter-roberta-base-sentiment: LABEL_0 negative, LABEL_1 neutral, "
        "LABEL_2 positive",
        payload='application/json {"inputs": "text"} or {"inputs": ["text", ...]}, '
        'answered [{"label": ..., "score": ...}]',
        example='echo \'{"inputs": "I love async inference"}\' > request.json && '
        "asyncinfer submit request.json --wait",
    ),
    "xgboost": Contract(
        model="XGBoost binary classifier (scikit-learn's breast-cancer data set)",
        payload="text/csv rows of 30 numbers (or a JSON array of such rows), answered "
        "with one probability per row",
        example="asyncinfer submit rows.csv --wait   # rows.csv: 30 comma-separated numbers a line",
    ),
}


def choose(environment: Mapping[str, str], endpoint: str, forced: str | None = None) -> ModelChoice:
    """The stand-in for a model with this container environment (``forced``: --model)."""
    limit = environment.get("MMS_MAX_REQUEST_SIZE")
    try:
        max_request_bytes = int(limit) if limit else None
    except ValueError:
        raise UnsupportedModel(
            f"endpoint {endpoint}'s model has MMS_MAX_REQUEST_SIZE {limit!r}; expected a "
            f"number of bytes"
        ) from None
    task = environment.get("HF_TASK")
    model_id = environment.get("HF_MODEL_ID")
    source = (
        f"HF_TASK {task}, HF_MODEL_ID {model_id or '(unset)'}"
        if task
        else "a model without HF_TASK (not a Hugging Face Hub model)"
    )
    if forced is not None:
        if forced not in STAND_INS:
            raise UnsupportedModel(
                f"--model {forced!r} is not a stand-in; expected one of {', '.join(STAND_INS)}"
            )
        return ModelChoice(forced, max_request_bytes, f"--model {forced} ({source})")
    if task is None:
        return ModelChoice("xgboost", max_request_bytes, source)
    if task in SENTIMENT_TASKS:
        return ModelChoice("sentiment", max_request_bytes, source)
    raise UnsupportedModel(
        f"endpoint {endpoint} serves HF_TASK {task!r}, which local mode has no stand-in for; "
        f"expected {' or '.join(SENTIMENT_TASKS)}, or pass --model "
        f"{'|'.join(STAND_INS)} or --model-url URL of your own container"
    )


def build(name: str, state_dir: Path) -> StandIn:
    if name == "sentiment":
        from .sentiment_model import SentimentModel

        return SentimentModel()
    if name == "xgboost":
        from .xgboost_model import XGBoostModel

        return XGBoostModel(state_dir)
    raise UnsupportedModel(
        f"model {name!r} is not a stand-in; expected one of {', '.join(STAND_INS)}"
    )
