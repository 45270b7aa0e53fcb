"""The ``asyncinfer`` command line: submit, status, result, batch, failures, redrive, local.

Every error a user can meet is printed as one line on stderr (``asyncinfer: error: ...``)
with a non-zero exit code; no traceback reaches the terminal.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from asyncinfer.aws import describe
from asyncinfer.errors import AsyncInferenceError, ConfigurationError, InferenceFailedError
from asyncinfer_runtime.contract import DEFAULT_STACK_NAME

EXIT_OK = 0
EXIT_FAILED = 1  # an inference (or a batch item) failed
EXIT_ERROR = 2  # the command could not do its job (configuration, AWS, usage)
EXIT_INTERRUPTED = 130

EPILOG = """\
examples:
  asyncinfer submit tweet.json                     print the inference id
  asyncinfer submit tweet.json --wait              print the result
  echo '{"inputs": "I love it"}' | asyncinfer submit - --content-type application/json --wait
  asyncinfer status 7b1e0c2d-3f4a-4b5c-8d6e-9f0a1b2c3d4e
  asyncinfer result 7b1e0c2d-3f4a-4b5c-8d6e-9f0a1b2c3d4e -o out.json
  asyncinfer batch tweets.csv --column text --wrap inputs -o results.jsonl
  asyncinfer failures --since 1h
  asyncinfer redrive
  asyncinfer local up
  asyncinfer simulate --scenario seed-walkthrough --compare seed --plot scaling.png
  asyncinfer advise --arrivals trace.txt --json advice.json --plot advice.png
  asyncinfer load --arrivals trace.txt --json observed.json

The stack is found by name (--stack, default SageMakerAsyncInference) through its
CloudFormation outputs, or from a `cdk deploy --outputs-file` file (--outputs-file).
"""


class CommandHelp(NamedTuple):
    summary: str
    example: str


# Each subcommand's one-line summary (its help and description) and the example in its
# epilog; the handlers are in COMMANDS.
COMMAND_HELP = {
    "submit": CommandHelp(
        "invoke the endpoint with a payload (inline or uploaded), print the inference id "
        "(or the result)",
        "asyncinfer submit tweet.json --wait",
    ),
    "status": CommandHelp(
        "print the status of inferences (PENDING, COMPLETED, FAILED, UNKNOWN)",
        "asyncinfer status 7b1e0c2d-3f4a-4b5c-8d6e-9f0a1b2c3d4e",
    ),
    "result": CommandHelp(
        "print the result of an inference exactly as the model returned it",
        "asyncinfer result 7b1e0c2d-3f4a-4b5c-8d6e-9f0a1b2c3d4e -o out.json",
    ),
    "batch": CommandHelp(
        "submit every line of a JSONL file (or row of a CSV file) concurrently, with a "
        "progress bar, resumable, and write each input joined with its result",
        "asyncinfer batch tweets.csv --column text --wrap inputs -o results.jsonl\n"
        '    a CSV of texts (header "id,text") to a Hugging Face model: each row is sent as\n'
        '    {"inputs": "<its text>"}; a one-column CSV needs no --column',
    ),
    "failures": CommandHelp(
        "list failed inferences with their reasons (from the results table's failures index)",
        "asyncinfer failures --since 1h",
    ),
    "redrive": CommandHelp(
        "move unprocessable notifications from the dead-letter queue back to the results "
        "queue (after fixing what made the results writer fail)",
        "asyncinfer redrive",
    ),
    "load": CommandHelp(
        "replay an arrivals file against the deployed stack (or local mode) at its own times",
        "asyncinfer load --arrivals trace.txt --json observed.json",
    ),
    "local": CommandHelp(
        "run the whole asynchronous data flow on this machine (local mode)",
        "asyncinfer local up",
    ),
}


def _common_options(defaults: bool) -> argparse.ArgumentParser:
    """Connection options, accepted before or after the command name."""
    # On subcommands the defaults are SUPPRESS, so a value given before the command is not
    # overwritten by the subcommand's default.
    d = (lambda value: value) if defaults else (lambda value: argparse.SUPPRESS)
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("stack and AWS connection")
    group.add_argument(
        "--stack",
        default=d(None),
        metavar="NAME",
        help=f"CloudFormation stack name (default {DEFAULT_STACK_NAME}, or the only stack "
        f"in --outputs-file)",
    )
    group.add_argument(
        "--endpoint",
        default=d(None),
        metavar="NAME",
        help="which of the stack's endpoints (the names in its Endpoints output); needed "
        "only when it has several",
    )
    group.add_argument(
        "--outputs-file",
        default=d(None),
        metavar="FILE",
        help="read stack outputs from this `cdk deploy --outputs-file` JSON file",
    )
    group.add_argument("--region", default=d(None), help="AWS region (default: from AWS config)")
    group.add_argument("--profile", default=d(None), help="AWS named profile")
    group.add_argument(
        "--endpoint-url",
        default=d(None),
        metavar="URL",
        help="send every AWS call to this URL (local mode, tests); AWS_ENDPOINT_URL and "
        "AWS_ENDPOINT_URL_<SERVICE> are honoured too",
    )
    group.add_argument(
        "--max-attempts",
        type=int,
        default=d(None),
        metavar="N",
        help="attempts per AWS call, with backoff on throttling (default 8)",
    )
    return parser


def _invoke_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("passed to InvokeEndpointAsync")
    group.add_argument("--content-type", help="payload content type (default: guessed)")
    group.add_argument("--accept", help="desired response content type")
    group.add_argument("--custom-attributes", metavar="TEXT", help="opaque text for the model")
    group.add_argument(
        "--request-ttl", type=int, metavar="SECONDS", help="RequestTTLSeconds (queue wait)"
    )
    group.add_argument(
        "--invocation-timeout",
        type=int,
        metavar="SECONDS",
        help="InvocationTimeoutSeconds (processing, max 3600)",
    )
    group.add_argument(
        "--output-path-extension",
        metavar="PATH",
        help="S3OutputPathExtension: a path appended to the endpoint's output path",
    )
    group.add_argument(
        "--inline",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="send the payload in the request (Body, at most 128,000 bytes) or through S3 "
        "(default: inline when it fits)",
    )


def _result_options(parser: argparse.ArgumentParser, *, wait_help: str, output_help: str) -> None:
    """--wait, --timeout and -o/--output: how submit and result wait for and write a result."""
    parser.add_argument("--wait", action="store_true", help=wait_help)
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="with --wait: give up waiting after this many seconds (default: wait as long "
        "as it takes)",
    )
    parser.add_argument("-o", "--output", metavar="FILE", help=output_help)


def build_parser(*, load_local: bool = True) -> argparse.ArgumentParser:
    """The parser; ``load_local=False`` skips importing local mode (heavier) when unused."""
    common = _common_options(defaults=False)
    parser = argparse.ArgumentParser(
        prog="asyncinfer",
        description="Submit work to a SageMaker asynchronous endpoint deployed by this\n"
        "project's CDK app, and get results without polling S3.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_common_options(defaults=True)],
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str) -> argparse.ArgumentParser:
        help_text, example = COMMAND_HELP[name]
        return commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=f"example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=[common],
        )

    submit = command("submit")
    submit.add_argument("file", metavar="FILE|-", help="payload file, or - for stdin")
    _result_options(
        submit, wait_help="wait and print the result", output_help="with --wait: write result here"
    )
    submit.add_argument("--inference-id", metavar="ID", help="InferenceId (default: a UUID)")
    submit.add_argument(
        "--filename", metavar="NAME", help="Filename: the output object's name (default: ID.out)"
    )
    _invoke_options(submit)

    status = command("status")
    status.add_argument("ids", nargs="+", metavar="ID")
    status.add_argument("--json", action="store_true", help="print the full records as JSONL")

    result = command("result")
    result.add_argument("id", metavar="ID")
    _result_options(
        result,
        wait_help="wait if it is still pending",
        output_help="write to FILE (default stdout)",
    )

    batch = command("batch")
    batch.add_argument("input", metavar="INPUT", help=".jsonl (one JSON value per line) or .csv")
    batch.add_argument(
        "-o", "--output", metavar="FILE", help="results JSONL (default INPUT.results.jsonl)"
    )
    batch.add_argument(
        "--manifest", metavar="FILE", help="resume manifest (default OUTPUT.manifest)"
    )
    batch.add_argument("--format", choices=["jsonl", "csv"], help="input format (default: suffix)")
    batch.add_argument(
        "--wrap",
        metavar="KEY",
        help='send {"KEY": value} (e.g. --wrap inputs for Hugging Face); a CSV sends its one '
        "column's value, or the --column chosen when it has several",
    )
    batch.add_argument(
        "--column",
        metavar="NAME",
        help="send only this field/column (a number from 1 for a CSV without header)",
    )
    batch.add_argument("--no-header", action="store_true", help="the CSV has no header row")
    batch.add_argument(
        "--csv-as-json", action="store_true", help="send CSV rows as JSON objects, not CSV text"
    )
    batch.add_argument("--concurrency", type=int, default=16, help="parallel submissions (16)")
    batch.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="give up waiting for results after this many seconds; items still pending are "
        "written with a timeout error (default: no limit)",
    )
    batch.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    _invoke_options(batch)

    failures = command("failures")
    failures.add_argument(
        "--since",
        default="1h",
        metavar="AGE|TIME",
        help="30m, 1h, 2d, 1w or an ISO time (default 1h)",
    )
    failures.add_argument("--limit", type=int, help="show at most this many")
    failures.add_argument(
        "--all-endpoints", action="store_true", help="not only this stack's endpoint"
    )
    failures.add_argument("--json", action="store_true", help="print the records as JSONL")

    redrive = command("redrive")
    redrive.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    simulate = commands.add_parser(
        "simulate",
        help="replay a request trace through a model of this stack's scaling (offline)",
        description="Replay a request trace through a model of SageMaker's async queue, "
        "CloudWatch and Application Auto Scaling, reading the policies from the synthesized "
        "template. Every modelled constant and its source: docs/scaling.md.",
        epilog="example:\n  asyncinfer simulate --scenario diurnal --compare seed --plot day.png",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    importlib.import_module("asyncinfer.simulate.cli").add_simulate_arguments(simulate)
    advise = commands.add_parser(
        "advise",
        help="which option for this traffic: async, real-time, serverless or batch (offline)",
        description="Run a request trace through four SageMaker options: this stack's async "
        "endpoint and policies, a real-time endpoint, serverless inference and batch "
        "transform; print cost, latency and what each cannot serve, cheapest first. Every "
        "limit, price and start-up time and its source: docs/choosing.md.",
        epilog="example:\n  asyncinfer advise --scenario sparse --plot advice.png",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    importlib.import_module("asyncinfer.simulate.advise_cli").add_advise_arguments(advise)
    load = command("load")
    importlib.import_module("asyncinfer.simulate.cli").add_load_arguments(load)

    local = command("local")
    local_cli = None
    if load_local:
        try:
            local_cli = importlib.import_module("asyncinfer.local.cli")
        except ImportError:
            local_cli = None
    if local_cli is not None:
        local_cli.add_arguments(local)
    local.set_defaults(local_cli=local_cli)
    return parser


def parse_since(text: str, now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if match:
        amount = float(match.group(1))
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
        return now - timedelta(**{unit[match.group(2)]: amount})
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigurationError(
            f"--since {text!r} is not an age or a time; expected e.g. 30m, 1h, 2d, 1w or "
            f"2024-05-10T08:00:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def make_client(args: argparse.Namespace) -> Any:
    from asyncinfer.client import AsyncInferenceClient

    concurrency = getattr(args, "concurrency", 16) or 16
    kwargs: dict[str, Any] = {"max_pool_connections": max(32, concurrency * 2)}
    if args.max_attempts is not None:
        kwargs["max_attempts"] = args.max_attempts
    return AsyncInferenceClient.from_stack(
        args.stack,
        endpoint=args.endpoint,
        outputs_file=args.outputs_file,
        region_name=args.region,
        profile_name=args.profile,
        endpoint_url=args.endpoint_url,
        **kwargs,
    )


def _invoke_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "content_type": args.content_type,
        "accept": args.accept,
        "custom_attributes": args.custom_attributes,
        "request_ttl_seconds": args.request_ttl,
        "invocation_timeout_seconds": args.invocation_timeout,
        "s3_output_path_extension": args.output_path_extension,
        "inline": args.inline,
    }


def _write_bytes(body: bytes, output: str | None, stdout: IO[str]) -> None:
    if output:
        Path(output).write_bytes(body)
        return
    buffer = getattr(stdout, "buffer", None)
    if buffer is not None:
        buffer.write(body)
        if not body.endswith(b"\n") and stdout.isatty():
            buffer.write(b"\n")
        buffer.flush()
    else:  # a text-only stream (tests with StringIO)
        stdout.write(body.decode("utf-8", errors="replace"))


def cmd_submit(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    from asyncinfer.client import InvokeOptions
    from asyncinfer.payloads import to_payload

    source: Any
    if args.file == "-":
        source = sys.stdin.buffer
    else:
        source = Path(args.file)
        if not source.is_file():
            raise ConfigurationError(f"payload file {args.file!r} does not exist or is not a file")
    payload = to_payload(source, args.content_type)
    if payload.size == 0:
        # SageMaker would refuse an empty inline Body, or hand the model an empty object.
        where = "stdin" if args.file == "-" else f"payload file {args.file!r}"
        raise ConfigurationError(f"{where} is empty; expected the request body to send")
    client = make_client(args)
    options = InvokeOptions(
        inference_id=args.inference_id, filename=args.filename, **_invoke_kwargs(args)
    )
    handle = client.submit(payload, options)
    if not args.wait:
        stdout.write(handle.inference_id + "\n")
        return EXIT_OK
    if stderr.isatty():  # tell a person the id in case they stop waiting; scripts need no noise
        stderr.write(f"submitted {handle.inference_id}; waiting for the result\n")
    record = client.wait(handle, timeout=args.timeout)
    body, _ = client.fetch_raw(record)
    _write_bytes(body, args.output, stdout)
    return EXIT_OK


def cmd_status(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    client = make_client(args)
    records = client.records([client.handle(i) for i in args.ids])
    unknown = 0
    for inference_id in args.ids:
        record = records[inference_id]
        if args.json:
            stdout.write(
                json.dumps(
                    record.to_json() if record else {"inferenceId": inference_id},
                    default=str,
                )
                + "\n"
            )
            continue
        if record is None:
            unknown += 1
            stdout.write(f"{inference_id}  UNKNOWN\n")
            continue
        detail = record.failure_reason or record.output_location or ""
        when = record.event_time or ""
        stdout.write(f"{inference_id}  {record.status:<9}  {when}  {detail}".rstrip() + "\n")
    if unknown:
        stderr.write(f"asyncinfer: {unknown} id(s) have no record in the results table\n")
        return EXIT_FAILED
    return EXIT_OK


def cmd_result(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    from asyncinfer.errors import InferenceNotFoundError

    client = make_client(args)
    handle = client.handle(args.id)
    if args.wait:
        record = client.wait(handle, timeout=args.timeout)
    else:
        record = client.records([handle])[args.id]
        if record is None:
            raise InferenceNotFoundError(
                f"inference {args.id} has no record in the results table; expected an id "
                f"printed by `asyncinfer submit`"
            )
        if not record.done:
            stderr.write(
                f"asyncinfer: inference {args.id} is still {record.status}; "
                f"rerun later or add --wait\n"
            )
            return EXIT_FAILED
    body, _ = client.fetch_raw(record)
    _write_bytes(body, args.output, stdout)
    return EXIT_OK


def cmd_batch(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    from asyncinfer.batch import BatchOptions, check_input, detect_format, run_batch
    from asyncinfer.client import InvokeOptions

    input_path = Path(args.input)
    if not input_path.is_file():
        raise ConfigurationError(f"batch input {args.input!r} does not exist or is not a file")
    output_path = Path(args.output) if args.output else input_path.with_suffix(".results.jsonl")
    manifest_path = (
        Path(args.manifest)
        if args.manifest
        else output_path.with_name(output_path.name + ".manifest")
    )
    options = BatchOptions(
        input_path=input_path,
        output_path=output_path,
        manifest_path=manifest_path,
        input_format=detect_format(input_path, args.format),
        wrap=args.wrap,
        column=args.column,
        csv_header=not args.no_header,
        csv_as_json=args.csv_as_json,
        concurrency=args.concurrency,
        timeout=args.timeout,
        invoke=InvokeOptions(**_invoke_kwargs(args)),
    )
    check_input(options)
    client = make_client(args)
    progress = stderr.isatty() if args.progress is None else args.progress
    try:
        summary = run_batch(client, options, progress=progress, stderr=stderr)
    except KeyboardInterrupt:
        stderr.write(
            f"asyncinfer: batch interrupted; rerun the same command to resume "
            f"(manifest {manifest_path})\n"
        )
        return EXIT_INTERRUPTED
    stderr.write(summary.table() + "\n")
    stderr.write(f"results: {output_path}\n")
    return EXIT_FAILED if summary.stats.failed else EXIT_OK


def cmd_failures(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    since = parse_since(args.since)
    client = make_client(args)
    records = client.failures(since, all_endpoints=args.all_endpoints)
    if args.limit is not None:
        records = records[: args.limit]
    for record in records:
        if args.json:
            stdout.write(json.dumps(record.to_json(), default=str) + "\n")
        else:
            where = f"  {record.failure_location}" if record.failure_location else ""
            stdout.write(
                f"{record.event_time or '-'}  {record.inference_id}  "
                f"{record.failure_reason or '(no reason recorded)'}{where}\n"
            )
    if not args.json:
        stderr.write(f"{len(records)} failed inference(s) since {since.isoformat()}\n")
    return EXIT_OK


def cmd_redrive(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    from asyncinfer import redrive
    from asyncinfer.stack_outputs import outputs_from_file

    rest = list(args.rest or [])
    if rest[:1] == ["--"]:
        rest = rest[1:]
    if not any(a.startswith(("--dlq", "--dead-letter", "--source")) for a in rest):
        # Resolve the queues from the stack so `asyncinfer redrive` needs no arguments.
        outputs = (
            outputs_from_file(args.outputs_file, args.stack)
            if args.outputs_file
            else make_client(args).outputs
        )
        dead_letters, results = outputs.dead_letter_queue_arn, outputs.results_queue_arn
        if not dead_letters or not results:
            key = "ResultsQueueArn" if dead_letters else "DeadLetterQueueArn"
            raise ConfigurationError(
                f"stack {outputs.stack_name!r} has no output {key}; expected the outputs "
                f"of this project's CDK app"
            )
        rest = ["--dlq-arn", dead_letters, "--queue-arn", results, *rest]
    return int(redrive.main([*_forwarded_connection(args), *rest]) or 0)


def _forwarded_connection(args: argparse.Namespace) -> list[str]:
    forwarded: list[str] = []
    for flag, value in (
        ("--region", args.region),
        ("--profile", args.profile),
        ("--endpoint-url", args.endpoint_url),
    ):
        if value:
            forwarded += [flag, value]
    return forwarded


def cmd_local(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    local_cli = args.local_cli
    if local_cli is None:
        raise ConfigurationError(
            "local mode is not available in this installation: module asyncinfer.local.cli "
            "could not be imported; expected this project's local mode package"
        )
    return int(local_cli.run(args) or 0)


def cmd_simulate(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    from asyncinfer.simulate.cli import run_simulate

    return run_simulate(args, stdout, stderr)


def cmd_advise(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    from asyncinfer.simulate.advise_cli import run_advise

    return run_advise(args, stdout, stderr)


def cmd_load(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    from asyncinfer.simulate.cli import run_load

    return run_load(args, make_client(args), stdout, stderr)


COMMANDS = {
    "simulate": cmd_simulate,
    "advise": cmd_advise,
    "load": cmd_load,
    "submit": cmd_submit,
    "status": cmd_status,
    "result": cmd_result,
    "batch": cmd_batch,
    "failures": cmd_failures,
    "redrive": cmd_redrive,
    "local": cmd_local,
}


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(load_local="local" in arguments)
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exit_:  # argparse has printed its usage message
        return int(exit_.code or 0)
    try:
        return COMMANDS[args.command](args, stdout, stderr)
    except InferenceFailedError as error:
        stderr.write(f"asyncinfer: {error}\n")
        return EXIT_FAILED
    except AsyncInferenceError as error:
        stderr.write(f"asyncinfer: error: {error}\n")
        return EXIT_ERROR
    except (ClientError, BotoCoreError) as error:
        stderr.write(f"asyncinfer: error: {describe(error)}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        stderr.write("asyncinfer: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `asyncinfer status ... | head`: the reader left; not an error worth a message.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
