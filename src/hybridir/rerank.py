"""Rerankers: reorder the top of a fused list with a stronger (or collaborative) scorer.

A reranker scores the first ``depth`` hits of a query; :func:`rerank` reorders them by that
score (ties by doc id), keeps the remaining hits after them in their fused order, and adds
a ``"rerank"`` contribution to every reranked hit's explanation.

- :class:`CrossEncoderReranker`: any sentence-transformers ``CrossEncoder`` by name or path.
- :class:`BiEncoderReranker`: cosine similarity under a (usually stronger) bi-encoder.
- :class:`CollaborativeReranker`: HybRank's idea (Zhang et al., "Hybrid and Collaborative
  Passage Reranking", ACL Findings 2023): describe each candidate by its similarities to the
  other candidates, in the sparse (BM25 document vectors) and the dense space, and let a
  small learned model (LambdaRank trees here, a transformer in the paper) order them.

:data:`RERANKERS` builds one from a ``"kind:argument"`` spec, as the CLI takes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np
from numpy.typing import NDArray

from hybridir.errors import ConfigError, InvalidInputError
from hybridir.types import Hit, ListContribution

if TYPE_CHECKING:
    from hybridir.collection import CollectionView
    from hybridir.learn.data import TrainingSet
    from hybridir.search import Searcher

Array = NDArray[np.float64]
RERANK = "rerank"


class Reranker(Protocol):
    """Scores the top ``depth`` hits of a query (higher is better)."""

    name: str
    depth: int

    def scores(self, collection: CollectionView, query: str, hits: Sequence[Hit]) -> Array: ...


def rerank(
    reranker: Reranker, collection: CollectionView, query: str, hits: Sequence[Hit]
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


def passage_texts(collection: CollectionView, doc_ids: Sequence[str]) -> list[str]:
    """``title text`` of each document, as the encoders index them."""
    return [f"{d.title} {d.text}".strip() for d in collection.docs.get_many(doc_ids)]


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
            from hybridir.errors import missing_dependency

            raise missing_dependency("sentence-transformers", "dense") from exc
        self.name = f"cross-encoder:{model}"
        self.depth = depth
        self.batch_size = batch_size
        self.model: Any = CrossEncoder(model, device="cpu", max_length=max_length)

    def scores(self, collection: CollectionView, query: str, hits: Sequence[Hit]) -> Array:
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

    def scores(self, collection: CollectionView, query: str, hits: Sequence[Hit]) -> Array:
        from hybridir.dense.cache import encode_documents_cached

        texts = passage_texts(collection, [h.doc_id for h in hits])
        docs = encode_documents_cached(self.encoder, texts)
        q = self.encoder.encode_queries([query])[0]
        sims: Array = (docs @ q).astype(np.float64)
        return sims


# -- collaborative (HybRank-style) ------------------------------------------------------

ANCHORS = 5
"""Top fused hits every candidate is compared with, in each space."""


def _similarities(vectors: Array) -> Array:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.maximum(norms, 1e-12)
    sims: Array = unit @ unit.T
    return sims


def _space_features(sims: Array) -> Array:
    """Per candidate: similarity to each of the first :data:`ANCHORS` candidates, mean
    similarity to the top 10 and to all other candidates (self excluded)."""
    m = sims.shape[0]
    anchors = np.full((m, ANCHORS), np.nan)
    a = min(ANCHORS, m)
    anchors[:, :a] = sims[:, :a]
    off = sims - np.eye(m) * sims.diagonal()
    top = min(10, m)
    mean_top = (off[:, :top].sum(axis=1)) / np.maximum(top - (np.arange(m) < top), 1)
    mean_all = off.sum(axis=1) / max(m - 1, 1)
    return np.column_stack([anchors, mean_top, mean_all])


def collaborative_features(
    collection: CollectionView, doc_ids: Sequence[str], scores: Array, ranks: Array
) -> Array:
    """Feature rows of a query's candidates (fused order): fused score, its gap to the top,
    fused rank, each list's rank (NaN when absent), and :func:`_space_features` in the
    sparse (BM25-weighted term vectors) and dense spaces."""
    rows = collection.bm25.rows_of(doc_ids)
    sparse = collection.bm25.doc_vectors[rows]
    sparse_sims = np.asarray((sparse @ sparse.T).todense(), dtype=np.float64)
    blocks = [
        scores[:, None],
        (scores[0] - scores)[:, None],
        np.arange(1, len(doc_ids) + 1, dtype=np.float64)[:, None],
        np.where(ranks > 0, ranks, np.nan).T,
        _space_features(sparse_sims),
    ]
    if collection.has_dense:
        dense = collection.vectors.vectors_of(rows).astype(np.float64)
        blocks.append(_space_features(_similarities(dense)))
    return np.column_stack(blocks)


@dataclass
class CollaborativeReranker:
    """Learned collaborative reranker, stored in a collection (``hybridir train``)."""

    kind: ClassVar[str] = "collaborative"
    booster: Any
    depth: int
    info: dict[str, Any]
    name: str = "collaborative"

    def scores(self, collection: CollectionView, query: str, hits: Sequence[Hit]) -> Array:
        ranks = np.asarray(
            [[c.rank or 0 for c in h.contributions if c.retriever != RERANK] for h in hits],
            dtype=np.float64,
        ).T
        scores = np.asarray([h.score for h in hits], dtype=np.float64)
        features = collaborative_features(collection, [h.doc_id for h in hits], scores, ranks)
        out: Array = self.booster.predict(features, num_threads=1)
        return out

    def meta(self) -> dict[str, Any]:
        return {"depth": self.depth, "info": self.info}

    def write(self, directory: Path) -> None:
        (directory / "model.txt").write_text(self.booster.model_to_string(), encoding="utf-8")

    @classmethod
    def read(cls, directory: Path, meta: dict[str, Any]) -> CollaborativeReranker:
        from hybridir.learn._lgbm import booster_from_string

        booster = booster_from_string((directory / "model.txt").read_text(encoding="utf-8"))
        return cls(booster, int(meta["depth"]), dict(meta["info"]))


def train_collaborative(
    searcher: Searcher, training: TrainingSet, depth: int = 50
) -> CollaborativeReranker:
    """Fit a :class:`CollaborativeReranker` on the searcher's fused top ``depth`` of each
    training query (its default fusion), with the LambdaRank settings of the rescorer."""
    from hybridir.learn._lgbm import lightgbm
    from hybridir.learn.rescore import PARAMS, labels_for

    blocks, labels, groups = [], [], []
    for i, qid in enumerate(training.qids):
        lists = {name: ranked[i] for name, ranked in training.lists.items()}
        fused = searcher.fuse_lists(training.queries[i].text, lists, searcher.fusion, depth)
        y = labels_for(fused.doc_ids, training.qrels[qid])
        if not y.any():
            continue
        blocks.append(
            collaborative_features(
                searcher.collection, fused.doc_ids, fused.scores, fused.ranks.astype(np.float64)
            )
        )
        labels.append(y)
        groups.append(len(y))
    if not groups:
        raise InvalidInputError("no training query has a relevant document in its top hits")
    model = lightgbm().LGBMRanker(**PARAMS)
    model.fit(np.vstack(blocks), np.concatenate(labels), group=groups)
    info = {"params": PARAMS, "training_queries": len(groups), "anchors": ANCHORS}
    return CollaborativeReranker(model.booster_, depth, info)


def _stored(collection: CollectionView, name: str) -> Reranker:
    from hybridir.learn.store import load_model

    if not name:
        raise ConfigError("collaborative reranking needs a trained model name (hybridir train)")
    model = load_model(collection.models_dir, name)
    if not isinstance(model, CollaborativeReranker):
        raise ConfigError(f"model {name!r} is a {model.kind} model, not a collaborative reranker")
    return model


RERANKERS: Mapping[str, Callable[[CollectionView, str, int | None], Reranker]] = {
    "cross-encoder": lambda col, arg, depth: CrossEncoderReranker(arg, depth=depth or 100),
    "bi-encoder": lambda col, arg, depth: BiEncoderReranker(
        arg or "all-MiniLM-L6-v2", depth=depth or 100
    ),
    "collaborative": lambda col, arg, depth: _stored(col, arg),
}
"""Reranker kinds for ``kind:argument`` specs (model name or path; stored model name)."""


def reranker_from_spec(collection: CollectionView, spec: str, depth: int | None = None) -> Reranker:
    """Build a reranker from ``"cross-encoder:MODEL"``, ``"bi-encoder[:MODEL]"`` or
    ``"collaborative:NAME"``."""
    kind, _, arg = spec.partition(":")
    if kind not in RERANKERS:
        raise ConfigError(f"unknown reranker {kind!r}; valid: {sorted(RERANKERS)}")
    if kind == "cross-encoder" and not arg:
        raise ConfigError("cross-encoder reranking needs a model: cross-encoder:NAME_OR_PATH")
    return RERANKERS[kind](collection, arg, depth)
