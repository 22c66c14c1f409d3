"""Impact index: learned sparse (SPLADE) document weights in the BM25 postings machinery.

A document's SPLADE weights are quantized to 8-bit impacts with one collection-wide step
(``SpladeConfig.max_weight / 255``), as Anserini does for learned sparse models (Mackenzie et
al., "Wacky Weights in Learned Sparse Representations and the Revenge of Score-at-a-Time
Query Evaluation", 2021, quantize to 8 bits with little loss). The impact takes the place of
the term frequency in :class:`~hybridir.sparse.postings.Postings` (stored as ``uint8`` on
disk), so segments, deletions, merges and the exact top-k kernel are shared with BM25; a
query's score is the dot product ``Σ q_t · impact_t · step``.

Scores do not depend on the segmentation: the weight of a posting is fixed by its impact
alone, and every segment adds a query's terms in one collection-wide order (decreasing
``q_t`` × the term's largest live weight), so a live collection returns the same float32
scores as a fresh build.

Queries are weighted by a :data:`QUERY_MODES` entry: the full SPLADE query encoder, or
inference-free (Geng et al., "Towards Competitive Search Relevance For Inference-Free
Learned Sparse Retrievers", 2024; Ma et al., "LightRetriever", 2025): the query's tokenizer
ids weighted by IDF, or by a learned per-token table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from hybridir.config import BM25Config
from hybridir.sparse.encoders import SparseVector
from hybridir.sparse.index import BM25Index
from hybridir.sparse.postings import Postings, tie_keys
from hybridir.sparse.segments import CollectionTotals, SegmentedBM25

if TYPE_CHECKING:
    from hybridir.sparse.encoders import SparseEncoder

IMPACT_MAX = 255


def quantize(vector: SparseVector, scale: float, max_terms: int | None = None) -> SparseVector:
    """8-bit impacts of one document: its top ``max_terms`` weights (all when ``None``; ties
    by vocabulary id), each ``round(w / scale)`` clipped to ``1..255``; weights under half a
    step are dropped. Returns ids ascending with the impacts as float32 integers."""
    ids, weights = vector.ids, vector.weights
    if max_terms is not None and len(ids) > max_terms:
        keep = np.lexsort((ids, -weights))[:max_terms]
        keep.sort()
        ids, weights = ids[keep], weights[keep]
    impacts = np.minimum(np.rint(weights.astype(np.float64) / scale), IMPACT_MAX)
    nonzero = impacts >= 1
    return SparseVector(ids[nonzero].astype(np.int32), impacts[nonzero].astype(np.float32))


def build_impacts(
    vectors: Sequence[SparseVector],
    vocab: Sequence[str],
    doc_ids: Sequence[str],
    scale: float,
    max_terms: int | None = None,
) -> Postings:
    """Impact postings (term-major, rows in ``doc_ids`` order) of encoded documents.

    ``terms`` are the vocabulary strings of the ids used (ascending id); ``tfs`` hold the
    impacts and ``doc_lengths`` each row's impact sum.
    """
    quantized = [quantize(v, scale, max_terms) for v in vectors]
    lengths = np.asarray([len(v.ids) for v in quantized], dtype=np.int64)
    term_ids = np.concatenate([v.ids for v in quantized]) if quantized else np.zeros(0, np.int32)
    impacts = (
        np.concatenate([v.weights for v in quantized]).astype(np.int32)
        if quantized
        else np.zeros(0, dtype=np.int32)
    )
    rows = np.repeat(np.arange(len(quantized), dtype=np.int32), lengths)
    used, local = np.unique(term_ids, return_inverse=True)
    # Stable sort by term keeps rows ascending inside every posting list.
    order = np.argsort(local, kind="stable")
    counts = np.bincount(local, minlength=len(used))
    indptr = np.zeros(len(used) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    doc_lengths = np.bincount(rows, weights=impacts, minlength=len(quantized))
    return Postings(
        terms=tuple(vocab[int(t)] for t in used),
        doc_ids=tuple(doc_ids),
        indptr=indptr,
        doc_rows=rows[order],
        tfs=impacts[order],
        doc_lengths=doc_lengths.astype(np.int32),
        tie_key=tie_keys(doc_ids),
    )


class ImpactIndex(BM25Index):
    """Exact dot-product top-k over impact postings (one segment).

    Args:
        postings: impact postings (:func:`build_impacts`).
        scale: weight of one quantization step.
        order: per term, the collection-wide key deciding the order in which a query's terms
            are added (default: this segment's largest impacts).
        live: rows that may be returned.
    """

    def __init__(
        self,
        postings: Postings,
        scale: float,
        order: NDArray[np.float64] | None = None,
        live: NDArray[np.bool_] | None = None,
    ) -> None:
        super().__init__(postings, BM25Config(), None, live, order)
        self.scale = scale

    @cached_property
    def weights(self) -> NDArray[np.float32]:
        """Impact × step of every posting (float32)."""
        return (np.asarray(self.postings.tfs, dtype=np.float64) * self.scale).astype(np.float32)

    @cached_property
    def _has_absent_scores(self) -> bool:
        return False


class SegmentedImpacts(SegmentedBM25):
    """Impact postings over segments with deletions: exact top-k by dot product, rows and
    merging as :class:`~hybridir.sparse.segments.SegmentedBM25`.

    Args:
        segments: impact postings of each segment.
        live: per segment, rows not deleted.
        scale: weight of one quantization step.
        totals: statistics of the whole sharded collection (for inference-free IDF).
        order: largest live weight of every term over the whole sharded collection (the
            order in which a query's terms are added; default: over these segments).
    """

    def __init__(
        self,
        segments: Sequence[Postings],
        live: Sequence[NDArray[np.bool_] | None],
        scale: float,
        totals: CollectionTotals | None = None,
        order: Mapping[str, float] | None = None,
    ) -> None:
        self.scale = scale
        super().__init__(segments, live, BM25Config(), totals, order)
        self._has_absent = False  # a dot product has no score for absent terms

    def _index(
        self, postings: Postings, live: NDArray[np.bool_], to_global: NDArray[np.int64]
    ) -> BM25Index:
        """One segment's impacts (their weights need no collection statistics)."""
        return ImpactIndex(postings, self.scale, None, live)

    @cached_property
    def idf(self) -> dict[str, float]:
        """Lucene IDF of every term over the live documents (inference-free query weights)."""
        df = self.document_frequencies
        return lucene_idf(self.stats.n_docs, {t: float(df[i]) for t, i in self.vocabulary.items()})

    def term_contributions(
        self, row: int, query: Mapping[str, float], top: int = 10
    ) -> tuple[tuple[str, float], ...]:
        """The query terms that score ``row``, as (term, q·w) by decreasing contribution."""
        s, local = self.locate(row)
        index = self.indexes[s]
        p = index.postings
        out = []
        for term, qw in query.items():
            t = index.vocabulary.get(term)
            if t is None:
                continue
            start, end = int(p.indptr[t]), int(p.indptr[t + 1])
            i = start + int(np.searchsorted(p.doc_rows[start:end], local))
            if i < end and p.doc_rows[i] == local:
                out.append((term, float(qw) * float(index.weights[i])))
        out.sort(key=lambda x: (-x[1], x[0]))
        return tuple(out[:top])


# -- query weighting -----------------------------------------------------------------------


def lucene_idf(n_docs: int, df: Mapping[str, float]) -> dict[str, float]:
    """Lucene's IDF, ``log(1 + (N - df + 0.5) / (df + 0.5))``, of every term with df > 0."""
    terms = [t for t, d in df.items() if d > 0]
    counts = np.asarray([df[t] for t in terms], dtype=np.float64)
    values = np.log1p((n_docs - counts + 0.5) / (counts + 0.5))
    return dict(zip(terms, values.tolist(), strict=True))


IdfSource = Callable[[], Mapping[str, float]]
"""Gives the collection's learned sparse IDF when a query mode needs it (an impact
index's, or a sharded collection's global statistics'); not called otherwise."""

QueryWeighter = Callable[["SparseEncoder", IdfSource, Sequence[str], Any], list[dict[str, float]]]


def encoder_queries(
    encoder: SparseEncoder, idf: IdfSource, texts: Sequence[str], table: Any
) -> list[dict[str, float]]:
    """Full SPLADE query encoding (one forward pass per new query)."""
    vocab = encoder.vocab
    return [
        {vocab[int(i)]: float(w) for i, w in zip(v.ids, v.weights, strict=True)}
        for v in encoder.encode_queries(texts)
    ]


def idf_queries(
    encoder: SparseEncoder, idf: IdfSource, texts: Sequence[str], table: Any
) -> list[dict[str, float]]:
    """Inference-free: each query token weighted by (count ×) its IDF in the collection."""
    vocab, weights = encoder.vocab, idf()
    out = []
    for ids in encoder.tokenize(texts):
        counts = Counter(vocab[i] for i in ids)
        out.append({t: c * weights[t] for t, c in counts.items() if t in weights})
    return out


def table_queries(
    encoder: SparseEncoder, idf: IdfSource, texts: Sequence[str], table: Any
) -> list[dict[str, float]]:
    """Inference-free: each query token weighted by (count ×) a learned per-token weight
    (:class:`hybridir.learn.token_weights.TokenWeights`)."""
    weights: NDArray[np.float32] = table.weights
    vocab = encoder.vocab
    out = []
    for ids in encoder.tokenize(texts):
        counts = Counter(ids)
        out.append({vocab[i]: c * float(weights[i]) for i, c in counts.items() if weights[i] > 0})
    return out


QUERY_MODES: dict[str, QueryWeighter] = {
    "encoder": encoder_queries,
    "idf": idf_queries,
    "table": table_queries,
}
"""How learned sparse queries get their weights, by :attr:`SpladeConfig.query_mode`."""
