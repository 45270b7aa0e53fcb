"""The XGBoost stand-in: a real binary classifier on scikit-learn's breast-cancer data set.

The shape of AWS's XGBoost async example (and of the first article's case study): CSV rows
of 30 numbers in, one probability per row out (text/csv, or a JSON array with
``Accept: application/json``). Local mode serves it for models that are not Hugging Face
(``model_source`` ``s3-artifact`` or ``container``) and when asked with
``local up --model xgboost``. Trained on first use (a second or two) and cached in the
state directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .stand_ins import InvalidInput

MODEL_FILE = "xgboost-breast-cancer.json"
N_FEATURES = 30


def train_or_load(state_dir: Path) -> Any:
    """The cached booster, training (a second or two) and caching it on first use."""
    import xgboost as xgb

    path = state_dir / "model" / MODEL_FILE
    booster = xgb.Booster()
    if path.is_file():
        booster.load_model(str(path))
        return booster
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    dtrain = xgb.DMatrix(data.data, label=data.target)
    params = {"objective": "binary:logistic", "max_depth": 4, "eta": 0.3, "nthread": 1}
    booster = xgb.train(params, dtrain, num_boost_round=50)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a concurrent start never loads a half-written model.
    tmp = path.with_name(f"partial-{MODEL_FILE}")
    booster.save_model(str(tmp))
    tmp.replace(path)
    return booster


def parse_csv(body: bytes) -> np.ndarray:
    """CSV rows of N_FEATURES numbers (no header) -> a 2-D float array, or InvalidInput."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("payload is not UTF-8 text; expected CSV rows of numbers") from None
    rows = [line for line in text.splitlines() if line.strip()]
    if not rows:
        raise InvalidInput("payload is empty; expected at least one CSV row of numbers")
    values: list[list[float]] = []
    for number, line in enumerate(rows, start=1):
        cells = line.split(",")
        if len(cells) != N_FEATURES:
            raise InvalidInput(
                f"row {number} has {len(cells)} columns; expected {N_FEATURES} numbers"
            )
        try:
            values.append([float(cell) for cell in cells])
        except ValueError:
            raise InvalidInput(f"row {number} holds a value that is not a number") from None
    return np.asarray(values, dtype=np.float32)


def parse_json(body: bytes) -> np.ndarray:
    """A JSON array of rows of N_FEATURES numbers (or one such row) -> a 2-D float array."""
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidInput("payload is not JSON; expected an array of rows of numbers") from None
    if not isinstance(document, list) or not document:
        raise InvalidInput("payload must be a non-empty JSON array of rows of numbers")
    rows = document if isinstance(document[0], list) else [document]
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, list) or len(row) != N_FEATURES:
            size = len(row) if isinstance(row, list) else type(row).__name__
            raise InvalidInput(f"row {number} has {size} values; expected {N_FEATURES} numbers")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in row):
            raise InvalidInput(f"row {number} holds a value that is not a number")
    return np.asarray(rows, dtype=np.float32)


class XGBoostModel:
    """Scores for CSV or JSON rows, as CSV or (Accept: application/json) a JSON array."""

    name = "xgboost"

    def __init__(self, state_dir: Path) -> None:
        import xgboost as xgb

        self._xgb = xgb
        self.booster = train_or_load(state_dir)

    def answer(self, body: bytes, content_type: str, accept: str | None) -> tuple[bytes, str]:
        if content_type == "text/csv":
            features = parse_csv(body)
        elif content_type == "application/json":
            features = parse_json(body)
        else:
            raise InvalidInput(
                f"unsupported content type {content_type!r}; expected text/csv or application/json"
            )
        scores = [
            round(float(score), 6) for score in self.booster.predict(self._xgb.DMatrix(features))
        ]
        if "application/json" in (accept or ""):
            return json.dumps(scores).encode(), "application/json"
        return (
            "\n".join(f"{score:.6f}" for score in scores) + "\n"
        ).encode(), "text/csv; charset=utf-8"

    def error(self, message: str, content_type: str) -> tuple[bytes, str]:
        # A JSON request gets its error as JSON, as framework containers answer.
        if content_type == "application/json":
            return json.dumps({"message": message}).encode(), "application/json"
        return message.encode(), "text/plain"
