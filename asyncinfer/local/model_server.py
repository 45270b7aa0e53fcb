"""A model server that follows the SageMaker container contract (GET /ping, POST /invocations).

It serves one of local mode's model stand-ins (stand_ins.py): ``sentiment``, the
Hugging Face text-classification contract of the stack's default model, or ``xgboost``, a
real XGBoost classifier of CSV rows. Like the model server inside the Hugging Face DLC
(MMS, whose ``max_request_size`` the stack sets through ``MMS_MAX_REQUEST_SIZE`` from
``max_payload_mib``), it refuses a request larger than ``max_request_bytes`` with HTTP 413
and an empty body, as MMS's HTTP front end does (awslabs/multi-model-server #765 made the
limit configurable; #738: a larger POST answered 413).

Python API::

    server = ModelServer(port=0, state_dir=Path(".asyncinfer"), model="sentiment")
    server.start()            # serves on 127.0.0.1:<server.port> in a thread
    server.max_in_flight      # most /invocations ever running at once (tests check limits)
    server.stop()

Command line: ``python -m asyncinfer.local.model_server --port 8080 --model sentiment``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .stand_ins import STAND_INS, InvalidInput, build

# What the model server inside the container answers a request over its limit with
# (Netty's HttpObjectAggregator in MMS: "413 Request Entity Too Large", no body).
TOO_LARGE = 413


class ModelServer:
    """The HTTP server; thread-safe counters of requests in flight for tests and the bench."""

    def __init__(
        self,
        *,
        port: int = 8080,
        state_dir: Path = Path(".asyncinfer"),
        delay_seconds: float = 0.0,
        model: str = "xgboost",
        max_request_bytes: int | None = None,
    ) -> None:
        self.model = build(model, state_dir)
        self.max_request_bytes = max_request_bytes
        self.delay_seconds = delay_seconds
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.served = 0
        self._requested_port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def predict(self, body: bytes) -> bytes:
        """The reply to a CSV request (the XGBoost stand-in's own format)."""
        return self.answer(body, "text/csv", None)[0]

    def answer(self, body: bytes, content_type: str, accept: str | None) -> tuple[bytes, str]:
        return self.model.answer(body, content_type, accept)

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1
            self.served += 1

    def reset_stats(self) -> None:
        with self._lock:
            self.max_in_flight = self.in_flight
            self.served = 0

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "inFlight": self.in_flight,
                "maxInFlight": self.max_in_flight,
                "served": self.served,
            }

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the model server is not started; call start() first")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def bind(self) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._requested_port), _handler(self))
        self._httpd.daemon_threads = True

    def start(self) -> ModelServer:
        self.bind()
        assert self._httpd is not None
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="model-server", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.bind()
        assert self._httpd is not None
        self._httpd.serve_forever()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)


class ContainerHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive and whole replies: the serving half of a model container."""

    protocol_version = "HTTP/1.1"
    # Buffered: the status line, headers and body leave in one segment when the handler
    # flushes. Written separately, the body waited (Nagle) for the ACK of the headers,
    # which a kept-alive client delays by up to 40 ms.
    wbufsize = 64 * 1024

    def handle_expect_100(self) -> bool:
        # The interim "100 Continue" must leave now, not with the buffered reply: curl
        # and boto3 wait for it (up to a second) before they send a large body.
        accepted = super().handle_expect_100()
        self.wfile.flush()
        return accepted

    def log_message(self, format: str, *args: Any) -> None:
        # One line per request would drown the local-mode console.
        pass

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _handler(server: ModelServer) -> type[ContainerHandler]:
    class Handler(ContainerHandler):
        def do_GET(self) -> None:
            if self.path == "/ping":
                self.reply(200, b"", "text/plain")
            elif self.path == "/local/stats":
                self.reply(200, json.dumps(server.stats()).encode(), "application/json")
            else:
                self.reply(404, b"not found\n", "text/plain")

        def do_POST(self) -> None:
            body = self.read_body()
            if self.path == "/local/reset-stats":
                server.reset_stats()
                self.reply(200, b"{}", "application/json")
                return
            if self.path != "/invocations":
                self.reply(404, b"not found\n", "text/plain")
                return
            if server.max_request_bytes is not None and len(body) > server.max_request_bytes:
                self.reply(TOO_LARGE, b"", "text/plain")
                return
            server._enter()
            content_type = (self.headers.get("Content-Type") or "text/csv").split(";")[0]
            content_type = content_type.strip().lower()
            try:
                if server.delay_seconds:
                    time.sleep(server.delay_seconds)
                reply = (200, *server.answer(body, content_type, self.headers.get("Accept")))
            except InvalidInput as error:
                reply = (400, *server.model.error(str(error), content_type))
            except Exception as error:  # a real container answers 500 on a model fault
                reply = (500, f"{type(error).__name__}: {error}".encode(), "text/plain")
            finally:
                # Before the reply is sent: once a caller has the answer, this request no
                # longer counts, so a caller that sends its next request at once is never
                # seen as one request too many (counting after the send raced with it).
                server._leave()
            self.reply(*reply)

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A model stand-in on the SageMaker contract")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--state-dir", type=Path, default=Path(".asyncinfer"))
    parser.add_argument("--delay-ms", type=float, default=0.0, help="added time per request")
    parser.add_argument("--model", choices=STAND_INS, default="xgboost", help="the stand-in")
    parser.add_argument(
        "--max-request-bytes", type=int, help="answer 413 above this (MMS_MAX_REQUEST_SIZE)"
    )
    args = parser.parse_args(argv)
    server = ModelServer(
        port=args.port,
        state_dir=args.state_dir,
        delay_seconds=args.delay_ms / 1000,
        model=args.model,
        max_request_bytes=args.max_request_bytes,
    )
    server.bind()
    # The parent reads the bound port from this line (port 0 picks a free one).
    print(json.dumps({"modelServer": f"http://127.0.0.1:{server.port}"}), flush=True)
    assert server._httpd is not None
    with contextlib.suppress(KeyboardInterrupt):
        server._httpd.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
