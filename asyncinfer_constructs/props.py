"""Props as frozen dataclasses whose field metadata states each rule, and one checker.

Every construct of the library takes one flat props object. A field's metadata says
what a valid value is (a range, a pattern, a fixed set of words, finite), and
`check_fields` turns the first violation into one sentence naming the setting, the
value received and what is expected. The app parses CDK context into the same props
(stacks/config.py), so a `-c` typo and a wrong prop in a user's own app read alike.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable
from typing import Any


class ConfigError(ValueError):
    """A setting is invalid; the message is one sentence meant for the user."""


def require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def between(low: float, high: float) -> dict[str, Any]:
    """Field metadata: the value must lie in `low..high`, both included."""
    return {"range": (low, high)}


def matching(pattern: str, expected: str) -> dict[str, Any]:
    """Field metadata: a string (when set) must match `pattern`; `expected` says what a
    value must be, in the error message's words ("be an S3 URI like ...")."""
    return {"pattern": (re.compile(pattern), expected)}


def one_of(*choices: str) -> dict[str, Any]:
    """Field metadata: the value must be one of `choices`."""
    return {"choices": choices}


def non_blank() -> dict[str, Any]:
    """Field metadata: a string must hold something besides whitespace."""
    return {"non_blank": True}


def check_fields(props: Any, names: Iterable[str] | None = None) -> None:
    """Raise ConfigError for the first field of `props` whose value breaks its metadata."""
    wanted = set(names) if names is not None else None
    for field in dataclasses.fields(props):
        if wanted is not None and field.name not in wanted:
            continue
        value = getattr(props, field.name)
        if value is None:
            continue
        check_value(field.name, value, field.metadata)


def check_value(name: str, value: Any, metadata: Any) -> None:
    if isinstance(value, float):
        require(
            math.isfinite(value),
            f"Setting '{name}' must be a finite number; received {value!r}.",
        )
    if "range" in metadata:
        low, high = metadata["range"]
        require(
            low <= value <= high,
            f"Setting '{name}' must be between {low:g} and {high:g}; received {value!r}.",
        )
    if isinstance(value, str) and metadata.get("non_blank"):
        require(
            value.strip() != "",
            f"Setting '{name}' must not be blank; received {value!r}.",
        )
    if "pattern" in metadata:
        pattern, expected = metadata["pattern"]
        require(
            bool(pattern.match(value)),
            f"Setting '{name}' must {expected}; received {value!r}.",
        )
    if "choices" in metadata:
        choices = metadata["choices"]
        require(
            value in choices,
            f"Setting '{name}' must be one of {', '.join(choices)}; received {value!r}.",
        )


def field_docs(cls: type) -> dict[str, str]:
    """Each dataclass field's doc string (the string literal under it), read from the
    source of `cls` and its bases, so docs live next to the field they describe."""
    import ast
    import inspect
    import itertools

    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        tree = ast.parse(inspect.getsource(klass))
        body = tree.body[0].body  # type: ignore[attr-defined]
        for node, following in itertools.pairwise(body):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
            ):
                docs[node.target.id] = " ".join(str(following.value.value).split())
    return docs


def default_values(cls: type) -> dict[str, Any]:
    """Each field's default, in field order."""
    defaults: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        if field.default is not dataclasses.MISSING:
            defaults[field.name] = field.default
        elif field.default_factory is not dataclasses.MISSING:
            defaults[field.name] = field.default_factory()
    return defaults
