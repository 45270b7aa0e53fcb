"""`asyncinfer simulate` and `asyncinfer load`: arguments and what they run."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import IO, Any

from asyncinfer.errors import ConfigurationError
from asyncinfer.simulate.model import (
    Assumptions,
    EndpointSimulation,
    ScalingSetup,
    SimulationResult,
)
from asyncinfer.simulate.report import document, summary
from asyncinfer.simulate.template import read_setup, seed_setup
from asyncinfer.simulate.trace import (
    DEFAULT_SERVICE_SECONDS,
    SCENARIOS,
    Workload,
    read_arrivals,
    scenario,
)
from asyncinfer.synthesized import describe, template_path
from asyncinfer_runtime.contract import DEFAULT_STACK_NAME

DEFAULT_TEMPLATE = Path("cdk.out") / f"{DEFAULT_STACK_NAME}.template.json"
SHOWN = (
    "firstResultSeconds", "p50LatencySeconds", "p95LatencySeconds", "p99LatencySeconds",
    "expired", "unfinished", "maxInstances", "instanceHours", "cost",
)  # fmt: skip


def add_trace_arguments(parser: argparse.ArgumentParser, line: str) -> None:
    """--template and the trace: --arrivals (one request per `line`) or --scenario, and
    --service-seconds; shared by `simulate` and `advise`."""
    parser.add_argument(
        "--template", type=Path, help=f"synthesized template (default {DEFAULT_TEMPLATE})"
    )
    parser.add_argument(
        "--endpoint",
        metavar="NAME",
        help="which endpoint's scaling to run, for a stack with several (the names of its "
        "Endpoints output)",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--arrivals", type=Path, metavar="FILE", help=f"one request per line: {line}"
    )
    source.add_argument(
        "--scenario",
        metavar="NAME",
        help=f"built-in trace: {', '.join(SCENARIOS)} (default single)",
    )
    parser.add_argument(
        "--service-seconds",
        type=float,
        default=DEFAULT_SERVICE_SECONDS,
        help=f"per request unless the arrivals file says (default {DEFAULT_SERVICE_SECONDS})",
    )


def add_run_arguments(
    parser: argparse.ArgumentParser, *, assume: str, json_help: str, plot_help: str
) -> None:
    """--hours, --price-per-hour, --assume, --json, --plot and --progress; shared by
    `simulate` and `advise`."""
    parser.add_argument(
        "--hours",
        type=float,
        help="simulated time (default: the scenario's, or the last arrival + 1 h)",
    )
    parser.add_argument(
        "--price-per-hour",
        type=float,
        metavar="USD",
        help="instance price (default: the shipped table)",
    )
    parser.add_argument("--assume", action="append", default=[], metavar="NAME=VALUE", help=assume)
    _file_option(parser, "--json", "OUT", json_help)
    _file_option(parser, "--plot", "OUT.png", plot_help)
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress on stderr (default: when a terminal)",
    )


def add_simulate_arguments(parser: argparse.ArgumentParser) -> None:
    add_trace_arguments(parser, "seconds since start[, service seconds]")
    parser.add_argument(
        "--instance-startup-seconds",
        type=float,
        default=Assumptions().instance_startup_seconds,
        help="launch to InService (default %(default)s)",
    )
    parser.add_argument(
        "--request-ttl-seconds",
        type=float,
        default=Assumptions().request_ttl_seconds,
        help="RequestTTLSeconds (default 6 h)",
    )
    parser.add_argument(
        "--compare",
        metavar="POLICY",
        help="also run `template`, `seed` or another template file, side by side",
    )
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="synthesize the stack with this setting first",
    )
    parser.add_argument(
        "--sweep",
        metavar="NAME=V1,V2,...",
        help="one synth and run per value; prints cost against p95",
    )
    add_run_arguments(
        parser,
        assume="override a modelled constant (docs/scaling.md)",
        json_help="write setup, summary, timeline and per-request times",
        plot_help="draw the timeline and latency CDF",
    )


def _file_option(
    parser: argparse.ArgumentParser,
    flag: str,
    metavar: str,
    help_text: str,
    *,
    required: bool = False,
) -> None:
    """An option naming a file to read or write."""
    parser.add_argument(flag, type=Path, metavar=metavar, help=help_text, required=required)


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    _file_option(
        parser, "--arrivals", "FILE", "the same file `simulate --arrivals` reads", required=True
    )
    _file_option(
        parser, "--payload", "FILE", 'request body (default {"inputs": "I love async inference"})'
    )
    _file_option(parser, "--json", "OUT", "per-request times (default stdout)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        help="give up waiting for results after this many seconds (default %(default)s)",
    )


def parse_assume(pairs: list[str], *classes: type) -> list[dict[str, Any]]:
    """`--assume NAME=VALUE` pairs as field changes, one dict per dataclass in `classes`
    (the first class that has the field takes it), each value in its field's type."""
    kinds = [{f.name: str(f.type) for f in dataclasses.fields(c)} for c in classes]
    changes: list[dict[str, Any]] = [{} for _ in classes]
    for pair in pairs:
        name, _, raw = pair.partition("=")
        owner = next((i for i, known in enumerate(kinds) if name in known), None)
        if owner is None:
            names = ", ".join(n for known in kinds for n in known)
            raise ConfigurationError(
                f"--assume {name!r} is not a modelled constant; expected one of {names}"
            )
        kind = kinds[owner][name]
        try:
            value: Any = (
                raw
                if kind == "str"
                else raw.lower() == "true"
                if kind == "bool"
                else int(raw)
                if kind == "int"
                else float(raw)
            )
        except ValueError:
            raise ConfigurationError(f"--assume {name}={raw!r} is not a {kind}") from None
        changes[owner][name] = value
    return changes


def assumptions_from(args: argparse.Namespace) -> Assumptions:
    base = Assumptions(
        instance_startup_seconds=args.instance_startup_seconds,
        request_ttl_seconds=args.request_ttl_seconds,
    )
    return dataclasses.replace(base, **parse_assume(args.assume, Assumptions)[0])


def workload_from(args: argparse.Namespace) -> Workload:
    if args.arrivals is not None:
        return read_arrivals(args.arrivals, args.service_seconds)
    return scenario(args.scenario or "single", args.service_seconds)


def progress_reporter(stderr: IO[str], enabled: bool, label: str) -> Any:
    if not enabled:
        return None

    def show(fraction: float) -> None:
        stderr.write(f"\r{label}: {fraction:6.1%} simulated")
        if fraction >= 1.0:
            stderr.write("\n")
        stderr.flush()

    return show


def _setup_for(policy: str, template_setup: ScalingSetup) -> ScalingSetup:
    if policy == "template":
        return template_setup
    if policy == "seed":
        return seed_setup(template_setup)
    path = Path(policy)
    if path.suffix == ".json":
        return read_setup(path)
    raise ConfigurationError(
        f"--compare {policy!r} is not a policy; expected template, seed or a template .json file"
    )


def _template_setup(
    args: argparse.Namespace, settings: dict[str, str], stderr: IO[str] | None = None
) -> ScalingSetup:
    """The template's scaling; says on ``stderr`` which template (and settings) it read."""
    if settings:
        from asyncinfer.simulate.synth import synthesize

        path = synthesize(settings, args.app_dir)
        given = ", ".join(f"{name}={value}" for name, value in settings.items())
        note = f"synthesized cdk.json's settings with {given}; "
    else:
        path = args.template or template_path(
            DEFAULT_TEMPLATE.parent, getattr(args, "stack", None) or DEFAULT_STACK_NAME
        )
        note = ""
    if stderr is not None:
        stderr.write(f"simulate: {note}{describe(path)}\n")
    return read_setup(path, args.endpoint)


def _print_table(rows: list[tuple[str, dict[str, Any]]], stdout: IO[str]) -> None:
    width = max(len(label) for label, _ in rows)
    stdout.write(" " * width + "  " + "  ".join(f"{key:>18}" for key in SHOWN) + "\n")
    for label, figures in rows:
        cells = ["-" if figures[key] is None else f"{figures[key]:g}" for key in SHOWN]
        stdout.write(f"{label:<{width}}  " + "  ".join(f"{c:>18}" for c in cells) + "\n")
    # A "-" for cost must say why under the table, not only in --json.
    reasons = sorted({str(f["priceSource"]) for _, f in rows if f.get("cost") is None})
    for reason in reasons:
        stdout.write(f"cost -: {reason}\n")


def run_simulate(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    assumptions = assumptions_from(args)
    workload = workload_from(args)
    duration = (args.hours if args.hours is not None else workload.hours) * 3600.0
    show = stderr.isatty() if args.progress is None else args.progress
    needs_app = bool(args.settings or args.sweep)
    if needs_app and args.template is not None:
        raise ConfigurationError(
            f"--template {args.template} cannot be combined with --set or --sweep, which "
            f"synthesize the app with those settings; drop --template, or synthesize the "
            f"settings into it yourself (cdk synth -c NAME=VALUE)"
        )
    if needs_app:
        from asyncinfer.simulate.synth import find_app_dir, parse_settings

        args.app_dir = find_app_dir()
        settings = parse_settings(args.settings, args.app_dir)
    else:
        settings = {}
    if args.sweep:
        return _run_sweep(args, settings, workload, duration, assumptions, stdout, stderr, show)
    setups = {"template": _template_setup(args, settings, stderr)}
    if args.compare and args.compare != "template":
        setups[args.compare] = _setup_for(args.compare, setups["template"])
    results: dict[str, SimulationResult] = {}
    for label, setup in setups.items():
        results[label] = EndpointSimulation(
            setup, workload.trace, duration, assumptions, progress_reporter(stderr, show, label)
        ).run()
    rows = [(label, summary(r, args.price_per_hour)) for label, r in results.items()]
    stdout.write(
        f"{workload.name}: {len(workload.trace.arrivals)} requests over {duration / 3600:g} h\n"
    )
    _print_table(rows, stdout)
    if args.json:
        body: Any = {label: document(r, args.price_per_hour) for label, r in results.items()}
        args.json.write_text(
            json.dumps(body if len(body) > 1 else body["template"], indent=1) + "\n"
        )
    if args.plot:
        from asyncinfer.simulate.plot import draw

        draw(results, args.plot, args.price_per_hour)
    return 0


def _run_sweep(
    args: argparse.Namespace,
    settings: dict[str, str],
    workload: Workload,
    duration: float,
    assumptions: Assumptions,
    stdout: IO[str],
    stderr: IO[str],
    show: bool,
) -> int:
    from asyncinfer.simulate.synth import parse_settings

    name, sep, values = args.sweep.partition("=")
    choices = [v for v in values.split(",") if v]
    if not sep or not choices:
        raise ConfigurationError(
            f"--sweep {args.sweep!r} is not name=v1,v2,...; expected e.g. max_capacity=1,2,4"
        )
    parse_settings([f"{name}={choices[0]}"], args.app_dir)
    rows: list[dict[str, Any]] = []
    for value in choices:
        setup = _template_setup(args, {**settings, name: value})
        result = EndpointSimulation(
            setup,
            workload.trace,
            duration,
            assumptions,
            progress_reporter(stderr, show, f"{name}={value}"),
        ).run()
        rows.append({"value": value, **summary(result, args.price_per_hour)})
    _print_table([(f"{name}={row['value']}", row) for row in rows], stdout)
    if args.json:
        args.json.write_text(json.dumps({"sweep": name, "rows": rows}, indent=1) + "\n")
    if args.plot:
        from asyncinfer.simulate.plot import draw_sweep

        draw_sweep(name, rows, args.plot)
    return 0


def run_load(args: argparse.Namespace, client: Any, stdout: IO[str], stderr: IO[str]) -> int:
    from asyncinfer.simulate.load import replay

    workload = read_arrivals(args.arrivals, DEFAULT_SERVICE_SECONDS)
    body = args.payload.read_bytes() if args.payload else b'{"inputs": "I love async inference"}'
    rows = replay(client, workload.trace.arrivals, body, timeout=args.timeout, stderr=stderr)
    text = json.dumps({"requests": rows}, indent=1) + "\n"
    if args.json:
        args.json.write_text(text)
    else:
        stdout.write(text)
    return 0 if all(row["finishedAt"] is not None for row in rows) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(2)
