"""A model server that follows the SageMaker container contract (GET /ping, POST /invocations).

By default it serves a real XGBoost binary classifier trained on first use on scikit-learn's
bundled breast-cancer data set (30 numeric features per CSV row), the shape of AWS's XGBoost
async example: CSV rows in, one probability per row out (text/csv). The trained model is
cached in the state directory so later starts skip training.

Python API::

    server = ModelServer(port=0, state_dir=Path(".asyncinfer"))
    server.start()            # serves on 127.0.0.1:<server.port> in a thread
    server.max_in_flight      # most /invocations ever running at once (tests check limits)
    server.stop()

Command line: ``python -m asyncinfer.local.model_server --port 8080``.
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

import numpy as np

MODEL_FILE = "xgboost-breast-cancer.json"
N_FEATURES = 30


class InvalidInput(ValueError):
    """The request body is not what the model accepts; the message says why."""


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


class ModelServer:
    """The HTTP server; thread-safe counters of requests in flight for tests and the bench."""

    def __init__(
        self,
        *,
        port: int = 8080,
        state_dir: Path = Path(".asyncinfer"),
        delay_seconds: float = 0.0,
    ) -> None:
        import xgboost as xgb

        self._xgb = xgb
        self.booster = train_or_load(state_dir)
        self.delay_seconds = delay_seconds
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.served = 0
        self._requested_port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def predict(self, body: bytes) -> bytes:
        return self.answer(body, "text/csv", None)[0]

    def answer(self, body: bytes, content_type: str, accept: str | None) -> tuple[bytes, str]:
        """Scores for CSV or JSON rows, as CSV or (Accept: application/json) a JSON array."""
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
            server._enter()
            wants_json = False
            try:
                if server.delay_seconds:
                    time.sleep(server.delay_seconds)
                content_type = (self.headers.get("Content-Type") or "text/csv").split(";")[0]
                content_type = content_type.strip().lower()
                wants_json = content_type == "application/json"
                reply = (200, *server.answer(body, content_type, self.headers.get("Accept")))
            except InvalidInput as error:
                # A JSON request gets its error as JSON, as framework containers answer.
                if wants_json:
                    reply = (400, json.dumps({"message": str(error)}).encode(), "application/json")
                else:
                    reply = (400, str(error).encode(), "text/plain")
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
    parser = argparse.ArgumentParser(description="XGBoost model server (SageMaker contract)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--state-dir", type=Path, default=Path(".asyncinfer"))
    parser.add_argument("--delay-ms", type=float, default=0.0, help="added time per request")
    args = parser.parse_args(argv)
    server = ModelServer(
        port=args.port, state_dir=args.state_dir, delay_seconds=args.delay_ms / 1000
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
