"""Metrics against oracles: ranx and pytrec_eval on real runs, and hand-computed micro-fixtures.

ranx's ``ndcg`` is Järvelin and Kekäläinen's formulation (gain = grade, log2(rank + 1)
discount), the same as trec_eval's ``ndcg_cut``; its ``map@k`` divides by all relevant documents,
like trec_eval's ``map_cut``. The two libraries break score ties differently (trec_eval: doc id
descending), so the oracle runs are checked to have no ties.
"""

from __future__ import annotations

import os
import re
from math import log2
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from hybridir.errors import ConfigError, InvalidInputError
from hybridir.eval import evaluate, evaluate_per_query, load_beir
from hybridir.types import Document, Qrels, Run

_TOKEN = re.compile(r"\w+")
ORACLE_METRICS = ["ndcg@10", "recall@100", "precision@10", "map@100", "mrr@10", "hit_rate@10"]


def _data_root() -> Path:
    env = os.environ.get("HYBRIDIR_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


def _term_matrix(texts: list[str], vocab: dict[str, int]) -> sp.csr_matrix:
    rows: list[int] = []
    cols: list[int] = []
    for i, text in enumerate(texts):
        for token in _TOKEN.findall(text.lower()):
            rows.append(i)
            cols.append(vocab.setdefault(token, len(vocab)))
    ones = np.ones(len(rows))
    return sp.csr_matrix((ones, (rows, cols)), shape=(len(texts), len(vocab) + 1))


def _tfidf_run(docs: list[Document], queries: dict[str, str], k: int = 100) -> Run:
    """Cosine of log-idf weighted term counts; top k per query by (score desc, doc_id asc)."""
    docs = sorted(docs, key=lambda d: d.doc_id)
    vocab: dict[str, int] = {}
    doc_tf = _term_matrix([f"{d.title} {d.text}" for d in docs], vocab)
    qids = list(queries)
    query_tf = _term_matrix([queries[q] for q in qids], vocab)
    width = len(vocab) + 1
    doc_tf.resize((doc_tf.shape[0], width))
    query_tf.resize((query_tf.shape[0], width))
    df = np.bincount(doc_tf.indices, minlength=width)
    idf = np.log((1 + len(docs)) / (1 + df)) + 1.0

    def unit_rows(m: sp.csr_matrix) -> sp.csr_matrix:
        weighted = sp.csr_matrix(m.multiply(idf[None, :]))
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
        return sp.csr_matrix(sp.diags(1.0 / np.where(norms == 0, 1.0, norms)) @ weighted)

    scores = (unit_rows(query_tf) @ unit_rows(doc_tf).T).toarray()
    run: Run = {}
    for i, qid in enumerate(qids):
        order = np.argsort(-scores[i], kind="stable")[:k]  # docs sorted by id: ties -> id asc
        run[qid] = {docs[j].doc_id: float(scores[i, j]) for j in order if scores[i, j] > 0}
    return run


def _load(name: str) -> tuple[Qrels, Run]:
    root = _data_root() / name
    if not root.is_dir():
        pytest.skip(f"dataset {name!r} not found at {root}; set HYBRIDIR_DATA")
    ds = load_beir(root, split="test")
    run = _tfidf_run(list(ds.corpus()), ds.queries)
    for qid, hits in run.items():
        assert len(set(hits.values())) == len(hits), f"score ties in {qid}: oracles would differ"
    return ds.qrels, run


@pytest.fixture(scope="module")
def scifact() -> tuple[Qrels, Run]:
    return _load("scifact")


@pytest.fixture(scope="module")
def cranfield() -> tuple[Qrels, Run]:
    return _load("cranfield")


def _ranx_mean(qrels: Qrels, run: Run, metric: str) -> float:
    ranx = pytest.importorskip("ranx")
    # One metric per call: ranx compiles a much slower path for metric lists.
    return float(ranx.evaluate(ranx.Qrels(qrels), ranx.Run(run), metric, make_comparable=True))


def test_scifact_metrics_match_ranx(scifact: tuple[Qrels, Run]) -> None:
    qrels, run = scifact
    ours = evaluate(run, qrels, ORACLE_METRICS)
    for metric in ORACLE_METRICS:
        assert ours[metric] == pytest.approx(_ranx_mean(qrels, run, metric), abs=1e-6), metric
    assert 0.3 < ours["ndcg@10"] < 0.9  # a sane TF-IDF run, not a degenerate one


def test_scifact_metrics_match_pytrec_eval_directly(scifact: tuple[Qrels, Run]) -> None:
    import pytrec_eval

    qrels, run = scifact
    measures = {"ndcg_cut.10", "recall.100", "P.10", "map_cut.100", "success.10", "Rprec"}
    direct = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    keys = {
        "ndcg@10": "ndcg_cut_10",
        "recall@100": "recall_100",
        "p@10": "P_10",
        "map@100": "map_cut_100",
        "hit_rate@10": "success_10",
        "r-precision": "Rprec",
    }
    ours = evaluate(run, qrels, list(keys))
    for metric, key in keys.items():
        # Every scifact test query is in the run, so plain means equal trec_eval -c means.
        expected = sum(direct[q][key] for q in qrels) / len(qrels)
        assert ours[metric] == pytest.approx(expected, abs=1e-12), metric


def test_cranfield_graded_ndcg_matches_ranx(cranfield: tuple[Qrels, Run]) -> None:
    qrels, run = cranfield
    assert {g for docs in qrels.values() for g in docs.values()} == {0, 1, 2, 3, 4}
    ours = evaluate(run, qrels, ["ndcg@10"])["ndcg@10"]
    assert ours == pytest.approx(_ranx_mean(qrels, run, "ndcg@10"), abs=1e-6)


# Hand-computed micro-fixture. q3 is judged but absent from the run (counts 0, trec_eval -c);
# q9 is in the run but not judged (ignored).
MICRO_QRELS: Qrels = {
    "q1": {"d1": 1, "d2": 0, "d3": 1},
    "q2": {"e2": 2, "e5": 1},
    "q3": {"z": 1},
}
MICRO_RUN: Run = {
    "q1": {"d1": 0.9, "d2": 0.8, "d3": 0.7, "d4": 0.6},
    "q2": {"e1": 0.9, "e2": 0.5, "e3": 0.4, "e4": 0.1},
    "q9": {"x": 1.0},
}


def test_micro_fixture_per_query_by_hand() -> None:
    metrics = ["ndcg@3", "recall@2", "mrr@2", "p@2"]
    per_query = evaluate_per_query(MICRO_RUN, MICRO_QRELS, metrics)
    expected = {
        "ndcg@3": {
            "q1": (1 / log2(2) + 1 / log2(4)) / (1 / log2(2) + 1 / log2(3)),
            "q2": (2 / log2(3)) / (2 / log2(2) + 1 / log2(3)),
            "q3": 0.0,
        },
        "recall@2": {"q1": 1 / 2, "q2": 1 / 2, "q3": 0.0},
        "mrr@2": {"q1": 1 / 1, "q2": 1 / 2, "q3": 0.0},
        "p@2": {"q1": 1 / 2, "q2": 1 / 2, "q3": 0.0},
    }
    assert per_query.keys() == expected.keys()
    for metric, values in expected.items():
        assert per_query[metric] == pytest.approx(values, abs=1e-12), metric


def test_micro_fixture_means_count_missing_queries_as_zero() -> None:
    means = evaluate(MICRO_RUN, MICRO_QRELS, ["ndcg@3", "recall@2", "mrr@2", "p@2", "hit_rate@1"])
    ndcg_q1 = (1 / log2(2) + 1 / log2(4)) / (1 / log2(2) + 1 / log2(3))
    ndcg_q2 = (2 / log2(3)) / (2 / log2(2) + 1 / log2(3))
    assert means["ndcg@3"] == pytest.approx((ndcg_q1 + ndcg_q2 + 0) / 3, abs=1e-12)
    assert means["recall@2"] == pytest.approx((1 / 2 + 1 / 2 + 0) / 3, abs=1e-12)
    assert means["mrr@2"] == pytest.approx((1 + 1 / 2 + 0) / 3, abs=1e-12)
    assert means["p@2"] == pytest.approx((1 / 2 + 1 / 2 + 0) / 3, abs=1e-12)
    assert means["hit_rate@1"] == pytest.approx((1 + 0 + 0) / 3, abs=1e-12)


def test_full_depth_map_and_mrr_and_rprec_by_hand() -> None:
    means = evaluate(MICRO_RUN, MICRO_QRELS, ["map", "mrr", "r-precision", "map@1", "mrr@1"])
    ap_q1 = (1 / 1 + 2 / 3) / 2
    ap_q2 = (1 / 2) / 2  # e5 is never retrieved
    assert means["map"] == pytest.approx((ap_q1 + ap_q2 + 0) / 3, abs=1e-12)
    assert means["mrr"] == pytest.approx((1 + 1 / 2 + 0) / 3, abs=1e-12)
    assert means["r-precision"] == pytest.approx((1 / 2 + 1 / 2 + 0) / 3, abs=1e-12)
    assert means["map@1"] == pytest.approx((1 / 2 + 0 + 0) / 3, abs=1e-12)
    assert means["mrr@1"] == pytest.approx((1 + 0 + 0) / 3, abs=1e-12)


def test_ties_follow_trec_eval_order_for_every_metric() -> None:
    # trec_eval ranks tied scores by doc id descending: "b" before "a". mrr@k agrees with
    # P@k and success@k, because it is cut in that same order.
    qrels: Qrels = {"q": {"a": 1}}
    run: Run = {"q": {"a": 1.0, "b": 1.0}}
    values = evaluate(run, qrels, ["mrr@1", "p@1", "hit_rate@1", "mrr@2", "ndcg@1"])
    assert values == {"mrr@1": 0.0, "p@1": 0.0, "hit_rate@1": 0.0, "mrr@2": 0.5, "ndcg@1": 0.0}


def test_aliases_case_and_empty_queries() -> None:
    run: Run = {"q1": dict(MICRO_RUN["q1"]), "q2": {}}
    qrels: Qrels = {"q1": MICRO_QRELS["q1"], "q2": MICRO_QRELS["q2"]}
    values = evaluate(run, qrels, ["p@2", "precision@2", "accuracy@2", "hit_rate@2", "NDCG@3"])
    assert values["p@2"] == values["precision@2"] == pytest.approx(1 / 4)
    assert values["accuracy@2"] == values["hit_rate@2"] == pytest.approx(1 / 2)
    assert evaluate_per_query(run, qrels, ["NDCG@3"])["NDCG@3"]["q2"] == 0.0
    assert run["q2"] == {}
    assert run["q1"] == MICRO_RUN["q1"]


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        ("foo@10", "unknown metric"),
        ("ndcg@0", "positive integer"),
        ("ndcg@-1", "positive integer"),
        ("ndcg@1.5", "positive integer"),
        ("ndcg@", "positive integer"),
        ("ndcg@ten", "positive integer"),
        ("recall", "needs a cutoff"),
        ("r-precision@5", "takes no cutoff"),
    ],
)
def test_invalid_metric_names_are_config_errors(metric: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        evaluate(MICRO_RUN, MICRO_QRELS, [metric])
    if message == "unknown metric":
        assert "ndcg@k" in str(info.value)
        assert "hit_rate@k" in str(info.value)


def test_bad_inputs() -> None:
    with pytest.raises(ConfigError):
        evaluate(MICRO_RUN, MICRO_QRELS, [])
    with pytest.raises(InvalidInputError):
        evaluate(MICRO_RUN, {}, ["ndcg@10"])
    with pytest.raises(InvalidInputError, match="NaN"):
        evaluate({"q1": {"d1": float("nan")}}, MICRO_QRELS, ["ndcg@10"])
