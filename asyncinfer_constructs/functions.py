"""What the project's Lambda functions (results writer, endpoint drain) share."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from asyncinfer_constructs.log_groups import set_retention


def _functions_dir() -> Path:
    """Where the functions' code is: the repository's `lambda/` folder, installed as the
    package `asyncinfer_constructs.handlers` (pyproject.toml maps it), so an installed
    library finds it beside itself and a checkout finds it through its editable install."""
    spec = importlib.util.find_spec("asyncinfer_constructs.handlers")
    assert spec is not None and spec.submodule_search_locations, "package data is missing"
    return Path(next(iter(spec.submodule_search_locations)))


LAMBDA_SOURCE = _functions_dir()


def lambda_code() -> lambda_.Code:
    """The functions' folder as one asset: each function names its handler inside it."""
    return lambda_.Code.from_asset(
        str(LAMBDA_SOURCE), exclude=["**/__pycache__", "**/*.pyc", "**/.mypy_cache"]
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
