"""``hybridir fuse`` / ``eval`` / ``compare`` on real run files against their oracles: ranx's
fusion, pytrec_eval (trec_eval itself), scipy's paired t-test and a direct call of the
randomization test.

The runs are BM25 runs of Cranfield written by ``hybridir evaluate --save-run`` under three
BM25 settings (depth 100, 225 queries).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from test_fusion_ranx import CASES  # the hybridir → ranx method mapping, shared

from hybridir.cli import main
from hybridir.eval import load_beir, read_run, write_qrels, write_run
from hybridir.eval.significance import randomization_test
from hybridir.types import Qrels, Run

ranx = pytest.importorskip("ranx")
pytrec_eval = pytest.importorskip("pytrec_eval")

SETTINGS = {
    "lucene": [],
    "atire": ["--variant", "atire", "--k1", "1.5", "--b", "0.9"],
    "low_b": ["--k1", "0.9", "--b", "0.4"],
}
EXTRA_CASES = {  # beyond test_fusion_ranx's: raw scores, another RRF constant
    ("combsum", "none"): (None, "sum", {}),
    ("combmax", "none"): (None, "max", {}),
    ("combmnz", "zscore"): ("zmuv", "mnz", {}),
    ("rrf", "k10"): (None, "rrf", {"k": 10}),
}
RANK_BASED = {"rrf", "isr", "log_isr"}
TREC_REQUESTS = {  # trec_eval name → the measure pytrec_eval is asked for
    "ndcg_cut_10": "ndcg_cut.10",
    "P_5": "P.5",
    "recip_rank": "recip_rank",
    "map": "map",
    "recall_100": "recall.100",
    "map_cut_10": "map_cut.10",
    "success_1": "success.1",
    "Rprec": "Rprec",
    "bpref": "bpref",
    "ndcg": "ndcg",
    "infAP": "infAP",
    "relative_P_5": "relative_P.5",
    "11pt_avg": "11pt_avg",
}
EQUIVALENTS = {  # hybridir name → its trec_eval equivalent
    "ndcg@10": "ndcg_cut_10",
    "p@5": "P_5",
    "precision@5": "P_5",
    "mrr": "recip_rank",
    "map": "map",
    "recall@100": "recall_100",
    "map@10": "map_cut_10",
    "hit_rate@1": "success_1",
    "r-precision": "Rprec",
}


def last_json(text: str) -> dict[str, object]:
    return json.loads(text.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def runs(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three real BM25 runs of Cranfield, written by the CLI."""
    folder = tmp_path_factory.mktemp("runs")
    paths = {}
    for name, options in SETTINGS.items():
        path = folder / f"{name}.run"
        args = ["evaluate", str(data_dir / "cranfield"), "--depth", "100", "--save-run", str(path)]
        assert main([*args, *options]) == 0
        paths[name] = path
    return paths


@pytest.fixture(scope="module")
def qrels(data_dir: Path) -> Qrels:
    return load_beir(data_dir / "cranfield").qrels


def _subset(run: Run, keep: set[str], path: Path) -> Path:
    write_run({q: hits for q, hits in run.items() if q in keep}, path)
    return path


@pytest.fixture(scope="module")
def fusable(runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The lucene and atire runs cut to the queries ranx can fuse as hybridir does.

    Kept: queries where each list has a spread (ranx's min-max sends a one-hit or constant
    list to 0.0, hybridir to 1.0: documented in hybridir.fusion and tested in
    test_fusion_ranx). Files named ``*-tiefree.run`` keep only queries without tied
    scores: ranx orders ties with an unstable sort, so rank-based methods can agree only
    there. hybridir's own tie rule is tested on hand-made runs (tests/unit/test_run_files.py).
    """
    folder = tmp_path_factory.mktemp("fusable")
    loaded = {name: read_run(runs[name]) for name in ("lucene", "atire")}
    spread = {
        q
        for q in loaded["lucene"]
        if all(q in r and len(set(r[q].values())) > 1 for r in loaded.values())
    }
    tie_free = {
        q for q in spread if all(len(set(r[q].values())) == len(r[q]) for r in loaded.values())
    }
    assert len(spread) >= 200
    assert len(tie_free) >= 50
    out = {}
    for name, run in loaded.items():
        out[name] = _subset(run, spread, folder / f"{name}.run")
        out[f"{name}-tiefree"] = _subset(run, tie_free, folder / f"{name}-tiefree.run")
    return out


def _file_order(path: Path) -> dict[str, list[tuple[str, float]]]:
    ranked: dict[str, list[tuple[str, float]]] = {}
    for line in path.read_text().splitlines():
        qid, _, doc_id, rank, score, _ = line.split()
        hits = ranked.setdefault(qid, [])
        assert int(rank) == len(hits) + 1
        hits.append((doc_id, float(score)))
    return ranked


def assert_same_fused_run(path: Path, expected: dict[str, dict[str, float]]) -> None:
    """The fused file holds ranx's documents and scores, in hybridir's order (score desc,
    doc id asc), which is ranx's ranking too wherever ranx's scores are not tied."""
    ours = _file_order(path)
    assert set(ours) == set(expected)
    for qid, hits in ours.items():
        theirs = expected[qid]
        assert {d for d, _ in hits} == set(theirs)
        for doc_id, score in hits:
            assert score == pytest.approx(theirs[doc_id], rel=1e-6, abs=1e-9), (qid, doc_id)
        assert hits == sorted(hits, key=lambda hit: (-hit[1], hit[0]))
        ranked = sorted(theirs.items(), key=lambda kv: (-kv[1], kv[0]))
        for (a, _), (b, _) in zip(ranked, hits, strict=True):
            assert a == b or theirs[a] == pytest.approx(theirs[b], rel=1e-9), (qid, a, b)


ALL_CASES = {**CASES, **EXTRA_CASES}


@pytest.mark.parametrize(("ours", "theirs"), list(ALL_CASES.items()), ids=list(map(str, ALL_CASES)))
def test_fuse_equals_ranx(
    fusable: dict[str, Path],
    tmp_path: Path,
    ours: tuple[str, str],
    theirs: tuple[str | None, str, dict[str, object]],
) -> None:
    method, norm = ours
    ranx_norm, ranx_method, params = theirs
    rank_based = method in RANK_BASED or norm == "rank"
    suffix = "-tiefree" if rank_based else ""
    first, second = fusable[f"lucene{suffix}"], fusable[f"atire{suffix}"]
    options = ["--method", method]
    if norm == "k10":
        options += ["--rrf-k", "10"]
    elif norm != "default":
        options += ["--norm", norm]
    if method == "convex":
        options += ["--alpha", "0.7"]
    out = tmp_path / "fused.run"
    assert main(["fuse", str(first), str(second), *options, "--out", str(out)]) == 0
    expected = ranx.fuse(
        runs=[
            ranx.Run.from_file(str(first), kind="trec"),
            ranx.Run.from_file(str(second), kind="trec"),
        ],
        norm=ranx_norm,
        method=ranx_method,
        params=params,
    ).to_dict()
    assert_same_fused_run(out, expected)


def test_fuse_three_weighted_runs_equals_ranx_wsum(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three runs, per-run weights, z-score normalization, a cut to 50 fused hits."""
    files = [str(runs[name]) for name in SETTINGS]
    out = tmp_path / "wsum.run"
    args = ["fuse", *files, "--method", "combsum", "--norm", "zscore", "--weights", "0.2,0.5,0.3"]
    assert main([*args, "-k", "50", "--run-tag", "wsum", "--out", str(out), "--json"]) == 0
    summary = last_json(capsys.readouterr().out)
    assert (summary["queries"], summary["tag"]) == (225, "wsum")
    expected = ranx.fuse(
        runs=[ranx.Run.from_file(f, kind="trec") for f in files],
        norm="zmuv",
        method="wsum",
        params={"weights": [0.2, 0.5, 0.3]},
    ).to_dict()
    fused = _file_order(out)
    assert summary["hits"] == sum(len(h) for h in fused.values()) == 225 * 50
    for qid, hits in fused.items():
        for doc_id, score in hits:
            assert score == pytest.approx(expected[qid][doc_id], rel=1e-6, abs=1e-9)
        # nothing ranx scores higher was cut: the 51st best of ranx is no better than our 50th
        next_best = sorted(expected[qid].values(), reverse=True)[50]
        assert hits[-1][1] >= next_best - 1e-9
    assert all(line.endswith(" wsum") for line in out.read_text().splitlines())


def _pytrec(run_path: Path, qrels_path: Path, requests: set[str]) -> dict[str, dict[str, float]]:
    with run_path.open() as f:
        run = pytrec_eval.parse_run(f)
    with qrels_path.open() as f:
        judged = pytrec_eval.parse_qrel(f)
    return pytrec_eval.RelevanceEvaluator(judged, requests).evaluate(run)  # type: ignore[no-any-return]


def test_eval_equals_pytrec_eval_for_trec_eval_names(
    runs: dict[str, Path],
    qrels: Qrels,
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    qrels_trec = tmp_path / "qrels.txt"
    write_qrels(qrels, qrels_trec)
    expected = _pytrec(runs["atire"], qrels_trec, set(TREC_REQUESTS.values()))
    assert set(expected) == set(qrels)  # the run answers every judged query: means agree
    names = ",".join(TREC_REQUESTS)
    sources = [str(qrels_trec), str(data_dir / "cranfield" / "qrels" / "test.tsv"), "cranfield"]
    for source in sources:  # TREC qrels, BEIR TSV, a dataset name: the same numbers
        args = ["eval", str(runs["atire"]), source, "--metrics", names, "-q", "--json"]
        assert main(args) == 0
        result = last_json(capsys.readouterr().out)
        assert result["queries"] == 225
        per_query = result["per_query"]
        assert isinstance(per_query, dict)
        for name in TREC_REQUESTS:
            values = [expected[q][name] for q in sorted(expected)]
            assert result[name] == pytest.approx(math.fsum(values) / len(values), abs=1e-12)
            assert per_query[name] == pytest.approx({q: expected[q][name] for q in expected})


def test_eval_per_query_lines_read_like_trec_eval_q(
    runs: dict[str, Path], qrels: Qrels, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    qrels_trec = tmp_path / "qrels.txt"
    write_qrels(qrels, qrels_trec)
    expected = _pytrec(runs["lucene"], qrels_trec, {"P.5", "bpref"})
    assert main(["eval", str(runs["lucene"]), str(qrels_trec), "--metrics", "P_5,bpref", "-q"]) == 0
    lines = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 2 * (225 + 1)
    for name, qid, value in lines:
        if qid == "all":
            mean = math.fsum(expected[q][name] for q in expected) / len(expected)
            assert float(value) == pytest.approx(mean, abs=5e-5)
        else:
            assert float(value) == pytest.approx(expected[qid][name], abs=5e-5)


def test_hybridir_names_agree_with_trec_eval_names(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    names = ",".join([*EQUIVALENTS, *set(EQUIVALENTS.values())])
    assert main(["eval", str(runs["low_b"]), "cranfield", "--metrics", names, "--json"]) == 0
    result = last_json(capsys.readouterr().out)
    for ours, theirs in EQUIVALENTS.items():
        assert result[ours] == result[theirs], (ours, theirs)
    assert 0.0 < float(result["ndcg@10"]) < 1.0  # type: ignore[arg-type]


def _per_query(run: Path, qrels_path: Path, name: str, request: str) -> dict[str, float]:
    return {q: v[name] for q, v in _pytrec(run, qrels_path, {request}).items()}


def test_compare_p_values_equal_the_tests_called_directly(
    runs: dict[str, Path], qrels: Qrels, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from scipy import stats

    qrels_trec = tmp_path / "qrels.txt"
    write_qrels(qrels, qrels_trec)
    files = [str(runs[name]) for name in SETTINGS]
    metrics = {"ndcg_cut_10": "ndcg_cut.10", "recall_100": "recall.100"}
    values = {
        name: {m: _per_query(runs[name], qrels_trec, m, r) for m, r in metrics.items()}
        for name in SETTINGS
    }
    common = ["compare", *files, "--qrels", str(qrels_trec), "--metrics", ",".join(metrics)]

    assert main([*common, "--test", "t-test", "--json"]) == 0
    result = last_json(capsys.readouterr().out)
    assert result["baseline"] == "lucene"
    table = result["runs"]
    assert isinstance(table, dict)
    for metric in metrics:
        base = [values["lucene"][metric][q] for q in sorted(qrels)]
        assert table["lucene"][metric]["p_value"] is None
        for name in ("atire", "low_b"):
            other = [values[name][metric][q] for q in sorted(qrels)]
            p = stats.ttest_rel(other, base).pvalue
            assert table[name][metric]["p_value"] == pytest.approx(p, rel=1e-12)
            assert table[name][metric]["mean"] == pytest.approx(sum(other) / len(other))

    assert main([*common, "--baseline", "atire", "--correction", "holm", "--json"]) == 0
    result = last_json(capsys.readouterr().out)
    table = result["runs"]
    assert isinstance(table, dict)
    for metric in metrics:
        raw = {
            name: randomization_test(values["atire"][metric], values[name][metric]).p_value
            for name in ("lucene", "low_b")
        }
        assert {n: table[n][metric]["p_value"] for n in raw} == raw
        low, high = sorted(raw.values())  # Holm over two tests: 2 * smallest, then monotone
        adjusted = {n: min(1.0, max(2 * low, p if p == high else 0.0)) for n, p in raw.items()}
        assert {n: table[n][metric]["p_adjusted"] for n in raw} == pytest.approx(adjusted)
