"""Fixtures shared by every test tier."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = REPO_ROOT.parent / "shared"
# The project's notification vectors live in ../shared/vectors beside the repo; a copy in
# tests/fixtures/vectors lets the suite run in a user's own CI, where ../shared is absent
# (tests/unit/test_vectors_copy.py fails if the copy drifts from the original).
VECTORS_DIR = (
    SHARED_DIR / "vectors"
    if (SHARED_DIR / "vectors").is_dir()
    else REPO_ROOT / "tests" / "fixtures" / "vectors"
)

# The Lambda source lives in lambda/ (a Python keyword, so not importable as a package
# path): put it on sys.path the way the Lambda runtime does with the asset root.
sys.path.insert(0, str(REPO_ROOT / "lambda"))

# No test may reach a real AWS account: fake credentials and a fixed region for every
# client created in tests, stand-ins or not.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
)
os.environ.pop("AWS_PROFILE", None)
# The SageMaker Python SDK v2 (a test oracle here) prints a deprecation banner on import.
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    if not VECTORS_DIR.is_dir():
        pytest.fail(f"notification vectors not found at {VECTORS_DIR}")
    return VECTORS_DIR


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto server over real HTTP on loopback; yields its endpoint URL.

    Session-scoped: tests isolate themselves by creating uniquely named resources.
    """
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
