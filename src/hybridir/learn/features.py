"""Features of queries and fusion candidates for the learned methods.

One definition serves training and serving, so a model sees at query time exactly the
features it was trained on. Candidate features follow PIRB's hybrid rescoring (Dadas et
al., 2024): per list the raw and min-max normalized score, rank, presence, and the list's
maximum and minimum; query features describe how lexical the query is (length, IDF, share
of out-of-vocabulary terms), as in query-performance prediction (He & Ounis, SPIRE 2004).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import regex
from numpy.typing import NDArray

from hybridir.backend import Backend
from hybridir.fusion import Prepared

Array = NDArray[np.float64]

QUERY_FEATURES = ("q_terms", "q_idf_mean", "q_idf_max", "q_oov_share")
LIST_FEATURES = ("raw", "norm", "rank", "present", "list_max", "list_min")
SHAPE_FEATURES = ("top1", "gap12_rel", "gap1_10_rel", "std_rel")
_TOKEN = regex.compile(r"\S+")
_NUMBER = regex.compile(r"^[+-]?\d+([.,]\d+)*%?$")
_IDENTIFIER = regex.compile(r"(\p{L}.*\d|\d.*\p{L}|\w[_\-./:]\w|\p{Ll}\p{Lu}|^\p{Lu}{2,}$)")


class QueryContext(NamedTuple):
    """A query as the learned methods see it: its text and its analyzed terms."""

    text: str
    terms: tuple[str, ...]


def idf(backend: Backend, terms: Sequence[str]) -> Array:
    """Lucene's BM25 IDF ``ln(1 + (N - df + 0.5) / (df + 0.5))`` of each term over the
    whole collection (every shard's); NaN when the term is not in the vocabulary."""
    n, dfs = backend.document_frequencies(terms)
    out = np.full(len(terms), np.nan)
    for i, d in enumerate(dfs):
        if d is not None:
            out[i] = math.log(1.0 + (n - d + 0.5) / (d + 0.5))
    return out


def query_features(backend: Backend, query: QueryContext, values: Array | None = None) -> Array:
    """:data:`QUERY_FEATURES` of one query (``values``: its terms' :func:`idf`, if known)."""
    if values is None:
        values = idf(backend, query.terms)
    known = values[~np.isnan(values)]
    n = len(query.terms)
    return np.asarray(
        [
            float(n),
            float(known.mean()) if len(known) else 0.0,
            float(known.max()) if len(known) else 0.0,
            (n - len(known)) / n if n else 1.0,
        ]
    )


def candidate_features(prepared: Prepared, query: Array, doc_lengths: Array) -> Array:
    """Feature rows of every document of ``prepared`` (one row per ``prepared.ids``).

    Columns: :data:`LIST_FEATURES` for each list in order, then ``query`` (the
    :func:`query_features` row, repeated), then the document length. An absent document
    gets NaN raw and normalized scores (trees route missing values on their own) and rank
    ``len(list) + 1``.
    """
    n, width = len(prepared.ids), len(LIST_FEATURES)
    out = np.empty((n, width * len(prepared.lists) + len(query) + 1))
    for i, (sl, cols) in enumerate(zip(prepared.lists, prepared.columns, strict=True)):
        block = out[:, i * width : (i + 1) * width]
        scores = np.asarray(sl.scores, dtype=np.float64)
        hi = float(scores.max()) if len(scores) else 0.0
        lo = float(scores.min()) if len(scores) else 0.0
        block[:, 0:2] = np.nan
        block[:, 2] = len(cols) + 1
        block[:, 3] = 0.0
        block[:, 4] = hi
        block[:, 5] = lo
        block[cols, 0] = scores
        block[cols, 1] = (scores - lo) / max(hi - lo, 1e-9)
        block[cols, 2] = np.arange(1, len(cols) + 1)
        block[cols, 3] = 1.0
    out[:, -len(query) - 1 : -1] = query
    out[:, -1] = doc_lengths
    return out


def candidate_feature_names(lists: Sequence[str]) -> list[str]:
    """Column names of :func:`candidate_features` for lists called ``lists``."""
    return [f"{name}.{f}" for name in lists for f in LIST_FEATURES] + [
        *QUERY_FEATURES,
        "doc_length",
    ]


def token_features(text: str) -> Array:
    """Share of identifier-like tokens (``BRCA1``, ``p53``, ``snake_case``, acronyms) and of
    numbers among the whitespace tokens of the raw query text."""
    tokens = _TOKEN.findall(text)
    if not tokens:
        return np.zeros(2)
    numbers = sum(bool(_NUMBER.match(t)) for t in tokens)
    identifiers = sum(bool(_IDENTIFIER.search(t)) and not _NUMBER.match(t) for t in tokens)
    return np.asarray([identifiers / len(tokens), numbers / len(tokens)])


def shape_features(scores: Array) -> Array:
    """:data:`SHAPE_FEATURES` of one list's scores (best first): how peaked the list is.

    Gaps and spread are relative to the top score's distance from the list's tail, so BM25
    and cosine lists are comparable.
    """
    if len(scores) == 0:
        return np.zeros(len(SHAPE_FEATURES))
    top = float(scores[0])
    spread = max(top - float(scores[-1]), 1e-9)
    gap12 = (top - float(scores[1])) / spread if len(scores) > 1 else 1.0
    gap10 = (top - float(scores[min(9, len(scores) - 1)])) / spread
    return np.asarray([top, gap12, gap10, float(np.std(scores[:10])) / spread])


def adaptive_feature_names(lists: Sequence[str]) -> list[str]:
    """Column names of :func:`adaptive_features`."""
    return [
        *QUERY_FEATURES,
        "q_rare_share",
        "q_identifier_share",
        "q_number_share",
        *[f"{name}.{f}" for name in lists for f in SHAPE_FEATURES],
        "overlap10",
    ]


def adaptive_features(backend: Backend, query: QueryContext, prepared: Prepared) -> Array:
    """Features the adaptive-α model predicts from (HyPA-RAG's query and score signals):
    query features, share of rare terms (IDF above ln 100), identifier and number shares,
    each list's :func:`shape_features`, and the overlap of the lists' top 10 (Jaccard)."""
    values = idf(backend, query.terms)
    rare = float(np.mean(np.nan_to_num(values, nan=math.inf) > math.log(100))) if len(values) else 0
    shapes = [shape_features(np.asarray(sl.scores, dtype=np.float64)) for sl in prepared.lists]
    tops = [set(sl.doc_ids[:10]) for sl in prepared.lists]
    union = set().union(*tops) if tops else set()
    common = set.intersection(*tops) if tops else set()
    overlap = len(common) / len(union) if union else 0.0
    return np.concatenate(
        [
            query_features(backend, query, values),
            [rare],
            token_features(query.text),
            *shapes,
            [overlap],
        ]
    )
