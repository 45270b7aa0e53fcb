"""Local mode's request rules and fault hooks, without starting local mode."""

from __future__ import annotations

import io
import json

import pytest

from asyncinfer.local.endpoint_service import EndpointSettings, request_problem, result_locations
from asyncinfer.local.faults import Faults

SETTINGS = EndpointSettings(
    name="endpoint",
    output_path="s3://out/output/",
    failure_path="s3://out/failure/",
    success_topic=None,
    error_topic=None,
    include_response_in=(),
    max_concurrency=1,
    instance_count=1,
)


@pytest.mark.parametrize(
    ("extension", "filename", "output", "failure"),
    [
        (None, None, "s3://out/output/id-1.out", "s3://out/failure/id-1-error.out"),
        ("a/b", None, "s3://out/output/a/b/id-1.out", "s3://out/failure/a/b/id-1-error.out"),
        ("/a/", "r.json", "s3://out/output/a/r.json", "s3://out/failure/a/id-1-error.out"),
        # An S3 key is no path: this is still a key under output/, where the stack's
        # execution role may write (and nowhere else).
        ("../x", None, "s3://out/output/../x/id-1.out", "s3://out/failure/../x/id-1-error.out"),
    ],
)
def test_output_and_failure_stay_under_the_configured_paths(
    extension: str | None, filename: str | None, output: str, failure: str
) -> None:
    assert result_locations(SETTINGS, "id-1", extension, filename) == (output, failure)
    assert output.startswith(SETTINGS.output_path)
    assert failure.startswith(str(SETTINGS.failure_path))


@pytest.mark.parametrize(
    ("location", "body", "extension", "filename", "expected"),
    [
        ("s3://b/k", b"", None, None, None),
        (None, b"x", "ok/path", "name.out", None),
        (None, bytes(128_000), None, None, None),
        ("s3://b/k", b"x", None, None, "mutually exclusive"),
        (None, b"", None, None, "Either Body or InputLocation"),
        (None, bytes(128_001), None, None, "less than or equal to 128000"),
        (None, b"x", "x" * 513, None, "less than or equal to 512"),
        (None, b"x", "https://elsewhere", None, "regular expression"),
        (None, b"x", None, "x" * 33, "less than or equal to 32"),
        (None, b"x", None, "two.dots.out", "regular expression"),
        (None, b"x", None, "-leading", "regular expression"),
    ],
)
def test_request_problems_follow_the_botocore_models_constraints(
    location: str | None, body: bytes, extension: str | None, filename: str | None,
    expected: str | None,
) -> None:  # fmt: skip
    problem = request_problem(location, body, extension, filename)
    if expected is None:
        assert problem is None
    else:
        assert problem is not None and expected in problem


class Endpoint:
    def __init__(self) -> None:
        self.paused = False

    def set_paused(self, paused: bool) -> None:
        self.paused = paused


def call(service: str) -> dict[str, object]:
    scope = f"AKID/20260101/us-east-1/{service}/aws4_request"
    return {"HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential={scope}, Signature=x",
            "CONTENT_LENGTH": "3", "wsgi.input": io.BytesIO(b"abc")}  # fmt: skip


def test_throttling_answers_count_down_per_service_and_drain_the_body() -> None:
    faults = Faults()
    status, _ = faults.handle("PUT", json.dumps({"throttle": {"sagemaker": 2}}).encode(), None)
    assert status == 200
    environ = call("sagemaker")
    answer = faults.apply(environ)
    assert answer is not None and answer[0] == 400
    assert answer[1]["x-amzn-ErrorType"].startswith("ThrottlingException")
    assert environ["wsgi.input"].read() == b""  # type: ignore[attr-defined]
    assert faults.apply(call("s3")) is None  # another service is not throttled
    assert faults.apply(call("sagemaker")) is not None
    assert faults.apply(call("sagemaker")) is None  # the two answers are spent
    assert faults.state()["requests"] == {"sagemaker": 3, "s3": 1}


def test_throttling_every_call_and_s3s_own_answer() -> None:
    faults = Faults()
    faults.handle("PUT", json.dumps({"throttle": {"s3": -1}}).encode(), None)
    for _ in range(3):
        answer = faults.apply(call("s3"))
        assert answer is not None and answer[0] == 503 and b"SlowDown" in answer[2]


def test_pause_reaches_the_endpoint_and_delete_clears_every_fault() -> None:
    faults, endpoint = Faults(), Endpoint()
    body = json.dumps({"paused": True, "latencySeconds": 0.5}).encode()
    faults.handle("PUT", body, endpoint)
    assert endpoint.paused and faults.state()["latencySeconds"] == 0.5
    faults.handle("DELETE", b"", endpoint)
    assert not endpoint.paused
    assert faults.state() | {"requests": {}} == {
        "latencySeconds": 0.0, "throttle": {}, "paused": False, "requests": {}
    }  # fmt: skip


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"latency": 1}, "unknown fault field(s) ['latency']"),
        ({"latencySeconds": -1}, "latencySeconds is -1.0; expected at least 0"),
        ({"throttle": [1]}, "throttle must map services to counts"),
    ],
)
def test_bad_faults_are_refused_with_one_sentence(body: object, message: str) -> None:
    status, reply = Faults().handle("PUT", json.dumps(body).encode(), None)
    assert status == 400
    assert message in json.loads(reply)["message"]
