"""The sentiment stand-in speaks the Hugging Face text-classification contract."""

from __future__ import annotations

import json

import pytest

from asyncinfer.local.sentiment_model import SentimentModel
from asyncinfer.local.stand_ins import InvalidInput

MODEL = SentimentModel()


def answer(body: object, content_type: str = "application/json", accept: str | None = None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    reply, reply_type = MODEL.answer(raw, content_type, accept)
    return (json.loads(reply) if reply_type == "application/json" else reply.decode()), reply_type


def test_one_text_gives_a_list_of_one_label_and_score() -> None:
    result, reply_type = answer({"inputs": "I love async inference"})
    assert reply_type == "application/json"
    assert result == [{"label": "LABEL_2", "score": pytest.approx(0.82, abs=0.01)}]


def test_a_list_of_texts_gives_one_label_each_in_order() -> None:
    texts = ["I love it", "I hate it", "the table is in the room"]
    result, _ = answer({"inputs": texts, "parameters": {"truncation": True}})
    assert [r["label"] for r in result] == ["LABEL_2", "LABEL_0", "LABEL_1"]
    assert all(0.5 <= r["score"] <= 1.0 for r in result)


def test_the_labels_follow_vaders_documented_thresholds() -> None:
    # compound >= 0.05 positive, <= -0.05 negative; the neutral score is 1 - |compound|.
    assert MODEL.classify("") == {"label": "LABEL_1", "score": 1.0}
    assert MODEL.classify("good")["label"] == "LABEL_2"
    assert MODEL.classify("bad")["label"] == "LABEL_0"


def test_csv_with_an_inputs_header_and_csv_out() -> None:
    result, reply_type = answer(b"inputs\nI love it\nI hate it\n", "text/csv", "text/csv")
    assert reply_type == "text/csv"
    lines = result.splitlines()
    assert lines[0] == "label,score"
    assert [line.split(",")[0] for line in lines[1:]] == ["LABEL_2", "LABEL_0"]


def test_a_text_pair_is_scored_as_one_text() -> None:
    result, _ = answer({"inputs": {"text": "I love it", "text_pair": "really"}})
    assert result[0]["label"] == "LABEL_2"


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "message"),
    [
        (b"[1, 2]", "application/json", None, 'payload is a JSON list without "inputs"'),
        (b"{not json", "application/json", None, "payload is not JSON"),
        (b'{"inputs": 3}', "application/json", None, '"inputs" is a JSON int'),
        (b'{"inputs": ["a", 1]}', "application/json", None, '"inputs" is a JSON list'),
        (b"text\nhello\n", "text/csv", None, "a header row with an 'inputs' column"),
        (b"hello", "text/plain", None, "Content type 'text/plain' is not supported"),
        (b'{"inputs": "a"}', "application/json", "image/png", "Accept 'image/png'"),
        (b"\xff", "application/json", None, "payload is not UTF-8 (byte 0)"),
    ],
)
def test_refused_requests_say_why(
    body: bytes, content_type: str, accept: str | None, message: str
) -> None:
    with pytest.raises(InvalidInput, match=None) as raised:
        MODEL.answer(body, content_type, accept)
    assert message in str(raised.value)


def test_errors_are_the_model_servers_json_document() -> None:
    body, content_type = MODEL.error("boom", "text/csv")
    assert content_type == "application/json"
    assert json.loads(body) == {"code": 400, "type": "InternalServerException", "message": "boom"}
