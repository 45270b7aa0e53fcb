"""Acknowledged findings of cdk-nag, the Control Tower rules (cfn-guard), checkov and
cfn-lint, each next to its construct.

Every acknowledgement carries the reason it is right for this project; the tests fail
on any finding that has none.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Acknowledgment, CfnElement, CfnResource, Stack, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Record that cdk-nag finding `rule_id` on `construct` (and below) is intended, and why.

    `rule_id` is the pack's rule, e.g. `AwsSolutions-IAM5[Resource::*]`; validation ids
    are namespaced by plugin (`AwsSolutions::...`), and an id without a namespace would be
    taken for a plain annotation.
    """
    pack = rule_id.split("-", 1)[0]
    Validations.of(construct).acknowledge(Acknowledgment(id=f"{pack}::{rule_id}", reason=reason))


# The plugin's name, which CDK's policy validation uses as the namespace of its rule ids
# (aws-cdk-lib core, validation-id: namespaceFromPluginName).
GUARD_PLUGIN = "cdk-validator-cfnguard"


def acknowledge_guard(construct: IConstruct, rule_name: str, reason: str) -> None:
    """Record that the Control Tower rule `rule_name` (a cfn-guard rule name, e.g.
    `s3_bucket_versioning_enabled_check`, as the plugin's report names it) is not met by
    `construct`'s resources (and those below it) on purpose, and why.

    CDK's policy validation takes a plugin's violations of acknowledged rule ids out of the
    report, matching by construct path (Validations.acknowledge), as it does cdk-nag's.
    """
    Validations.of(construct).acknowledge(
        Acknowledgment(id=f"{GUARD_PLUGIN}::{rule_name}", reason=reason)
    )


def skip_checkov(construct: IConstruct, check_id: str, reason: str) -> None:
    """Skip a checkov check on the construct's resource, with the reason in its metadata."""
    resource = _resource(construct)
    metadata = resource.get_metadata("checkov") or {"skip": []}
    metadata["skip"].append({"id": check_id, "comment": reason})
    resource.add_metadata("checkov", metadata)


def ignore_cfn_lint(construct: IConstruct, rule_id: str) -> None:
    """Ignore a cfn-lint rule on the construct's resource (callers say why in a comment)."""
    resource = _resource(construct)
    metadata = resource.get_metadata("cfn-lint") or {"config": {"ignore_checks": []}}
    metadata["config"]["ignore_checks"].append(rule_id)
    resource.add_metadata("cfn-lint", metadata)


def logical_id(construct: IConstruct) -> str:
    """The CloudFormation logical id cdk-nag uses to name a resource in a finding."""
    element = construct.node.default_child
    assert isinstance(element, CfnElement), f"{construct.node.path} has no CloudFormation resource"
    return str(Stack.of(construct).resolve(element.logical_id))


def nag_resource(scope: IConstruct, value: str) -> str:
    """`value` (an ARN, tokens and all) as cdk-nag writes it in a finding's rule id: each
    intrinsic flattened the way cdk-nag's flattenCfnReference does (`<Id.Arn>` for a
    GetAtt, `<AWS::Partition>` for a Ref, a Join joined), so an acknowledgement names the
    same resource whether the bucket or key is created here or imported by the caller."""
    return _flatten(Stack.of(scope).resolve(value))


def _flatten(node: Any) -> str:
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict) and "Fn::Join" in node:
        delimiter, items = node["Fn::Join"]
        return str(delimiter).join(_flatten(item) for item in items)
    if isinstance(node, dict) and "Fn::GetAtt" in node:
        resource, attribute = node["Fn::GetAtt"]
        return f"<{_flatten(resource)}.{_flatten(attribute)}>"
    if isinstance(node, dict) and "Ref" in node:
        return f"<{_flatten(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))


def _resource(construct: IConstruct) -> CfnResource:
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    assert isinstance(resource, CfnResource), (
        f"{construct.node.path} has no CloudFormation resource"
    )
    return resource
