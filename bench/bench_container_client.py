"""What urllib3's pool costs local mode's model container client, against bare http.client.

Run from the repository root: .venv/bin/python bench/bench_container_client.py
Writes bench/results/container_client.json.

Local mode's endpoint service calls the model container through ContainerClient
(asyncinfer/local/endpoint_service.py), on urllib3's connection pool. The floor is what a
hand-written client does at best: one kept-alive http.client connection per thread, the
same request and a full read of the reply. Both post CALLS small requests to the same
server (a child process, so its CPU is not counted), alternating in PASSES, and the figure
is this process's CPU per call (time.process_time), as a ratio and as milliseconds added.
The library stays while the CPU it adds per call is at most MAX_SHARE_OF_LOCAL_MODE of
local mode's CPU per request (bench/results/local.json, the one-row workload).
"""

from __future__ import annotations

import http.client
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from asyncinfer.local.endpoint_service import ContainerClient  # noqa: E402

CALLS = 3000
PASSES = 5
MAX_SHARE_OF_LOCAL_MODE = 0.10
BODY = b"0.5," * 30 + b"0.5"
HEADERS = {"Content-Type": "text/csv", "Accept": "text/csv"}
RESULT = REPO_ROOT / "bench" / "results" / "container_client.json"
LOCAL_RESULT = REPO_ROOT / "bench" / "results" / "local.json"

# A container that answers every POST at once, on local mode's own serving half
# (ContainerHandler: keep-alive, one segment per reply): the bench times the client.
SERVER = """
import sys
from http.server import ThreadingHTTPServer

sys.path.insert(0, sys.argv[1])
from asyncinfer.local.model_server import ContainerHandler

class Handler(ContainerHandler):
    def do_POST(self):
        self.read_body()
        self.reply(200, b"0.731\\n", "text/csv")

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def cpu_ms_per_call(post: Callable[[], None]) -> float:
    post()  # the connection is open before the clock starts
    started = time.process_time()
    for _ in range(CALLS):
        post()
    return (time.process_time() - started) * 1000 / CALLS


def main() -> int:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(REPO_ROOT)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        pooled = ContainerClient(f"http://127.0.0.1:{port}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

        def post_pooled() -> None:
            status, _, _ = pooled.post("/invocations", BODY, HEADERS, timeout=10)
            assert status == 200

        def post_bare() -> None:
            connection.request("POST", "/invocations", body=BODY, headers=HEADERS)
            reply = connection.getresponse()
            reply.read()
            assert reply.status == 200

        bare, urllib3_pool = [], []
        for _ in range(PASSES):
            bare.append(cpu_ms_per_call(post_bare))
            urllib3_pool.append(cpu_ms_per_call(post_pooled))
    finally:
        server.terminate()
        server.wait(timeout=10)

    bare_ms, pool_ms = statistics.median(bare), statistics.median(urllib3_pool)
    local = json.loads(LOCAL_RESULT.read_text(encoding="utf-8"))
    local_mode_ms = local["workloads"][0]["cpuMsPerRequest"]["localMode"]
    added_ms = pool_ms - bare_ms
    share = added_ms / local_mode_ms
    result = {
        "command": ".venv/bin/python bench/bench_container_client.py",
        "calls": CALLS,
        "passes": PASSES,
        "bareHttpClientCpuMsPerCall": [round(v, 4) for v in bare],
        "urllib3PoolCpuMsPerCall": [round(v, 4) for v in urllib3_pool],
        "cpuRatioUrllib3ToBare": round(pool_ms / bare_ms, 2),
        "addedCpuMsPerCall": round(added_ms, 4),
        "localModeCpuMsPerRequest": local_mode_ms,
        "shareOfLocalModeCpu": round(share, 3),
        "maxShareOfLocalModeCpuTarget": MAX_SHARE_OF_LOCAL_MODE,
        "libraryKept": share <= MAX_SHARE_OF_LOCAL_MODE,
        "note": "CPU of this process only (the server is a child process); medians of passes; "
        "localModeCpuMsPerRequest from bench/results/local.json, workload 0",
    }
    RESULT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
