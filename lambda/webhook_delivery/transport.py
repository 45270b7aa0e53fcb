"""One POST to a webhook receiver, connected to an address that was checked.

http.client is given the URL's own host, so the request carries the original `Host` header
and TLS verifies the certificate for that name (SNI and hostname check); only the TCP
connection goes to the address `addresses.checked_addresses` approved, so the name is not
resolved a second time. http.client follows no redirect: a 3xx is an answer like any other.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass

from webhook_delivery.addresses import IPAddress, Target

# The receiver's reply body is read only this far (its first bytes go into the job's
# webhookLastError); a receiver cannot make the dispatcher read megabytes.
REPLY_READ_LIMIT = 512


@dataclass(frozen=True)
class Reply:
    """The receiver's answer: its status and the first bytes of its body."""

    status: int
    excerpt: str
    seconds: float


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, address: IPAddress, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((str(self._address), self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(
        self, target: Target, address: IPAddress, timeout: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        raw = socket.create_connection((str(self._address), self.port), self.timeout)
        # server_hostname: SNI and the certificate's name are the URL's host, not the address.
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def post(
    target: Target,
    addresses: list[IPAddress],
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    tls: ssl.SSLContext | None = None,
) -> Reply:
    """POST `body` to `target` through the first of `addresses` that accepts a connection.

    Raises OSError (timeouts included) when none does or the exchange breaks; the caller
    retries those.
    """
    started = time.monotonic()
    last_error: OSError | None = None
    for address in addresses:
        connection: http.client.HTTPConnection
        if target.scheme == "https":
            context = tls or ssl.create_default_context()
            connection = _PinnedHTTPSConnection(target, address, timeout, context)
        else:
            connection = _PinnedHTTPConnection(target, address, timeout)
        try:
            connection.connect()
        except OSError as error:
            last_error = error
            connection.close()
            continue
        try:
            connection.request("POST", target.path, body=body, headers=headers)
            response = connection.getresponse()
            excerpt = response.read(REPLY_READ_LIMIT).decode("utf-8", "replace")
            return Reply(response.status, excerpt, time.monotonic() - started)
        except http.client.HTTPException as error:
            raise OSError(f"the receiver broke the HTTP exchange ({error!r})") from error
        finally:
            connection.close()
    assert last_error is not None
    raise last_error
