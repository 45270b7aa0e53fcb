"""The Standard Webhooks headers of one delivery attempt, signed by the standardwebhooks package.

    webhook-id:        the event's id, the same on every attempt and redelivery
    webhook-timestamp: this attempt's time, whole seconds since the epoch
    webhook-signature: "v1,<base64 HMAC-SHA256 of id.timestamp.body>", once per key

(standardwebhooks.com, "Signature scheme".) The receiver rejects a timestamp older than its
tolerance (five minutes in the reference libraries), so each attempt is signed anew.
"""

from __future__ import annotations

from datetime import datetime

from standardwebhooks import Webhook


def webhook_headers(event_id: str, now: datetime, body: str, keys: list[str]) -> dict[str, str]:
    """The three headers for `body` sent at `now`, with one signature per key in `keys`."""
    signatures = " ".join(Webhook(key).sign(event_id, now, body) for key in keys)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signatures,
    }
