"""``asyncinfer local ...``: attached by asyncinfer/cli.py; also ``python -m asyncinfer.local``."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import IO

from asyncinfer_runtime.contract import DEFAULT_STACK_NAME

from ..errors import ConfigurationError
from ..synthesized import describe, stacks_in, template_path
from .provision import TemplateError
from .runtime import LocalMode
from .stand_ins import CONTRACTS, STAND_INS, UnsupportedModel

# How often the console's progress line may change (a terminal redraws it in place).
PROGRESS_SECONDS = 2.0

# Where `local up` looks by default: the app's folder, the one `cdk synth` runs in.
DEFAULT_CDK_OUT = Path("cdk.out")
DEFAULT_STATE_DIR = Path(".asyncinfer")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="local_command", metavar="COMMAND")
    up = commands.add_parser(
        "up",
        help="start local mode and run until Ctrl-C",
        description="Start the AWS stand-ins, the model server and the async endpoint on "
        "127.0.0.1 from the synthesized template; stop with Ctrl-C.",
    )
    up.add_argument("--stack", default=DEFAULT_STACK_NAME, help="stack name (template file name)")
    up.add_argument(
        "--cdk-out",
        type=Path,
        default=DEFAULT_CDK_OUT,
        metavar="DIR",
        help="cloud assembly holding STACK.template.json; synthesized there (by the CDK app "
        "in the current directory) when missing (default: %(default)s, in the current "
        "directory)",
    )
    up.add_argument("--port", type=int, default=4566, help="port of the endpoint URL (0: any)")
    up.add_argument(
        "--api-port",
        type=int,
        help="port of the job API (default: the endpoint URL's port + 1; any when --port is 0)",
    )
    models = up.add_mutually_exclusive_group()
    models.add_argument(
        "--model",
        choices=STAND_INS,
        help="serve this stand-in for every endpoint (default: the one each endpoint's model "
        "asks for: sentiment for HF_TASK text-classification, xgboost for a model that is "
        "not from the Hugging Face Hub)",
    )
    models.add_argument(
        "--model-url",
        metavar="URL",
        help="use your own container (e.g. http://127.0.0.1:8080) instead of a stand-in",
    )
    up.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        metavar="DIR",
        help="where local mode writes outputs.json, local.json, the log of the queues' "
        "functions (the results writer's records) and the trained XGBoost model "
        "(default: %(default)s, in the current directory)",
    )
    up.add_argument(
        "--model-delay-ms", type=float, default=0.0, help="slow the built-in model (testing)"
    )
    up.add_argument("--no-synth", action="store_true", help="fail instead of running cdk synth")


def synthesize(template: Path, app_dir: Path, stack: str = DEFAULT_STACK_NAME) -> None:
    """Run `cdk synth` in ``app_dir`` (the folder holding the app's cdk.json) into the folder
    of ``template``, for ``stack``, with the app's own pinned CDK CLI (its node_modules/.bin)
    or one on PATH."""
    missing = f"{template} does not exist"
    if not (app_dir / "cdk.json").is_file():
        raise TemplateError(
            f"{missing} and {app_dir} holds no cdk.json to synthesize it from; run local mode "
            f"in your CDK app's folder, or give --cdk-out a synthesized cloud assembly"
        )
    bin_dir = app_dir / "node_modules" / ".bin"
    cdk = str(bin_dir / "cdk") if (bin_dir / "cdk").exists() else shutil.which("cdk")
    node = (bin_dir / "node").exists() or shutil.which("node") is not None
    if cdk is None or not node:
        raise TemplateError(
            f"{missing}, and without Node.js and the CDK CLI (in {bin_dir} or on PATH) it "
            f"cannot be synthesized; run `make synth` first"
        )
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env.setdefault("CDK_DISABLE_CLI_TELEMETRY", "true")
    env.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    # The app names its stack by the stack_name setting; ask for the stack wanted.
    context = ["-c", f"stack_name={stack}"] if stack != DEFAULT_STACK_NAME else []
    cdk_out = template.parent.resolve()
    print(f"local mode: synthesizing the CDK app into {cdk_out} ...", file=sys.stderr)
    subprocess.run(
        [cdk, "synth", "--quiet", "--no-notices", "--output", str(cdk_out), *context],
        cwd=app_dir,
        env=env,
        check=True,
    )


def run(args: argparse.Namespace) -> int:
    if getattr(args, "local_command", None) != "up":
        print("usage: asyncinfer local up [--model-url URL] [--port N]", file=sys.stderr)
        return 2
    template = args.cdk_out / f"{args.stack}.template.json"
    try:
        if not template.is_file():
            if args.no_synth or stacks_in(args.cdk_out):
                # One sentence: which stacks the assembly holds, or that it is missing.
                template_path(args.cdk_out, args.stack)
            synthesize(template, Path.cwd(), args.stack)
            # An app that ignores the stack_name setting synthesizes another stack.
            template_path(args.cdk_out, args.stack)
        print(f"local mode: {describe(template)}", file=sys.stderr, flush=True)
    except (TemplateError, ConfigurationError, subprocess.CalledProcessError) as error:
        print(f"local mode: {error}", file=sys.stderr)
        return 1

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    local = LocalMode(
        template,
        stack_name=args.stack,
        state_dir=args.state_dir,
        port=args.port,
        model_url=args.model_url,
        model_delay_ms=args.model_delay_ms,
        api_port=args.api_port if args.api_port is not None else args.port and args.port + 1,
        model=args.model,
    )
    try:
        local.start()
    except (TemplateError, UnsupportedModel, OSError, RuntimeError, TimeoutError) as error:
        print(f"local mode could not start: {error}", file=sys.stderr)
        return 1
    endpoint_name = local.provisioned.outputs.get("EndpointName") if local.provisioned else ""
    env_lines = "\n".join(
        f"  export {k}={v}"
        for k, v in json.loads(local.info_file.read_text(encoding="utf-8"))["environment"].items()
    )
    api_line = (
        f"  job API:       {local.api.url}  (curl --aws-sigv4 'aws:amz:us-east-1:execute-api' "
        f"--user local:local {local.api.url}v1/jobs)\n"
        if local.api
        else ""
    )
    print(
        f"local mode is up.\n"
        f"  endpoint URL:  {local.url}\n"
        f"  endpoint name: {endpoint_name}\n"
        f"{model_lines(local)}"
        f"  outputs file:  {local.outputs_file.resolve()}\n"
        f"  metrics:       {local.url}/local/metrics\n"
        f"{api_line}"
        f"  records log:   {local.functions_log.resolve()}\n"
        f"Point boto3, the AWS CLI and asyncinfer at it with:\n{env_lines}\n"
        f"Press Ctrl-C to stop.",
        flush=True,
    )
    # Bounded wait per iteration so signals are seen promptly.
    progress = Progress(sys.stdout)
    while not stop.wait(0.5):
        progress.show(local)
    progress.finish()
    print("local mode: stopping (finishing in-flight requests) ...", file=sys.stderr, flush=True)
    summary = local.stop()
    print(
        f"local mode stopped: {summary['accepted']} requests accepted, {summary['notified']} "
        f"finished and notified, {summary['queuedNotStarted']} still queued (not started), "
        f"{summary['resultsQueueLeft']} notifications left unwritten.",
        file=sys.stderr,
        flush=True,
    )
    # Machine-readable copy for scripts and tests.
    print(json.dumps({"localModeStopped": summary}), flush=True)
    return 0


def model_lines(local: LocalMode) -> str:
    """What serves each endpoint, the payload it expects and an example request."""
    if not local.models:
        return f"  model:         your container at {local.model_url}\n"
    lines = []
    for name, choice in local.models.items():
        contract = CONTRACTS[choice.stand_in]
        limit = (
            f"; over {choice.max_request_bytes:,} bytes: HTTP 413 (MMS_MAX_REQUEST_SIZE)"
            if choice.max_request_bytes
            else ""
        )
        lines += [
            f"  model:         {contract.model}, for endpoint {name} ({choice.source})",
            f"  payload:       {contract.payload}{limit}",
            f"  example:       {contract.example}",
        ]
    return "\n".join(lines) + "\n"


class Progress:
    """One console line of counts, instead of one log line per record (those go to the
    functions' log file): redrawn in place on a terminal, else a line per change."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.terminal = stream.isatty()
        self._last = ""
        self._shown_at = 0.0

    def show(self, local: LocalMode) -> None:
        now = time.monotonic()
        if local.service is None or now - self._shown_at < PROGRESS_SECONDS:
            return
        counts = local.service.progress()
        if not counts["accepted"]:
            return
        line = (
            f"requests: {counts['accepted']} accepted, {counts['queued']} queued or running, "
            f"{counts['completed']} completed, {counts['failed']} failed"
        )
        if line == self._last:
            return
        self._last, self._shown_at = line, now
        self.stream.write(f"\r{line}  " if self.terminal else line + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.terminal and self._last:
            self.stream.write("\n")
            self.stream.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m asyncinfer.local")
    add_arguments(parser)
    return run(parser.parse_args(argv))
