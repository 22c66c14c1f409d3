"""BM25 variants as pure array functions.

Each variant is an IDF function ``idf(df, n_docs)`` and a term-frequency component
``tfc(tf, doc_len, avg_len, k1, b, delta)``; a term's score in a document is their product.
Formulas follow Kamphuis, de Vries, Boytsov & Lin, "Which BM25 Do You Mean? A Large-Scale
Reproducibility Study of Scoring Variants", ECIR 2020 (Table 1), and match bm25s' choices,
which makes bm25s a usable oracle for every variant.

BM25L and BM25+ give a non-zero score to documents that lack a term (``tfc(0) > 0``). Index
weights store ``tfc(tf) - tfc(0)`` and the query adds the constant ``Σ idf·tfc(0)``, so scores
equal the full formula while only documents with a query term are touched.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


class IdfFn(Protocol):
    def __call__(self, df: FloatArray, n_docs: int) -> FloatArray: ...


class TfcFn(Protocol):
    def __call__(
        self,
        tf: FloatArray,
        doc_len: FloatArray,
        avg_len: float,
        k1: float,
        b: float,
        delta: float,
    ) -> FloatArray: ...


def idf_robertson(df: FloatArray, n_docs: int) -> FloatArray:
    """Robertson–Spärck Jones IDF ``log((N - df + 0.5) / (df + 0.5))``, floored at 0.

    The floor (bm25s' default, ``allow_negative=False``) avoids negative weights for terms
    in more than half of the documents.
    """
    return np.log(np.maximum((n_docs - df + 0.5) / (df + 0.5), 1.0))


def idf_lucene(df: FloatArray, n_docs: int) -> FloatArray:
    """Lucene's IDF ``log(1 + (N - df + 0.5) / (df + 0.5))`` (always positive)."""
    return np.log1p((n_docs - df + 0.5) / (df + 0.5))


def idf_atire(df: FloatArray, n_docs: int) -> FloatArray:
    """ATIRE's IDF ``log(N / df)`` (Trotman et al., 2014)."""
    return np.log(n_docs / df)


def idf_bm25l(df: FloatArray, n_docs: int) -> FloatArray:
    """BM25L's IDF ``log((N + 1) / (df + 0.5))`` (Lv & Zhai, CIKM 2011)."""
    return np.log((n_docs + 1) / (df + 0.5))


def idf_bm25plus(df: FloatArray, n_docs: int) -> FloatArray:
    """BM25+'s IDF ``log((N + 1) / df)`` (Lv & Zhai, CIKM 2011)."""
    return np.log((n_docs + 1) / df)


def _length_norm(doc_len: FloatArray, avg_len: float, b: float) -> FloatArray:
    return 1.0 - b + b * doc_len / avg_len


def tfc_lucene(
    tf: FloatArray, doc_len: FloatArray, avg_len: float, k1: float, b: float, delta: float
) -> FloatArray:
    """``tf / (tf + k1 (1 - b + b·dl/avgdl))``: Robertson's without the constant ``(k1 + 1)``.

    Used by both Lucene (since 8.0) and Robertson variants; the dropped factor does not change
    rankings.
    """
    return tf / (tf + k1 * _length_norm(doc_len, avg_len, b))


def tfc_atire(
    tf: FloatArray, doc_len: FloatArray, avg_len: float, k1: float, b: float, delta: float
) -> FloatArray:
    """``(k1 + 1) tf / (tf + k1 (1 - b + b·dl/avgdl))``, the classic Okapi form."""
    return (k1 + 1.0) * tf / (tf + k1 * _length_norm(doc_len, avg_len, b))


def tfc_bm25l(
    tf: FloatArray, doc_len: FloatArray, avg_len: float, k1: float, b: float, delta: float
) -> FloatArray:
    """BM25L: ``c = tf / (1 - b + b·dl/avgdl)``, then ``(k1 + 1)(c + δ) / (k1 + c + δ)``."""
    c = tf / _length_norm(doc_len, avg_len, b)
    return (k1 + 1.0) * (c + delta) / (k1 + c + delta)


def tfc_bm25plus(
    tf: FloatArray, doc_len: FloatArray, avg_len: float, k1: float, b: float, delta: float
) -> FloatArray:
    """BM25+: the Okapi component plus ``δ``."""
    return tfc_atire(tf, doc_len, avg_len, k1, b, delta) + delta


class Variant(NamedTuple):
    """A BM25 variant: its IDF and term-frequency component."""

    idf: IdfFn
    tfc: TfcFn


VARIANTS: dict[str, Variant] = {
    "lucene": Variant(idf_lucene, tfc_lucene),
    "robertson": Variant(idf_robertson, tfc_lucene),
    "atire": Variant(idf_atire, tfc_atire),
    "bm25l": Variant(idf_bm25l, tfc_bm25l),
    "bm25+": Variant(idf_bm25plus, tfc_bm25plus),
}
"""BM25 variants by name."""


def posting_weights(
    variant: str,
    tfs: FloatArray,
    doc_lens_of_postings: FloatArray,
    df_of_postings: FloatArray,
    n_docs: int,
    avg_len: float,
    k1: float,
    b: float,
    delta: float,
) -> FloatArray:
    """Score contribution of each posting, minus its term's absent-document score.

    All arrays are aligned per posting; see the module docstring for the shift.
    """
    v = VARIANTS[variant]
    idf = v.idf(df_of_postings, n_docs)
    zero = np.zeros(1)
    absent = v.tfc(zero, zero + avg_len, avg_len, k1, b, delta)
    return idf * (v.tfc(tfs, doc_lens_of_postings, avg_len, k1, b, delta) - absent)


def absent_scores(
    variant: str, df: FloatArray, n_docs: int, avg_len: float, k1: float, b: float, delta: float
) -> FloatArray:
    """Per term, the score a document without the term gets (0 except for BM25L and BM25+).

    ``tfc(0)`` does not depend on the document length for any variant here.
    """
    v = VARIANTS[variant]
    zero = np.zeros_like(df, dtype=np.float64)
    return v.idf(df, n_docs) * v.tfc(zero, zero + avg_len, avg_len, k1, b, delta)
