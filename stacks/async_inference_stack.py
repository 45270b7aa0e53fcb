"""The app's stack: one AsyncInferenceSystem with the endpoints the settings name.

The data flow, and the wiring between its parts, is the library's
(asyncinfer_constructs/async_inference_system.py); this stack only chooses the parts from
the settings, keeps the logical ids deployed stacks already have, and writes the outputs
the client reads.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from aws_cdk import CfnElement, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from constructs import Construct, IConstruct

from asyncinfer_constructs.async_inference_system import AsyncInferenceSystem
from asyncinfer_constructs.job_api import JobApi
from stacks.config import Settings


class AsyncInferenceStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: Settings, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # "Default" keeps the system out of every logical id, so the resources keep the
        # ids they had when the stack composed them itself.
        self.system = AsyncInferenceSystem(self, "Default", props=settings.system_props())
        for name, props in settings.endpoint_props().items():
            self.system.add_endpoint(name, props)
        first = next(iter(self.system.endpoints.values()))
        keep_logical_ids_without(first)
        # A stack of one `default` endpoint has no `Endpoints` output, as before there
        # were several (the client then knows its one endpoint as `default`).
        self.system.add_client_outputs(endpoint_map=bool(settings.endpoints))
        # The HTTP job API over every endpoint (docs/api.md); its resources are new, so
        # turning it on or off leaves every other logical id as it is.
        self.job_api = (
            JobApi(self, "JobApi", system=self.system, props=settings.api_props())
            if settings.api_enabled
            else None
        )
        if self.job_api is not None:
            self.job_api.add_client_outputs()


def keep_logical_ids_without(endpoint: IConstruct) -> None:
    """Give every CloudFormation element under `endpoint` the logical id it would have if
    `endpoint`'s own construct id were not in its path.

    Before the construct library, the app's one endpoint sat directly in the stack
    (Stack/Execution/Role, Stack/Endpoint/Config, ...). Its resources now sit under the
    endpoint's construct; a new logical id would make CloudFormation replace the endpoint,
    its model and its role on the next deploy. The first endpoint of the app keeps the old
    ids, so deployed stacks update in place and a second endpoint added later leaves the
    first where it is.
    """
    for construct in endpoint.node.find_all():
        if isinstance(construct, CfnElement):
            construct.override_logical_id(make_unique_id(_path_without(construct, endpoint)))
        if isinstance(construct, appscaling.CfnScalingPolicy):
            # CDK names a scaling policy after its construct's path from the stack on
            # (Names.uniqueId); a new PolicyName would replace the policy.
            owner = construct.node.scope
            assert owner is not None
            stack = Stack.of(construct)
            construct.policy_name = make_unique_id([stack.node.id, *_path_without(owner, endpoint)])


def _path_without(construct: IConstruct, left_out: IConstruct) -> list[str]:
    """The construct ids from below the stack down to `construct`, less `left_out`'s."""
    scopes = construct.node.scopes
    stack_index = next(i for i, s in enumerate(scopes) if isinstance(s, Stack))
    return [s.node.id for s in scopes[stack_index + 1 :] if s is not left_out]


# CDK's logical id scheme (aws-cdk-lib core, private/uniqueid.ts, makeUniqueId): path
# components less "Default", then a human part (a component that ends its predecessor
# dropped, "Resource" removed, non-alphanumerics dropped, at most 240 characters) and the
# first 8 hex digits of the MD5 of the path joined by "/", upper case. A single component
# is used as it is.
# tests/infra/test_logical_ids.py holds this to CDK's own ids for every resource of the
# default template outside the endpoint.
_HIDDEN_ID = "Default"
_HIDDEN_FROM_HUMAN_ID = "Resource"
_MAX_HUMAN_LEN = 240
_HASH_LEN = 8


def make_unique_id(components: list[str]) -> str:
    components = [c for c in components if c != _HIDDEN_ID]
    if len(components) == 1:
        candidate = _alphanumeric(components[0])
        if len(candidate) <= 255:
            return candidate
    digest = hashlib.md5("/".join(components).encode(), usedforsecurity=False).hexdigest()
    human = "".join(
        _alphanumeric(c) for c in _without_repeats(components) if c != _HIDDEN_FROM_HUMAN_ID
    )[:_MAX_HUMAN_LEN]
    return human + digest[:_HASH_LEN].upper()


def _without_repeats(components: list[str]) -> list[str]:
    kept: list[str] = []
    for component in components:
        if not kept or not kept[-1].endswith(component):
            kept.append(component)
    return kept


def _alphanumeric(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", text)
