"""Every CLI command against the stand-ins, in-process and once through the console script."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from asyncinfer import AsyncInferenceClient
from asyncinfer.cli import build_parser, main, parse_since
from asyncinfer.errors import ConfigurationError
from tests.client.conftest import assert_one_line_error

TIMEOUT = "60"
ASYNCINFER = Path(sys.executable).parent / "asyncinfer"
COMMANDS = ["submit", "status", "result", "batch", "failures", "redrive", "local"]


def test_help_documents_every_command_with_an_example() -> None:
    parser = build_parser()
    text = parser.format_help()
    for command in COMMANDS:
        assert command in text
        assert f"asyncinfer {command}" in text  # in the examples of the top-level help
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert isinstance(subparsers.choices, dict)
    for command in COMMANDS:
        sub_help = subparsers.choices[command].format_help()
        assert "example:" in sub_help and f"asyncinfer {command}" in sub_help, command


def test_console_script_runs_the_cli(deployment, stack, tmp_path: Path) -> None:
    """.venv/bin/asyncinfer is installed and talks to the stack like the in-process CLI."""
    payload = tmp_path / "tweet.json"
    payload.write_text(json.dumps({"inputs": "I love this"}))
    completed = subprocess.run(
        [str(ASYNCINFER), "--endpoint-url", deployment.url, "--stack", stack.name,
         "submit", str(payload), "--wait", "--timeout", TIMEOUT],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == [{"label": "POSITIVE", "score": 0.61}]


def test_submit_prints_the_inference_id(cli, deployment, stack, tmp_path: Path) -> None:
    payload = tmp_path / "tweet.json"
    payload.write_text(json.dumps({"inputs": "good"}))
    result = cli("submit", str(payload), "--custom-attributes", "k=v")
    assert result.code == 0, result.err
    inference_id = result.out.strip()
    client = AsyncInferenceClient.from_stack(stack.name, endpoint_url=deployment.url)
    record = client.records([client.handle(inference_id)])[inference_id]
    assert record is not None and record.item["customAttributes"] == "k=v"
    assert record.item["requestContentType"] == "application/json"  # guessed from .json


def test_submit_wait_prints_the_result(cli, tmp_path: Path) -> None:
    payload = tmp_path / "row.csv"
    payload.write_text("1,2,3\n")
    result = cli("submit", str(payload), "--wait", "--timeout", TIMEOUT)
    assert result.code == 0, result.err
    assert result.out == "6.0\n"


def test_submit_reads_stdin(cli, monkeypatch) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b'{"inputs": "great"}'))
    monkeypatch.setattr(sys, "stdin", stdin)
    result = cli(
        "submit", "-", "--content-type", "application/json", "--wait", "--timeout", TIMEOUT
    )
    assert result.code == 0, result.err
    assert json.loads(result.out)[0]["label"] == "POSITIVE"


def test_submit_wait_on_a_failure_prints_reason_and_location(cli, tmp_path: Path) -> None:
    payload = tmp_path / "bad.json"
    payload.write_text(json.dumps({"inputs": "FAIL"}))
    result = cli("submit", str(payload), "--wait", "--timeout", TIMEOUT)
    assert_one_line_error(result, "failed", "model refused input", "-error.out")


def test_status_of_several_ids(cli, deployment, stack, tmp_path: Path) -> None:
    client = AsyncInferenceClient.from_stack(stack.name, endpoint_url=deployment.url)
    good = client.predict_async({"inputs": "love"})
    bad = client.predict_async({"inputs": "FAIL"})
    client.wait(good, timeout=60)
    client.wait(bad, timeout=60)
    deployment.endpoint.gate.clear()
    waiting = client.predict_async({"inputs": "later"})
    result = cli("status", good.inference_id, bad.inference_id, waiting.inference_id, "nope")
    lines = result.out.splitlines()
    assert lines[0].split()[:2] == [good.inference_id, "COMPLETED"]
    assert good.output_location in lines[0]
    assert lines[1].split()[:2] == [bad.inference_id, "FAILED"]
    assert "model refused input" in lines[1]
    assert lines[2].split()[:2] == [waiting.inference_id, "PENDING"]
    assert lines[3] == "nope  UNKNOWN"
    assert result.code == 1  # an unknown id is worth a non-zero exit
    as_json = cli("status", "--json", good.inference_id)
    assert json.loads(as_json.out)["status"] == "COMPLETED"


def test_result_to_stdout_and_to_a_file(cli, deployment, stack, tmp_path: Path) -> None:
    client = AsyncInferenceClient.from_stack(stack.name, endpoint_url=deployment.url)
    handle = client.predict_async({"inputs": "love"})
    client.wait(handle, timeout=60)
    printed = cli("result", handle.inference_id)
    assert printed.code == 0, printed.err
    assert json.loads(printed.out) == [{"label": "POSITIVE", "score": 0.54}]
    target = tmp_path / "out.json"
    written = cli("result", handle.inference_id, "-o", str(target))
    assert written.code == 0 and written.out == ""
    assert json.loads(target.read_bytes()) == [{"label": "POSITIVE", "score": 0.54}]


def test_result_waits_when_asked(cli, deployment, stack) -> None:
    client = AsyncInferenceClient.from_stack(stack.name, endpoint_url=deployment.url)
    deployment.endpoint.gate.clear()
    handle = client.predict_async({"inputs": "love"})
    pending = cli("result", handle.inference_id)
    assert_one_line_error(pending, handle.inference_id, "still PENDING")
    deployment.endpoint.gate.set()
    waited = cli("result", handle.inference_id, "--wait", "--timeout", TIMEOUT)
    assert waited.code == 0, waited.err
    assert json.loads(waited.out)[0]["label"] == "POSITIVE"


def test_result_of_an_unknown_id(cli) -> None:
    assert_one_line_error(cli("result", "no-such-id"), "no-such-id", "no record")


def test_failures_lists_this_endpoints_failures_with_reasons(cli, deployment, stack) -> None:
    other = deployment.deploy()  # same results table, another endpoint
    mine = AsyncInferenceClient.from_stack(stack.name, endpoint_url=deployment.url)
    theirs = AsyncInferenceClient.from_stack(other.name, endpoint_url=deployment.url)
    failed = [mine.predict_async({"inputs": f"FAIL {i}"}) for i in range(2)]
    fine = mine.predict_async({"inputs": "love"})
    foreign = theirs.predict_async({"inputs": "FAIL elsewhere"})
    for handle in [*failed, fine, foreign]:
        handle.client.wait(handle, timeout=60)
    result = cli("failures", "--since", "1h")
    assert result.code == 0, result.err
    listed = result.out.splitlines()
    assert len(listed) == 2
    for handle in failed:
        line = next(line for line in listed if handle.inference_id in line)
        assert "model refused input" in line and handle.failure_location in line
    assert "2 failed inference(s)" in result.err
    everywhere = cli("failures", "--since", "1h", "--all-endpoints", "--json")
    ids = {json.loads(line)["inferenceId"] for line in everywhere.out.splitlines()}
    assert {foreign.inference_id, *(h.inference_id for h in failed)} <= ids
    assert fine.inference_id not in ids
    assert cli("failures", "--since", "1h", "--limit", "1").out.count("\n") == 1


def test_failures_since_rejects_nonsense(cli) -> None:
    assert_one_line_error(cli("failures", "--since", "yesterday"), "'yesterday'", "30m, 1h")


def test_parse_since_accepts_ages_and_times() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2024, 5, 10, 12, tzinfo=UTC)
    assert parse_since("90m", now) == now - timedelta(minutes=90)
    assert parse_since("2d", now) == now - timedelta(days=2)
    assert parse_since("2024-05-10T08:00:00Z", now) == datetime(2024, 5, 10, 8, tzinfo=UTC)
    with pytest.raises(ConfigurationError):
        parse_since("soon", now)


def test_connection_options_work_after_the_command(deployment, stack, tmp_path: Path) -> None:
    payload = tmp_path / "p.json"
    payload.write_text(json.dumps({"inputs": "x"}))
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["submit", str(payload), "--endpoint-url", deployment.url, "--stack", stack.name],
        stdout=out, stderr=err,
    )  # fmt: skip
    assert code == 0, err.getvalue()


def test_endpoint_url_from_the_environment(deployment, stack, tmp_path: Path, monkeypatch) -> None:
    """Without --endpoint-url, boto3's AWS_ENDPOINT_URL reaches every client."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", deployment.url)
    payload = tmp_path / "p.json"
    payload.write_text(json.dumps({"inputs": "love"}))
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["--stack", stack.name, "submit", str(payload), "--wait", "--timeout", TIMEOUT],
        stdout=out, stderr=err,
    )  # fmt: skip
    assert code == 0, err.getvalue()
    assert json.loads(out.getvalue())[0]["label"] == "POSITIVE"


def test_local_command_delegates_or_says_it_is_missing(cli) -> None:
    try:
        import asyncinfer.local.cli  # noqa: F401
    except ImportError:
        assert_one_line_error(cli("local"), "local mode is not available")
    else:
        parser = build_parser()
        subparsers = next(a for a in parser._actions if a.dest == "command")
        assert isinstance(subparsers.choices, dict)
        assert "up" in subparsers.choices["local"].format_help()


def test_redrive_moves_dead_letters_back_through_the_writer(
    cli, deployment, stack, vectors_dir: Path
) -> None:
    """`asyncinfer redrive` finds both queues from the stack and delegates to asyncinfer.redrive."""
    pytest.importorskip("asyncinfer.redrive")
    from tests.client.standin import aws_client

    message = json.loads((vectors_dir / "success.json").read_text())
    inference_id = f"redriven-{stack.name}"
    message["inferenceId"] = inference_id
    message["requestParameters"]["endpointName"] = stack.outputs["EndpointName"]
    sqs = aws_client("sqs", deployment.moto_url)
    sqs.send_message(QueueUrl=stack.outputs["DeadLetterQueueUrl"], MessageBody=json.dumps(message))
    result = cli("redrive")
    assert result.code == 0, result.err
    client = AsyncInferenceClient.from_stack(stack.name, endpoint_url=deployment.url)
    record = client.wait(client.handle(inference_id), timeout=60)
    assert record.status == "COMPLETED"
    assert record.output_location == message["responseParameters"]["outputLocation"]
    left = sqs.get_queue_attributes(
        QueueUrl=stack.outputs["DeadLetterQueueUrl"],
        AttributeNames=["ApproximateNumberOfMessages"],
    )
    assert left["Attributes"]["ApproximateNumberOfMessages"] == "0"
