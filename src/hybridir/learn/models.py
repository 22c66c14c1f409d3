"""The learned models a collection can serve, by kind, and loading them.

A stored model (``models/<kind>-<digest>/``, :mod:`hybridir.learn.store`) names its kind;
:data:`KINDS` maps the kind to the class that reads it. Fusion models
(:class:`FusionModel`) rank one query's candidates; the collaborative reranker, the
token-weight table and the dense query table serve other steps of the query path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from hybridir.backend import Backend
from hybridir.errors import IndexFormatError
from hybridir.fusion import Fused, Prepared
from hybridir.learn.adaptive import AdaptiveAlpha
from hybridir.learn.collaborative import CollaborativeReranker
from hybridir.learn.dense_table import DenseTable
from hybridir.learn.features import QueryContext
from hybridir.learn.rescore import Rescorer
from hybridir.learn.store import StoredModel, read_meta
from hybridir.learn.token_weights import TokenWeights

KINDS: dict[str, type[StoredModel]] = {
    cls.kind: cls
    for cls in (Rescorer, AdaptiveAlpha, CollaborativeReranker, TokenWeights, DenseTable)
}
"""Stored model kinds and the classes that read them."""


class FusionModel(StoredModel, Protocol):
    """A learned fusion method (``FusionConfig(method=kind, model=name)``)."""

    @property
    def depths(self) -> dict[str, int]: ...

    def fuse(
        self, collection: Backend, query: QueryContext, prepared: Prepared, k: int
    ) -> Fused: ...


_LOADED: dict[tuple[str, str], StoredModel] = {}


def load_model(models_dir: Path, name: str) -> StoredModel:
    """The stored model ``name`` (loaded once per process; stored models never change)."""
    key = (str(models_dir.resolve()), name)
    if key not in _LOADED:
        directory, meta = read_meta(models_dir, name)
        if meta["kind"] not in KINDS:
            raise IndexFormatError(
                f"model {directory} is of unknown kind {meta['kind']!r}; known: {sorted(KINDS)}"
            )
        _LOADED[key] = KINDS[meta["kind"]].read(directory, meta)
    return _LOADED[key]
