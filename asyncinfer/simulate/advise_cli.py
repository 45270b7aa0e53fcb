"""`asyncinfer advise`: arguments, and what they run."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from pathlib import Path
from typing import IO, Any

from asyncinfer.errors import ConfigurationError
from asyncinfer.simulate.advise import (
    DEFAULT_BATCH_EVERY_SECONDS,
    Advice,
    OptionChoices,
    advise,
    table,
)
from asyncinfer.simulate.cli import (
    DEFAULT_TEMPLATE,
    add_run_arguments,
    add_trace_arguments,
    parse_assume,
    progress_reporter,
)
from asyncinfer.simulate.model import Assumptions, Trace
from asyncinfer.simulate.options import OptionAssumptions
from asyncinfer.simulate.report import price_for
from asyncinfer.simulate.serverless import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MEMORY_MB,
    check_config,
)
from asyncinfer.simulate.template import read_setup
from asyncinfer.simulate.trace import Workload, read_arrivals, scenario

DEFAULT_PAYLOAD_BYTES = 1000.0  # choice: a short text request as JSON
UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def add_advise_arguments(parser: argparse.ArgumentParser) -> None:
    add_trace_arguments(parser, "seconds since start[, service seconds[, payload bytes]]")
    parser.add_argument(
        "--payload-bytes",
        type=float,
        default=DEFAULT_PAYLOAD_BYTES,
        help="per request unless the arrivals file says (default %(default)g)",
    )
    parser.add_argument(
        "--serverless-price-per-gb-second",
        type=float,
        metavar="USD",
        help=f"serverless compute (default {OptionAssumptions().serverless_usd_per_gb_second:g})",
    )
    parser.add_argument(
        "--serverless-memory-mb",
        type=int,
        default=DEFAULT_MEMORY_MB,
        help="1024, 2048, ... 6144 (default %(default)s)",
    )
    parser.add_argument(
        "--serverless-max-concurrency",
        type=int,
        default=DEFAULT_MAX_CONCURRENCY,
        help="1..200 (default %(default)s)",
    )
    parser.add_argument(
        "--serverless-provisioned",
        type=int,
        default=0,
        help="provisioned concurrency, always warm (default none)",
    )
    parser.add_argument(
        "--realtime-instances",
        type=int,
        metavar="N",
        help="a fixed count (default: target tracking on invocations per instance, min 1)",
    )
    parser.add_argument(
        "--batch-every",
        default="1h",
        metavar="DURATION",
        help="a transform job this often, e.g. 30m, 1h, 86400 (default 1h)",
    )
    add_run_arguments(
        parser,
        assume="override a limit, price or modelled constant (docs/choosing.md, docs/scaling.md)",
        json_help="write options.<name> and cheapest",
        plot_help="draw cost per option beside the latency distributions",
    )


def parse_duration(text: str, flag: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    seconds = float(match.group(1)) * UNITS[match.group(2) or "s"] if match else 0.0
    if seconds <= 0:
        raise ConfigurationError(
            f"{flag} {text!r} is not a duration; expected e.g. 30m, 1h or 86400 (seconds)"
        )
    return seconds


def _require(condition: bool, flag: str, value: object, expected: str) -> None:
    if not condition:
        raise ConfigurationError(f"{flag} {value} is out of range; expected {expected}")


def workload_for(args: argparse.Namespace) -> Workload:
    _require(args.service_seconds > 0, "--service-seconds", args.service_seconds, "> 0")
    _require(args.payload_bytes >= 0, "--payload-bytes", args.payload_bytes, ">= 0")
    if args.arrivals is not None:
        return read_arrivals(args.arrivals, args.service_seconds, args.payload_bytes)
    workload = scenario(args.scenario or "single", args.service_seconds)
    trace = workload.trace
    payloads = [args.payload_bytes] * len(trace.arrivals)
    return dataclasses.replace(
        workload, trace=Trace(trace.arrivals, trace.service_seconds, payloads)
    )


def assumptions_for(args: argparse.Namespace) -> tuple[Assumptions, OptionAssumptions]:
    model_changes, option_changes = parse_assume(args.assume, Assumptions, OptionAssumptions)
    if args.serverless_price_per_gb_second is not None:
        price = args.serverless_price_per_gb_second
        _require(price >= 0, "--serverless-price-per-gb-second", price, ">= 0 USD")
        option_changes["serverless_usd_per_gb_second"] = price
    return (
        dataclasses.replace(Assumptions(), **model_changes),
        dataclasses.replace(OptionAssumptions(), **option_changes),
    )


def choices_for(args: argparse.Namespace) -> OptionChoices:
    if args.realtime_instances is not None:
        _require(
            args.realtime_instances >= 1, "--realtime-instances", args.realtime_instances, ">= 1"
        )
    check_config(
        args.serverless_memory_mb, args.serverless_max_concurrency, args.serverless_provisioned
    )
    return OptionChoices(
        batch_every_seconds=parse_duration(args.batch_every, "--batch-every")
        if args.batch_every
        else DEFAULT_BATCH_EVERY_SECONDS,
        serverless_memory_mb=args.serverless_memory_mb,
        serverless_max_concurrency=args.serverless_max_concurrency,
        serverless_provisioned=args.serverless_provisioned,
        realtime_instances=args.realtime_instances,
    )


def run_advise(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    model, limits = assumptions_for(args)
    choices = choices_for(args)
    workload = workload_for(args)
    if args.hours is not None:
        _require(args.hours > 0, "--hours", args.hours, "> 0")
    duration = (args.hours if args.hours is not None else workload.hours) * 3600.0
    setup = read_setup(args.template or DEFAULT_TEMPLATE)
    if args.price_per_hour is not None:
        _require(args.price_per_hour >= 0, "--price-per-hour", args.price_per_hour, ">= 0 USD")
    price, source = price_for(setup.instance_type, args.price_per_hour)
    if price is None:
        raise ConfigurationError(
            f"the template's instance type {setup.instance_type} has no shipped price; "
            f"expected --price-per-hour USD for it"
        )
    show = stderr.isatty() if args.progress is None else args.progress

    def progress(label: str) -> Any:
        return progress_reporter(stderr, show, label)

    result = advise(
        setup, workload.trace, duration, price, source, model, limits, choices, progress
    )
    stdout.write(
        f"{workload.name}: {result.requests} requests over {result.hours:g} h on "
        f"{setup.instance_type} at USD {price:g}/h\n"
    )
    stdout.write(table(result))
    if args.json:
        args.json.write_text(json.dumps(result.document(), indent=1) + "\n")
    if args.plot:
        draw(result, args.plot)
    return 0


def draw(result: Advice, path: Path) -> None:
    from asyncinfer.simulate.plot import draw_advice

    draw_advice(result, path)
