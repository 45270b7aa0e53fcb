"""The built-in model server's HTTP behaviour that clients other than local mode rely on."""

from __future__ import annotations

import socket

from asyncinfer.local.model_server import ModelServer
from tests.support.local_mode import csv_rows


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


def post(
    model: ModelServer, body: bytes, content_type: str, accept: str = ""
) -> tuple[int, str, bytes]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", model.port, timeout=10)
    headers = {"Content-Type": content_type, **({"Accept": accept} if accept else {})}
    connection.request("POST", "/invocations", body=body, headers=headers)
    reply = connection.getresponse()
    data = reply.read()
    connection.close()
    return reply.status, reply.headers.get("Content-Type", ""), data


def test_json_rows_in_and_json_scores_out_match_csv(model: ModelServer) -> None:
    import json

    rows = csv_rows(2)
    as_json = json.dumps([[float(v) for v in row.split(",")] for row in rows]).encode()
    status, content_type, body = post(model, as_json, "application/json", "application/json")
    assert (status, content_type) == (200, "application/json")
    expected = [float(v) for v in model.predict("\n".join(rows).encode()).split()]
    assert json.loads(body) == expected
    # One row alone is accepted too; without Accept the answer is CSV.
    status, content_type, body = post(
        model, json.dumps(json.loads(as_json)[0]).encode(), "application/json"
    )
    assert status == 200 and content_type.startswith("text/csv")
    assert float(body) == expected[0]


def test_a_json_request_gets_its_error_as_json(model: ModelServer) -> None:
    import json

    status, content_type, body = post(model, b"[[1, 2]]", "application/json")
    assert (status, content_type) == (400, "application/json")
    assert json.loads(body) == {"message": "row 1 has 2 values; expected 30 numbers"}
    status, content_type, body = post(model, b"1,2\n", "text/csv")
    assert (status, content_type) == (400, "text/plain")
    assert body == b"row 1 has 2 columns; expected 30 numbers"
