"""DynamoDB's item sizing and write-unit rules, applied to low-level items and GSI definitions.

What a write costs, from the items themselves, so tests and bench/bench_results_writer.py
can hold the results table to a write budget without an AWS account:

- Item size: the sum over attributes of the attribute name's UTF-8 bytes plus the value's
  size: a string's UTF-8 bytes; a number about 1 byte per two significant digits plus 1; a
  Boolean or null 1 byte; a list or map 3 bytes plus 1 byte and the size of each element
  (DynamoDB Developer Guide, "DynamoDB item sizes and formats").
- One write unit per 1 KB (1,024 bytes), rounded up. A PutItem that replaces an item
  costs for the larger of the two ("Capacity unit consumption for writes").
- A GSI entry is the table's key, the index's key attributes and the projected
  attributes; an item lacking an index key attribute has no entry (a sparse index). The
  index write for a table write: none when the item is in the index neither before nor
  after; one (new entry's size) when the entry appears or only its projected values
  change; one (old entry's size) when it disappears; two when an index key value changes,
  a delete of the old entry and a put of the new one (Developer Guide, "Global secondary
  indexes in DynamoDB", Write capacity units).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

KB = 1024
ITEM_SIZE_LIMIT = 400 * KB  # DynamoDB's largest item ("Constraints in Amazon DynamoDB")


@dataclass(frozen=True)
class IndexDefinition:
    """A GSI as its write cost sees it: key attributes and what is projected."""

    name: str
    key_attributes: tuple[str, ...]
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    non_key_attributes: tuple[str, ...] = ()

    @classmethod
    def from_template(cls, index: Mapping[str, Any]) -> IndexDefinition:
        """From a GlobalSecondaryIndexes entry of a template (or a CreateTable request)."""
        projection = index.get("Projection", {})
        return cls(
            name=index["IndexName"],
            key_attributes=tuple(key["AttributeName"] for key in index["KeySchema"]),
            projection=projection.get("ProjectionType", "ALL"),
            non_key_attributes=tuple(projection.get("NonKeyAttributes", ())),
        )


def _number_size(text: str) -> int:
    digits = text.lstrip("+-").lower().split("e")[0].replace(".", "").strip("0")
    return (max(len(digits), 1) + 1) // 2 + 1


def value_size(value: Mapping[str, Any]) -> int:
    """Size in bytes of one low-level attribute value ({"S": ...}, {"N": ...}, ...)."""
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode("utf-8"))
    if kind == "N":
        return _number_size(data)
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(element.encode("utf-8")) for element in data)
    if kind == "NS":
        return sum(_number_size(element) for element in data)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + value_size(v) for k, v in data.items())
    raise ValueError(f"attribute type {kind!r} is not sized here; expected S, N, B, BOOL, L or M")


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """Bytes DynamoDB counts for a low-level item (attribute names plus values)."""
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    """Write units of one write of `size` bytes: 1 per KB, rounded up, at least 1."""
    return max(1, math.ceil(size / KB))


def index_entry(
    item: Mapping[str, Any] | None, index: IndexDefinition, table_key: Iterable[str]
) -> dict[str, Any] | None:
    """The entry `item` has in `index`, or None when it lacks an index key attribute."""
    if item is None or any(key not in item for key in index.key_attributes):
        return None
    if index.projection == "ALL":
        return dict(item)
    kept = {*table_key, *index.key_attributes}
    if index.projection == "INCLUDE":
        kept.update(index.non_key_attributes)
    return {name: value for name, value in item.items() if name in kept}


@dataclass(frozen=True)
class WriteCost:
    """Write units of one PutItem: the table's and each index's."""

    table: int
    indexes: dict[str, int]

    @property
    def total(self) -> int:
        return self.table + sum(self.indexes.values())


def put_item_cost(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    indexes: Iterable[IndexDefinition],
    table_key: Iterable[str] = ("inferenceId",),
) -> WriteCost:
    """Write units a PutItem of `new` over `old` (None: no item yet) consumes."""
    table_key = tuple(table_key)
    table = write_units(max(item_size(new), item_size(old) if old is not None else 0))
    costs: dict[str, int] = {}
    for index in indexes:
        before = index_entry(old, index, table_key)
        after = index_entry(new, index, table_key)
        if before is None and after is None:
            cost = 0
        elif before is None:
            assert after is not None
            cost = write_units(item_size(after))
        elif after is None:
            cost = write_units(item_size(before))
        elif any(before[key] != after[key] for key in index.key_attributes):
            cost = write_units(item_size(before)) + write_units(item_size(after))
        else:
            cost = write_units(item_size(after)) if before != after else 0
        costs[index.name] = cost
    return WriteCost(table=table, indexes=costs)
