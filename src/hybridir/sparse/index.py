"""BM25 index: postings + a BM25 config → exact top-k search over analysed queries."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from itertools import compress
from typing import Any, NamedTuple, cast

import numpy as np
from numpy.typing import NDArray

from hybridir.config import BM25Config
from hybridir.errors import ConfigError
from hybridir.sparse import fallback
from hybridir.sparse.bm25 import absent_scores, posting_weights
from hybridir.sparse.jit import READINESS
from hybridir.sparse.kernels import count_query_terms, score_queries
from hybridir.sparse.lexicon import LEXICON_MIN_TERMS, Lexicon, lookup_keys
from hybridir.sparse.postings import Postings
from hybridir.text.batch import TermIds

_WEIGHT_CHUNK = 1 << 20
"""Postings per chunk when deriving weights (bounds float64 temporaries to ~40 MiB)."""


class SparseHits(NamedTuple):
    """Top-k of one query: doc ids and scores, best first (score desc, doc id asc)."""

    doc_ids: list[str]
    scores: list[float]


class BM25Stats(NamedTuple):
    """Collection statistics BM25 depends on."""

    n_docs: int
    n_terms: int
    n_postings: int
    avg_doc_length: float


class CorpusStats(NamedTuple):
    """Statistics to score with when the index is one segment of a larger collection:
    live documents, their average length, and each of this index's terms' document
    frequency over the live documents of every segment."""

    n_docs: int
    avg_doc_length: float
    df: NDArray[np.float64]


QueryTerms = Sequence[str] | Mapping[str, float]
"""One query for a sparse index: analysed terms (counted), or weights by term."""


class QueryBatch(NamedTuple):
    """Analysed queries as term ids with multiplicities (see :meth:`BM25Index.encode`)."""

    q_ptr: NDArray[np.int64]
    q_terms: NDArray[np.int32]
    q_weights: NDArray[np.float32]
    constants: NDArray[np.float64]


VECTOR_BATCH = 32
"""From this many term-list queries :meth:`BM25Index.encode` encodes the batch in one
vectorised pass; below it, numpy's fixed costs outweigh the per-query loop (a single
query: ~2 µs by the loop, ~20 µs vectorised)."""


class BM25Index:
    """Exact BM25 top-k over :class:`Postings`.

    Posting weights are derived from raw statistics when first needed and cached; the
    kernel then does term-at-a-time accumulation with a size-k heap (see
    :mod:`hybridir.sparse.kernels`).

    Args:
        postings: the index arrays.
        config: BM25 variant and parameters.
        corpus: statistics to score with (default: this index's own); a segment of a live
            collection scores with the collection's (:mod:`hybridir.sparse.segments`).
        live: which rows may be returned (default: all); deleted rows are skipped.
    """

    dense_min_share: float = 1 / 4
    """Terms in at least this share of documents get a dense weight row (a row of every
    document costs as much memory traffic as four times as many postings: below a quarter,
    scattering the postings was faster on SciFact, one thread and two)."""
    chunks_per_thread: int = 8
    """A multi-threaded batch is cut into this many chunks per thread, which threads claim
    in turn: a thread that drew cheap queries takes more, instead of waiting for the
    slowest (queries differ in cost by more than 10x)."""
    dense_budget_bytes: int = 256 * 2**20
    """Memory allowed for dense weight rows of frequent terms (see :attr:`dense_rows`)."""

    def __init__(
        self,
        postings: Postings,
        config: BM25Config | None = None,
        corpus: CorpusStats | None = None,
        live: NDArray[np.bool_] | None = None,
        order: NDArray[np.float64] | None = None,
    ) -> None:
        self.postings = postings
        self._order = order
        self.config = config or BM25Config()
        self.vocabulary = {term: i for i, term in enumerate(postings.terms)}
        self._corpus = corpus
        self._live = (
            np.ones(postings.n_docs, dtype=np.bool_)
            if live is None
            else np.ascontiguousarray(live, dtype=np.bool_)
        )
        self._scratch: dict[int, tuple[NDArray[Any], ...]] = {}
        self._stamp = 0
        self._lock = threading.Lock()
        self._pools: dict[int, ThreadPoolExecutor] = {}

    @cached_property
    def stats(self) -> BM25Stats:
        p = self.postings
        total = float(np.sum(p.doc_lengths, dtype=np.int64))
        return BM25Stats(p.n_docs, p.n_terms, int(p.indptr[-1]), total / max(p.n_docs, 1))

    @cached_property
    def document_frequencies(self) -> NDArray[np.float64]:
        """Documents containing each term id (over the whole corpus when given; cached)."""
        if self._corpus is not None:
            # A term whose documents are all deleted has df 0; its postings are all dead,
            # so any finite weight will do (1 keeps every variant's IDF finite).
            return np.maximum(self._corpus.df, 1.0)
        return self.postings.document_frequencies().astype(np.float64)

    @cached_property
    def scoring_stats(self) -> tuple[int, float]:
        """(N, average document length) that scores use: the corpus's when given."""
        if self._corpus is not None:
            return self._corpus.n_docs, self._corpus.avg_doc_length
        return self.stats.n_docs, self.stats.avg_doc_length

    @cached_property
    def weights(self) -> NDArray[np.float32]:
        """BM25 weight of every posting under the current statistics.

        Computed in float64 (so scores match reference implementations to float32
        rounding) over chunks of postings, which bounds the temporaries' memory.
        """
        p, c, st = self.postings, self.config, self.stats
        n_docs, avg_length = self.scoring_stats
        out = np.empty(st.n_postings, dtype=np.float32)
        term_of = np.repeat(np.arange(p.n_terms, dtype=np.int32), np.diff(p.indptr))
        for start in range(0, st.n_postings, _WEIGHT_CHUNK):
            sl = slice(start, start + _WEIGHT_CHUNK)
            out[sl] = posting_weights(
                c.variant,
                p.tfs[sl].astype(np.float64),
                p.doc_lengths[p.doc_rows[sl]].astype(np.float64),
                self.document_frequencies[term_of[sl]],
                n_docs,
                avg_length,
                c.k1,
                c.b,
                c.delta,
            )
        return out

    @cached_property
    def term_max(self) -> NDArray[np.float64]:
        """Largest posting weight of each term: its upper bound for pruning."""
        p = self.postings
        out = np.zeros(p.n_terms, dtype=np.float64)
        nonempty = np.flatnonzero(np.diff(p.indptr) > 0)
        if len(nonempty):
            maxima = np.maximum.reduceat(self.weights, p.indptr[nonempty])
            out[nonempty] = maxima
        return out

    @cached_property
    def live_term_max(self) -> NDArray[np.float64]:
        """Largest weight of each term over the live rows only (0 when none is live)."""
        p = self.postings
        if bool(self._live.all()):
            return self.term_max
        out = np.zeros(p.n_terms, dtype=np.float64)
        nonempty = np.flatnonzero(np.diff(p.indptr) > 0)
        if len(nonempty):
            live_weights = np.where(self._live[p.doc_rows], self.weights, np.float32(0))
            out[nonempty] = np.maximum.reduceat(live_weights, p.indptr[nonempty])
        return out

    @cached_property
    def order_key(self) -> NDArray[np.float64]:
        """Order in which a query's terms are scored: by the term's largest live weight
        (highest first, so max-score pruning can skip the long lists early). A segment of a
        live collection gets the largest over *all* segments (``order``), so every segment,
        and a fresh build of the live documents, adds a document's weights in the same
        order and gets bit-identical float32 scores."""
        return self.live_term_max if self._order is None else self._order

    @cached_property
    def dense_rows(self) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
        """Dense weight rows of the most frequent terms: ``(row of each term or -1, rows)``.

        Terms in at least ``dense_min_share`` of the documents get a row, most frequent
        first, within ``dense_budget_bytes``; scoring them is a contiguous add instead of a
        scatter.
        """
        p = self.postings
        df = np.diff(p.indptr)
        budget_rows = self.dense_budget_bytes // max(4 * p.n_docs, 1)
        frequent = np.flatnonzero(df >= self.dense_min_share * max(p.n_docs, 1))
        chosen = frequent[np.argsort(-df[frequent], kind="stable")][:budget_rows]
        dense_of_term = np.full(p.n_terms, -1, dtype=np.int32)
        rows = np.zeros((len(chosen), p.n_docs), dtype=np.float32)
        weights = self.weights
        for i, t in enumerate(chosen):
            dense_of_term[t] = i
            sl = slice(p.indptr[t], p.indptr[t + 1])
            rows[i, p.doc_rows[sl]] = weights[sl]
        return dense_of_term, rows

    @cached_property
    def doc_vectors(self) -> Any:
        """Documents as unit-length vectors of their BM25 term weights (scipy CSR, rows ×
        terms): the sparse space in which collaborative reranking compares documents."""
        from scipy import sparse

        p = self.postings
        by_term = sparse.csr_matrix(
            (self.weights.astype(np.float64), p.doc_rows, p.indptr), shape=(p.n_terms, p.n_docs)
        )
        by_doc = by_term.T.tocsr()
        norms = np.sqrt(np.asarray(by_doc.multiply(by_doc).sum(axis=1)).ravel())
        return sparse.diags(1.0 / np.maximum(norms, 1e-12)) @ by_doc

    @cached_property
    def _absent(self) -> NDArray[np.float64]:
        c = self.config
        n_docs, avg_length = self.scoring_stats
        df = self.document_frequencies
        return absent_scores(c.variant, df, n_docs, avg_length, c.k1, c.b, c.delta)

    @cached_property
    def _row_of_key(self) -> NDArray[np.int32]:
        """Row of each tie key (the inverse permutation of ``postings.tie_key``)."""
        return np.argsort(self.postings.tie_key, kind="stable").astype(np.int32)

    @cached_property
    def _has_absent_scores(self) -> bool:
        return bool(np.any(self._absent))

    @cached_property
    def _most_hits(self) -> int:
        """The largest k worth asking for: every row (at least 1, so buffers are never
        empty)."""
        return max(self.postings.n_docs, 1)

    @cached_property
    def _kernel_arrays(self) -> tuple[NDArray[Any], ...]:
        """Postings, weights, dense rows, bounds and term order as the kernel reads them:
        plain writable arrays, so memory-mapped and in-memory indexes share one compiled
        signature."""
        p = self.postings
        arrays = (p.indptr, p.doc_rows, self.weights, *self.dense_rows, self.term_max)
        return tuple(_plain(a) for a in (*arrays, self.order_key))

    @cached_property
    def _kernel_keys(self) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
        """Tie keys and their inverse, as the kernel reads them."""
        return _plain(self.postings.tie_key), _plain(self._row_of_key)

    @cached_property
    def _allowed(self) -> tuple[NDArray[np.bool_], NDArray[np.int32]]:
        """The live rows and the deleted ones, as the kernel takes them when no filter
        narrows them (computed once: the deleted rows cost a pass over every row)."""
        return _allowed_rows(self._live)

    def encode(self, queries: Sequence[QueryTerms] | TermIds) -> QueryBatch:
        """Query terms → ids with weights: a term list counts multiplicities, a mapping gives
        each term's weight (learned sparse queries); out-of-vocabulary terms are dropped.

        A batch analysed to ids (:meth:`hybridir.text.analyzer.Analyzer.term_ids`) is
        encoded like the same term lists, with one vocabulary look-up per distinct term
        instead of one per token."""
        if isinstance(queries, TermIds):
            return self._with_constants(*self._encode_term_ids(queries))
        if len(queries) >= VECTOR_BATCH and all(type(terms) is list for terms in queries):
            return self._with_constants(*self._encode_lists(cast(list[list[str]], queries)))
        ptr = [0]
        ids: list[int] = []
        counts: list[float] = []
        vocab = self.vocabulary
        get = vocab.get
        for terms in queries:
            if type(terms) is not list and isinstance(terms, Mapping):  # a list: no ABC check
                for term, weight in terms.items():
                    t = get(term)
                    if t is not None:
                        ids.append(t)
                        counts.append(weight)
                ptr.append(len(ids))
                continue
            found = list(map(get, terms))
            tids: list[int] = (
                [t for t in found if t is not None] if None in found else cast(list[int], found)
            )
            if len(set(tids)) == len(tids):
                ids += tids
                counts += [1.0] * len(tids)
            else:
                tally = Counter(tids)
                ids += tally.keys()
                counts += tally.values()
            ptr.append(len(ids))
        q_ptr = np.asarray(ptr, dtype=np.int64)
        q_terms = np.asarray(ids, dtype=np.int32)
        q_weights = np.asarray(counts, dtype=np.float32)
        return self._with_constants(q_ptr, q_terms, q_weights)

    def _encode_lists(
        self, queries: list[list[str]]
    ) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.float32]]:
        """:meth:`encode` of term lists, the whole batch at once (the per-query loop's
        result, without a Python step per query)."""
        n_q = len(queries)
        ptr = np.zeros(n_q + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, queries), dtype=np.int64, count=n_q), out=ptr[1:])
        flat = list(itertools.chain.from_iterable(queries))
        return self._counted(self._term_ids_of(flat), ptr)

    def _encode_term_ids(
        self, batch: TermIds
    ) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.float32]]:
        """:meth:`encode` of a batch analysed to ids: each of its terms looked up once."""
        return self._counted(self._term_ids_of(batch.terms)[batch.ids], batch.ptr)

    def _term_ids_of(self, terms: Sequence[str]) -> NDArray[np.int64]:
        """Each term's id, ``-1`` when not in the vocabulary: by ``dict.get``, or for a
        long batch by the compiled :attr:`lexicon` (the same ids, fewer cache misses)."""
        if len(terms) >= LEXICON_MIN_TERMS and READINESS(lookup_keys):
            return self.lexicon.lookup(terms)
        get = self.vocabulary.get
        return np.fromiter(map(get, terms, itertools.repeat(-1)), dtype=np.int64, count=len(terms))

    @cached_property
    def lexicon(self) -> Lexicon:
        """The vocabulary as a compiled hash table (:mod:`hybridir.sparse.lexicon`), built
        on the first long batch: about 36 bytes a term (1 MB for SciFact's 28k terms)."""
        return Lexicon.build(self.postings.terms)

    def _counted(
        self, found: NDArray[np.int64], ptr: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.float32]]:
        """Each query's distinct in-vocabulary terms in order of first occurrence, weighted
        by their counts, from every token's term id (``-1``: not in the vocabulary) and
        each query's offsets among them (compiled, or in numpy while the kernels are not
        ready)."""
        count = count_query_terms if READINESS(count_query_terms) else fallback.count_query_terms
        return cast(
            tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.float32]],
            count(found, ptr, max(len(self.vocabulary), 1)),
        )

    def _with_constants(
        self, q_ptr: NDArray[np.int64], q_terms: NDArray[np.int32], q_weights: NDArray[np.float32]
    ) -> QueryBatch:
        """The batch with each query's score for absent terms (BM25L / BM25+)."""
        n_queries = len(q_ptr) - 1
        constants = np.zeros(n_queries)
        if self._has_absent_scores:
            # Summed per query (not via a batch-wide cumsum) so a query's scores do not
            # depend on the batch it came in.
            absent = self._absent[q_terms] * q_weights
            for q in range(n_queries):
                constants[q] = float(np.sum(absent[q_ptr[q] : q_ptr[q + 1]]))
        return QueryBatch(q_ptr, q_terms, q_weights, constants)

    def _pool(self, n_threads: int) -> ThreadPoolExecutor:
        """A thread pool kept for the index's lifetime (starting threads on every call costs
        more than scoring a small batch)."""
        pool = self._pools.get(n_threads)
        if pool is None:
            pool = self._pools[n_threads] = ThreadPoolExecutor(
                max_workers=n_threads, thread_name_prefix="hybridir-bm25"
            )
        return pool

    def _scratch_for(self, n_threads: int) -> tuple[NDArray[Any], ...]:
        """Per thread, the kernel's buffers of one entry per row: scores, seen stamps,
        touched rows, a float32 and an int32 buffer (allocated once, never cleared)."""
        if n_threads not in self._scratch:
            n = self.postings.n_docs
            self._scratch[n_threads] = (
                np.zeros((n_threads, n), dtype=np.float32),
                np.zeros((n_threads, n), dtype=np.int64),
                np.zeros((n_threads, n), dtype=np.int32),
                np.zeros((n_threads, n), dtype=np.float32),
                np.zeros((n_threads, n), dtype=np.int32),
            )
        return self._scratch[n_threads]

    def search_arrays(
        self,
        queries: Sequence[QueryTerms],
        k: int,
        n_threads: int = 1,
        constants: NDArray[np.float64] | None = None,
        live: NDArray[np.bool_] | None = None,
    ) -> tuple[NDArray[np.int32], NDArray[np.float32], NDArray[np.int64]]:
        """Top-k rows, scores and hit counts per analysed query, as arrays (row -1 pads).

        ``constants`` replaces each query's score for absent terms (BM25L / BM25+), which a
        segment cannot compute alone (its vocabulary is not the collection's); ``live``
        replaces the rows that may be returned (a filter's mask).
        """
        batch = self.encode(queries)
        if constants is not None:
            batch = batch._replace(constants=constants)
        return self.search_encoded(batch, k, n_threads, live)

    def search_encoded(
        self,
        batch: QueryBatch,
        k: int,
        n_threads: int = 1,
        live: NDArray[np.bool_] | None = None,
    ) -> tuple[NDArray[np.int32], NDArray[np.float32], NDArray[np.int64]]:
        """Top-k rows, scores and hit counts for queries already :meth:`encode`-d.

        Args:
            batch: encoded queries.
            k: hits per query (>= 1).
            n_threads: parallel chunks of the batch (each thread scores whole queries).
        """
        if k < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        if n_threads < 1:
            raise ConfigError(f"n_threads must be >= 1, got {n_threads}")
        n_queries = batch.q_ptr.shape[0] - 1
        k = min(k, self._most_hits)
        out_rows = np.full((n_queries, k), -1, dtype=np.int32)
        out_scores = np.zeros((n_queries, k), dtype=np.float32)
        counts = np.zeros(n_queries, dtype=np.int64)
        allowed = self._allowed if live is None else _allowed_rows(live & self._live)
        query = (_writable(batch.q_ptr), _writable(batch.q_terms), _writable(batch.q_weights), k)
        fixed = self._kernel_arrays + allowed + self._kernel_keys + query
        # Until numba has the kernel (a fresh install compiles it in the background), the
        # numpy fallback gives the same hits and scores.
        run: Callable[..., None] = (
            score_queries if READINESS(score_queries) else fallback.score_queries
        )
        n_threads = max(1, min(n_threads, n_queries))
        step = -(-n_queries // (n_threads * self.chunks_per_thread)) if n_threads > 1 else n_queries
        n_chunks = -(-n_queries // max(step, 1))
        with self._lock:
            scratch = self._scratch_for(n_threads)
            stamp = self._stamp
            self._stamp += n_queries
            claim = itertools.count().__next__  # atomic under the GIL

            def worker(c: int) -> None:
                """Thread ``c`` (its own scratch row) scores chunks until none is left."""
                buffers = tuple(buffer[c] for buffer in scratch)
                while (i := claim()) < n_chunks:
                    first, last = i * step, min(n_queries, (i + 1) * step)
                    run(*fixed, first, last, *buffers, stamp, out_rows, out_scores, counts)

            if n_threads == 1:
                worker(0)
            else:
                # The kernel releases the GIL: plain threads run the chunks in parallel, the
                # calling thread one of them (a hand-off fewer than waiting on the pool).
                pool = self._pool(n_threads - 1)
                helpers = [pool.submit(worker, c) for c in range(1, n_threads)]
                try:
                    worker(0)
                finally:  # never leave the lock while a helper still uses the scratch
                    for helper in helpers:
                        helper.result()
        if np.count_nonzero(batch.constants):
            out_scores = (out_scores + batch.constants[:, None]).astype(np.float32)
        return out_rows, out_scores, counts

    def search(
        self,
        queries: Sequence[QueryTerms],
        k: int = 10,
        n_threads: int = 1,
        constants: NDArray[np.float64] | None = None,
        live: NDArray[np.bool_] | None = None,
    ) -> list[SparseHits]:
        """Top-k documents of each analysed query (only documents with a query term)."""
        rows, scores, counts = self.search_arrays(queries, k, n_threads, constants, live)
        doc_id = self.postings.doc_ids.__getitem__
        out = []
        for q, n in enumerate(counts.tolist()):
            out.append(SparseHits(list(map(doc_id, rows[q, :n].tolist())), scores[q, :n].tolist()))
        return out

    def score_all(self, terms: QueryTerms, constant: float | None = None) -> NDArray[np.float64]:
        """BM25 score of every row for one analysed query (for oracles and explanations)."""
        batch = self.encode([terms])
        p = self.postings
        base = batch.constants[0] if constant is None else constant
        out = np.full(p.n_docs, base, dtype=np.float64)
        w = self.weights
        for t, qw in zip(batch.q_terms, batch.q_weights, strict=True):
            sl = slice(p.indptr[t], p.indptr[t + 1])
            out[p.doc_rows[sl]] += float(qw) * w[sl].astype(np.float64)
        return out

    def matched_terms(self, row: int, terms: Sequence[str]) -> tuple[str, ...]:
        """The distinct query terms that occur in ``row``."""
        distinct = list(dict.fromkeys(terms))
        found = self.term_presence(np.asarray([row], dtype=np.int64), distinct)
        return tuple(compress(distinct, found[:, 0].tolist()))

    def term_presence(self, rows: NDArray[np.int64], terms: Sequence[str]) -> NDArray[np.bool_]:
        """Whether each of ``terms`` occurs in each of ``rows``, as a ``(terms, rows)``
        matrix: one binary search of all the rows in each term's posting list."""
        p = self.postings
        out = np.zeros((len(terms), len(rows)), dtype=np.bool_)
        for i, term in enumerate(terms):
            t = self.vocabulary.get(term)
            if t is None:
                continue
            posting = p.doc_rows[p.indptr[t] : p.indptr[t + 1]]
            pos = np.searchsorted(posting, rows)
            inside = pos < posting.shape[0]
            out[i, inside] = posting[pos[inside]] == rows[inside]
        return out

    def rows_of(self, doc_ids: Sequence[str]) -> list[int]:
        """Rows of the given doc ids (built once, on first use)."""
        return [self._row_of[d] for d in doc_ids]

    @cached_property
    def _row_of(self) -> dict[str, int]:
        return {d: i for i, d in enumerate(self.postings.doc_ids)}


def _plain(array: NDArray[Any]) -> NDArray[Any]:
    """``array`` as a plain, writable, C-contiguous ndarray: a view when it already is one
    (memory-mapped postings are copy-on-write), else a copy. Writable arrays are also the
    ones numba's dispatcher types fastest."""
    view = np.ascontiguousarray(array).view(np.ndarray)
    return view if view.flags.writeable else view.copy()


def _writable(array: NDArray[Any]) -> NDArray[Any]:
    """``array``, or a writable copy of it (a query array given read-only)."""
    return array if array.flags.writeable and array.flags.c_contiguous else array.copy()


def _allowed_rows(allowed: NDArray[np.bool_]) -> tuple[NDArray[np.bool_], NDArray[np.int32]]:
    """A row mask and the rows it excludes, as the kernel takes them."""
    mask = _plain(np.asarray(allowed, dtype=np.bool_))
    return mask, _plain(np.flatnonzero(~mask).astype(np.int32))
