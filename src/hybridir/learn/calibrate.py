"""Self-supervised calibration of the fusion: pseudo-queries drawn from the collection
itself stand in for judged queries, so a collection nobody has judged still gets fusion
weights measured on its own data.

The pseudo-queries follow the inverse cloze task (Lee, Chang & Toutanova, "Latent Retrieval
for Weakly Supervised Open Domain Question Answering", ACL 2019): a sentence of a document is
the query, and the document it came from is the one relevant answer. Left as it is, that
task is trivial for exact matching: the indexed document still holds the sentence word for
word, so BM25 finds it first and the calibration would trust BM25 blindly. ICT removes the
sentence from its context; here every list scores the source document **as if the sentence
were not in it**: BM25 with the remainder's term frequencies and length (under the
collection's statistics), the dense list with the encoder's vector of the remainder. The
source document's entry in each list is replaced by that score, at the rank it gives.

The lists so built are a :class:`~hybridir.learn.dataset.TrainingSet` like judged queries
make, so the setting is chosen by the same cross-validated grid search ``hybridir tune``
runs (:func:`hybridir.learn.tune.tune`): method × normalization × weights × depths. The
winner replaces the current fusion only when it beats it out of fold clearly and
significantly (:data:`MIN_GAIN`, :data:`SIGNIFICANCE`), and the evidence (sample size,
each list's score alone, before/after, cross-validated gain, seconds) is stored with it
(:class:`~hybridir.config.Calibration`). Convex combinations with weights tuned on a few
hundred queries are known to transfer well (Bruch, Gai & Ingber, "An Analysis of Fusion
Functions for Hybrid Retrieval", TOIS 2023).

What it can and cannot see (docs/benchmarks.md, "Self-supervised calibration"): it finds a
dense list that is close to noise on the collection (a model that does not know the
language or the domain) and repairs the hybrid; it does not find that real queries favour
one good list over another good one, because sentences of a document share its words more
than users' questions do (Medline's queries favour MiniLM, its pseudo-queries BM25). So it
keeps the default unless the evidence is strong, and declines collections whose typical
document is one sentence (:data:`REPRESENTATIVE`, :data:`MIN_QUERIES`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

import numpy as np

from hybridir.config import LEARNED_METHODS, Calibration, FusionConfig
from hybridir.errors import ConfigError, InvalidInputError
from hybridir.eval.metrics import check_metrics
from hybridir.fusion import head_separation
from hybridir.ingest.sentences import sentence_spans
from hybridir.learn.cv import CVReport
from hybridir.learn.dataset import TrainingSet, per_query, run_depth
from hybridir.learn.features import QueryContext
from hybridir.learn.tune import TuneResult, default_grid, simplify, tune
from hybridir.query import dense_queries
from hybridir.search import HYBRID, Searcher
from hybridir.sparse.bm25 import posting_weights
from hybridir.types import Document, RankedList

__all__ = [
    "CALIBRATED_LISTS",
    "CalibrationResult",
    "PseudoQuery",
    "calibrate",
    "pseudo_queries",
    "unsupported",
]

QUERIES = 200
"""Pseudo-queries drawn by default (how many it needs: docs/benchmarks.md)."""
MIN_WORDS, MAX_WORDS = 6, 40
"""Sentence lengths, in words, that make a pseudo-query."""
SPAN_TEXTS = 40
"""Words a text without sentence boundaries needs for a span of it to be a pseudo-query (a
span of a one-sentence text leaves too little of it to stand for the document)."""
REPRESENTATIVE = 0.5
"""Share of the documents that must be able to give a pseudo-query: the typical document
must (XQuAD-R's one-sentence documents: 8-12% can, and its few long ones misled the
calibration on German and English, docs/benchmarks.md)."""
MAX_QUERIES = 10_000
"""Most pseudo-queries one calibration draws (200 suffice, docs/benchmarks.md; a huge count
drew from a small collection round after round without end)."""
MIN_QUERIES = 50
"""Fewest pseudo-queries calibration decides on (a collection of one-sentence documents,
such as XQuAD-R's, gives too few: its fusion is then left as it is)."""
SIGNIFICANCE = 0.05
"""A setting replaces the current one only with an out-of-fold gain this significant
(paired randomization test): on pseudo-queries, a small gain is more often the task's bias
than the collection's (measured: docs/benchmarks.md)."""
MIN_GAIN = 0.01
"""...and at least this large: calibration is there for failures (a dense list that is
noise), not for fine tuning. On SciFact a second draw found a significant +0.008 for BM25
cut to depth 100, which costs 0.004 on the real queries."""
CALIBRATED_LISTS = frozenset({"bm25", "dense"})
"""Lists whose left-out score calibration can compute."""
GAMMAS = (0.5, 1.0, 2.0)
"""Strengths of the per-query weights calibration tries (:func:`hybridir.fusion.query_factors`)."""
PER_QUERY_METHODS = frozenset({"convex", "combsum", "dbsf", "tmm", "rrf"})
"""Fixed methods whose combination weighs lists (per-query weights mean something there)."""


class PseudoQuery(NamedTuple):
    """One pseudo-query: a sentence of document ``doc_id``, and that document without it."""

    qid: str
    doc_id: str
    query: str
    remainder: Document


class CalibrationResult(NamedTuple):
    """What :func:`calibrate` measured and chose (``evidence`` is what it stores)."""

    fusion: FusionConfig
    evidence: Calibration
    tuned: TuneResult
    applied: bool


def pseudo_queries(view: Any, n: int, seed: int = 0) -> list[PseudoQuery]:
    """Up to ``n`` pseudo-queries from documents drawn at random (seeded): a sentence of
    :data:`MIN_WORDS`..:data:`MAX_WORDS` words where the text has two sentences or more,
    else a random span of words (Contriever's cropping, Izacard et al., TMLR 2022) of at
    most half the text; texts under :data:`SPAN_TEXTS` words give none. A collection of fewer
    than ``n`` documents is drawn from again (other sentences or spans of the same ones)."""
    _check_seed(seed)
    return _draw(view, n, seed)[0]


def _check_seed(seed: int) -> None:
    """A seed numpy takes (non-negative), refused with a typed error otherwise."""
    if seed < 0:
        raise ConfigError(f"seed must be >= 0, got {seed}")


def _draw(view: Any, n: int, seed: int) -> tuple[list[PseudoQuery], float]:
    """:func:`pseudo_queries`, and the share of the documents tried in the first pass that
    could give one (how well the pseudo-queries stand for the collection)."""
    rng = np.random.default_rng(seed)
    ids = [d for d, live in zip(view.bm25.doc_ids, view.bm25.live_rows, strict=True) if live]
    out: list[PseudoQuery] = []
    tried = gave = 0  # in the first pass
    for round_ in range(-(-n // max(len(ids), 1))):  # a small collection: several per document
        for i in rng.permutation(len(ids)).tolist():
            if len(out) == n:
                return out, gave / max(tried, 1)
            doc = view.get(ids[i])
            cut = _sentence(doc.text, rng) or _span(doc.text, rng)
            if round_ == 0:
                tried += 1
                gave += cut is not None
            if cut is None:
                continue
            query, rest = cut
            remainder = Document(doc.doc_id, rest, title=doc.title)
            out.append(PseudoQuery(f"pq{len(out)}", doc.doc_id, query, remainder))
    return out, gave / max(tried, 1)


def _sentence(text: str, rng: np.random.Generator) -> tuple[str, str] | None:
    """A sentence of fitting length and the text without it (``None`` under two sentences)."""
    spans = sentence_spans(text)
    if len(spans) < 2:
        return None
    fit = [s for s in spans if MIN_WORDS <= len(text[s[0] : s[1]].split()) <= MAX_WORDS]
    if not fit:
        return None
    start, end = fit[int(rng.integers(len(fit)))]
    return text[start:end], f"{text[:start].rstrip()} {text[end:].lstrip()}".strip()


def _span(text: str, rng: np.random.Generator) -> tuple[str, str] | None:
    """A random span of words and the text without it (texts that have no sentence
    boundaries the splitter sees, such as lowercased collections)."""
    words = text.split()
    if len(words) < SPAN_TEXTS:
        return None
    length = int(rng.integers(MIN_WORDS, min(MAX_WORDS, len(words) // 2) + 1))
    start = int(rng.integers(0, len(words) - length + 1))
    query = " ".join(words[start : start + length])
    return query, " ".join(words[:start] + words[start + length :])


def bm25_left_out(
    view: Any, queries: Sequence[Sequence[str]], docs: Sequence[Document]
) -> list[float]:
    """BM25 score of each document for its query under the collection's statistics, the
    document's own terms taken from ``docs`` (the remainders) rather than the index."""
    index = view.bm25
    c = index.config
    n_docs, avg = index.stats.n_docs, index.stats.avg_doc_length
    constants = index.constants(list(queries))
    out = []
    for q, (terms, doc) in enumerate(zip(queries, docs, strict=True)):
        doc_terms = view.index_terms(doc)
        tf = Counter(doc_terms)
        tally = Counter(t for t in terms if t in index.vocabulary and tf[t])
        score = 0.0
        if tally:
            present = list(tally)
            df = np.maximum([index.document_frequencies[index.vocabulary[t]] for t in present], 1)
            weights = posting_weights(
                c.variant,
                np.asarray([tf[t] for t in present], dtype=np.float64),
                np.full(len(present), float(len(doc_terms))),
                np.asarray(df, dtype=np.float64),
                n_docs,
                avg,
                c.k1,
                c.b,
                c.delta,
            )
            counts = np.asarray([tally[t] for t in present], dtype=np.float32)
            score = float(np.sum(weights.astype(np.float32) * counts))
        out.append(score + (0.0 if constants is None else float(constants[q])))
    return out


def dense_left_out(view: Any, queries: Sequence[str], docs: Sequence[Document]) -> list[float]:
    """Dense score of each document's remainder for its query (query vectors as the
    collection makes them: encoder or table)."""
    q = np.asarray(dense_queries(view, list(queries)), dtype=np.float32)
    d = view.encoder.encode_documents([f"{x.title} {x.text}".strip() for x in docs])
    scores: list[float] = np.einsum("nd,nd->n", q, np.asarray(d, dtype=np.float32)).tolist()
    return scores


LEFT_OUT: dict[str, Callable[[Any, Sequence[PseudoQuery]], list[float]]] = {
    "bm25": lambda view, pq: bm25_left_out(
        view, [view.analyzer.analyze(p.query) for p in pq], [p.remainder for p in pq]
    ),
    "dense": lambda view, pq: dense_left_out(
        view, [p.query for p in pq], [p.remainder for p in pq]
    ),
}
"""How each list scores a pseudo-query's source document without the query sentence."""


def unsupported(lists: Sequence[str]) -> str | None:
    """Why calibration cannot weigh a collection with these ``lists``, or ``None``."""
    if len(lists) < 2:
        return "calibration needs two lists to fuse (index with a dense model)"
    other = sorted(set(lists) - CALIBRATED_LISTS)
    if other:
        return f"calibration cannot score the {other} list(s) yet; it covers bm25 and dense"
    return None


def replaced(ranked: RankedList, doc_id: str, score: float, depth: int) -> RankedList:
    """``ranked`` with ``doc_id``'s entry replaced by ``score``, at the rank it earns
    (score desc, doc id asc), cut to ``depth``."""
    pairs = [(s, d) for d, s in zip(ranked.doc_ids, ranked.scores, strict=True) if d != doc_id]
    at = sum(1 for s, d in pairs if s > score or (s == score and d < doc_id))
    if at < depth:
        pairs.insert(at, (score, doc_id))
    pairs = pairs[:depth]
    return RankedList([d for _, d in pairs], [s for s, _ in pairs])


def calibrate(
    collection: Any,
    *,
    queries: int = QUERIES,
    seed: int = 0,
    depth: int = 1000,
    metric: str = "ndcg@10",
    folds: int = 5,
    apply: bool = True,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> CalibrationResult:
    """Choose ``collection``'s fusion on pseudo-queries drawn from it (see the module
    docstring) and, with ``apply``, store it with its evidence when it beats the current
    fusion out of fold, significantly (:data:`SIGNIFICANCE`); the evidence is stored either
    way.

    Raises:
        ConfigError: the collection is sharded, its fusion is a trained model (judgments
            chose it: calibration does not replace that), it has fewer than two lists or a
            list calibration cannot score (learned sparse).
        InvalidInputError: under half the documents can give a pseudo-query, or fewer
            than :data:`MIN_QUERIES` could be drawn.
    """
    start = time.perf_counter()
    (metric,) = check_metrics([metric])
    least = max(MIN_QUERIES, 2 * folds)
    if queries < least:
        raise ConfigError(f"calibration needs at least {least} pseudo-queries, got {queries}")
    if queries > MAX_QUERIES:
        raise ConfigError(f"calibration draws at most {MAX_QUERIES} pseudo-queries, got {queries}")
    _check_seed(seed)
    if not hasattr(collection, "set_calibration"):
        raise ConfigError("calibration needs a local collection (not a sharded one)")
    view = collection.snapshot()
    if view.config.fusion.method in LEARNED_METHODS:
        raise ConfigError(
            f"the collection's fusion is a trained model ({view.config.fusion.method}); "
            "calibration does not replace what judgments chose (set a fixed fusion first)"
        )
    names = view.lists()
    refusal = unsupported(names)
    if refusal is not None:
        raise ConfigError(refusal)
    drawn, share = _draw(view, queries, seed)
    if share < REPRESENTATIVE:
        raise InvalidInputError(
            f"only {share:.0%} of the documents can give a pseudo-query (two sentences or "
            f"{SPAN_TEXTS} words): pseudo-queries would not stand for this collection"
        )
    if len(drawn) < least:
        raise InvalidInputError(
            f"only {len(drawn)} pseudo-queries could be drawn (a document needs two "
            f"sentences or {SPAN_TEXTS} words); calibration needs at least {least}"
        )
    searcher = Searcher(collection)
    texts = {p.qid: p.query for p in drawn}
    config = FusionConfig(depths=dict.fromkeys(names, depth))
    found = searcher.retrieve_lists(texts, depth, HYBRID, config, backend=view)
    lists: dict[str, list[RankedList]] = {}
    for name in names:
        scores = LEFT_OUT[name](view, drawn)
        lists[name] = [
            replaced(found[name][p.qid], p.doc_id, s, depth)
            for p, s in zip(drawn, scores, strict=True)
        ]
    contexts = [QueryContext(p.query, tuple(view.analyzer.analyze(p.query))) for p in drawn]
    qrels = {p.qid: {p.doc_id: 1} for p in drawn}
    training = TrainingSet([p.qid for p in drawn], contexts, lists, qrels)
    alone = {name: _alone(training, name, metric) for name in names}
    grid = default_grid(names, sorted({min(100, depth), depth}))
    if on_total is not None:
        on_total(len(grid) + 1)
    current = view.config.fusion
    result = tune(training, current, metric=metric, n_folds=folds, grid=grid, progress=progress)
    best = simplify(result.best, names)
    wins = _wins(result.cv.gain, result.cv.p_value)
    # What a real run would serve, dry or not: a dry run reports the same decision.
    chosen = best if wins else current
    # Per-query weights on top of the chosen setting, kept only if they win out of fold too.
    chosen, per_query = _per_query(training, chosen, metric, folds)
    applied = apply and (wins or per_query is not None)
    evidence = Calibration(
        fusion=chosen.to_dict(),
        queries=len(drawn),
        seed=seed,
        metric=metric,
        lists=alone,
        before=result.cv.baseline,
        after=result.cv.learned,
        cv_gain=result.cv.gain,
        p_value=result.cv.p_value,
        seconds=round(time.perf_counter() - start, 2),
        per_query_gain=None if per_query is None else per_query.gain,
    )
    if apply:
        collection.set_calibration(chosen, evidence)
    return CalibrationResult(chosen, evidence, result, applied)


def _per_query(
    training: TrainingSet, chosen: FusionConfig, metric: str, folds: int
) -> tuple[FusionConfig, CVReport | None]:
    """``chosen`` with per-query weights when one of :data:`GAMMAS` beats it out of fold
    (and that report), else ``chosen`` unchanged (and ``None``). The lists' typical head
    separations are their medians over the pseudo-queries, at the setting's depths."""
    if chosen.method not in PER_QUERY_METHODS:
        return chosen, None
    reference = {
        name: float(
            np.median([head_separation(np.asarray(r.scores[: chosen.depth(name)])) for r in ranked])
        )
        for name, ranked in training.lists.items()
    }
    grid = [replace(chosen, per_query=g, reference=reference) for g in GAMMAS]
    result = tune(training, chosen, metric=metric, n_folds=folds, grid=grid)
    if not _wins(result.cv.gain, result.cv.p_value):
        return chosen, None
    return result.best, result.cv


def _wins(gain: float, p_value: float) -> bool:
    """Whether a setting beat the current one out of fold, by :data:`MIN_GAIN` at least and
    significantly."""
    return gain >= MIN_GAIN and p_value < SIGNIFICANCE


def _alone(training: TrainingSet, name: str, metric: str) -> float:
    """Mean ``metric`` of list ``name`` on its own."""
    k = run_depth(metric)
    run = {
        q: dict(zip(r.doc_ids[:k], r.scores[:k], strict=True))
        for q, r in zip(training.qids, training.lists[name], strict=True)
    }
    return float(per_query(run, training.qrels, training.qids, metric).mean())


def describe(evidence: Calibration) -> str:
    """One line: where the fusion's weights came from."""
    lists = ", ".join(f"{n} {v:.3f}" for n, v in evidence.lists.items())
    fusion = evidence.fusion
    weights = fusion.get("weights") or (
        {"alpha": fusion.get("alpha")} if fusion.get("method") == "convex" else {}
    )
    chosen = f"{fusion.get('method')}" + "".join(f", {k} {v}" for k, v in weights.items())
    if fusion.get("per_query"):
        chosen += f", per-query γ {fusion['per_query']}"
    won = _wins(evidence.cv_gain, evidence.p_value) or evidence.per_query_gain is not None
    return (
        f"calibrated on {evidence.queries} pseudo-queries drawn from the collection "
        f"({evidence.metric}: {lists} alone; fused {evidence.before:.3f} → {evidence.after:.3f} "
        f"out of fold): {chosen}" + ("" if won else " (kept: nothing beat it)")
    )
