"""Every error a user can meet: one clear line, no traceback, the right exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asyncinfer import (
    AsyncInferenceClient,
    CredentialsError,
    EndpointNotFoundError,
    PayloadTooLargeError,
    ThrottledError,
)
from asyncinfer.payloads import MAX_PAYLOAD_BYTES, to_payload
from asyncinfer_runtime.contract import DEFAULT_STACK_NAME
from tests.e2e.client.conftest import assert_one_line_error


@pytest.fixture
def no_credentials(monkeypatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-role lookup
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)


def test_no_credentials(cli, no_credentials) -> None:
    assert_one_line_error(cli("status", "some-id"), "no AWS credentials were found")


def test_no_credentials_in_the_api(deployment, stack, no_credentials) -> None:
    with pytest.raises(CredentialsError, match="no AWS credentials"):
        AsyncInferenceClient.from_stack(DEFAULT_STACK_NAME, endpoint_url=deployment.url)


def test_payload_over_1_gb_is_refused_before_upload(cli, deployment, tmp_path: Path) -> None:
    huge = tmp_path / "huge.bin"
    with huge.open("wb") as handle:  # sparse: takes no disk space, reports 1 GB + 1 byte
        handle.truncate(MAX_PAYLOAD_BYTES + 1)
    s3_before = deployment.requests("s3")
    invokes_before = deployment.requests("sagemaker")
    result = cli("submit", str(huge))
    assert_one_line_error(result, "huge.bin", "1,000,000,001 bytes", "at most 1,000,000,000")
    assert deployment.requests("s3") == s3_before  # nothing was uploaded
    assert deployment.requests("sagemaker") == invokes_before


def test_forced_inline_payload_over_128000_bytes_is_refused(
    cli, deployment, tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(128_001))
    invokes_before = deployment.requests("sagemaker")
    result = cli("submit", str(big), "--inline")
    assert_one_line_error(result, "'", "big.bin", "128,001 bytes", "at most 128,000 bytes")
    assert deployment.requests("sagemaker") == invokes_before


def test_payload_size_is_checked_without_reading(deployment, stack) -> None:
    class Reported:
        """A file object that reports 2 GB and fails if anyone reads it."""

        name = "stream"

        def seek(self, offset: int, whence: int = 0) -> int:
            self.position = 2 * MAX_PAYLOAD_BYTES if whence == 2 else offset
            return self.position

        def tell(self) -> int:
            return self.position

        def read(self, *_: object) -> bytes:
            raise AssertionError("the payload was read")

    with pytest.raises(PayloadTooLargeError, match="2,000,000,000 bytes"):
        to_payload(Reported())
    client = deployment.client()
    with pytest.raises(PayloadTooLargeError):
        client.predict_async(Reported())


def test_endpoint_not_found(cli, deployment, stack, tmp_path: Path) -> None:
    # The stack's outputs name an endpoint that is gone (deleted behind our back).
    gone = deployment.outputs_variant(tmp_path, EndpointName="deleted-endpoint")
    payload = tmp_path / "p.json"
    payload.write_text(json.dumps({"inputs": "x"}))
    assert_one_line_error(
        cli("submit", str(payload), outputs_file=gone), "endpoint not found", "deleted-endpoint"
    )
    client = AsyncInferenceClient.from_stack(outputs_file=gone, endpoint_url=deployment.url)
    with pytest.raises(EndpointNotFoundError):
        client.predict_async({"inputs": "x"})


def test_endpoint_not_found_stops_a_batch_at_once(cli, deployment, stack, tmp_path: Path) -> None:
    gone = deployment.outputs_variant(tmp_path, EndpointName="deleted-endpoint")
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"inputs": f"{i}"}) + "\n" for i in range(50)))
    before = deployment.requests("sagemaker")
    result = cli("batch", str(source), "--concurrency", "2", outputs_file=gone)
    assert_one_line_error(result, "endpoint not found")
    # Stopped after the first answers instead of sending all 50 into the same error.
    assert deployment.requests("sagemaker") - before < 10


def test_throttling_is_retried_with_backoff(cli, deployment, stack, tmp_path: Path) -> None:
    deployment.faults("PUT", throttle={"sagemaker": 2})
    before = deployment.requests("sagemaker")
    payload = tmp_path / "p.json"
    payload.write_text(json.dumps({"inputs": "love"}))
    result = cli("submit", str(payload), "--wait", "--timeout", "60")
    assert result.code == 0, result.err
    assert json.loads(result.out)[0]["label"] == "POSITIVE"
    assert deployment.requests("sagemaker") - before == 3  # 2 throttled + 1 accepted


def test_throttling_that_persists_is_reported(cli, deployment, tmp_path: Path) -> None:
    deployment.faults("PUT", throttle={"sagemaker": -1})
    payload = tmp_path / "p.json"
    payload.write_text(json.dumps({"inputs": "love"}))
    result = cli("--max-attempts", "2", "submit", str(payload))
    assert_one_line_error(result, "throttled InvokeEndpointAsync", "after 2 attempts")


def test_throttled_batch_items_are_reported_and_the_rest_continue(
    cli, deployment, stack, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"inputs": f"good {i}"}) + "\n" for i in range(6)))
    output = tmp_path / "out.jsonl"
    # Two attempts per call, so the first two throttle answers exhaust one item's retries
    # (concurrency 1 keeps the order deterministic).
    deployment.faults("PUT", throttle={"sagemaker": 2})
    result = cli(
        "--max-attempts", "2", "batch", str(source), "-o", str(output), "--concurrency", "1",
        "--timeout", "60",
    )  # fmt: skip
    assert result.code == 1
    entries = {
        json.loads(line)["line"]: json.loads(line) for line in output.read_text().splitlines()
    }
    assert entries[1]["status"] == "ERROR"
    assert "throttled InvokeEndpointAsync" in entries[1]["error"]
    assert all(entries[n]["status"] == "COMPLETED" for n in range(2, 7))


def test_throttled_error_in_the_api(deployment, stack) -> None:
    deployment.faults("PUT", throttle={"sagemaker": -1})
    client = deployment.client(max_attempts=2)
    with pytest.raises(ThrottledError):
        client.predict_async({"inputs": "x"})
