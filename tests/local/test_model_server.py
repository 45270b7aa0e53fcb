"""The built-in model server's HTTP behaviour that clients other than local mode rely on."""

from __future__ import annotations

import socket

from asyncinfer.local.model_server import ModelServer
from tests.local.helpers import csv_rows


def read_reply(sock: socket.socket) -> bytes:
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += sock.recv(65536)
    head, _, body = reply.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_expect_100_continue_is_answered_at_once(model: ModelServer) -> None:
    body = (csv_rows(1)[0] + "\n").encode()
    head = (
        "POST /invocations HTTP/1.1\r\nHost: model\r\nContent-Type: text/csv\r\n"
        f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", model.port), timeout=5) as sock:
        sock.sendall(head)
        # Read before the body is sent: held in the reply buffer, the interim answer would
        # never come (the reply needs the body first) and this recv would time out.
        interim = sock.recv(4096)
        sock.sendall(body)
        reply = read_reply(sock)
    assert interim.startswith(b"HTTP/1.1 100")
    assert reply.startswith(b"HTTP/1.1 200")
    assert 0.0 <= float(reply.partition(b"\r\n\r\n")[2]) <= 1.0
