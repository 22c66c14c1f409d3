"""Diversification on the query path: Searcher.search(diversify=…) and the collection's
default, with the real MiniLM vectors of near-duplicate passages."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from hybridir import Collection, CollectionConfig, Document, Searcher
from hybridir.config import DenseConfig, DiversifyConfig
from hybridir.diversify import diversify
from hybridir.errors import ConfigError

DOCS = [
    Document("solar-1", "Solar panels convert sunlight into electricity."),
    Document("solar-2", "Solar panels turn sunlight into electricity."),
    Document("solar-3", "Solar panels convert sunlight into electric power."),
    Document("wind", "Wind turbines generate electricity from moving air."),
    Document("hydro", "Hydroelectric dams produce electricity from falling water."),
    Document("cats", "Cats sleep for most of the day."),
]
QUERY = "sunlight electricity"
MMR = DiversifyConfig("mmr", lambda_=0.5, depth=6)


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Collection:
    col = Collection.create(
        tmp_path_factory.mktemp("div") / "c", CollectionConfig(dense=DenseConfig())
    )
    col.add(DOCS)
    return col


def test_mmr_lifts_another_topic_over_near_duplicates(collection: Collection) -> None:
    searcher = Searcher(collection)
    plain = searcher.search(QUERY, k=3, diversify=False).hits
    assert {h.doc_id for h in plain} == {"solar-1", "solar-2", "solar-3"}
    spread = searcher.search(QUERY, k=3, diversify=MMR).hits
    assert spread[0].doc_id == plain[0].doc_id  # the best fused hit stays first
    assert {h.doc_id for h in spread} - {"solar-1", "solar-2", "solar-3"}
    demoted = [c for h in spread for c in h.contributions if c.retriever == "diversify"]
    assert demoted  # the explanation says which hits moved
    assert [h.rank for h in spread] == [1, 2, 3]


def test_the_query_path_equals_diversify_on_the_fused_candidates(collection: Collection) -> None:
    searcher = Searcher(collection)
    candidates = list(searcher.search(QUERY, k=MMR.depth, diversify=False, fields=()).hits)
    vectors = collection.snapshot().dense_vectors([h.doc_id for h in candidates])
    expected = diversify(candidates, vectors, MMR, 3)
    got = searcher.search(QUERY, k=3, diversify=MMR, fields=()).hits
    assert [(h.doc_id, h.score) for h in got] == [(h.doc_id, h.score) for h in expected]


def test_the_collection_default_applies_and_false_turns_it_off(
    collection: Collection, tmp_path: Path
) -> None:
    col = Collection.create(tmp_path / "c", replace(collection.config, diversify=MMR))
    col.add(DOCS)
    searcher = Searcher(col)
    assert [h.doc_id for h in searcher.search(QUERY, k=3).hits] == [
        h.doc_id for h in Searcher(collection).search(QUERY, k=3, diversify=MMR).hits
    ]
    assert [h.doc_id for h in searcher.search(QUERY, k=3, diversify=False).hits] == [
        h.doc_id for h in Searcher(collection).search(QUERY, k=3, diversify=False).hits
    ]


def test_diversification_without_a_dense_list_is_refused(tmp_path: Path) -> None:
    col = Collection.create(tmp_path / "bm25")
    col.add(DOCS)
    with pytest.raises(ConfigError, match="dense"):
        Searcher(col).search(QUERY, diversify=True)


def test_http_and_cli_pass_diversification_through(collection: Collection) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from hybridir.server.app import create_app
    from hybridir.server.config import ServerConfig

    expected = [h.doc_id for h in Searcher(collection).search(QUERY, k=3, diversify=MMR).hits]
    client = TestClient(create_app(ServerConfig({"c": collection.directory})))
    body = {"query": QUERY, "k": 3, "diversify": {"method": "mmr", "lambda": 0.5, "depth": 6}}
    r = client.post("/collections/c/search", json=body)
    assert r.status_code == 200, r.text
    assert [h["doc_id"] for h in r.json()["hits"]] == expected
    bad = client.post("/collections/c/search", json={**body, "diversify": {"lambda": 2}})
    assert bad.status_code == 422
    r = client.post("/collections/c/search", json={"query": QUERY, "k": 3, "diversify": False})
    assert {h["doc_id"] for h in r.json()["hits"]} == {"solar-1", "solar-2", "solar-3"}


def test_cli_diversify_output(collection: Collection, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from hybridir.cli import main

    expected = [h.doc_id for h in Searcher(collection).search(QUERY, k=3, diversify=MMR).hits]
    argv = ["search", str(collection.directory), QUERY, "-k", "3", "--diversify", "mmr"]
    assert main([*argv, "--mmr-lambda", "0.5", "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert [h["doc_id"] for h in json.loads(out)["hits"]] == expected


def test_a_method_name_diversifies_with_its_defaults_and_other_values_are_refused(
    collection: Collection,
) -> None:
    searcher = Searcher(collection)
    by_name = searcher.search(QUERY, k=3, diversify="mmr", fields=()).hits
    default = searcher.search(QUERY, k=3, diversify=DiversifyConfig(), fields=()).hits
    assert [(h.doc_id, h.score) for h in by_name] == [(h.doc_id, h.score) for h in default]
    with pytest.raises(ConfigError, match="unknown diversification 'zzz'"):
        searcher.search(QUERY, diversify="zzz")
    # Was an AttributeError ('int' object has no attribute 'depth').
    with pytest.raises(ConfigError, match="diversify is a DiversifyConfig, a method name"):
        searcher.search(QUERY, diversify=3)  # type: ignore[arg-type]


def test_k_must_be_a_whole_number_and_broken_unicode_reaches_the_encoder_cleaned(
    collection: Collection,
) -> None:
    searcher = Searcher(collection)
    for k in (1.5, True, "3"):
        with pytest.raises(ConfigError, match="k must be a whole number"):
            searcher.search(QUERY, k=k)  # type: ignore[arg-type]
    # A lone surrogate (a JSON "\ud800" escape) was a TypeError from the tokenizer; the
    # dense list now reads U+FFFD there, BM25 the text as it is.
    broken = searcher.search("sunlight \ud800 electricity", k=3, fields=()).hits
    clean = searcher.search("sunlight \ufffd electricity", k=3, fields=()).hits
    assert [h.doc_id for h in broken] == [h.doc_id for h in clean]
    dense = searcher.search("solar \ud83d\ude00", k=2, retriever="dense", fields=()).hits
    joined = searcher.search("solar \U0001f600", k=2, retriever="dense", fields=()).hits
    assert [(h.doc_id, h.score) for h in dense] == [(h.doc_id, h.score) for h in joined]
