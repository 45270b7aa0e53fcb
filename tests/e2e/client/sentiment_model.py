"""The client tests' model container: a deterministic stand-in for a sentiment model.

Local mode runs it as the user's own container (``local up --model-url``): it answers the
SageMaker container contract (``GET /ping``, ``POST /invocations``), so the tests can name
exact results. JSON ``{"inputs": text}`` -> ``[{"label", "score"}]``; text containing
"FAIL" -> HTTP 500 (a failed inference); CSV rows -> the sum of each row; bytes
(``application/octet-stream``) -> the same bytes reversed.
"""

from __future__ import annotations

import json
import threading
from http.server import ThreadingHTTPServer

from asyncinfer.local.model_server import ContainerHandler


class ModelError(Exception):
    pass


def predict(body: bytes, content_type: str) -> tuple[bytes, str]:
    media = content_type.split(";")[0].strip()
    if media == "text/csv":
        text = body.decode()
        if "FAIL" in text:
            raise ModelError("could not parse CSV row")
        sums = [str(sum(float(x) for x in line.split(","))) for line in text.splitlines() if line]
        return ("\n".join(sums) + "\n").encode(), "text/csv"
    if media == "application/json":
        document = json.loads(body)
        text = document.get("inputs", "") if isinstance(document, dict) else str(document)
        if "FAIL" in str(text):
            raise ModelError(f"model refused input {str(text)[:40]!r}")
        positive = any(word in str(text).lower() for word in ("love", "good", "great"))
        score = round(0.5 + (len(str(text)) % 50) / 100, 4)
        label = "POSITIVE" if positive else "NEGATIVE"
        return json.dumps([{"label": label, "score": score}]).encode(), "application/json"
    if media == "application/octet-stream":
        return body[::-1], "application/octet-stream"
    raise ModelError(f"unsupported content type {media}")


class SentimentModel:
    """The container on a loopback port, served from a thread of the test process."""

    def __init__(self) -> None:
        class Handler(ContainerHandler):
            def do_GET(self) -> None:
                self.reply(200 if self.path == "/ping" else 404, b"", "text/plain")

            def do_POST(self) -> None:
                body = self.read_body()
                try:
                    reply = predict(body, self.headers.get("Content-Type") or "")
                except (ModelError, ValueError) as error:
                    self.reply(500, str(error).encode(), "text/plain")
                    return
                self.reply(200, *reply)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
