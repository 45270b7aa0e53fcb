"""The sentiment stand-in: the stack's default model's contract, served by a real lexicon.

The stack deploys ``cardiffnlp/twitter-roberta-base-sentiment`` (``HF_TASK``
``text-classification``) in the Hugging Face inference DLC. Local mode cannot download it
(no Hub at run time), so it answers with VADER (``vaderSentiment``: a lexicon and rules
built for social-media text such as the tweets of the Hugging Face async walkthrough),
through the container's own request contract (aws/sagemaker-huggingface-inference-toolkit,
``handler_service.py`` and ``decoder_encoder.py``):

- ``application/json``: ``{"inputs": "text"}`` or ``{"inputs": ["text", ...]}``, optional
  ``"parameters"`` (passed to the pipeline; ignored here); ``text/csv`` with an ``inputs``
  header column: one text per row.
- out: one ``{"label", "score"}`` per text (a list of them for a list or CSV), JSON by
  default and for ``Accept: */*``, CSV (``label,score`` header) for ``Accept: text/csv``.
- errors: HTTP 400 with the model server's JSON body
  ``{"code": 400, "type": "InternalServerException", "message": ...}``, the body SageMaker
  then quotes in ``Received client error (400) from primary with message "..."``
  (aws/amazon-sagemaker-examples#3668, philschmid/cdk-samples#5).

Labels are the model card's: ``LABEL_0`` negative, ``LABEL_1`` neutral, ``LABEL_2``
positive, chosen by VADER's documented thresholds on its compound score c (-1..1):
c >= 0.05 positive, c <= -0.05 negative, neutral between (vaderSentiment README). The
score says how strongly c supports the label: (1 + c) / 2 positive, (1 - c) / 2
negative, 1 - |c| neutral. It is not the transformer's softmax probability.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from .stand_ins import InvalidInput

NEGATIVE, NEUTRAL, POSITIVE = "LABEL_0", "LABEL_1", "LABEL_2"
# vaderSentiment's README: "positive sentiment: compound score >= 0.05", negative <= -0.05.
THRESHOLD = 0.05
# The model server's error document (MMS): what the DLC answers for any failed request.
ERROR_TYPE = "InternalServerException"


class SentimentModel:
    """VADER behind the Hugging Face text-classification contract."""

    name = "sentiment"

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._analyzer = SentimentIntensityAnalyzer()

    def classify(self, text: str) -> dict[str, Any]:
        compound = float(self._analyzer.polarity_scores(text)["compound"])
        if compound >= THRESHOLD:
            return {"label": POSITIVE, "score": round((1 + compound) / 2, 4)}
        if compound <= -THRESHOLD:
            return {"label": NEGATIVE, "score": round((1 - compound) / 2, 4)}
        return {"label": NEUTRAL, "score": round(1 - abs(compound), 4)}

    def answer(self, body: bytes, content_type: str, accept: str | None) -> tuple[bytes, str]:
        inputs = decode(body, content_type)
        if isinstance(inputs, str):
            prediction = [self.classify(inputs)]
        else:
            prediction = [self.classify(text) for text in inputs]
        media = (accept or "").split(";")[0].strip().lower()
        if media in ("", "*/*", "application/json"):
            return json.dumps(prediction, separators=(",", ":")).encode(), "application/json"
        if media == "text/csv":
            out = io.StringIO()
            writer = csv.DictWriter(out, ["label", "score"])
            writer.writeheader()
            writer.writerows(prediction)
            return out.getvalue().encode(), "text/csv"
        raise InvalidInput(
            f"Accept {accept!r} is not supported; expected application/json or text/csv"
        )

    def error(self, message: str, content_type: str) -> tuple[bytes, str]:
        document = {"code": 400, "type": ERROR_TYPE, "message": message}
        return json.dumps(document, indent=2).encode(), "application/json"


def decode(body: bytes, content_type: str) -> str | list[str]:
    """The request's texts, as the inference toolkit decodes JSON and CSV requests."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput(f"payload is not UTF-8 (byte {error.start})") from None
    if content_type == "text/csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        if not rows or "inputs" not in rows[0]:
            raise InvalidInput(
                "You need to provide the correct CSV with Header columns to use it with the "
                "inference toolkit default handler (a header row with an 'inputs' column)."
            )
        return [row["inputs"] for row in rows]
    if content_type != "application/json":
        raise InvalidInput(
            f"Content type {content_type!r} is not supported; expected application/json "
            f'({{"inputs": "text"}}) or text/csv with an inputs column'
        )
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"payload is not JSON ({error.msg} at position {error.pos})") from None
    if not isinstance(document, dict) or "inputs" not in document:
        raise InvalidInput(
            f'payload is a JSON {type(document).__name__} without "inputs"; expected '
            f'{{"inputs": "text"}} or {{"inputs": ["text", ...]}}'
        )
    inputs = document["inputs"]
    # The pipeline also takes {"text": ..., "text_pair": ...}; a pair is scored as one text.
    if isinstance(inputs, dict) and isinstance(inputs.get("text"), str):
        pair = inputs.get("text_pair")
        return inputs["text"] + (f" {pair}" if isinstance(pair, str) else "")
    if isinstance(inputs, str):
        return inputs
    if isinstance(inputs, list) and all(isinstance(item, str) for item in inputs):
        return inputs
    raise InvalidInput(
        f'"inputs" is a JSON {type(inputs).__name__}; expected a string or a list of strings'
    )
