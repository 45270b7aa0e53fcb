"""The signing keys, read from Secrets Manager and kept for a minute.

One GetSecretValue per minute per warm function rather than per delivery; after a rotation
a function signs with the old key alone for at most that minute, inside the overlap during
which receivers still accept it (signing_keys.py).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

from asyncinfer_runtime.webhook_secret import SigningKeys, parse_secret

CACHE_SECONDS = 60.0


class SecretKeys:
    def __init__(self, client: Any, secret_arn: str) -> None:
        self.client = client
        self.secret_arn = secret_arn
        self._keys: SigningKeys | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    def __call__(self, now: datetime) -> list[str]:
        with self._lock:
            if self._keys is None or time.monotonic() - self._read_at > CACHE_SECONDS:
                value = self.client.get_secret_value(SecretId=self.secret_arn)["SecretString"]
                self._keys = parse_secret(value)
                self._read_at = time.monotonic()
            keys = self._keys
        return keys.signing(now)
