"""Passage hits grouped into document hits (MaxP).

A collection of passages (documents cut into pieces, each with its parent's id in the
metadata field :data:`~hybridir.types.PARENT`) answers with passages. Grouped by document,
every hit is a parent scored by its best passage: MaxP (Dai & Callan, "Deeper Text
Understanding for IR with Contextual Neural Language Modeling", SIGIR 2019), the passage's
contributions kept and its id in ``Hit.passage_id``. A document without a parent field is
its own parent. Ties go by (score desc, doc id asc).

``k`` documents may need many more than ``k`` passages, so a grouped search deepens:
:func:`group_depths` starts at :data:`GROUP_START` × ``k`` passages and multiplies by
:data:`GROUP_GROWTH` until ``k`` distinct parents are found, the lists have nothing more,
or :data:`MAX_GROUP_DEPTH` passages were ranked.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

from hybridir.errors import ConfigError
from hybridir.types import Hit

GroupBy = Literal["passage", "document"]
"""What one hit stands for: a stored passage (as indexed) or its parent document."""
GROUP_BY: tuple[GroupBy, ...] = ("passage", "document")
"""The values ``group_by`` accepts."""
DOCUMENT = "document"
"""``group_by`` value that groups passages into documents."""

GROUP_START = 4
"""A grouped search first ranks this many passages per requested document."""
GROUP_GROWTH = 4
"""Each further round ranks this many times more passages."""
MAX_GROUP_DEPTH = 10_000
"""The deepest a grouped search goes (it may then return fewer than ``k`` documents)."""


def check_group_by(name: str) -> GroupBy:
    """``name`` if it is one of :data:`GROUP_BY`; else :class:`ConfigError`."""
    for value in GROUP_BY:
        if name == value:
            return value
    raise ConfigError(f"unknown group_by {name!r}; valid: {list(GROUP_BY)}")


def group_depths(k: int, depth: int) -> Iterator[int]:
    """Passage depths of a grouped search for ``k`` documents: from ``max(depth,
    GROUP_START * k)``, times :data:`GROUP_GROWTH` per round, the last one
    :data:`MAX_GROUP_DEPTH` (or ``depth`` if that is deeper)."""
    current = max(depth, GROUP_START * k)
    limit = max(depth, MAX_GROUP_DEPTH)
    while True:
        current = min(current, limit)
        yield current
        if current >= limit:
            return
        current *= GROUP_GROWTH


def parents_of(doc_ids: Sequence[str], values: Sequence[Any]) -> list[str]:
    """Each passage's parent: its parent field's value (``values``, aligned with
    ``doc_ids``; a string, or an integer taken as its decimal string), or the passage
    itself where the field is absent, empty or of another type."""
    return [_parent(d, v) for d, v in zip(doc_ids, values, strict=True)]


def _parent(doc_id: str, value: Any) -> str:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return doc_id


def max_passage(hits: Sequence[Hit], parents: Mapping[str, str]) -> list[Hit]:
    """One hit per parent document (``parents``: passage id → parent id), scored by its
    best passage and ranked by (score desc, parent id asc).

    Each document hit keeps its best passage's contributions and names it in
    ``passage_id``; among a parent's passages with equal scores the first in ``hits``
    (which are sorted by score, then id) wins.
    """
    best: dict[str, Hit] = {}
    for hit in hits:
        parent = parents.get(hit.doc_id, hit.doc_id)
        if parent not in best or hit.score > best[parent].score:
            best[parent] = hit._replace(doc_id=parent, passage_id=hit.doc_id)
    order = sorted(best.values(), key=lambda h: (-h.score, h.doc_id))
    return [h._replace(rank=rank) for rank, h in enumerate(order, 1)]
