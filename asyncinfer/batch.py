"""The CLI's ``batch``: many requests from a JSONL or CSV file, resumable.

Three files:
- INPUT: one request per JSONL line or CSV row (items are numbered from 1 by line/row).
- the manifest (``OUTPUT.manifest``): append-only JSONL; ``submitting`` (id chosen) is
  written before an item is uploaded and ``submitted`` after SageMaker accepted it. A rerun
  waits on submitted items instead of sending them again; an item left at ``submitting``
  (killed mid-call) is resent under the same id unless the results table already holds
  its result.
- OUTPUT: JSONL joining each input with its result or error, appended as items finish;
  items already in it are skipped by a rerun.
"""

from __future__ import annotations

import base64
import codecs
import collections
import csv
import io
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from asyncinfer.client import AsyncInferenceClient, InferenceHandle, InvokeOptions
from asyncinfer.errors import AsyncInferenceError, ConfigurationError, InputLineError
from asyncinfer.payloads import Payload, to_payload
from asyncinfer.run import Outcome, WorkItem
from asyncinfer.run_stats import RunStats


@dataclass(kw_only=True)
class BatchOptions:
    input_path: Path
    output_path: Path
    manifest_path: Path
    input_format: str  # "jsonl" | "csv"
    wrap: str | None = None
    column: str | None = None
    csv_header: bool = True
    csv_as_json: bool = False
    concurrency: int = 16
    timeout: float | None = None
    invoke: InvokeOptions = field(default_factory=InvokeOptions)


def detect_format(path: Path, explicit: str | None) -> str:
    if explicit:
        return explicit
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    if suffix in {".csv", ".tsv"}:
        return "csv"
    raise ConfigurationError(
        f"input {str(path)!r} has suffix {suffix or '(none)'!r}; expected .jsonl or .csv "
        f"(or pass --format jsonl|csv)"
    )


@dataclass
class InputItem:
    line: int
    value: Any = None  # what goes into the output's "input"
    body: Any = None  # what is sent (a JSON value, or str for CSV text)
    content_type: str | None = None
    error: InputLineError | None = None


def read_items(options: BatchOptions) -> Iterator[InputItem]:
    """Items from the input, one per line/row; unreadable ones carry an error instead."""
    try:
        handle = options.input_path.open("rb")
    except OSError as error:
        raise ConfigurationError(
            f"input {str(options.input_path)!r} cannot be read: {error.strerror}"
        ) from None
    with handle:
        if options.input_format == "jsonl":
            yield from _read_jsonl(handle, options)
        else:
            yield from _read_csv(handle, options)


def _wrap(value: Any, options: BatchOptions) -> Any:
    return {options.wrap: value} if options.wrap else value


def _read_jsonl(handle: IO[bytes], options: BatchOptions) -> Iterator[InputItem]:
    for number, raw in enumerate(handle, start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as error:
            yield InputItem(
                number,
                error=InputLineError(
                    f"line {number} of {options.input_path.name} is not UTF-8 "
                    f"(byte {error.start}); expected one UTF-8 JSON value per line"
                ),
            )
            continue
        except json.JSONDecodeError as error:
            yield InputItem(
                number,
                error=InputLineError(
                    f"line {number} of {options.input_path.name} is not JSON ({error.msg} at "
                    f"column {error.colno}); expected one JSON value per line"
                ),
            )
            continue
        if options.column is not None:
            if not isinstance(value, dict) or options.column not in value:
                yield InputItem(
                    number,
                    value=value,
                    error=InputLineError(
                        f"line {number} of {options.input_path.name} has no field "
                        f"{options.column!r}; expected a JSON object with that field"
                    ),
                )
                continue
            body = value[options.column]
        else:
            body = value
        yield InputItem(number, value=value, body=_wrap(body, options))


class _Lines:
    """A CSV file's physical lines for csv.reader, remembering which ones each record took
    and taking lines back, so a record that went wrong can be read again from its second
    line: a quote left open on one row must not swallow the valid rows after it."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._source = enumerate(handle, start=1)
        self._pending: collections.deque[tuple[int, str, int | None]] = collections.deque()
        # (line number, text, offset of its first byte that is not UTF-8 or None)
        self.taken: list[tuple[int, str, int | None]] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._pending:
            line = self._pending.popleft()
        else:
            number, raw = next(self._source)
            if number == 1:
                raw = raw.removeprefix(codecs.BOM_UTF8)  # as Excel saves "CSV UTF-8"
            try:
                line = (number, raw.decode("utf-8"), None)
            except UnicodeDecodeError as error:
                # Decoded line by line, so a bad byte is charged to its own row (a decoder
                # over the whole file fails a block ahead of the row the reader is at).
                line = (number, raw.decode("utf-8", "surrogateescape"), error.start)
        self.taken.append(line)
        return line[1]

    def start_record(self) -> None:
        self.taken = []

    def read_again_after_first(self) -> None:
        """Give back every line of the current record but its first."""
        self._pending.extendleft(reversed(self.taken[1:]))


@dataclass
class _CsvRecord:
    line: int
    row: list[str] | None = None
    problem: str | None = None


def _csv_records(handle: IO[bytes], options: BatchOptions) -> Iterator[_CsvRecord]:
    """Records with the line they start on; a broken one carries its problem instead."""
    name = options.input_path.name
    delimiter = "\t" if options.input_path.suffix.lower() == ".tsv" else ","
    lines = _Lines(handle)
    width: int | None = None  # columns of the header (or of the first row without one)
    while True:
        lines.start_record()
        # strict: a character after a closing quote is an error, not glued to the field.
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            number = lines.taken[0][0]
            lines.read_again_after_first()
            yield _CsvRecord(number, problem=_quote_problem(number, name, str(error)))
            continue
        taken = lines.taken
        number = taken[0][0]
        bad = next(((n, offset) for n, _, offset in taken if offset is not None), None)
        if bad is not None:
            if len(taken) > 1:
                lines.read_again_after_first()
            yield _CsvRecord(
                bad[0],
                problem=f"row {bad[0]} of {name} is not UTF-8 (byte {bad[1]}); expected UTF-8 text",
            )
            continue
        if not row:
            continue
        if len(taken) > 1 and width is not None and len(row) != width:
            # A quoted field may span lines, but not one that leaves the row malformed:
            # the quote opened on this line was never closed on it.
            lines.read_again_after_first()
            yield _CsvRecord(
                number,
                problem=_quote_problem(
                    number, name, f"the quoted field runs on to line {taken[-1][0]}"
                ),
            )
            continue
        if width is None:
            width = len(row)
        yield _CsvRecord(number, row=row)


def _quote_problem(number: int, name: str, detail: str) -> str:
    return (
        f"row {number} of {name} is not valid CSV ({detail}); expected a quote to close "
        f"on the row it opens"
    )


def _column_index(options: BatchOptions, header: list[str] | None, width: int) -> int | None:
    """The column sent (None: the whole row), or one sentence why the file does not say."""
    name = options.input_path.name
    if options.column is not None:
        if header is not None:
            if options.column not in header:
                raise ConfigurationError(
                    f"--column {options.column!r} is not a column of {name} (header: "
                    f"{', '.join(header) or 'none'})"
                )
            return header.index(options.column)
        if not options.column.isdigit() or not 1 <= int(options.column) <= width:
            raise ConfigurationError(
                f"--column {options.column!r} names no column of {name}, which has no header; "
                f"expected a column number from 1 to {width}"
            )
        return int(options.column) - 1
    if options.wrap and not options.csv_as_json:
        if width == 1:
            return 0
        columns = ", ".join(header) if header is not None else f"{width} unnamed"
        raise ConfigurationError(
            f"{name} has {width} columns ({columns}); with --wrap {options.wrap} pass "
            f"--column to choose the one sent as {{{json.dumps(options.wrap)}: value}} "
            f"(or --csv-as-json to send each row as a JSON object)"
        )
    return None


def _read_csv(handle: IO[bytes], options: BatchOptions) -> Iterator[InputItem]:
    header: list[str] | None = None
    column: int | None = None
    chosen = False
    for record in _csv_records(handle, options):
        number = record.line
        if record.row is None:
            yield InputItem(number, error=InputLineError(str(record.problem)))
            continue
        row = record.row
        if options.csv_header and header is None:
            header = row
            continue
        if not chosen:
            column = _column_index(options, header, len(header if header is not None else row))
            chosen = True
        if header is not None and len(row) != len(header):
            yield InputItem(
                number,
                value=row,
                error=InputLineError(
                    f"row {number} of {options.input_path.name} has {len(row)} columns; "
                    f"expected {len(header)} like the header"
                ),
            )
            continue
        value: Any = dict(zip(header, row, strict=True)) if header is not None else row
        if column is not None:
            if header is None and len(row) <= column:
                yield InputItem(
                    number,
                    value=row,
                    error=InputLineError(
                        f"row {number} of {options.input_path.name} has {len(row)} columns; "
                        f"expected at least {column + 1}"
                    ),
                )
                continue
            yield InputItem(number, value=value, body=_wrap(row[column], options))
        elif options.csv_as_json or options.wrap:
            yield InputItem(number, value=value, body=_wrap(value, options))
        else:
            # The row as one CSV line, the way tabular models (XGBoost, scikit-learn) take it.
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerow(row)
            yield InputItem(number, value=value, body=out.getvalue(), content_type="text/csv")


def check_input(options: BatchOptions) -> None:
    """One sentence before any API call when the file cannot give a request: it is empty,
    holds a header only, or has columns that --column and --wrap do not settle."""
    name = options.input_path.name
    unit = "row" if options.input_format == "csv" else "line"
    try:
        with options.input_path.open("rb") as handle:
            lines = sum(1 for line in handle if line.strip())
    except OSError as error:
        raise ConfigurationError(f"input {name!r} cannot be read: {error.strerror}") from None
    if lines == 0:
        raise ConfigurationError(f"batch input {name} is empty; expected one request per {unit}")
    if options.input_format == "csv" and options.csv_header and lines == 1:
        raise ConfigurationError(
            f"batch input {name} holds only a header row; expected one request per row below "
            f"it (or pass --no-header if that row is a request)"
        )
    # The column rules are checked at the first request row.
    next((item for item in read_items(options) if item.error is None), None)


class Manifest:
    """Append-only record of which line went out under which inference id."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.submitting: dict[int, str] = {}
        self.submitted: dict[int, dict[str, Any]] = {}
        if path.exists():
            for raw in path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(raw)
                except json.JSONDecodeError:
                    continue  # a line cut short by a crash: its item is simply redone
                if entry.get("event") == "submitting":
                    self.submitting[int(entry["line"])] = entry["inferenceId"]
                elif entry.get("event") == "submitted":
                    self.submitted[int(entry["line"])] = entry
        self._file = path.open("a", encoding="utf-8")

    def write(self, entry: dict[str, Any]) -> None:
        # One flushed line per event: a crash loses at most the line being written.
        self._file.write(json.dumps(entry, separators=(",", ":")) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def finished_lines(path: Path) -> set[int]:
    lines: set[int] = set()
    if path.exists():
        for raw in path.read_text(encoding="utf-8").splitlines():
            try:
                lines.add(int(json.loads(raw)["line"]))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
    return lines


class Progress:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, total: int | None, stream: IO[str] | None = None, enabled: bool = True):
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self._last = 0.0

    def update(self, stats: RunStats, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        done = stats.completed + stats.failed
        if self.total:
            width = 30
            filled = min(width, int(width * done / self.total))
            bar = "#" * filled + "-" * (width - filled)
            head = f"[{bar}] {done}/{self.total}"
        else:
            head = f"{done} done"
        self.stream.write(
            f"\r{head}  submitted {stats.submitted}  waiting {stats.waiting}  "
            f"completed {stats.completed}  failed {stats.failed} "
        )
        self.stream.flush()

    def finish(self, stats: RunStats) -> None:
        if self.enabled:
            self.update(stats, force=True)
            self.stream.write("\n")


@dataclass
class Summary:
    total: int = 0
    skipped: int = 0  # in the output already: not sent, not waited for
    resumed: int = 0  # submitted by an earlier run: waited for, not sent again
    bad_rows: int = 0  # unreadable lines/rows: not sent, counted as failed
    stats: RunStats = field(default_factory=RunStats)

    def table(self) -> str:
        def ms(value: float | None) -> str:
            return "-" if value is None else f"{value:.0f} ms"

        rows = [
            ("items", str(self.total)),
            ("completed", str(self.stats.completed)),
            ("failed", str(self.stats.failed)),
            ("bad rows (not sent)", str(self.bad_rows)),
            ("already done (resumed)", str(self.skipped)),
            ("already submitted (resumed)", str(self.resumed)),
            ("p50 latency", ms(self.stats.latency_ms(0.50))),
            ("p95 latency", ms(self.stats.latency_ms(0.95))),
        ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def count_items(path: Path) -> int | None:
    """Lines in the input, for the progress bar's total (an upper bound for CSV)."""
    try:
        with path.open("rb") as handle:
            return sum(1 for line in handle if line.strip())
    except OSError:
        return None


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    entry: dict[str, Any] = {"line": outcome.key, "input": outcome.item}
    if outcome.inference_id:
        entry["inferenceId"] = outcome.inference_id
    record = outcome.record
    if outcome.error is None:
        entry["status"] = "COMPLETED"
        value = outcome.value
        if isinstance(value, bytes):
            entry["resultBase64"] = base64.b64encode(value).decode("ascii")
        else:
            entry["result"] = value
    else:
        entry["status"] = record.status if record is not None else "ERROR"
        entry["error"] = str(outcome.error)
        if record is not None and record.failure_location:
            entry["failureLocation"] = record.failure_location
    if record is not None:
        if record.output_location:
            entry["outputLocation"] = record.output_location
        if record.latency_ms is not None:
            entry["latencyMs"] = record.latency_ms
    return entry


def run_batch(
    client: AsyncInferenceClient,
    options: BatchOptions,
    *,
    progress: bool,
    stderr: IO[str] | None = None,
) -> Summary:
    """Run (or resume) a batch; returns the summary. Ctrl-C leaves a resumable state."""
    stderr = stderr or sys.stderr
    summary = Summary()
    done_lines = finished_lines(options.output_path)
    manifest = Manifest(options.manifest_path)
    options.output_path.parent.mkdir(parents=True, exist_ok=True)
    output = options.output_path.open("a", encoding="utf-8")
    bar = Progress(count_items(options.input_path), stderr, enabled=progress)

    # Items cut off between "submitting" and "submitted" (a hard kill; Ctrl-C lets the
    # calls in flight finish and records them): SageMaker may or may not have accepted
    # them. A terminal record proves it did, so those are only waited for; the rest are
    # sent again under the same id (a PENDING record alone proves nothing, as a batch
    # writes it just before invoking).
    unsure = {
        line: inference_id
        for line, inference_id in manifest.submitting.items()
        if line not in manifest.submitted and line not in done_lines
    }
    accepted: set[str] = set()
    if unsure and client.table is not None:
        accepted = {i for i, r in client.table.get_many(unsure.values()).items() if r.done}

    def work() -> Iterator[WorkItem]:
        for item in read_items(options):
            if item.line in done_lines:
                summary.skipped += 1
                continue
            summary.total += 1
            if item.error is not None:
                summary.bad_rows += 1
                yield WorkItem(key=item.line, item=item.value, error=item.error)
                continue
            previous = manifest.submitted.get(item.line)
            if previous is None and unsure.get(item.line) in accepted:
                previous = {"inferenceId": unsure[item.line]}
            if previous is not None:
                summary.resumed += 1
                handle = InferenceHandle(
                    client=client,
                    inference_id=previous["inferenceId"],
                    output_location=previous.get("outputLocation"),
                    failure_location=previous.get("failureLocation"),
                    submitted_at=_parse_time(previous.get("submittedAt")),
                )
                yield WorkItem(key=item.line, item=item.value, handle=handle)
                continue
            yield WorkItem(
                key=item.line,
                item=item.value,
                inference_id=unsure.get(item.line),
                payload=payload_of(item.body, options.invoke.content_type or item.content_type),
            )

    def payload_of(body: Any, content_type: str | None) -> Callable[[], Payload]:
        return lambda: to_payload(body, content_type)

    def on_submitting(work: WorkItem, inference_id: str) -> None:
        manifest.write({"event": "submitting", "line": work.key, "inferenceId": inference_id})

    def on_submitted(work: WorkItem, handle: InferenceHandle) -> None:
        manifest.write(
            {
                "event": "submitted",
                "line": work.key,
                "inferenceId": handle.inference_id,
                "outputLocation": handle.output_location,
                "failureLocation": handle.failure_location,
                "submittedAt": handle.submitted_at.isoformat(),
            }
        )

    try:
        for outcome in client.run(
            work(),
            concurrency=options.concurrency,
            timeout=options.timeout,
            options=options.invoke,
            on_submitting=on_submitting,
            on_submitted=on_submitted,
            on_progress=bar.update,
            stats=summary.stats,
        ):
            output.write(json.dumps(outcome_json(outcome), default=str) + "\n")
            output.flush()
            if outcome.error is not None and not isinstance(outcome.error, AsyncInferenceError):
                raise outcome.error
    finally:
        bar.finish(summary.stats)
        output.close()
        manifest.close()
    return summary


def _parse_time(value: str | None) -> datetime:
    if value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    return datetime.now(UTC)
