"""Four more levers on the default hybrid's lists (issue 19): can any of them close the gap to
``../shared/REFERENCE.md`` on CACM and Medline without losing elsewhere?

The default hybrid is BM25 (k1 1.2 / b 0.75, the English analyzer) and MiniLM, each 1000
deep, fused by DBSF. Each lever changes one list (or the fused score) and is fused again the
same way; each is reported with a paired randomization test against the default hybrid:

- **dense MaxP** (Dai & Callan, "Deeper Text Understanding for IR with Contextual Neural
  Language Modeling", SIGIR 2019): documents longer than MiniLM's 256-token window are also
  encoded as windows of 200 tokens overlapping by 32 (``ChunkConfig``'s defaults), and a
  document scores the best of its whole-text and window similarities, so no text is lost to
  truncation;
- **bigram proximity** (after the sequential dependence model, Metzler & Croft, SIGIR 2005):
  BM25 plus ``lam`` times a BM25 over the query's adjacent term pairs found adjacent in the
  document, on BM25's 1000 candidates;
- **BM25+** (Lv & Zhai, "Lower-Bounding Term Frequency Normalization", CIKM 2011): each
  matched term gets ``delta`` more, so long documents are not over-penalized;
- **a document-length prior** (Kraaij, Westerveld & Hiemstra, SIGIR 2002; Singhal, Buckley &
  Mitra's pivot, SIGIR 1996): documents shorter than the collection's median lose
  ``beta · log((1 + len) / (1 + median))`` of fused score. CACM's relevant documents are
  18 % title-only records against 50 % of the collection, which is what b = 0.4 rewards.

A last grid asks what it would take: the analyzer (hybridir's Lucene English with Porter, or
bm25s's Snowball without one-letter tokens, from which REFERENCE.md's lists come) × BM25's
k1 / b (1.2 / 0.75, 0.9 / 0.4) × the fusion (DBSF, DBSF with dense weight 0.6, min-max
convex α = 0.5, RRF), each one setting for all five datasets.

BM25, BM25+ and the bigram scores are computed here from the analyzer's tokens (the BM25
column equals hybridir's own to four decimals; the check is printed).

With ``--more-lists`` the other offline models join the default hybrid as third and fourth
lists (splade-tiny impacts, the multilingual USE), each fused by DBSF.

    python benchmarks/list_levers.py [--datasets cacm,medline] [--more-lists] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

# The shared parts of issue 19's scripts: the default hybrid's lists, the report, the CLI.
from feedback import DBSF, DEPTH, MINILM, cli, first_round, fused_run, report
from hybridir import CollectionConfig
from hybridir._cache import cache_root
from hybridir.config import AnalyzerConfig, DenseConfig, FusionConfig, SpladeConfig
from hybridir.dense.encoders import resolve_model
from hybridir.eval.datasets import resolve_dataset
from hybridir.eval.readers import read_corpus
from hybridir.eval.runner import cached_collection
from hybridir.query import prepare
from hybridir.text.analyzer import Analyzer
from hybridir.types import RankedList

K1, B = 1.2, 0.75
WINDOW, OVERLAP, MODEL_WINDOW = 200, 32, 254
"""MaxP windows (ChunkConfig's defaults) and the tokens MiniLM reads (256 less two specials)."""
PROXIMITY = (0.1, 0.25, 0.5)
DELTAS = (0.5, 1.0)
BETAS = (0.02, 0.05, 0.1)
ANALYZERS = {
    "lucene porter": AnalyzerConfig(language="en"),
    "bm25s (snowball, 2+ chars)": AnalyzerConfig(
        language="en", stemmer="snowball:english", min_token_length=2
    ),
}
"""hybridir's English analyzer, and the one REFERENCE.md's bm25s lists come from."""
SETTINGS = ((1.2, 0.75), (0.9, 0.4))
FUSIONS = {
    "dbsf": DBSF,
    "dbsf dense 0.6": FusionConfig(method="dbsf", weights={"bm25": 0.4, "dense": 0.6}),
    "convex 0.5 (min-max)": FusionConfig(method="convex"),
    "rrf": FusionConfig(method="rrf"),
}
"""The grid: does any one analyzer × BM25 setting × fusion reach every reference row?"""
MORE = (
    ("splade",),
    ("use",),
    ("bm25", "dense", "splade"),
    ("bm25", "dense", "use"),
    ("bm25", "dense", "splade", "use"),
)
"""With ``--more-lists``: the other offline models alone and added to the default hybrid."""


def ranked(scores: Mapping[str, float]) -> RankedList:
    """Scores as a list, best first, ties by doc id, cut to :data:`DEPTH`."""
    top = sorted(scores.items(), key=lambda ds: (-ds[1], ds[0]))[:DEPTH]
    return RankedList([d for d, _ in top], [s for _, s in top])


class Corpus:
    """The analyzer's tokens of every document and BM25's statistics over them."""

    def __init__(self, dataset: str, analyzer: Analyzer) -> None:
        docs = list(read_corpus(Path(resolve_dataset(dataset)) / "corpus.jsonl"))
        self.texts = {d.doc_id: f"{d.title} {d.text}".strip() for d in docs}
        self.tokens = {i: analyzer.analyze(t) for i, t in self.texts.items()}
        self.length = {i: len(t) for i, t in self.tokens.items()}
        self.avg = float(np.mean(list(self.length.values())))
        self.median = float(np.median(list(self.length.values())))
        self.tf = {i: Counter(t) for i, t in self.tokens.items()}
        self.pairs = {i: Counter(itertools.pairwise(t)) for i, t in self.tokens.items()}
        n = len(docs)
        df = Counter(t for c in self.tf.values() for t in c)
        pair_df = Counter(p for c in self.pairs.values() for p in c)

        def idf(k: int) -> float:  # Lucene's BM25 idf of a term in k of n documents
            return math.log(1 + (n - k + 0.5) / (k + 0.5))

        self.idf = {t: idf(k) for t, k in df.items()}
        self.pair_idf = {p: idf(k) for p, k in pair_df.items()}
        self.postings: dict[str, list[str]] = {}
        for i, c in self.tf.items():
            for t in c:
                self.postings.setdefault(t, []).append(i)

    def _norm(self, doc: str, k1: float = K1, b: float = B) -> float:
        return k1 * (1 - b + b * self.length[doc] / self.avg)

    def bm25(
        self, terms: Sequence[str], delta: float = 0.0, k1: float = K1, b: float = B
    ) -> dict[str, float]:
        """Lucene BM25 (BM25+ with ``delta`` > 0) of every document matching ``terms``."""
        out: dict[str, float] = {}
        for term, qf in Counter(terms).items():
            idf = self.idf.get(term, 0.0)
            for doc in self.postings.get(term, ()):
                f = self.tf[doc][term]
                gain = qf * idf * (f / (f + self._norm(doc, k1, b)) + delta / (k1 + 1))
                out[doc] = out.get(doc, 0.0) + gain
        return out

    def bigrams(self, terms: Sequence[str], docs: Sequence[str]) -> list[float]:
        """BM25 over the adjacent pairs of ``terms`` that occur adjacent in each of ``docs``."""
        pairs = list(itertools.pairwise(terms))
        out = []
        for doc in docs:
            found, norm, score = self.pairs[doc], self._norm(doc), 0.0
            for pair in pairs:
                f = found.get(pair, 0)
                if f:
                    score += self.pair_idf[pair] * f / (f + norm)
            out.append(score)
        return out


def windows(tokenizer: Any, text: str) -> list[str]:
    """``text`` cut into overlapping windows when MiniLM would truncate it, else nothing."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) <= MODEL_WINDOW:
        return []
    out, start = [], 0
    while True:
        out.append(tokenizer.decode(ids[start : start + WINDOW]))
        if start + WINDOW >= len(ids):
            return out
        start += WINDOW - OVERLAP


def maxp_lists(dataset: str, view: Any, corpus: Corpus, queries: np.ndarray) -> list[RankedList]:
    """MiniLM's list with each long document scored by its best window (vectors cached)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(MINILM))
    ids = list(corpus.texts)
    owner, texts = [], []
    for row, doc in enumerate(ids):
        for window in windows(tokenizer, corpus.texts[doc]):
            owner.append(row)
            texts.append(window)
    cache = cache_root("benchmark") / f"maxp-{dataset.replace('/', '-')}-{WINDOW}-{OVERLAP}.npy"
    if cache.is_file():
        vectors = np.load(cache)
    else:
        vectors = view.encoder.encode_documents(texts, show_progress=True)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, vectors)
    scores = queries @ view.dense_vectors(ids).T
    if texts:
        np.maximum.at(scores.T, np.asarray(owner), (queries @ vectors.T).T)
    print(f"  {dataset}: {len(set(owner))} long documents, {len(texts)} windows", file=sys.stderr)
    return [ranked(dict(zip(ids, map(float, row), strict=True))) for row in scores]


def more_lists(dataset: str, texts: Sequence[str]) -> dict[str, list[RankedList]]:
    """The other offline lists: splade-tiny impacts and the multilingual USE's vectors (their
    collections are built on first use and cached like the default one)."""
    english = AnalyzerConfig(language="en")
    cache = cache_root("benchmark")
    splade = CollectionConfig(
        analyzer=english, dense=DenseConfig(model=MINILM), splade=SpladeConfig(model="splade-tiny")
    )
    view = cached_collection(dataset, splade, cache).snapshot()
    impacts = view.retrieve({"splade": (prepare(view, ["splade"], texts)["splade"], DEPTH)})
    use = cached_collection(
        dataset, CollectionConfig(analyzer=english, dense=DenseConfig(model="use-m")), cache
    ).snapshot()
    vectors = use.retrieve({"dense": (prepare(use, ["dense"], texts)["dense"], DEPTH)})
    return {"splade": impacts.lists["splade"], "use": vectors.lists["dense"]}


def run_dataset(dataset: str, more: bool = False) -> dict[str, Any]:
    start = first_round(dataset)
    data, view, qids, first, score = start.data, start.view, start.qids, start.lists, start.score
    analyzer = Analyzer(ANALYZERS["lucene porter"])
    corpus = Corpus(dataset, analyzer)
    terms = [analyzer.analyze(data.queries[q]) for q in qids]
    bm25 = [ranked(corpus.bm25(t)) for t in terms]
    base = score(fused_run(qids, first))
    rows: dict[str, dict[str, float]] = {
        "bm25 (hybridir)": score(fused_run(qids, {"bm25": first["bm25"]})),
        "bm25 (recomputed)": score(fused_run(qids, {"bm25": bm25})),
        "hybrid": base,
    }
    dense = first["dense"]
    for lam in PROXIMITY:
        lists = []
        for t, lst in zip(terms, bm25, strict=True):
            extra = corpus.bigrams(t, lst.doc_ids)
            lists.append(ranked({d: s + lam * e for d, s, e in zip(*lst, extra, strict=True)}))
        rows[f"bigrams lam={lam}"] = score(fused_run(qids, {"bm25": lists, "dense": dense}))
    for delta in DELTAS:
        lists = [ranked(corpus.bm25(t, delta)) for t in terms]
        rows[f"bm25+ delta={delta}"] = score(fused_run(qids, {"bm25": lists, "dense": dense}))
    for beta in BETAS:

        def prior(doc: str, beta: float = beta) -> float:
            return beta * min(0.0, math.log((1 + corpus.length[doc]) / (1 + corpus.median)))

        rows[f"length prior beta={beta}"] = score(fused_run(qids, first, prior=prior))
    queries = np.asarray(start.prepared["dense"], dtype=np.float32)
    maxp = maxp_lists(dataset, view, corpus, queries)
    rows["dense maxp"] = score(fused_run(qids, {"dense": maxp}))
    rows["hybrid, dense maxp"] = score(fused_run(qids, {"bm25": first["bm25"], "dense": maxp}))
    for name, analyzer_config in ANALYZERS.items():
        other = Analyzer(analyzer_config)
        other_corpus = Corpus(dataset, other) if name != "lucene porter" else corpus
        other_terms = [other.analyze(data.queries[q]) for q in qids]
        for k1, b in SETTINGS:
            lists = [ranked(other_corpus.bm25(t, k1=k1, b=b)) for t in other_terms]
            for label, fusion in FUSIONS.items():
                run = fused_run(qids, {"bm25": lists, "dense": dense}, fusion)
                rows[f"grid: {name}, k1 {k1} b {b}, {label}"] = score(run)
    if more:
        other = more_lists(dataset, [data.queries[q] for q in qids])
        lists = {**first, **other}
        for names in MORE:
            # Fused under list names fusion knows: USE is a second dense list.
            chosen = {("dense2" if n == "use" else n): lists[n] for n in names}
            rows[" + ".join(names)] = score(fused_run(qids, chosen))
    return report(dataset, rows)


def main(argv: list[str] | None = None) -> int:
    def options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--more-lists",
            action="store_true",
            help="also fuse splade-tiny and the multilingual USE (indexes them on first use)",
        )

    def run(dataset: str, args: argparse.Namespace) -> dict[str, Any]:
        return run_dataset(dataset, args.more_lists)

    return cli(argv, (__doc__ or "").splitlines()[0], run, options)


if __name__ == "__main__":
    sys.exit(main())
