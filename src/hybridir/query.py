"""Preparing queries once, for every list: analysed terms (BM25), a vector (dense, as
:attr:`DenseConfig.query_mode` says), term weights (learned sparse, as
:attr:`SpladeConfig.query_mode` says).

The same preparation serves one collection and a sharded one (its coordinator prepares each
query once and sends the result to every shard), so a query is scored identically on both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from hybridir.backend import Backend
from hybridir.config import DenseConfig
from hybridir.dense.encoders import canonical_name
from hybridir.errors import ConfigError
from hybridir.learn.dense_table import DenseTable
from hybridir.learn.models import load_model
from hybridir.sparse.impact import QUERY_MODES


def bm25_queries(backend: Backend, texts: Sequence[str]) -> list[list[str]]:
    """Each query's index terms, by the collection's analyzer (a large batch, such as an
    evaluation's topics, through its compiled batch path)."""
    return backend.analyzer.analyze_many(texts)


def encoder_vectors(backend: Backend, config: DenseConfig, texts: Sequence[str]) -> Any:
    """Each query's vector by the collection's dense encoder (a transformer pass)."""
    return backend.encoder.encode_queries(list(texts))


@lru_cache(maxsize=64)
def dense_table(models_dir: Path, name: str, model: str) -> DenseTable:
    """The stored dense table ``name``, checked to be one distilled from ``model`` (the
    collection's encoder). Looked up once: stored models never change, and a query's whole
    encoding costs tens of microseconds."""
    table = load_model(models_dir, name)
    if not isinstance(table, DenseTable):
        raise ConfigError(f"model {name!r} is a {table.kind!r} model, not a 'dense-table'")
    if canonical_name(table.encoder) != canonical_name(model):
        raise ConfigError(
            f"dense table {name!r} was distilled from {table.encoder!r}, but the collection's "
            f"vectors are {model!r}'s; train one for it with --model dense-table"
        )
    return table


def table_vectors(backend: Backend, config: DenseConfig, texts: Sequence[str]) -> Any:
    """Each query's vector from the stored per-token table ``config.query_model``
    (transformer-free: :class:`hybridir.learn.dense_table.DenseTable`)."""
    table = dense_table(backend.models_dir, str(config.query_model), config.model)
    return table.encode_queries(list(texts))


DENSE_QUERY_MODES: dict[str, Callable[[Backend, DenseConfig, Sequence[str]], Any]] = {
    "encoder": encoder_vectors,
    "table": table_vectors,
}
"""How dense query vectors are made, by :attr:`DenseConfig.query_mode`."""


def well_formed(texts: Sequence[str]) -> list[str]:
    """``texts`` as the encoders' tokenizers take them: a lone surrogate (what a JSON
    ``"\\ud800"`` escape or a bad decode leaves) becomes U+FFFD and a split surrogate pair its
    character, where the tokenizers raise their own TypeError. BM25 reads the text as it is."""
    out = list(texts)
    for i, text in enumerate(out):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # Through UTF-16: a surrogate pair joins into its character, a lone one is U+FFFD.
            out[i] = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return out


def dense_queries(backend: Backend, texts: Sequence[str]) -> Any:
    """Each query's vector, as the collection's :attr:`DenseConfig.query_mode` says."""
    config = backend.config.dense
    if config is None:
        raise ConfigError("this collection has no dense index")
    return DENSE_QUERY_MODES[config.query_mode](backend, config, well_formed(texts))


def splade_queries(backend: Backend, texts: Sequence[str]) -> list[dict[str, float]]:
    """Each query's learned sparse term weights (the encoder, or inference-free: IDF or a
    stored token-weight table)."""
    config = backend.config.splade
    if config is None:
        raise ConfigError("this collection has no learned sparse index")
    table = None
    if config.query_mode == "table":
        table = load_model(backend.models_dir, str(config.query_model))
    weigh = QUERY_MODES[config.query_mode]
    return weigh(backend.sparse_encoder, lambda: backend.splade_idf, well_formed(texts), table)


class ListSpec(NamedTuple):
    """How the query path treats one retrieval list."""

    prepare: Callable[[Backend, Sequence[str]], Any]
    lexical: bool  # hits are explained by the query terms they contain


RETRIEVERS: dict[str, ListSpec] = {
    "bm25": ListSpec(bm25_queries, lexical=True),
    "splade": ListSpec(splade_queries, lexical=False),
    "dense": ListSpec(dense_queries, lexical=False),
}
"""The retrieval lists (:data:`hybridir.config.LISTS`) and how their queries are prepared."""


def prepare(backend: Backend, names: Sequence[str], texts: Sequence[str]) -> dict[str, Any]:
    """The queries ``texts`` as each list in ``names`` takes them."""
    return {name: RETRIEVERS[name].prepare(backend, texts) for name in names}
