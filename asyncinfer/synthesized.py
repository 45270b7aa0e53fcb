"""What a synthesized template holds, said in a few lines; finding a stack's template.

``asyncinfer local up`` and ``asyncinfer simulate`` read the cloud assembly (``cdk.out``)
rather than the app, so both say which template they read and the endpoint settings in
it, and refuse, in one sentence, an assembly that does not hold the stack they were asked
for (a ``cdk.out`` synthesized with another ``stack_name``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from asyncinfer.errors import ConfigurationError
from asyncinfer.simulate.template import template_endpoints


def stacks_in(cdk_out: Path) -> list[str]:
    """The stack names whose templates the assembly holds."""
    suffix = ".template.json"
    return sorted(path.name.removesuffix(suffix) for path in cdk_out.glob(f"*{suffix}"))


def template_path(cdk_out: Path, stack: str) -> Path:
    """``cdk_out``'s template of ``stack``; one sentence when it holds other stacks only."""
    path = cdk_out / f"{stack}.template.json"
    if path.is_file():
        return path
    others = stacks_in(cdk_out) if cdk_out.is_dir() else []
    if others:
        raise ConfigurationError(
            f"{cdk_out} was synthesized for stack {', '.join(others)}, not {stack}; "
            f'synthesize {stack} (make synth CDK_ARGS="-c stack_name={stack}") or pass '
            f"--stack {others[0]}"
        )
    raise ConfigurationError(f"{path} does not exist; run `make synth` first")


def _refs(value: Any) -> set[str]:
    """Logical ids a property value refers to (Ref and Fn::GetAtt)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item[0] if isinstance(item, list) else str(item).split(".")[0])
            else:
                found |= _refs(item)
    elif isinstance(value, list):
        for item in value:
            found |= _refs(item)
    return found


def _mib(value: Any) -> str:
    try:
        return f"{int(value) / 2**20:g} MiB"
    except (TypeError, ValueError):
        return str(value)


def endpoint_lines(template: dict[str, Any], source: str = "template") -> list[str]:
    """One line per AWS::SageMaker::Endpoint: its name (what `--endpoint` takes), model,
    instances, concurrency, limits."""
    resources: dict[str, Any] = template.get("Resources") or {}
    try:
        endpoints = template_endpoints(template, source) if resources else {}
    except ConfigurationError:
        endpoints = {}  # an Endpoints output of another shape: the logical ids alone
    names = {logical_id: name for name, logical_id in endpoints.items()}

    def props(logical_id: str) -> dict[str, Any]:
        return dict((resources.get(logical_id) or {}).get("Properties") or {})

    lines = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::SageMaker::Endpoint":
            continue
        config_ids = _refs((resource.get("Properties") or {}).get("EndpointConfigName"))
        config = props(next(iter(config_ids), ""))
        variants = config.get("ProductionVariants") or [{}]
        variant = variants[0]
        types = [variant.get("InstanceType")] + [
            pool.get("InstanceType") for pool in variant.get("InstancePools") or []
        ]
        model = props(next(iter(_refs(variant.get("ModelName"))), ""))
        container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
        env = container.get("Environment") or {}
        what = (
            f"{env['HF_MODEL_ID']} ({env.get('HF_TASK', 'no HF_TASK')})"
            if "HF_MODEL_ID" in env
            else "a model without HF_MODEL_ID"
        )
        client = (config.get("AsyncInferenceConfig") or {}).get("ClientConfig") or {}
        scaling = [
            p
            for r in resources.values()
            if r.get("Type") == "AWS::ApplicationAutoScaling::ScalableTarget"
            and logical_id in _refs((p := r.get("Properties") or {}).get("ResourceId"))
        ]
        capacity = (
            f"{scaling[0].get('MinCapacity')}..{scaling[0].get('MaxCapacity')} instances"
            if scaling
            else f"{variant.get('InitialInstanceCount', 1)} instance(s), no autoscaling"
        )
        named = f"{names[logical_id]} ({logical_id})" if logical_id in names else logical_id
        lines.append(
            f"endpoint {named}: {what} on {', '.join(str(t) for t in types if t)}, "
            f"{capacity}, {client.get('MaxConcurrentInvocationsPerInstance', 'default')} "
            f"concurrent per instance, requests up to "
            f"{_mib(env['MMS_MAX_REQUEST_SIZE']) if 'MMS_MAX_REQUEST_SIZE' in env else 'any size'}"
        )
    return lines


def describe(path: Path) -> str:
    """Which template was read, for which stack, with its endpoints' settings."""
    try:
        template = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigurationError(f"template {path} cannot be read as JSON: {error}") from None
    stack = path.name.removesuffix(".template.json")
    lines = [f"read {path} (stack {stack})", *endpoint_lines(template, str(path))]
    return "\n  ".join(lines)
