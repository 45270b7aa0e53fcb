"""The endpoint service's calls to the model container: kept-alive, and safe when stale."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from asyncinfer.local.endpoint_service import ContainerClient


class Container:
    """A container stub that counts TCP connections; ``close_after`` drops them silently."""

    def __init__(
        self, close_after: int | None = None, together: threading.Barrier | None = None
    ) -> None:
        self.connections = 0
        self.requests = 0
        container = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                container.connections += 1

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                container.requests += 1
                if together is not None:  # hold the reply until every caller is in flight
                    together.wait(timeout=5)
                if body == b"slow":
                    time.sleep(1)
                status = 400 if body == b"bad" else 200
                self.send_response(status)
                self.send_header("Content-Type", "text/csv")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                # Close without a Connection: close header, as an idle timeout would.
                if close_after is not None and container.requests % close_after == 0:
                    self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def container() -> Iterator[Container]:
    running = Container()
    yield running
    running.stop()


def test_calls_from_one_thread_share_one_connection(container: Container) -> None:
    client = ContainerClient(container.url)
    replies = [client.post("/invocations", b"1,2", {}, timeout=5) for _ in range(5)]
    assert [(status, body) for status, _, body in replies] == [(200, b"1,2")] * 5
    assert replies[0][1]["Content-Type"] == "text/csv"
    assert container.connections == 1


def test_calls_in_flight_at_once_each_have_a_connection() -> None:
    container = Container(together=threading.Barrier(3))
    try:
        client = ContainerClient(container.url, connections=3)
        threads = [
            threading.Thread(
                target=client.post, args=("/invocations", b"x", {}), kwargs={"timeout": 5}
            )
            for _ in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert container.connections == 3 and container.requests == 3
    finally:
        container.stop()


def test_error_status_is_returned_and_the_connection_kept(container: Container) -> None:
    client = ContainerClient(container.url)
    status, _, body = client.post("/invocations", b"bad", {}, timeout=5)
    assert (status, body) == (400, b"bad")
    assert client.post("/invocations", b"ok", {}, timeout=5)[0] == 200
    assert container.connections == 1


def test_a_connection_the_container_closed_is_replaced_once() -> None:
    container = Container(close_after=1)
    try:
        client = ContainerClient(container.url)
        for _ in range(3):
            assert client.post("/invocations", b"1", {}, timeout=5)[0] == 200
        assert container.requests == 3  # each request reached the container exactly once
        assert container.connections == 3
    finally:
        container.stop()


def test_a_container_that_is_down_raises_os_error() -> None:
    container = Container()
    url = container.url
    container.stop()
    with pytest.raises(OSError) as raised:
        ContainerClient(url).post("/invocations", b"1", {}, timeout=2)
    # Down, not slow: the service waits for the container instead of failing the request.
    assert not isinstance(raised.value, TimeoutError)


def test_a_container_slower_than_the_timeout_raises_timeout_error_once(
    container: Container,
) -> None:
    with pytest.raises(TimeoutError):
        ContainerClient(container.url).post("/invocations", b"slow", {}, timeout=0.2)
    assert container.requests == 1  # a timeout is the model's answer, never retried


def test_a_model_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(ValueError, match="is not an http"):
        ContainerClient("ftp://127.0.0.1:21")
