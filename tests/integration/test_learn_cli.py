"""`hybridir tune` / `train` / `copy-model` end to end on ADI (BM25 + MiniLM), and the proof
that what they save is what `search` and `evaluate` use afterwards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hybridir import Collection, Searcher
from hybridir.cli import main
from hybridir.config import FusionConfig
from hybridir.eval import evaluate, load_beir


def last_json(out: str) -> dict[str, object]:
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def adi_col(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("learn")
    mp = pytest.MonkeyPatch()
    mp.setenv("HYBRIDIR_CACHE", str(root / "cache"))
    mp.setenv("HYBRIDIR_DATA", str(data_dir))
    col = root / "adi"
    assert main(["index", "adi", str(col), "--dense", "all-MiniLM-L6-v2"]) == 0
    yield col
    mp.undo()


def _metrics(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["evaluate", "adi", "--json", "--metrics", "ndcg@10,recall@100", *args]) == 0
    return last_json(capsys.readouterr().out)


def test_tune_refuses_the_test_split(adi_col: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tune", str(adi_col), "adi"]) == 1  # ADI has only a test split
    assert main(["tune", str(adi_col), "adi", "--split", "test"]) == 1
    assert "refusing to learn from the test split" in capsys.readouterr().err


def test_tuned_fusion_is_what_search_and_evaluate_use(
    adi_col: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    col = tmp_path / "tuned"
    Collection.open(adi_col)  # fixture built
    import shutil

    shutil.copytree(adi_col, col)
    args = ["tune", str(col), "adi", "--split", "test", "--allow-test", "--folds", "3"]
    assert main([*args, "--force", "--json"]) == 0
    report = last_json(capsys.readouterr().out)
    best = FusionConfig.from_dict(report["best"])  # type: ignore[arg-type]
    assert report["saved"] is True
    assert report["settings"] == 413
    cv = report["cv"]
    assert isinstance(cv, dict)
    assert cv["ci_low"] <= cv["gain"] <= cv["ci_high"]
    collection = Collection.open(col)
    assert collection.config.fusion == best  # saved into the manifest
    # evaluate --collection scores exactly the run of the tuned setting
    data = load_beir("adi")
    expected = evaluate(
        Searcher(collection, fusion=best).run(data.queries), data.qrels, ["ndcg@10"]
    )
    used = _metrics(capsys, "--collection", str(col))
    assert used["ndcg@10"] == pytest.approx(expected["ndcg@10"], abs=1e-12)
    # and the tuned setting is no worse than the default on the queries it was tuned on
    default = evaluate(
        Searcher(collection, fusion=FusionConfig()).run(data.queries), data.qrels, ["ndcg@10"]
    )
    assert used["ndcg@10"] >= default["ndcg@10"] - 1e-12
    assert main(["search", str(col), "information retrieval systems", "--json"]) == 0
    assert len(last_json(capsys.readouterr().out)["hits"]) == 10  # type: ignore[arg-type]


@pytest.mark.parametrize("model", ["rescore", "adaptive"])
def test_train_stores_serves_and_explains_a_learned_fusion(
    adi_col: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], model: str
) -> None:
    import shutil

    col = tmp_path / model
    shutil.copytree(adi_col, col)
    before = _metrics(capsys, "--collection", str(col))
    args = ["train", str(col), "adi", "--model", model, "--split", "test", "--allow-test"]
    assert main([*args, "--folds", "3", "--json"]) == 0
    result = last_json(capsys.readouterr().out)
    name = str(result["model"])
    assert name.startswith(f"{model}-")
    assert (col / "models" / name / "model.txt").is_file()
    fusion = Collection.open(col).config.fusion
    assert (fusion.method, fusion.model) == (model, name)
    after = _metrics(capsys, "--collection", str(col))
    if model == "rescore":  # fitted on these queries, it must beat the fixed default on them
        assert after["ndcg@10"] > before["ndcg@10"]  # type: ignore[operator]
    else:  # every query is fused by the convex setting at the α the model predicts for it
        _check_adaptive_is_convex_at_predicted_alpha(Collection.open(col), name)
    assert main(["search", str(col), "computer based information retrieval", "--json"]) == 0
    hits = last_json(capsys.readouterr().out)["hits"]
    assert isinstance(hits, list)
    assert len(hits) == 10
    parts = {p["retriever"]: p for p in hits[0]["lists"]}
    assert set(parts) == {"bm25", "dense"}
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    # copy the model to another collection of the same lists and serve it there
    other = tmp_path / f"{model}-copy"
    shutil.copytree(adi_col, other)
    assert main(["copy-model", str(col), name, str(other)]) == 0
    assert Collection.open(other).config.fusion.model == name
    assert _metrics(capsys, "--collection", str(other)) == after


def _check_adaptive_is_convex_at_predicted_alpha(collection: Collection, name: str) -> None:
    from dataclasses import replace

    from hybridir.fusion import fuse, prepare
    from hybridir.learn.adaptive import AdaptiveAlpha
    from hybridir.learn.features import QueryContext
    from hybridir.learn.models import load_model
    from hybridir.search import scored_list

    model = load_model(collection.models_dir, name)
    assert isinstance(model, AdaptiveAlpha)
    assert model.base.norm == "dbsf"
    searcher = Searcher(collection)
    alphas = set()
    for text in list(load_beir("adi").queries.values())[:10]:
        retrieved = searcher.retrieve_lists({"q": text}, 10, "hybrid", model.base)
        lists = {n: per_query["q"] for n, per_query in retrieved.items()}
        scored = [scored_list(n, r, model.base.depth(n)) for n, r in lists.items()]
        query = QueryContext(text, tuple(collection.analyzer.analyze(text)))
        alpha = model.alpha(collection, query, prepare(scored))
        assert 0.0 <= alpha <= 1.0
        alphas.add(round(alpha, 6))
        fixed = fuse(scored, replace(model.base, alpha=alpha), 10)
        assert (
            searcher.fuse_lists(text, lists, collection.config.fusion, 10).doc_ids == fixed.doc_ids
        )
    assert len(alphas) > 1  # the weight does depend on the query


def test_train_collaborative_reranker(
    adi_col: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    col = tmp_path / "collab"
    shutil.copytree(adi_col, col)
    args = ["train", str(col), "adi", "--model", "collaborative", "--split", "test"]
    assert main([*args, "--allow-test", "--json"]) == 0
    name = last_json(capsys.readouterr().out)["model"]
    assert Collection.open(col).config.rerank == f"collaborative:{name}"
    assert main(["search", str(col), "library automation", "--json"]) == 0
    result = last_json(capsys.readouterr().out)
    assert "rerank" in result["timings"]  # type: ignore[operator]
    assert result["hits"][0]["lists"][-1]["retriever"] == "rerank"  # type: ignore[index]
    assert main(["search", str(col), "library automation", "--json", "--no-rerank"]) == 0
    plain = last_json(capsys.readouterr().out)
    assert "rerank" not in plain["timings"]  # type: ignore[operator]
