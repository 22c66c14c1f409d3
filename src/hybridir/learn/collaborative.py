"""The collaborative reranker (HybRank's idea: Zhang et al., "Hybrid and Collaborative
Passage Reranking", ACL Findings 2023): each candidate is described by its similarities to
the other candidates, in the sparse (BM25-weighted term vectors) and the dense space, and a
small learned model (LambdaRank trees here, a transformer in the paper) orders them.

The vectors come from the backend by doc id, so the reranker runs the same on one
collection and on a sharded one (the similarities are computed here, over the candidates).
Training is :func:`hybridir.learn.train.train_collaborative`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from hybridir.backend import Backend
from hybridir.config import LISTS
from hybridir.learn._lgbm import booster_from_string
from hybridir.types import Hit

Array = NDArray[np.float64]
RERANK = "rerank"
ANCHORS = 5
"""Top fused hits every candidate is compared with, in each space."""


def _similarities(vectors: Array) -> Array:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.maximum(norms, 1e-12)
    sims: Array = unit @ unit.T
    return sims


def _sparse_similarities(vectors: Sequence[dict[str, float]]) -> Array:
    """Dot products of term-weight vectors (terms in sorted order, so the sums are the
    same whichever process built the vectors)."""
    terms = sorted({t for v in vectors for t in v})
    column = {t: i for i, t in enumerate(terms)}
    rows = [i for i, v in enumerate(vectors) for _ in v]
    cols = [column[t] for v in vectors for t in sorted(v)]
    data = [v[t] for v in vectors for t in sorted(v)]
    matrix = sparse.csr_matrix((data, (rows, cols)), shape=(len(vectors), len(terms)))
    return np.asarray((matrix @ matrix.T).todense(), dtype=np.float64)


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
    collection: Backend, doc_ids: Sequence[str], scores: Array, ranks: Array
) -> Array:
    """Feature rows of a query's candidates (fused order): fused score, its gap to the top,
    fused rank, each list's rank (NaN when absent), and :func:`_space_features` in the
    sparse (BM25-weighted term vectors) and dense spaces."""
    blocks = [
        scores[:, None],
        (scores[0] - scores)[:, None],
        np.arange(1, len(doc_ids) + 1, dtype=np.float64)[:, None],
        np.where(ranks > 0, ranks, np.nan).T,
        _space_features(_sparse_similarities(collection.term_vectors(doc_ids))),
    ]
    if collection.config.dense is not None:
        dense = collection.dense_vectors(doc_ids).astype(np.float64)
        blocks.append(_space_features(_similarities(dense)))
    return np.column_stack(blocks)


@dataclass
class CollaborativeReranker:
    """Learned collaborative reranker, stored in a collection (``hybridir train``); a
    :class:`hybridir.rerank.Reranker`."""

    kind: ClassVar[str] = "collaborative"
    booster: Any
    depth: int
    info: dict[str, Any]
    name: str = "collaborative"

    def scores(self, collection: Backend, query: str, hits: Sequence[Hit]) -> Array:
        # each retrieval list's rank (boosts and earlier reranks are not lists)
        ranks = np.asarray(
            [[c.rank or 0 for c in h.contributions if c.retriever in LISTS] for h in hits],
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
        booster = booster_from_string((directory / "model.txt").read_text(encoding="utf-8"))
        return cls(booster, int(meta["depth"]), dict(meta["info"]))
