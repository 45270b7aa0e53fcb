#!/usr/bin/env python3
"""CDK entry point: build the settings from context, then the stack.

A configuration error is printed as its one-sentence message and exits non-zero before
any construct exists, so users never see a jsii stack trace for a typo.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn, cast

if TYPE_CHECKING:
    import aws_cdk as cdk


def build_app(
    context: dict[str, object] | None = None,
    *,
    outdir: str | None = None,
    control_tower_rules: bool = True,
) -> cdk.App:
    """The app; with `nag_checks`, cdk-nag's AwsSolutions and Serverless packs and (unless
    `control_tower_rules` is False) the Control Tower proactive controls validate it
    (add_compliance_checks)."""
    # Imported here rather than at the top, so that a synth imports them only once
    # run_as_one_shot_process has turned the cyclic collector off.
    import aws_cdk as cdk

    from stacks.async_inference_stack import AsyncInferenceStack
    from stacks.config import ConfigError, Settings, suggestion, unknown_settings

    app = cdk.App(context=context, outdir=outdir, analytics_reporting=False)
    typos = unknown_settings(list((context or {}).keys()) + _cli_context_keys())
    if typos:
        meant = suggestion(typos[0])
        raise ConfigError(
            f"Unknown setting {typos[0]!r}; expected "
            + (
                f"{meant!r}."
                if meant
                else "one of the settings listed in README.md (Configuration)."
            )
        )
    settings = Settings.from_context(app.node.try_get_context)
    AsyncInferenceStack(
        app,
        settings.stack_name,
        settings=settings,
        description="SageMaker Asynchronous Inference: endpoint, scale-to-zero, results pipeline",
        analytics_reporting=False,
    )
    if settings.nag_checks:
        add_compliance_checks(app, control_tower_rules=control_tower_rules)
    return app


def add_compliance_checks(app: cdk.App, *, control_tower_rules: bool = True) -> None:
    """cdk-nag's AwsSolutions and Serverless packs, and the AWS Control Tower proactive
    controls (cfn-guard rules, run by @cdklabs/cdk-validator-cfnguard with the cfn-guard
    binary it ships: offline), as policy validation plugins of `app`.

    Imported only when asked for: loading cdk-nag and running both packs is ~0.4 s of a
    3.5 s synth, and cfn-guard, which the guard plugin starts once per synth, takes ~4 CPU
    seconds over its 314 rule files. The tests synthesize every configuration with all of
    them on (and their one-setting variants with cdk-nag only), and the CI workflow's synth
    turns them on for the configuration actually deployed.
    """
    import aws_cdk as cdk
    from cdk_nag import AwsSolutionsChecks, ServerlessChecks

    plugins: list[cdk.IPolicyValidationPlugin] = [AwsSolutionsChecks(app), ServerlessChecks(app)]
    if control_tower_rules:
        from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

        # The guard plugin implements IPolicyValidationPluginBeta1, whose members are the
        # same as IPolicyValidationPlugin's under their Beta1 type names; jsii passes it on.
        plugins.append(cast("cdk.IPolicyValidationPlugin", CfnGuardValidator()))
    cdk.Validations.of(app).add_plugins(*plugins)


def _cli_context_keys() -> list[str]:
    """Context keys given by cdk.json and `-c`.

    The CLI hands them to the app in CDK_CONTEXT_JSON, or in a file named by
    CONTEXT_OVERFLOW_LOCATION_ENV when they are too large for the environment.
    """
    overflow = os.environ.get("CONTEXT_OVERFLOW_LOCATION_ENV")
    if overflow and os.path.exists(overflow):
        with open(overflow, encoding="utf-8") as file:
            return list(json.load(file).keys())
    return list(json.loads(os.environ.get("CDK_CONTEXT_JSON", "{}")).keys())


def main() -> int:
    from stacks.config import ConfigError

    try:
        build_app().synth()
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 1
    return 0


def run_as_one_shot_process(entry: Callable[[], int]) -> NoReturn:
    """Run `entry` the way `cdk synth` runs the app: one short process, left at once.

    A synth creates ~10^6 objects (the jsii-generated classes of every aws_cdk module it
    imports) and frees almost none, so the cyclic collector only spends time walking them;
    it is off from before the first aws_cdk import. On the way out the exit handlers run
    (jsii stops its Node.js kernel and removes its temporary files) and the output is
    flushed, but the interpreter is not torn down: freeing those objects one by one has
    no effect outside this process. Measured with `cdk synth` of the default app, runs
    alternating with a one-bucket app: median 5.89 s with both, 6.26 s with neither
    (4 runs each; ratio to the one-bucket app 1.69 against 1.80); on a loaded machine,
    9.30 against 9.81 CPU seconds (5 runs each).
    """
    gc.disable()
    code = entry()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run_as_one_shot_process(main)
