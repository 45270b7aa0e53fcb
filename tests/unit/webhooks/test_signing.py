"""Deliveries are signed per the Standard Webhooks specification, by each key in force."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from asyncinfer_runtime.webhook_secret import BadSecret, SigningKeys, parse_secret, secret_value
from webhook_delivery.signing import webhook_headers

OLD = "whsec_" + base64.b64encode(b"o" * 32).decode()
NEW = "whsec_" + base64.b64encode(b"n" * 32).decode()


def test_headers_verify_with_the_standardwebhooks_package() -> None:
    now = datetime.now(UTC)
    body = json.dumps({"id": "job-1", "status": "COMPLETED"})
    headers = webhook_headers("msg_1", now, body, [NEW])
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(NEW).verify(body, headers) == {"id": "job-1", "status": "COMPLETED"}
    with pytest.raises(WebhookVerificationError):
        Webhook(OLD).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(NEW).verify(body + " ", headers)


def test_during_a_rotation_both_keys_verify() -> None:
    now = datetime.now(UTC)
    keys = SigningKeys(current=NEW, previous=OLD, previous_valid_until=now + timedelta(hours=1))
    headers = webhook_headers("msg_2", now, "{}", keys.signing(now))
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(NEW).verify("{}", headers)
    Webhook(OLD).verify("{}", headers)
    # After the overlap, the old key signs no more.
    assert keys.signing(now + timedelta(hours=2)) == [NEW]


def test_secret_values_round_trip_and_get_the_prefix() -> None:
    until = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    keys = SigningKeys(current=NEW, previous=OLD, previous_valid_until=until)
    assert parse_secret(secret_value(keys)) == keys
    # The value CloudFormation generates: letters and digits, no prefix.
    generated = parse_secret(json.dumps({"current": "A1b2" * 12}))
    assert generated.current == "whsec_" + "A1b2" * 12
    Webhook(generated.current)  # valid base64 for the package


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("nope", "not JSON"),
        ("[]", "JSON object with a 'current' key"),
        ('{"current": "x", "previous": "y", "previousValidUntil": "soon"}', "ISO time"),
    ],
)
def test_bad_secret_values_are_one_sentence(value: str, expected: str) -> None:
    with pytest.raises(BadSecret, match=expected):
        parse_secret(value)
