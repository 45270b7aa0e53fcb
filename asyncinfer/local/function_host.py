"""A Lambda function served from child processes: each runs the function's own handler from
its code folder, one invocation at a time, as one Lambda execution environment does.

`FunctionPool.invoke(event)` hands the event to an idle child (starting another, up to
`max_workers`, when all are busy, as Lambda scales out) and returns the handler's answer.
A child is `python -m asyncinfer.local.function_host`: it imports the handler, listens on a
loopback port (written to a file: its stdout and stderr are the function's log) and answers
`POST /invoke` with the handler's return value, or with the error it raised, as Lambda
reports a function error.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from .event_source import _Context, load_handler
from .functions import LocalFunction

START_TIMEOUT_SECONDS = 60.0


class FunctionError(Exception):
    """The handler raised (Lambda: a function error); the message is its error."""


class _Worker:
    """One child process and a keep-alive connection to it."""

    def __init__(
        self, function: LocalFunction, environment: dict[str, str], log: Path | None
    ) -> None:
        self.function = function
        handle, port_file = tempfile.mkstemp(prefix="function-", suffix=".port")
        os.close(handle)
        os.unlink(port_file)
        log_file = log.open("a", encoding="utf-8") if log is not None else None
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "asyncinfer.local.function_host",
                *function.arguments(),
                "--port-file",
                port_file,
                "--parent-pid",
                str(os.getpid()),
            ],
            env=environment,
            # The function's log lines (what it prints), like the queue consumers'.
            stdout=log_file,
        )
        if log_file is not None:
            log_file.close()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not os.path.exists(port_file):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"function {function.logical_id} ({function.handler}) did not start; see "
                    f"its output above"
                )
            time.sleep(0.02)
        self.port = int(Path(port_file).read_text().strip())
        os.unlink(port_file)
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port)

    def invoke(self, event: dict[str, Any]) -> Any:
        body = json.dumps(event).encode()
        timeout = self.function.timeout_seconds + 5
        self.connection.timeout = timeout
        if self.connection.sock is not None:
            self.connection.sock.settimeout(timeout)
        self.connection.request(
            "POST", "/invoke", body=body, headers={"Content-Type": "application/json"}
        )
        reply = self.connection.getresponse()
        answer = json.loads(reply.read())
        if reply.status != 200:
            raise FunctionError(f"{answer.get('errorType')}: {answer.get('errorMessage')}")
        return answer

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class FunctionPool:
    """Up to `max_workers` children of one function; `start_workers` of them at once."""

    def __init__(
        self,
        function: LocalFunction,
        environment: dict[str, str],
        *,
        start_workers: int = 1,
        max_workers: int = 4,
        log: Path | None = None,
    ) -> None:
        """`log`: where the children's standard output goes (else local mode's own)."""
        self.function = function
        self.environment = environment
        self.log = log
        self.max_workers = max_workers
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        starting = [threading.Thread(target=self._add) for _ in range(start_workers)]
        for thread in starting:
            thread.start()
        for thread in starting:
            thread.join()
        if not self._workers:
            raise RuntimeError(f"function {function.logical_id} could not start")

    def _add(self) -> _Worker | None:
        try:
            worker = _Worker(self.function, self.environment, self.log)
        except RuntimeError as error:
            print(f"local mode: {error}", file=sys.stderr)
            return None
        with self._lock:
            self._workers.append(worker)
        self._idle.put(worker)
        return worker

    def invoke(self, event: dict[str, Any]) -> Any:
        """The handler's answer to `event`; FunctionError if it raised, TimeoutError if it
        ran past the function's timeout."""
        try:
            worker = self._idle.get_nowait()
        except queue.Empty:
            with self._lock:
                grow = len(self._workers) < self.max_workers
            if grow:
                self._add()
            worker = self._idle.get(timeout=self.function.timeout_seconds + 30)
        try:
            return worker.invoke(event)
        except (OSError, http.client.HTTPException) as error:
            # The child died or hung past its timeout: replace it, as Lambda replaces an
            # execution environment that timed out.
            with self._lock:
                self._workers.remove(worker)
            worker.stop()
            self._add()
            raise TimeoutError(
                f"function {self.function.logical_id} did not answer ({type(error).__name__})"
            ) from None
        finally:
            if worker in self._workers:
                self._idle.put(worker)

    def stop(self) -> None:
        with self._lock:
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.stop()


# -- the child -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """`python -m asyncinfer.local.function_host`: serve one function until terminated (or
    until local mode is gone)."""
    parser = argparse.ArgumentParser(prog="python -m asyncinfer.local.function_host")
    parser.add_argument("--code-dir", type=Path, required=True)
    parser.add_argument("--handler", required=True)
    parser.add_argument("--function-name", default="function")
    parser.add_argument("--timeout-seconds", type=float, default=3.0)
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--parent-pid", type=int, required=True)
    args = parser.parse_args(argv)
    # Ctrl-C reaches the whole process group; local mode stops its API first, then
    # terminates this process, so requests in flight still get their answer.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    handler = load_handler(args.code_dir, args.handler)

    class Invoke(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as two writes; with Nagle's algorithm the second waits for
        # the peer's delayed ACK (up to 40 ms on Linux) on every keep-alive request.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            try:
                answer = handler(event, _Context(args.timeout_seconds, args.function_name))
                status = 200
            except Exception as error:
                # Lambda's Python runtime reports a function error like this, and logs it.
                print(f"[ERROR] {type(error).__name__}: {error}", file=sys.stderr, flush=True)
                answer = {"errorType": type(error).__name__, "errorMessage": str(error)}
                status = 500
            body = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *values: Any) -> None:
            pass  # one line per invocation would bury the function's own log

    server = HTTPServer(("127.0.0.1", 0), Invoke)
    partial = args.port_file.with_suffix(".partial")
    partial.write_text(str(server.server_address[1]))
    partial.replace(args.port_file)

    def watch_parent() -> None:
        while os.getppid() == args.parent_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch_parent, daemon=True).start()
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
