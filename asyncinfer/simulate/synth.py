"""Synthesize the stack with stack settings (`--set`, `--sweep`), offline, by running the
CDK app directly: the app reads its context from CDK_CONTEXT_JSON and writes the cloud
assembly to CDK_OUTDIR, as it does under `cdk synth`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from asyncinfer.errors import ConfigurationError
from asyncinfer_runtime.contract import DEFAULT_STACK_NAME


def find_app_dir(start: Path | None = None) -> Path:
    """The nearest directory at or above `start` holding this project's app.py and cdk.json."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / "app.py").is_file() and (directory / "cdk.json").is_file():
            return directory
    raise ConfigurationError(
        f"--set needs this project's CDK app (app.py and cdk.json) in {here} or above; "
        f"expected to run from the repository"
    )


def known_settings(app_dir: Path) -> list[str]:
    sys.path.insert(0, str(app_dir))
    try:
        from stacks.config import Settings
    finally:
        sys.path.remove(str(app_dir))
    import dataclasses

    return [f.name for f in dataclasses.fields(Settings)]


def parse_settings(pairs: list[str], app_dir: Path) -> dict[str, str]:
    known = known_settings(app_dir)
    settings: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ConfigurationError(
                f"--set {pair!r} is not name=value; expected e.g. max_capacity=4"
            )
        if name not in known:
            raise ConfigurationError(
                f"--set {name!r} is not a stack setting; expected one of the settings in "
                f"README.md (Configuration), e.g. target_backlog_per_instance"
            )
        settings[name] = value
    return settings


def synthesize(settings: dict[str, str], app_dir: Path, outdir: Path | None = None) -> Path:
    """Synthesize with `settings` on top of cdk.json's context; return the template path."""
    context = json.loads((app_dir / "cdk.json").read_text(encoding="utf-8")).get("context", {})
    context.update(settings)
    out = outdir or Path(tempfile.mkdtemp(prefix="asyncinfer-synth-"))
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps(context),
        "CDK_OUTDIR": str(out),
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "PATH": os.pathsep.join(
            [str(app_dir / "node_modules" / ".bin"), os.environ.get("PATH", "")]
        ),
    }
    done = subprocess.run(
        [sys.executable, "app.py"], cwd=app_dir, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        reason = next((line for line in lines if "Configuration error" in line), None)
        raise ConfigurationError(
            (
                reason or f"synth with {settings} failed: {lines[-1] if lines else 'no output'}"
            ).removeprefix("Configuration error: ")
        )
    stack = settings.get("stack_name", DEFAULT_STACK_NAME)
    return out / f"{stack}.template.json"
