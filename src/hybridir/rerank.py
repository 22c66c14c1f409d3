"""Rerankers: reorder the top of a fused list with a stronger (or collaborative) scorer.

A reranker scores the first ``depth`` hits of a query; :func:`rerank` reorders them by that
score (ties by doc id), keeps the remaining hits after them in their fused order, and adds
a ``"rerank"`` contribution to every reranked hit's explanation.

- :class:`CrossEncoderReranker`: any sentence-transformers ``CrossEncoder`` by name or path.
- :class:`BiEncoderReranker`: cosine similarity under a (usually stronger) bi-encoder.
- :class:`~hybridir.learn.collaborative.CollaborativeReranker`: HybRank-style, trained by
  ``hybridir train --model collaborative`` and stored in the collection.

Every reranker reads the collection through the query backend
(:class:`hybridir.backend.Backend`), so it runs on a sharded collection as on one.

:data:`RERANKERS` builds one from a ``"kind:argument"`` spec, as the CLI takes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from hybridir.backend import Backend
from hybridir.errors import ConfigError, InvalidInputError, missing_dependency
from hybridir.learn.collaborative import RERANK, CollaborativeReranker
from hybridir.learn.models import load_model
from hybridir.types import Hit, ListContribution

Array = NDArray[np.float64]


class Reranker(Protocol):
    """Scores the top ``depth`` hits of a query (higher is better)."""

    name: str
    depth: int

    def scores(self, collection: Backend, query: str, hits: Sequence[Hit]) -> Array: ...


def rerank(
    reranker: Reranker, collection: Backend, query: str, hits: Sequence[Hit]
) -> tuple[list[Hit], float]:
    """Reorder the first ``reranker.depth`` of ``hits``; returns the hits and the seconds
    the reranker took. Hits past the depth follow, in order, with scores below the last
    reranked one (so a run stays sorted by score)."""
    head, tail = list(hits[: reranker.depth]), list(hits[reranker.depth :])
    if not head:
        return list(hits), 0.0
    start = time.perf_counter()
    scores = np.asarray(reranker.scores(collection, query, head), dtype=np.float64)
    seconds = time.perf_counter() - start
    if scores.shape != (len(head),) or not np.isfinite(scores).all():
        raise InvalidInputError(
            f"reranker {reranker.name} returned {scores.shape} scores for {len(head)} hits"
        )
    order = sorted(range(len(head)), key=lambda i: (-scores[i], head[i].doc_id))
    out = []
    for new_rank, i in enumerate(order, 1):
        hit = head[i]
        part = ListContribution(RERANK, float(scores[i]), None, new_rank)
        out.append(Hit(hit.doc_id, float(scores[i]), new_rank, (*hit.contributions, part)))
    floor = float(scores.min())
    for j, hit in enumerate(tail, 1):
        out.append(hit._replace(score=floor - j, rank=len(head) + j))
    return out, seconds


def passage_texts(collection: Backend, doc_ids: Sequence[str]) -> list[str]:
    """``title text`` of each document, as the encoders index them."""
    return [f"{d.title} {d.text}".strip() for d in collection.documents(doc_ids)]


class CrossEncoderReranker:
    """A sentence-transformers cross-encoder over (query, passage) pairs.

    Args:
        model: hub name or local folder of a ``CrossEncoder`` (e.g.
            ``cross-encoder/ms-marco-MiniLM-L6-v2``; none ships offline with hybridir).
        depth: hits reranked per query.
        batch_size: pairs per forward pass.
        max_length: token limit of a pair (the model's own when ``None``).
    """

    def __init__(
        self,
        model: str,
        *,
        depth: int = 100,
        batch_size: int = 32,
        max_length: int | None = None,
    ) -> None:
        if depth < 1 or batch_size < 1:
            raise ConfigError(f"depth and batch_size must be >= 1, got {depth}, {batch_size}")
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as exc:
            raise missing_dependency("sentence-transformers", "dense") from exc
        self.name = f"cross-encoder:{model}"
        self.depth = depth
        self.batch_size = batch_size
        self.model: Any = CrossEncoder(model, device="cpu", max_length=max_length)

    def scores(self, collection: Backend, query: str, hits: Sequence[Hit]) -> Array:
        texts = passage_texts(collection, [h.doc_id for h in hits])
        out = np.asarray(
            self.model.predict(
                [(query, t) for t in texts],
                batch_size=self.batch_size,
                show_progress_bar=False,
                convert_to_numpy=True,
            ),
            dtype=np.float64,
        )
        # A model with several labels scores each pair per label; the last is "relevant".
        return out if out.ndim == 1 else out[:, -1]


class BiEncoderReranker:
    """Cosine similarity of query and passage under a bi-encoder (document vectors go
    through the embedding cache, so a passage is encoded once per model)."""

    def __init__(self, model: str, *, depth: int = 100, batch_size: int = 32) -> None:
        if depth < 1:
            raise ConfigError(f"depth must be >= 1, got {depth}")
        from hybridir.dense.encoders import SentenceTransformerEncoder

        self.name = f"bi-encoder:{model}"
        self.depth = depth
        self.encoder = SentenceTransformerEncoder(model, batch_size=batch_size)

    def scores(self, collection: Backend, query: str, hits: Sequence[Hit]) -> Array:
        from hybridir.dense.cache import encode_documents_cached

        texts = passage_texts(collection, [h.doc_id for h in hits])
        docs = encode_documents_cached(self.encoder, texts)
        q = self.encoder.encode_queries([query])[0]
        sims: Array = (docs @ q).astype(np.float64)
        return sims


def _stored(collection: Backend, name: str) -> Reranker:
    if not name:
        raise ConfigError("collaborative reranking needs a trained model name (hybridir train)")
    model = load_model(collection.models_dir, name)
    if not isinstance(model, CollaborativeReranker):
        raise ConfigError(f"model {name!r} is a {model.kind} model, not a collaborative reranker")
    return model


RERANKERS: Mapping[str, Callable[[Backend, str, int | None], Reranker]] = {
    "cross-encoder": lambda col, arg, depth: CrossEncoderReranker(arg, depth=depth or 100),
    "bi-encoder": lambda col, arg, depth: BiEncoderReranker(
        arg or "all-MiniLM-L6-v2", depth=depth or 100
    ),
    "collaborative": lambda col, arg, depth: _stored(col, arg),
}
"""Reranker kinds for ``kind:argument`` specs (model name or path; stored model name)."""


def reranker_from_spec(collection: Backend, spec: str, depth: int | None = None) -> Reranker:
    """Build a reranker from ``"cross-encoder:MODEL"``, ``"bi-encoder[:MODEL]"`` or
    ``"collaborative:NAME"``."""
    kind, _, arg = spec.partition(":")
    if kind not in RERANKERS:
        raise ConfigError(f"unknown reranker {kind!r}; valid: {sorted(RERANKERS)}")
    if kind == "cross-encoder" and not arg:
        raise ConfigError("cross-encoder reranking needs a model: cross-encoder:NAME_OR_PATH")
    return RERANKERS[kind](collection, arg, depth)
