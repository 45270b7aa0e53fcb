"""Acknowledging cdk-nag findings: each one next to the construct it concerns."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Record that finding `rule_id` on `construct` is intended, and why."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def logical_id(construct: IConstruct) -> str:
    """The CloudFormation logical id cdk-nag uses to name a resource in a finding."""
    element = construct.node.default_child
    assert isinstance(element, CfnElement), f"{construct.node.path} has no CloudFormation resource"
    return str(Stack.of(construct).resolve(element.logical_id))
