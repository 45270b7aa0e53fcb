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
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response


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


@Request.application
def container(request: Request) -> Response:
    """The SageMaker container contract: GET /ping, POST /invocations."""
    if request.method != "POST":
        return Response(status=200 if request.path == "/ping" else 404)
    try:
        body, content_type = predict(request.get_data(), request.content_type or "")
    except (ModelError, ValueError) as error:
        return Response(str(error), status=500, content_type="text/plain")
    return Response(body, content_type=content_type)


class _QuietRequestHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        pass  # a line per request would bury the test output


class SentimentModel:
    """The container on a loopback port, served from a thread of the test process."""

    def __init__(self) -> None:
        self._server = make_server(
            "127.0.0.1", 0, container, threaded=True, request_handler=_QuietRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
