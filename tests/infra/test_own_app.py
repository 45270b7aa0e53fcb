"""examples/own_app: a user's own CDK app, with the library installed from its wheel.

Exactly what a platform team does: build (or download) the wheel, install it into a fresh
virtual environment, and `cdk synth` their own app, outside this repository, so nothing
of the checkout (stacks/, lambda/, the editable install) can help.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=900
    )
    assert done.returncode == 0, (
        f"{' '.join(command)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done.stdout


@pytest.fixture(scope="module")
def own_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user's app folder after `cdk synth` (its cloud assembly in cdk.out/)."""
    scratch = tmp_path_factory.mktemp("own-app")
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(scratch / "dist"),
            ".",
        ],
        cwd=REPO_ROOT,
    )
    (wheel,) = (scratch / "dist").glob("asyncinfer-*.whl")
    venv = scratch / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=scratch)
    python = venv / "bin" / "python"
    # The tested pins as constraints, so the fresh environment gets what the suite runs on.
    run(
        [
            str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "-c", str(REPO_ROOT / "requirements.txt"), f"{wheel}[cdk]",
        ],
        cwd=scratch,
    )  # fmt: skip
    # The library imported by the user's app is the installed one, not the checkout.
    where = run(
        [str(python), "-c", "import asyncinfer_constructs as m; print(m.__file__)"], cwd=scratch
    )
    assert where.strip().startswith(str(venv)), where

    app = scratch / "app"
    shutil.copytree(REPO_ROOT / "examples" / "own_app", app)
    env = {
        **os.environ,
        # The pinned CDK CLI and Node.js (the repository's tools, not its code).
        "PATH": os.pathsep.join([str(REPO_ROOT / "node_modules" / ".bin"), os.environ["PATH"]]),
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    }
    env.pop("PYTHONPATH", None)
    run(
        ["cdk", "synth", "--quiet", "--no-notices", "--app", f"{python} app.py", "-o", "cdk.out"],
        cwd=app,
        env=env,
    )
    return app


@pytest.fixture(scope="module")
def own_app_template(own_app: Path) -> dict:
    template: dict = json.loads(
        (own_app / "cdk.out" / "PlatformInference.template.json").read_text()
    )
    return template


def test_a_users_own_app_synthesizes_two_endpoints_and_an_extra_consumer(
    own_app_template: dict,
) -> None:
    resources = own_app_template["Resources"]

    def of_type(kind: str) -> dict[str, dict]:
        return {k: r for k, r in resources.items() if r["Type"] == kind}

    assert len(of_type("AWS::SageMaker::Endpoint")) == 2
    assert len(of_type("AWS::DynamoDB::Table")) == 1
    # The audit queue gets both topics' notifications, raw, besides the results queue.
    audit = next(k for k in of_type("AWS::SQS::Queue") if k.startswith("Audit"))
    subscribed = [
        r["Properties"]["TopicArn"]
        for r in of_type("AWS::SNS::Subscription").values()
        if r["Properties"]["Endpoint"] == {"Fn::GetAtt": [audit, "Arn"]}
    ]
    assert len(subscribed) == 2
    # Its own key encrypts the table and its own topic receives the alarms.
    key = next(k for k in of_type("AWS::KMS::Key") if k.startswith("PlatformKey"))
    (table,) = of_type("AWS::DynamoDB::Table").values()
    assert table["Properties"]["SSESpecification"]["KMSMasterKeyId"] == {"Fn::GetAtt": [key, "Arn"]}
    alarms_topic = next(k for k in of_type("AWS::SNS::Topic") if k.startswith("PlatformAlarms"))
    notifying = [
        a for a in of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("AlarmActions") == [{"Ref": alarms_topic}]
    ]  # fmt: skip
    # Each endpoint's three, the pipeline's two, and the drain timeout alarm.
    assert len(notifying) == 2 * 3 + 2 + 1
    assert json.loads(json.dumps(own_app_template["Outputs"]["Endpoints"]))


def test_the_lambda_code_comes_from_the_installed_package(
    own_app: Path, own_app_template: dict
) -> None:
    """Each function's asset holds its handler module: found beside the installed library."""
    checked = 0
    for resource in own_app_template["Resources"].values():
        if resource["Type"] != "AWS::Lambda::Function" or "aws:asset:path" not in resource.get(
            "Metadata", {}
        ):
            continue
        if not resource["Properties"]["Runtime"].startswith("python"):
            continue  # CDK's own provider framework functions (Node.js)
        handler = resource["Properties"]["Handler"]
        module = handler.rsplit(".", 1)[0].replace(".", "/")
        asset = own_app / "cdk.out" / resource["Metadata"]["aws:asset:path"]
        assert (asset / f"{module}.py").is_file(), (
            handler,
            sorted(p.name for p in asset.iterdir()),
        )
        checked += 1
    assert checked >= 3  # the results writer and the drain's two steps
