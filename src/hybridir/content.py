"""Hit content: the stored fields a search returns with its hits.

:data:`FIELDS` names what a hit can carry and which :class:`~hybridir.types.Hit` attribute
each fills: ``title``, ``text`` (the whole stored text), ``snippet`` (a short window of the
text around the query's matched terms, an HTML fragment with ``<mark>`` highlights, see
:mod:`hybridir.text.snippets`; it fills ``text``, so a search asks for ``text`` or
``snippet``, not both) and ``metadata``. :func:`with_content` reads the documents of one
query's hits in one batch (:meth:`hybridir.backend.Backend.documents`: one document store
query, one call per shard on a sharded collection). A hit grouped by document
(``passage_id`` set) shows its best passage's content.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple

from hybridir.backend import Backend
from hybridir.errors import ConfigError, InvalidInputError
from hybridir.text.snippets import SNIPPET_WORDS, Snippets, WordTerms
from hybridir.types import Document, Hit, Hits

FieldName = Literal["title", "text", "snippet", "metadata"]
"""The names :data:`FIELDS` accepts (for typed front ends: the HTTP schema, the CLI)."""


class Field(NamedTuple):
    """How one content field fills a hit: the :class:`Hit` attribute and its value."""

    attribute: str
    read: Callable[[Document, Snippets], Any]


FIELDS: dict[str, Field] = {
    "title": Field("title", lambda doc, _: doc.title),
    "text": Field("text", lambda doc, _: doc.text),
    "snippet": Field("text", lambda doc, snippets: snippets.snippet(doc.text)),
    "metadata": Field("metadata", lambda doc, _: dict(doc.metadata)),
}
"""Content fields by name (see the module docstring)."""

DEFAULT_FIELDS: tuple[str, ...] = ("title", "text", "metadata")
"""What a search returns with its hits unless told otherwise."""


def check_fields(fields: Sequence[str]) -> tuple[str, ...]:
    """``fields`` validated and without repeats, in the order given.

    Raises:
        InvalidInputError: ``fields`` is one string instead of a sequence of names.
        ConfigError: an unknown name, or two names that fill the same hit attribute.
    """
    if isinstance(fields, str):
        raise InvalidInputError(
            f"fields must be a sequence of names, not the string {fields!r} "
            f"(e.g. fields=[{fields!r}]); valid: {sorted(FIELDS)}"
        )
    names = tuple(dict.fromkeys(fields))
    unknown = [n for n in names if n not in FIELDS]
    if unknown:
        raise ConfigError(f"unknown field(s) {unknown}; valid: {sorted(FIELDS)}")
    filled: dict[str, str] = {}
    for name in names:
        attribute = FIELDS[name].attribute
        if attribute in filled:
            raise ConfigError(
                f"fields {filled[attribute]!r} and {name!r} both fill the hit's "
                f"{attribute!r}; ask for one of them"
            )
        filled[attribute] = name
    return names


def with_content(
    backend: Backend,
    query: str,
    hits: Sequence[Hit],
    fields: Sequence[str],
    words: int = SNIPPET_WORDS,
    vocabulary: WordTerms | None = None,
) -> Sequence[Hit]:
    """``hits`` with the content ``fields`` (already checked by :func:`check_fields`), read
    in one :meth:`~hybridir.backend.Backend.documents` call; ``words`` per snippet, words'
    index terms memoised in ``vocabulary`` (of ``backend.analyzer``) when given. Hits kept
    as columns (:class:`~hybridir.types.Hits`) get the content as columns too."""
    if not fields or not hits:
        return hits
    columns = hits.columns() if isinstance(hits, Hits) else None
    ids = list(columns.doc_ids) if columns is not None else [h.passage_id or h.doc_id for h in hits]
    docs = backend.documents(ids)
    snippets = Snippets(backend.analyzer, query, words, vocabulary)
    if columns is not None:
        read = {
            FIELDS[f].attribute: [FIELDS[f].read(doc, snippets) for doc in docs] for f in fields
        }
        return Hits.from_columns(
            columns._replace(
                titles=read.get("title", columns.titles),
                texts=read.get("text", columns.texts),
                metadata=read.get("metadata", columns.metadata),
            )
        )
    return [
        hit._replace(**{FIELDS[f].attribute: FIELDS[f].read(doc, snippets) for f in fields})
        for hit, doc in zip(hits, docs, strict=True)
    ]
