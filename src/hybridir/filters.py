"""Metadata filters and boosts.

A **filter** is a JSON object over document metadata, every condition must hold::

    {"lang": "en",                       # equality
     "year": {"gte": 2015, "lt": 2024},  # numeric range (gt, gte, lt, lte)
     "tags": {"in": ["faq", "howto"]},   # membership (a list-valued field matches if any
                                         # of its values is in the set)
     "url": {"exists": true}}            # present (or absent, with false)

Operators may also be spelled as in MongoDB-style filters (``$eq``, ``$in``, ``$exists``,
``$gt``, ``$gte``, ``$lt``, ``$lte``); any other key starting with ``$`` (``$or``, ``$and``,
``$not``, ``$ne``, ``$nin``…) is refused, never read as a field name that matches nothing.

It becomes a row mask that every retriever applies *inside* its top-k (BM25 skips rows
outside it in the kernel, dense search scores only the rows inside it), so a filtered
query returns k hits whenever k matching documents have them, never padded with others.

A **boost** multiplies the fused score of matching hits, after fusion and before the cut
to k: ``{"field": "source", "value": "manual", "factor": 1.5}``, ``{"field": "tags", "in":
[…], "factor": 1.2}`` or ``{"field": "url", "host": "docs.example.com", "factor": 2.0}``
(the URL's host equals the given one or is a subdomain of it: the domain-QA rule of
boosting hits from the site a question is about). Scores are shifted to start at the
lowest candidate's before scaling, so a boost never turns a score's sign around.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import numpy as np
from numpy.typing import NDArray

from hybridir.errors import ConfigError
from hybridir.types import MISSING

Mask = NDArray[np.bool_]
Column = Callable[[str], NDArray[np.object_]]
"""A metadata field's value for every row (``types.MISSING`` where absent)."""
_RANGE = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def _matches_any(value: Any, accepted: set[Any]) -> bool:
    if isinstance(value, list):
        return any(_hashable(v) in accepted for v in value)
    return _hashable(value) in accepted


def _hashable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else repr(value)


def _condition(column: NDArray[np.object_], op: str, arg: Any, field: str) -> Mask:
    values = arg if isinstance(arg, list) else [arg]
    if any(isinstance(v, float) and not math.isfinite(v) for v in values):
        raise ConfigError(f"filter on {field!r}: {arg!r} is not a finite number")
    missing = MISSING
    if op == "eq":
        return np.fromiter((_matches_any(v, {_hashable(arg)}) for v in column), bool, len(column))
    if op == "in":
        if not isinstance(arg, list):
            raise ConfigError(f"filter on {field!r}: 'in' needs a list, got {arg!r}")
        accepted = {_hashable(a) for a in arg}
        return np.fromiter((_matches_any(v, accepted) for v in column), bool, len(column))
    if op == "exists":
        if not isinstance(arg, bool):
            raise ConfigError(f"filter on {field!r}: 'exists' needs true or false")
        present = np.fromiter((v is not missing for v in column), bool, len(column))
        return present if arg else ~present
    if op in _RANGE:
        bound = _number(arg)
        if math.isnan(bound):
            raise ConfigError(f"filter on {field!r}: {op!r} needs a number, got {arg!r}")
        numbers = np.fromiter((_number(v) for v in column), float, len(column))
        with np.errstate(invalid="ignore"):
            result: Mask = _RANGE[op](numbers, bound) & ~np.isnan(numbers)
        return result
    raise ConfigError(f"filter on {field!r}: unknown operator {op!r}; valid: {OPERATORS}")


OPERATORS = "eq, in, exists, gt, gte, lt, lte (also as $eq, $in, …)"


def _operator(op: str, field: str) -> str:
    """``op`` without a MongoDB-style ``$`` (only for the operators above)."""
    name = op[1:] if op.startswith("$") else op
    if name not in ("eq", "in", "exists", *_RANGE):
        raise ConfigError(f"filter on {field!r}: unknown operator {op!r}; valid: {OPERATORS}")
    return name


def filter_mask(live: Mask, column_of: Column, spec: Mapping[str, Any]) -> Mask:
    """Rows among ``live`` whose metadata (``column_of(field)``) satisfies every condition
    of ``spec``."""
    if not isinstance(spec, Mapping):
        raise ConfigError(f"a filter is a JSON object of field conditions, got {spec!r}")
    for field in spec:
        if str(field).startswith("$"):
            raise ConfigError(
                f"filter key {field!r} is not supported: a filter is an object of field "
                f"conditions that must all hold (no $or/$and/$not); operators: {OPERATORS}"
            )
    mask = live.copy()
    for field, condition in spec.items():
        column = column_of(str(field))
        if isinstance(condition, Mapping):
            if not condition:
                raise ConfigError(f"filter on {field!r} has no condition")
            for op, arg in condition.items():
                mask &= _condition(column, _operator(str(op), str(field)), arg, str(field))
        else:
            mask &= _condition(column, "eq", condition, str(field))
    return mask


class Boost(NamedTuple):
    """Multiply the fused score of hits whose metadata ``field`` matches by ``factor``."""

    field: str
    factor: float
    value: Any = None
    values: tuple[Any, ...] | None = None
    host: str | None = None

    def matcher(self) -> Callable[[Any], bool]:
        missing = MISSING
        if self.host is not None:
            host = self.host.lower().strip(".")
            return lambda v: isinstance(v, str) and _host_matches(v, host)
        if self.values is not None:
            accepted = {_hashable(v) for v in self.values}
            return lambda v: v is not missing and _matches_any(v, accepted)
        accepted_one = {_hashable(self.value)}
        return lambda v: v is not missing and _matches_any(v, accepted_one)


def _host_matches(url: str, host: str) -> bool:
    found = (urlsplit(url if "//" in url else f"//{url}").hostname or "").lower()
    return found == host or found.endswith(f".{host}")


def parse_boosts(specs: Sequence[Mapping[str, Any]]) -> list[Boost]:
    """Boosts from their JSON form (see the module docstring)."""
    out = []
    for spec in specs:
        if not isinstance(spec, Mapping) or "field" not in spec or "factor" not in spec:
            raise ConfigError(f"a boost needs 'field' and 'factor', got {spec!r}")
        factor = _number(spec["factor"])
        if not factor > 0:
            raise ConfigError(f"boost factor must be a positive number, got {spec['factor']!r}")
        kinds = [k for k in ("value", "in", "host") if k in spec]
        if len(kinds) != 1:
            raise ConfigError(f"a boost needs exactly one of value, in, host: {spec!r}")
        values = spec.get("in")
        if values is not None and not isinstance(values, list):
            raise ConfigError(f"boost 'in' needs a list, got {values!r}")
        out.append(
            Boost(
                str(spec["field"]),
                factor,
                spec.get("value"),
                None if values is None else tuple(values),
                None if spec.get("host") is None else str(spec["host"]),
            )
        )
    return out


def apply_boosts(scores: NDArray[np.float64], factors: NDArray[np.float64]) -> NDArray[np.float64]:
    """``lo + (score - lo) · factor`` with ``lo`` the lowest score (sign-safe scaling)."""
    if len(scores) == 0:
        return scores
    lo = float(scores.min())
    out: NDArray[np.float64] = lo + (scores - lo) * factors
    return out
