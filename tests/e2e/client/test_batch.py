"""``asyncinfer batch``: JSONL and CSV input, joined output, summary, progress, resume."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import asyncinfer.batch
from asyncinfer.batch import BatchOptions, InputItem, Summary
from asyncinfer.run_stats import RunStats

TIMEOUT = "60"


@contextmanager
def ctrl_c_while_reading(*, line: int) -> Iterator[None]:
    """Within the block, a batch gets Ctrl-C while it reads input ``line``."""
    read_items = asyncinfer.batch.read_items

    def interrupted(options: BatchOptions) -> Iterator[InputItem]:
        for item in read_items(options):
            if item.line == line:
                raise KeyboardInterrupt
            yield item

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(asyncinfer.batch, "read_items", interrupted)
        yield


def summary_rows(err: str) -> dict[str, str]:
    """The batch summary table on stderr, as {row name: value}."""
    rows = [line.rsplit("  ", 1) for line in err.splitlines() if "  " in line]
    return {name.strip(): value.strip() for name, value in rows}


def read_output(path: Path) -> dict[int, dict]:
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    by_line = {entry["line"]: entry for entry in entries}
    assert len(by_line) == len(entries), "an item was written twice"
    return by_line


def test_jsonl_batch_joins_inputs_with_results_and_reports_bad_lines(
    cli, deployment, stack, tmp_path: Path
) -> None:
    source = tmp_path / "tweets.jsonl"
    tweets = [f"tweet {i} is good" for i in range(20)]
    lines = [json.dumps(t) for t in tweets]
    lines.insert(5, "{this is not json")
    lines.append(json.dumps("this one will FAIL"))
    source.write_text("\n".join(lines) + "\n\n")  # a trailing blank line is no item
    output = tmp_path / "results.jsonl"
    before = deployment.accepted()
    result = cli("batch", str(source), "--wrap", "inputs", "-o", str(output), "--timeout", TIMEOUT)
    assert result.code == 1  # some items failed
    entries = read_output(output)
    assert sorted(entries) == list(range(1, 23))
    bad_line = entries[6]
    assert bad_line["status"] == "ERROR"
    assert bad_line["error"].startswith("line 6 of tweets.jsonl is not JSON")
    failed = entries[22]
    assert failed["status"] == "FAILED"
    assert "model refused input" in failed["error"]
    assert failed["failureLocation"].endswith(f"{failed['inferenceId']}-error.out")
    for number, entry in entries.items():
        if number in (6, 22):
            continue
        assert entry["status"] == "COMPLETED"
        assert entry["input"] in tweets
        assert entry["result"][0]["label"] == "POSITIVE"
        assert entry["latencyMs"] >= 0
    assert deployment.accepted() - before == 21
    summary = summary_rows(result.err)
    assert summary["completed"] == "20"
    assert summary["failed"] == "2"
    assert summary["bad rows (not sent)"] == "1"
    assert "p50 latency" in summary and "p95 latency" in summary


def test_jsonl_non_utf8_line_is_reported_and_the_rest_continues(cli, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"inputs": "love"}\n"\xff\xfe"\n{"inputs": "good"}\n')
    output = tmp_path / "out.jsonl"
    result = cli("batch", str(source), "-o", str(output), "--timeout", TIMEOUT)
    entries = read_output(output)
    assert result.code == 1
    assert entries[2]["error"] == (
        "line 2 of in.jsonl is not UTF-8 (byte 1); expected one UTF-8 JSON value per line"
    )
    assert entries[1]["status"] == entries[3]["status"] == "COMPLETED"


def test_csv_batch_with_header_and_column(cli, tmp_path: Path) -> None:
    source = tmp_path / "tweets.csv"
    source.write_text('id,text\n1,"I love it, really"\n2,bad day\n3,too,many\n')
    output = tmp_path / "out.jsonl"
    result = cli(
        "batch", str(source), "--column", "text", "--wrap", "inputs", "-o", str(output),
        "--timeout", TIMEOUT,
    )  # fmt: skip
    assert result.code == 1
    entries = read_output(output)
    assert entries[2]["input"] == {"id": "1", "text": "I love it, really"}
    assert entries[2]["result"][0]["label"] == "POSITIVE"
    assert entries[3]["result"][0]["label"] == "NEGATIVE"
    assert entries[4]["error"] == "row 4 of tweets.csv has 3 columns; expected 2 like the header"


def test_csv_rows_are_sent_as_csv_text(cli, tmp_path: Path) -> None:
    source = tmp_path / "features.csv"
    source.write_text("1,2,3\n4,5,6\n")
    output = tmp_path / "out.jsonl"
    result = cli("batch", str(source), "--no-header", "-o", str(output), "--timeout", TIMEOUT)
    assert result.code == 0, result.err
    entries = read_output(output)
    assert entries[1]["result"] == [["6.0"]]
    assert entries[2]["result"] == [["15.0"]]


def test_progress_bar_on_stderr(cli, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"inputs": f"n{i}"}) + "\n" for i in range(5)))
    result = cli("batch", str(source), "--progress", "--timeout", TIMEOUT)
    assert result.code == 0, result.err
    assert "\r[##############################] 5/5" in result.err
    assert (tmp_path / "in.results.jsonl").exists()  # default output next to the input


def test_interrupted_batch_resumes_without_duplicates(
    cli, deployment, stack, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    total = 40
    source.write_text("".join(json.dumps({"inputs": f"good {i}"}) + "\n" for i in range(total)))
    output = tmp_path / "out.jsonl"
    base = deployment.accepted()
    with ctrl_c_while_reading(line=15):
        first = cli("batch", str(source), "-o", str(output), "--concurrency", "4")
    assert first.code == 130
    assert "rerun the same command to resume" in first.err
    sent_first = deployment.accepted() - base
    assert 0 < sent_first <= 14
    finished_first = len(read_output(output)) if output.exists() else 0
    second = cli(
        "batch", str(source), "-o", str(output), "--concurrency", "4", "--timeout", TIMEOUT
    )
    assert second.code == 0, second.err
    # What the first run submitted but had no result for is waited for, and counted.
    resumed = summary_rows(second.err)
    assert resumed["already done (resumed)"] == str(finished_first)
    assert resumed["already submitted (resumed)"] == str(sent_first - finished_first)
    assert deployment.accepted() - base == total  # nothing was sent twice
    entries = read_output(output)
    assert sorted(entries) == list(range(1, total + 1))
    assert all(e["status"] == "COMPLETED" for e in entries.values())
    # A third run finds everything done and sends nothing.
    third = cli("batch", str(source), "-o", str(output))
    assert third.code == 0
    assert summary_rows(third.err)["already done (resumed)"] == "40"
    assert summary_rows(third.err)["already submitted (resumed)"] == "0"
    assert deployment.accepted() - base == total


def test_items_cut_off_mid_submission_are_resent_unless_their_result_is_in(
    cli, deployment, stack, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"inputs": "love"}\n{"inputs": "good"}\n')
    output = tmp_path / "out.jsonl"
    client = deployment.client()
    accepted_id = f"accepted-before-crash-{uuid.uuid4().hex[:8]}"
    never_id = f"never-accepted-{uuid.uuid4().hex[:8]}"
    accepted = client.predict_async({"inputs": "love"}, inference_id=accepted_id)
    client.wait(accepted, timeout=60)  # its result is in the table
    manifest = Path(str(output) + ".manifest")
    manifest.write_text(
        json.dumps({"event": "submitting", "line": 1, "inferenceId": accepted.inference_id})
        + "\n"
        + json.dumps({"event": "submitting", "line": 2, "inferenceId": never_id})
        + "\n"
        + '{"event": "submitted", "li'  # a line cut short by the crash
    )
    before = deployment.accepted()
    result = cli("batch", str(source), "-o", str(output), "--timeout", TIMEOUT)
    assert result.code == 0, result.err
    assert deployment.accepted() == before + 1  # only line 2 went out
    entries = read_output(output)
    assert entries[1]["inferenceId"] == accepted_id
    assert entries[2]["inferenceId"] == never_id  # resent under the same id


def test_summary_percentiles_are_nearest_rank() -> None:
    summary = Summary(stats=RunStats(latencies_ms=[float(v) for v in range(1, 101)]))
    assert summary.stats.latency_ms(0.5) == 50.0
    assert summary.stats.latency_ms(0.95) == 95.0
    assert [line.split() for line in summary.table().splitlines()[-2:]] == [
        ["p50", "latency", "50", "ms"],
        ["p95", "latency", "95", "ms"],
    ]
    assert Summary().stats.latency_ms(0.5) is None
    assert Summary().table().splitlines()[-1].split() == ["p95", "latency", "-"]


def test_batch_of_mixed_sizes_resumes_inline_and_uploaded_items(
    cli, deployment, tmp_path: Path
) -> None:
    """Small lines go inline, a line over 128,000 bytes through S3; both resume."""
    source = tmp_path / "mixed.jsonl"
    big = "love " * 26_000  # about 130,000 bytes once wrapped
    lines = [json.dumps(f"good {i}") for i in range(6)]
    lines.insert(3, json.dumps(big))
    source.write_text("\n".join(lines) + "\n")
    output = tmp_path / "mixed.results.jsonl"
    base = deployment.accepted()
    s3_before = deployment.requests("s3")
    with ctrl_c_while_reading(line=6):
        first = cli(
            "batch", str(source), "--wrap", "inputs", "-o", str(output), "--concurrency", "1"
        )
    assert first.code == 130
    second = cli(
        "batch", str(source), "--wrap", "inputs", "-o", str(output), "--timeout", TIMEOUT
    )  # fmt: skip
    assert second.code == 0, second.err
    assert deployment.accepted() - base == 7  # nothing sent twice
    entries = read_output(output)
    assert sorted(entries) == list(range(1, 8))
    assert all(e["status"] == "COMPLETED" for e in entries.values())
    assert entries[4]["result"][0]["label"] == "POSITIVE"
    # The big line was uploaded once (and its result read back at most once).
    assert deployment.requests("s3") - s3_before <= 2
    client = deployment.client()
    record = client.records([client.handle(entries[4]["inferenceId"])])[entries[4]["inferenceId"]]
    assert record is not None and record.input_location is not None
    small = client.records([client.handle(entries[1]["inferenceId"])])[entries[1]["inferenceId"]]
    assert small is not None and small.input_location is None
