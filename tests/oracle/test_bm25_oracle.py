"""BM25 scores equal bm25s and rank_bm25 on a real corpus, given the same tokens."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hybridir import Analyzer, BM25Config
from hybridir.sparse.index import BM25Index
from hybridir.sparse.postings import build_from_terms

bm25s = pytest.importorskip("bm25s")
rank_bm25 = pytest.importorskip("rank_bm25")


@pytest.fixture(scope="module")
def cranfield(data_dir: Path) -> tuple[list[list[str]], list[str], list[list[str]]]:
    analyzer = Analyzer()
    folder = data_dir / "cranfield"
    rows = [json.loads(line) for line in (folder / "corpus.jsonl").open(encoding="utf-8")]
    docs = [analyzer.analyze(f"{r['title']} {r['text']}") for r in rows]
    ids = [r["_id"] for r in rows]
    queries = [
        analyzer.analyze(json.loads(line)["text"])
        for line in (folder / "queries.jsonl").open(encoding="utf-8")
    ][:60]
    return docs, ids, queries


@pytest.mark.parametrize("variant", ["lucene", "robertson", "atire", "bm25l", "bm25+"])
def test_scores_equal_bm25s(
    cranfield: tuple[list[list[str]], list[str], list[list[str]]], variant: str
) -> None:
    docs, ids, queries = cranfield
    # bm25s drops empty documents' tokens but keeps the rows; give both the same input.
    oracle = bm25s.BM25(method=variant, k1=1.2, b=0.75, delta=0.5)
    oracle.index(docs, show_progress=False)
    ours = BM25Index(
        build_from_terms(docs, ids), BM25Config(variant=variant, k1=1.2, b=0.75, delta=0.5)
    )
    for terms in queries:
        known = [t for t in terms if t in oracle.vocab_dict]
        expected = oracle.get_scores(known)
        np.testing.assert_allclose(ours.score_all(terms), expected, rtol=2e-5, atol=2e-5)


def test_top_k_equals_bm25s_ranking(
    cranfield: tuple[list[list[str]], list[str], list[list[str]]],
) -> None:
    docs, ids, queries = cranfield
    oracle = bm25s.BM25(method="lucene", k1=0.9, b=0.4)
    oracle.index(docs, show_progress=False)
    ours = BM25Index(build_from_terms(docs, ids), BM25Config(k1=0.9, b=0.4))
    for terms, hits in zip(queries, ours.search(queries, k=100), strict=True):
        expected = oracle.get_scores([t for t in terms if t in oracle.vocab_dict])
        # Tie-aware: our k-th score bounds the oracle's top-k, and each returned document
        # carries the oracle's score for it.
        np.testing.assert_allclose(
            hits.scores, expected[[ids.index(d) for d in hits.doc_ids]], rtol=2e-5
        )
        top = np.sort(expected)[::-1][: len(hits.scores)]
        np.testing.assert_allclose(hits.scores, top, rtol=2e-5)


def test_bm25plus_equals_rank_bm25(
    cranfield: tuple[list[list[str]], list[str], list[list[str]]],
) -> None:
    # rank_bm25's BM25L multiplies its term by the raw tf once more (not Lv & Zhai's
    # formula), so only its BM25+ serves as an oracle; bm25s covers BM25L above.
    docs, ids, queries = cranfield
    oracle = rank_bm25.BM25Plus(docs, k1=1.5, b=0.75, delta=1.0)
    ours = BM25Index(
        build_from_terms(docs, ids), BM25Config(variant="bm25+", k1=1.5, b=0.75, delta=1.0)
    )
    for terms in queries[:20]:
        known = [t for t in terms if t in ours.vocabulary]
        np.testing.assert_allclose(ours.score_all(terms), oracle.get_scores(known), rtol=2e-5)


def test_okapi_equals_rank_bm25_on_positive_idf_terms(
    cranfield: tuple[list[list[str]], list[str], list[list[str]]],
) -> None:
    # rank_bm25's BM25Okapi is Robertson's IDF with the (k1 + 1) numerator; it replaces
    # negative IDFs by a floor, so compare on terms in fewer than half of the documents.
    docs, ids, queries = cranfield
    oracle = rank_bm25.BM25Okapi(docs, k1=1.5, b=0.75)
    ours = BM25Index(build_from_terms(docs, ids), BM25Config(variant="robertson", k1=1.5, b=0.75))
    df = dict(zip(ours.postings.terms, ours.postings.document_frequencies(), strict=True))
    for terms in queries[:20]:
        rare = [t for t in terms if 0 < df.get(t, 0) < len(docs) / 2]
        np.testing.assert_allclose(2.5 * ours.score_all(rare), oracle.get_scores(rare), rtol=2e-5)
