"""One construct of the library in a bare Stack, as a user's own app would hold it."""

from __future__ import annotations

from collections.abc import Callable

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns

from tests.infra.conftest import CDK_JSON_CONTEXT

StackFactory = Callable[[], cdk.Stack]


@pytest.fixture
def new_stack() -> StackFactory:
    """A fresh app (with cdk.json's feature flags) and an environment-agnostic stack."""

    def make() -> cdk.Stack:
        app = cdk.App(context=dict(CDK_JSON_CONTEXT), analytics_reporting=False)
        return cdk.Stack(app, "UserStack")

    return make


def own_key(stack: cdk.Stack, construct_id: str = "OwnKey") -> kms.Key:
    return kms.Key(stack, construct_id, enable_key_rotation=True)


def own_topic(stack: cdk.Stack, key: kms.IKey) -> sns.Topic:
    return sns.Topic(stack, "OwnAlarms", master_key=key, enforce_ssl=True)
