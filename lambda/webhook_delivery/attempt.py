"""One delivery attempt and what its outcome means: delivered, try again, or stop.

Retried: timeouts and connection errors (the receiver is down), 5xx, 429 and 408 (a
request timeout). Stopped: every other status (other 4xx, and 3xx: redirects are not
followed, since a redirect could lead to an address the checks refused), and a URL the
address rules refuse.
"""

from __future__ import annotations

import enum
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from webhook_delivery.addresses import (
    RefusedUrl,
    checked_addresses,
    parse_url,
    system_resolver,
)
from webhook_delivery.signing import webhook_headers
from webhook_delivery.transport import post

USER_AGENT = "asyncinfer-webhooks/1"
RETRIED_STATUSES = frozenset({408, 429})


class Outcome(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    STOP = "stop"


@dataclass(frozen=True)
class AttemptResult:
    outcome: Outcome
    error: str | None = None
    status: int | None = None


def outcome_of(status: int) -> Outcome:
    if 200 <= status < 300:
        return Outcome.DELIVERED
    if status >= 500 or status in RETRIED_STATUSES:
        return Outcome.RETRY
    return Outcome.STOP


def attempt(
    url: str,
    *,
    event_id: str,
    body: str,
    keys: list[str],
    now: datetime,
    timeout: float,
    allow_loopback_http: bool,
    resolve: Callable[[str, int], list[str]] = system_resolver,
    tls: ssl.SSLContext | None = None,
) -> AttemptResult:
    """POST the signed `body` to `url` once, checking the URL and its addresses first."""
    try:
        target = parse_url(url, allow_loopback_http=allow_loopback_http)
        addresses = checked_addresses(
            target, allow_loopback_http=allow_loopback_http, resolve=resolve
        )
    except RefusedUrl as refused:
        return AttemptResult(Outcome.STOP, str(refused))
    except OSError as error:  # UnresolvedHost: DNS may answer later
        return AttemptResult(Outcome.RETRY, str(error))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **webhook_headers(event_id, now, body, keys),
    }
    try:
        reply = post(target, addresses, body.encode("utf-8"), headers, timeout=timeout, tls=tls)
    except TimeoutError:
        return AttemptResult(Outcome.RETRY, f"no answer within {timeout:g} s")
    except OSError as error:
        return AttemptResult(Outcome.RETRY, f"could not reach the receiver: {error}")
    outcome = outcome_of(reply.status)
    if outcome is Outcome.DELIVERED:
        return AttemptResult(outcome, None, reply.status)
    excerpt = " ".join(reply.excerpt.split())[:200]
    return AttemptResult(
        outcome, f"HTTP {reply.status}" + (f": {excerpt}" if excerpt else ""), reply.status
    )
