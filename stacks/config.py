"""The app's settings: the library's props, read from CDK context, plus the app's own.

Settings come from CDK context: `cdk.json` and `cdk synth -c name=value`. Values given on
the command line arrive as strings, so every field is parsed from a string as well as
from its JSON type; the type comes from the field's annotation (`typing.get_type_hints`)
and the rules from its metadata (the library's props: ranges, patterns, choices, finite
numbers, `optional` strings where empty means unset). Every problem is reported as one
sentence naming the setting, the value received and what is expected, before any
construct is created, so a bad configuration never surfaces as a traceback or a jsii
crash.
"""

from __future__ import annotations

import json
import math
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from asyncinfer_constructs.api_props import JobApiProps, check_api_props
from asyncinfer_constructs.endpoint_props import ENDPOINT_NAME, InferenceEndpointProps
from asyncinfer_constructs.props import (
    ConfigError,
    check_fields,
    default_values,
    field_docs,
    matching,
    require,
)
from asyncinfer_constructs.system_props import AsyncInferenceSystemProps
from asyncinfer_constructs.webhook_props import WebhooksProps, check_webhook_props
from asyncinfer_runtime.contract import DEFAULT_ENDPOINT, DEFAULT_STACK_NAME

__all__ = ["ConfigError", "Settings", "default_values", "reference_table", "unknown_settings"]

ENDPOINT_FIELDS = tuple(f.name for f in fields(InferenceEndpointProps))
# A few dozen endpoints at most share one stack: each adds ~20 resources of CloudFormation's
# 500 per stack (CloudFormation User Guide, "CloudFormation quotas").
MAX_ENDPOINTS = 20


# Hand-written rather than pydantic: a pydantic v2 prototype of these fields (same types,
# ranges and patterns) costs 0.25-0.32 s of CPU per synth to import pydantic and build the
# model, against 0.04 s for this module, and took the default app's `cdk synth` from 9.30
# to 9.72 CPU seconds (ratio to the one-bucket app 1.40 -> 1.47, measured on a loaded
# machine). The synth ratio target (1.5, bench/results/synth.json) is already missed, so
# the prototype only moved away from it; it would also need a custom message for every
# rule to keep the one-sentence errors.
@dataclass(frozen=True, kw_only=True)
class Settings(WebhooksProps, JobApiProps, AsyncInferenceSystemProps, InferenceEndpointProps):
    """Every knob of the app: the system's props, the endpoint props every endpoint starts
    from, the job API's, and the app's own. Field docs double as the README's configuration
    reference."""

    stack_name: str = field(
        default=DEFAULT_STACK_NAME,
        metadata=matching(
            r"^[A-Za-z][A-Za-z0-9-]{0,127}$",
            "start with a letter and hold only letters, digits and hyphens (at most 128)",
        ),
    )
    """CloudFormation stack name (the client finds the stack by it)."""
    endpoints: tuple[Mapping[str, Any], ...] = ()
    """Several endpoints: a JSON list of objects, each a `name` plus endpoint settings (an
    item's missing settings come from the top level); unset: one endpoint, `default`."""
    nag_checks: bool = False
    """Run cdk-nag (AwsSolutions, Serverless) and the Control Tower rules in this synth."""
    api_enabled: bool = True
    """The HTTP job API (API Gateway, its function and jobs table); `false`: none."""
    webhooks_enabled: bool = True
    """Signed webhooks for the job API's jobs; none while `api_enabled` is off."""

    def __post_init__(self) -> None:
        AsyncInferenceSystemProps.__post_init__(self)
        InferenceEndpointProps.__post_init__(self)
        check_api_props(self)
        check_webhook_props(self)
        check_fields(self, ["stack_name"])
        self.endpoint_props()

    def system_props(self) -> AsyncInferenceSystemProps:
        """The settings that describe the system around the endpoints."""
        names = [f.name for f in fields(AsyncInferenceSystemProps)]
        return AsyncInferenceSystemProps(**{name: getattr(self, name) for name in names})

    def api_props(self) -> JobApiProps:
        """The job API's settings."""
        return JobApiProps(**{f.name: getattr(self, f.name) for f in fields(JobApiProps)})

    def webhooks_props(self) -> WebhooksProps:
        """The settings of the webhook dispatcher."""
        names = [f.name for f in fields(WebhooksProps)]
        return WebhooksProps(**{name: getattr(self, name) for name in names})

    def endpoint_props(self) -> dict[str, InferenceEndpointProps]:
        """Each endpoint's props by name, in order: the `endpoints` items over the
        top-level endpoint settings, or the one `default` endpoint."""
        base = {name: getattr(self, name) for name in ENDPOINT_FIELDS}
        if not self.endpoints:
            return {DEFAULT_ENDPOINT: InferenceEndpointProps(**base)}
        require(
            len(self.endpoints) <= MAX_ENDPOINTS,
            f"Setting 'endpoints' must list at most {MAX_ENDPOINTS} endpoints; received "
            f"{len(self.endpoints)}.",
        )
        endpoints: dict[str, InferenceEndpointProps] = {}
        for index, item in enumerate(self.endpoints):
            name, props = _endpoint_item(index, item, base)
            if name in endpoints:
                raise ConfigError(
                    f"Setting 'endpoints' names {name!r} twice (items "
                    f"{list(endpoints).index(name)} and {index}); expected each endpoint once."
                )
            endpoint_names = {p.endpoint_name for p in endpoints.values()}
            require(
                props.endpoint_name is None or props.endpoint_name not in endpoint_names,
                f"Setting 'endpoints[{index}].endpoint_name' {props.endpoint_name!r} is "
                f"already another endpoint's; expected a name of its own (a top-level "
                f"endpoint_name is shared by every item that leaves it out).",
            )
            endpoints[name] = props
        return endpoints

    @classmethod
    def from_context(cls, get_context: Callable[[str], Any]) -> Settings:
        """Build settings from CDK context (`app.node.try_get_context`)."""
        hints = _type_hints(cls)
        values: dict[str, Any] = {}
        for setting in fields(cls):
            raw = get_context(setting.name)
            if raw is not None:
                values[setting.name] = parse_value(setting.name, raw, hints[setting.name])
        return cls(**values)


def _endpoint_item(
    index: int, item: Mapping[str, Any], base: dict[str, Any]
) -> tuple[str, InferenceEndpointProps]:
    where = f"endpoints[{index}]"
    name = item.get("name")
    if not isinstance(name, str) or not ENDPOINT_NAME.match(name):
        raise ConfigError(
            f"Setting '{where}.name' must be 1-31 lower-case letters, digits or hyphens, "
            f"starting with a letter; received {name!r}."
        )
    unknown = sorted(set(item) - {"name", *ENDPOINT_FIELDS})
    require(
        not unknown,
        f"Setting '{where}' has unknown key {unknown[0] if unknown else ''!r}; expected 'name' "
        f"and endpoint settings such as instance_type or hf_model_id.",
    )
    hints = _type_hints(InferenceEndpointProps)
    values = dict(base)
    for key, raw in item.items():
        if key != "name":
            values[key] = parse_value(f"{where}.{key}", raw, hints[key])
    try:
        return name, InferenceEndpointProps(**values)
    except ConfigError as error:
        raise ConfigError(f"In {where} ({name!r}): {error}") from None


def unknown_settings(context_keys: list[str]) -> list[str]:
    """Context keys that look like settings but are not one: unknown snake_case names, and
    a known name spelled with hyphens or capitals (which would otherwise be ignored)."""
    known = {setting.name for setting in fields(Settings)}
    found = []
    for key in context_keys:
        if re.fullmatch(r"[a-z][a-z0-9_]*", key):
            if key not in known:
                found.append(key)
        elif key.replace("-", "_").lower() in known:
            found.append(key)
    return sorted(found)


def suggestion(key: str) -> str | None:
    """The setting `key` probably meant, if it is a known one spelled another way."""
    candidate = key.replace("-", "_").lower()
    return candidate if candidate in {f.name for f in fields(Settings)} else None


# --- Parsing -----------------------------------------------------------------------------


@typing.no_type_check
def _type_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def parse_value(name: str, raw: Any, hint: Any) -> Any:
    """`raw` (a JSON value from cdk.json, or a string from `-c`) as the type `hint` says."""
    shown = json.dumps(raw) if not isinstance(raw, str) else repr(raw)
    optional = _is_optional(hint)
    kind = _base_type(hint)
    if optional and isinstance(raw, str) and raw == "":
        return None
    if kind is str:
        require(isinstance(raw, str), f"Setting '{name}' must be a string; received {shown}.")
        require(
            raw.strip() != "" or raw == "",
            f"Setting '{name}' must not be blank; received {shown}.",
        )
        return raw
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
            return raw.strip().lower() == "true"
        raise ConfigError(f"Setting '{name}' must be true or false; received {shown}.")
    if kind is int:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and re.fullmatch(r"-?\d+", raw.strip()):
            return int(raw)
        raise ConfigError(f"Setting '{name}' must be a whole number; received {shown}.")
    if kind is float:
        value: float | None = None
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            value = float(raw)
        elif isinstance(raw, str):
            try:
                value = float(raw)
            except ValueError:
                value = None
        require(
            value is not None and math.isfinite(value),
            f"Setting '{name}' must be a finite number; received {shown}.",
        )
        return value
    if kind is tuple:
        return _parse_list(name, raw, shown, hint)
    return _parse_object(name, raw, shown)


def _parse_list(name: str, raw: Any, shown: str, hint: Any) -> tuple[Any, ...]:
    item_hint = typing.get_args(hint)[0]
    of_objects = _base_type(item_hint) is not str
    items = raw
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("[") or of_objects:
            items = _json(name, text, "a JSON list")
        else:
            # "" is the empty list (include_inference_response_in=""), not one blank item.
            items = text.split(",") if text else []
    if of_objects:
        require(
            isinstance(items, list) and bool(items) and all(isinstance(i, Mapping) for i in items),
            f"Setting '{name}' must be a non-empty JSON list of objects; received {shown}.",
        )
        return tuple(dict(item) for item in items)
    require(
        isinstance(items, list) and all(isinstance(i, str) and i.strip() for i in items),
        f"Setting '{name}' must be a list of non-blank strings (JSON list or "
        f"comma-separated); received {shown}.",
    )
    return tuple(item.strip() for item in items)


def _parse_object(name: str, raw: Any, shown: str) -> dict[str, str]:
    mapping = _json(name, raw.strip(), "a JSON object") if isinstance(raw, str) else raw
    require(
        isinstance(mapping, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()),
        f"Setting '{name}' must be a JSON object of string values; received {shown}.",
    )
    return dict(mapping)


def _json(name: str, text: str, expected: str) -> Any:
    try:
        # inf and nan are not JSON; Python's parser would take them.
        return json.loads(text, parse_constant=_refuse_constant)
    except (json.JSONDecodeError, ValueError) as error:
        reason = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
        raise ConfigError(
            f"Setting '{name}' must be {expected}; received {text!r}, which is not valid "
            f"JSON ({reason.rstrip('.').lower()})."
        ) from None


def _refuse_constant(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


def _is_optional(hint: Any) -> bool:
    return isinstance(hint, types.UnionType) and type(None) in typing.get_args(hint)


def _base_type(hint: Any) -> Any:
    if isinstance(hint, types.UnionType):
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    origin = typing.get_origin(hint)
    if origin is not None:
        return Mapping if origin in (dict, Mapping, typing.Mapping) else origin
    return hint


def reference_table() -> str:
    """The README's configuration reference, generated from the fields and their docs."""
    docs = field_docs(Settings)
    rows = ["| setting | default | meaning |", "|---|---|---|"]
    defaults = default_values(Settings)
    # The app's own settings first, then the endpoint's, the pipeline's and the system's.
    app_first = {name: defaults.pop(name) for name in ("stack_name", "endpoints")}
    for name, default in {**app_first, **defaults}.items():
        rows.append(f"| `{name}` | `{_shown_default(default)}` | {docs[name]} |")
    return "\n".join(rows)


def _shown_default(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "(none)"
    if isinstance(value, Mapping):
        return json.dumps(dict(value))
    return str(value)
