"""What the project's Lambda functions (results writer, endpoint drain) share: their code
assets, log groups and roles."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from asyncinfer_constructs.log_groups import set_retention


def package_dir(package: str) -> Path:
    """Where an installed package's files are: an installed library finds them beside
    itself, a checkout through its editable install (no repository paths)."""
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations, f"{package} is missing"
    return Path(next(iter(spec.submodule_search_locations)))


# The functions' own folders: the repository's `lambda/`, installed as the package
# `asyncinfer_constructs.handlers` (pyproject.toml maps it).
LAMBDA_SOURCE = package_dir("asyncinfer_constructs.handlers")
# What every function imports besides its own folder (the record contract, notification
# parsing, record building and decoding, the environment-variable names).
RUNTIME_SOURCE = package_dir("asyncinfer_runtime")
_LEFT_OUT = frozenset({"__pycache__", ".mypy_cache"})


def _left_out(name: str) -> bool:
    return name in _LEFT_OUT or name.endswith(".pyc")


@functools.cache
def _fingerprint(sources: tuple[Path, ...]) -> str:
    """A hash of exactly the files `_CopyFolders` copies: the asset changes when they do,
    and only then (a Lambda function is updated when its asset hash changes)."""
    digest = hashlib.sha256()
    for source in sources:
        for directory, folders, files in os.walk(source):
            folders[:] = sorted(name for name in folders if not _left_out(name))
            for name in sorted(name for name in files if not _left_out(name)):
                path = Path(directory, name)
                relative = f"{source.name}/{path.relative_to(source).as_posix()}"
                digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@jsii.implements(ILocalBundling)
class _CopyFolders:
    """Bundles an asset on this machine, without Docker: a copy of each source folder, by
    its own name, at the asset's root."""

    def __init__(self, sources: tuple[Path, ...]) -> None:
        self.sources = sources

    # CDK calls this with the output folder and the BundlingOptions (ILocalBundling.tryBundle).
    def try_bundle(self, output_dir: str, *args: Any, **kwargs: Any) -> bool:
        for source in self.sources:
            shutil.copytree(
                source,
                Path(output_dir, source.name),
                ignore=lambda _directory, names: [name for name in names if _left_out(name)],
            )
        return True


def function_code(folder: str, *packages: str) -> lambda_.Code:
    """One function's asset: its own folder under lambda/ and the asyncinfer_runtime package
    beside it, so its handler is `<folder>.<module>.<function>` and it imports
    `asyncinfer_runtime.<module>`. Nothing else of the library ships with it, but for the
    pure-Python `packages` it names (the webhook dispatcher's `standardwebhooks`), copied
    from the environment that synthesizes, where requirements.txt pins them.

    Built by local bundling (BundlingOptions.local: "tried before Docker"; AWS CDK API
    reference, ILocalBundling), so synth needs no Docker; the image is never pulled. The
    asset hash is the copied files' own, so it changes only when they do.
    """
    return folders_code(
        LAMBDA_SOURCE / folder, RUNTIME_SOURCE, *(package_dir(package) for package in packages)
    )


def folders_code(*sources: Path) -> lambda_.Code:
    """An asset of `sources`, each folder copied by its own name to the asset's root (what
    function_code builds; an app's own function, such as the integ test's webhook receiver,
    may name its folders itself)."""
    return lambda_.Code.from_asset(
        str(sources[0]),
        asset_hash=_fingerprint(tuple(sources)),
        bundling=BundlingOptions(
            image=DockerImage.from_registry("local-bundling-only"),
            local=_CopyFolders(tuple(sources)),
        ),
    )


def log_group_and_role(
    scope: Construct,
    *,
    role_description: str,
    key: kms.IKey,
    log_retention_days: int,
    removal_policy: RemovalPolicy,
) -> tuple[logs.LogGroup, iam.Role]:
    """A function's own log group ("Logs", encrypted with `key`) and its role ("Role").

    The role starts without permissions (no AWS managed policy): each function adds
    exactly the statements it needs, `write_own_logs` among them.
    """
    log_group = logs.LogGroup(scope, "Logs", encryption_key=key, removal_policy=removal_policy)
    set_retention(log_group, log_retention_days)
    role = iam.Role(
        scope,
        "Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=role_description,
    )
    return log_group, role


def write_own_logs(log_group: logs.ILogGroup) -> iam.PolicyStatement:
    """Writing to `log_group` and no other."""
    return iam.PolicyStatement(
        sid="WriteOwnLogs",
        actions=["logs:CreateLogStream", "logs:PutLogEvents"],
        resources=[log_group.log_group_arn],
    )
