"""Synth speed: `cdk synth` of the default app as a ratio to a one-bucket app, same run.

Both go through the pinned CLI, the same Node.js and the same Python, alternating, so
machine noise hits both alike; the figure is the ratio of medians. The test suite's wall
time is recorded alongside. Writes bench/results/synth.json.

Run: .venv/bin/python bench/bench_synth.py   (or `make bench`)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "bench" / "results" / "synth.json"
RUNS = 7  # alternating pairs; the ratio of medians damps a shared machine's noise
TARGET_RATIO = 1.5

ONE_BUCKET_APP = """\
import aws_cdk as cdk
from aws_cdk import aws_s3 as s3

app = cdk.App()
stack = cdk.Stack(app, "OneBucket")
s3.Bucket(stack, "Bucket")
app.synth()
"""


def environment() -> dict[str, str]:
    return {
        **os.environ,
        "PATH": os.pathsep.join(
            [
                str(REPO_ROOT / "node_modules" / ".bin"),
                str(REPO_ROOT / ".venv" / "bin"),
                os.environ["PATH"],
            ]
        ),
        "CDK_DISABLE_CLI_TELEMETRY": "true",
    }


def timed_synth(app_dir: Path, outdir: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        ["cdk", "synth", "--quiet", "--no-notices", "--output", str(outdir)],
        cwd=app_dir,
        env=environment(),
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def one_bucket_app(directory: Path) -> Path:
    directory.mkdir(parents=True)
    (directory / "app.py").write_text(ONE_BUCKET_APP)
    project = json.loads((REPO_ROOT / "cdk.json").read_text())
    # Same CLI settings and feature flags as the project; only the app differs.
    project["app"] = f"{sys.executable} app.py"
    (directory / "cdk.json").write_text(json.dumps(project))
    return directory


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        scratch_dir = Path(scratch)
        baseline_dir = one_bucket_app(scratch_dir / "one-bucket")
        baseline, default = [], []
        timed_synth(baseline_dir, scratch_dir / "warm-1")  # warm file caches for both
        timed_synth(REPO_ROOT, scratch_dir / "warm-2")
        for run in range(RUNS):
            baseline.append(timed_synth(baseline_dir, scratch_dir / f"baseline-{run}"))
            default.append(timed_synth(REPO_ROOT, scratch_dir / f"default-{run}"))

    # The suite as `make test` runs it: the unit tier in a process of its own (its import
    # guard refuses moto and aws_cdk for the whole process), then every other tier, on
    # every core (pytest-xdist, a test file per worker).
    started = time.perf_counter()
    summaries, exit_code = [], 0
    every_other_tier = ["--ignore=tests/unit", "--numprocesses", "auto", "--dist", "loadfile"]
    for selection in (["tests/unit"], every_other_tier):
        tests = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *selection],
            cwd=REPO_ROOT,
            env=environment(),
            capture_output=True,
            text=True,
            check=False,
        )
        exit_code = exit_code or tests.returncode
        out = tests.stdout.strip()
        summaries.append(out.splitlines()[-1] if out else tests.stderr[-300:])
    suite_seconds = time.perf_counter() - started
    summary = "; ".join(summaries)

    ratio = statistics.median(default) / statistics.median(baseline)
    result = {
        "command": ".venv/bin/python bench/bench_synth.py",
        "runs": RUNS,
        "default_app_synth_seconds": [round(s, 3) for s in default],
        "one_bucket_app_synth_seconds": [round(s, 3) for s in baseline],
        "default_app_synth_median_seconds": round(statistics.median(default), 3),
        "one_bucket_app_synth_median_seconds": round(statistics.median(baseline), 3),
        "synth_ratio": round(ratio, 3),
        "synth_ratio_target": TARGET_RATIO,
        "synth_ratio_met": ratio <= TARGET_RATIO,
        "test_suite_seconds": round(suite_seconds, 1),
        "test_suite_exit_code": exit_code,
        "test_suite_summary": summary,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
