"""Every CLI command against local mode, in-process and once through the console script."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from asyncinfer.cli import build_parser, main, parse_since
from asyncinfer.errors import ConfigurationError
from asyncinfer_runtime.contract import iso_time
from tests.e2e.client.conftest import assert_one_line_error

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
        [str(ASYNCINFER), "--endpoint-url", deployment.url,
         "--outputs-file", str(deployment.outputs_file),
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
    client = deployment.client()
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
    client = deployment.client()
    good = client.predict_async({"inputs": "love"})
    bad = client.predict_async({"inputs": "FAIL"})
    client.wait(good, timeout=60)
    client.wait(bad, timeout=60)
    deployment.faults("PUT", paused=True)
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
    client = deployment.client()
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
    client = deployment.client()
    deployment.faults("PUT", paused=True)
    handle = client.predict_async({"inputs": "love"})
    pending = cli("result", handle.inference_id)
    assert_one_line_error(pending, handle.inference_id, "still PENDING")
    deployment.faults("PUT", paused=False)
    waited = cli("result", handle.inference_id, "--wait", "--timeout", TIMEOUT)
    assert waited.code == 0, waited.err
    assert json.loads(waited.out)[0]["label"] == "POSITIVE"


def test_result_of_an_unknown_id(cli) -> None:
    assert_one_line_error(cli("result", "no-such-id"), "no-such-id", "no record")


def test_failures_lists_this_endpoints_failures_with_reasons(
    cli, deployment, stack, vectors_dir: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    mine = deployment.client()
    failed = [mine.predict_async({"inputs": f"FAIL {i}"}) for i in range(2)]
    fine = mine.predict_async({"inputs": "love"})
    # Another endpoint's failure in the same results table, through the results queue.
    foreign = json.loads((vectors_dir / "error-with-failure-location.json").read_text())
    foreign["inferenceId"] = f"foreign-{fine.inference_id}"
    foreign["requestParameters"]["endpointName"] = "another-endpoint"
    foreign["eventTime"] = iso_time(datetime.now(UTC))
    deployment.aws("sqs").send_message(
        QueueUrl=stack.outputs["ResultsQueueUrl"], MessageBody=json.dumps(foreign)
    )
    for handle in [*failed, fine]:
        mine.wait(handle, timeout=60)
    mine.wait(mine.handle(foreign["inferenceId"]), timeout=60)
    result = cli("failures", "--since", since)
    assert result.code == 0, result.err
    listed = result.out.splitlines()
    for handle in failed:
        line = next(line for line in listed if handle.inference_id in line)
        assert "model refused input" in line and handle.failure_location in line
    assert not any(fine.inference_id in line for line in listed)
    assert not any(foreign["inferenceId"] in line for line in listed)  # not this endpoint
    assert f"{len(listed)} failed inference(s)" in result.err
    everywhere = cli("failures", "--since", since, "--all-endpoints", "--json")
    ids = {json.loads(line)["inferenceId"] for line in everywhere.out.splitlines()}
    assert {foreign["inferenceId"], *(h.inference_id for h in failed)} <= ids
    assert fine.inference_id not in ids
    assert cli("failures", "--since", since, "--limit", "1").out.count("\n") == 1


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
        ["submit", str(payload), "--endpoint-url", deployment.url,
         "--outputs-file", str(deployment.outputs_file)],
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
        ["--outputs-file", str(deployment.outputs_file),
         "submit", str(payload), "--wait", "--timeout", TIMEOUT],
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
    message = json.loads((vectors_dir / "success.json").read_text())
    inference_id = f"redriven-{uuid.uuid4()}"
    message["inferenceId"] = inference_id
    message["requestParameters"]["endpointName"] = stack.outputs["EndpointName"]
    sqs = deployment.aws("sqs")
    sqs.send_message(QueueUrl=stack.outputs["DeadLetterQueueUrl"], MessageBody=json.dumps(message))
    result = cli("redrive")
    assert result.code == 0, result.err
    client = deployment.client()
    record = client.wait(client.handle(inference_id), timeout=60)
    assert record.status == "COMPLETED"
    assert record.output_location == message["responseParameters"]["outputLocation"]
    left = sqs.get_queue_attributes(
        QueueUrl=stack.outputs["DeadLetterQueueUrl"],
        AttributeNames=["ApproximateNumberOfMessages"],
    )
    assert left["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_submit_inline_or_through_s3_and_output_naming(cli, deployment, tmp_path: Path) -> None:
    payload = tmp_path / "tweet.json"
    payload.write_text(json.dumps({"inputs": "I love this"}))
    s3_before = deployment.requests("s3")
    inline = cli("submit", str(payload), "--wait", "--timeout", TIMEOUT)
    assert inline.code == 0, inline.err
    assert deployment.requests("s3") == s3_before  # nothing uploaded, nothing read
    uploaded = cli(
        "submit", str(payload), "--no-inline", "--output-path-extension", "cli/run1",
        "--filename", "tweet.out",
    )  # fmt: skip
    assert uploaded.code == 0, uploaded.err
    inference_id = uploaded.out.strip()
    record = deployment.client().wait(deployment.client().handle(inference_id), timeout=60)
    assert record.output_location == f"{deployment.outputs['OutputPath']}cli/run1/tweet.out"
    assert record.input_location == (
        f"s3://{deployment.outputs['InputBucketName']}/requests/{inference_id}"
    )
    shown = cli("result", inference_id)
    assert json.loads(shown.out) == json.loads(inline.out)
