"""Dense parts: model resolution, the FAISS vector index, the embedding cache, hybrid search."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from hybridir import (
    Collection,
    CollectionConfig,
    ConfigError,
    Document,
    InvalidInputError,
    Searcher,
)
from hybridir.config import DenseConfig, FusionConfig
from hybridir.dense.cache import EmbeddingCache, encode_documents_cached
from hybridir.dense.encoders import resolve_model
from hybridir.dense.vectors import VectorIndex

pytest.importorskip("faiss")
pytest.importorskip("sentence_transformers")


def test_offline_minilm_resolves_to_the_shipped_copy() -> None:
    for name in ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        path = Path(resolve_model(name))
        assert path.is_dir()
        assert (path / "config.json").is_file()
    assert resolve_model("BAAI/bge-small-en-v1.5") == "BAAI/bge-small-en-v1.5"
    assert resolve_model("e5-small") == "sentence-transformers/e5-small"


def test_exact_index_equals_brute_force_and_never_pads(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(57, 16)).astype(np.float32)
    queries = rng.normal(size=(9, 16)).astype(np.float32)
    index = VectorIndex(vectors)
    rows, scores = index.search(queries, 100)  # k beyond the collection: no -1 rows
    brute = queries @ vectors.T
    for q in range(len(queries)):
        assert len(rows[q]) == 57
        assert (rows[q] >= 0).all()
        np.testing.assert_allclose(scores[q], np.sort(brute[q])[::-1], rtol=1e-5)
    index.save(tmp_path / "v")
    again = VectorIndex.load(tmp_path / "v")
    assert again.search(queries, 5)[0][0].tolist() == rows[0][:5].tolist()
    with pytest.raises(InvalidInputError, match=r"shape \(n, 16\)"):
        index.search(np.zeros((1, 8), dtype=np.float32), 3)


def test_hnsw_factory_round_trip_and_bad_factory(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(200, 8)).astype(np.float32)
    hnsw = VectorIndex(vectors, "HNSW16")
    hnsw.save(tmp_path / "h")
    loaded = VectorIndex.load(tmp_path / "h", "HNSW16")
    q = vectors[:3]
    assert loaded.search(q, 1)[0][0][0] == hnsw.search(q, 1)[0][0][0]
    with pytest.raises(ConfigError, match="FAISS cannot build"):
        VectorIndex(vectors, "NoSuchIndex")


class CountingEncoder:
    name = "counting"
    dim = 4
    similarity = "dot"

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_documents(texts)

    def encode_documents(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        self.encoded += list(texts)
        return np.asarray([[len(t), t.count("a"), 1.0, 0.0] for t in texts], dtype=np.float32)


def test_embedding_cache_encodes_each_text_once(tmp_path: Path) -> None:
    enc = CountingEncoder()
    cache = EmbeddingCache("counting|test", tmp_path)
    first = encode_documents_cached(enc, ["aa", "b", "aa"], cache=cache)
    second = encode_documents_cached(enc, ["b", "ccc", "aa"], cache=cache)
    assert enc.encoded == ["aa", "b", "ccc"]
    np.testing.assert_array_equal(first[0], second[2])
    assert first.shape == (3, 4)


DOCS = [
    Document("cats", "Cats are small domesticated felines that purr."),
    Document("dogs", "Dogs are loyal companions and good guard animals."),
    Document("bm25", "BM25 ranks documents with term frequency and inverse document frequency."),
    Document("dense", "Dense retrievers embed text into vectors compared by cosine similarity."),
]


@pytest.fixture(scope="module")
def hybrid_col(tmp_path_factory: pytest.TempPathFactory) -> Collection:
    col = Collection.create(
        tmp_path_factory.mktemp("h") / "c", CollectionConfig(dense=DenseConfig())
    )
    col.add(DOCS[:2])
    col.add(DOCS[2:])  # vectors follow the rows across appends
    return Collection.open(col.directory)


def test_dense_search_equals_brute_force_cosine(hybrid_col: Collection) -> None:
    vectors = hybrid_col.vectors.vectors_of(range(4))
    assert vectors.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    query = "a purring kitten"
    q = hybrid_col.encoder.encode_queries([query])[0]
    expected = [hybrid_col.bm25.doc_ids[i] for i in np.argsort(-(vectors @ q))]
    hits = Searcher(hybrid_col).search(query, k=4, retriever="dense").hits
    assert [h.doc_id for h in hits] == expected
    assert hits[0].doc_id == "cats"


def test_hybrid_hits_explain_every_list(hybrid_col: Collection) -> None:
    searcher = Searcher(hybrid_col)
    assert searcher.retriever == "hybrid"
    query = "inverse document frequency ranking"
    bm25 = searcher.search(query, k=4, retriever="bm25").hits
    dense = searcher.search(query, k=4, retriever="dense").hits
    fused = searcher.search(query, k=4, fusion=FusionConfig(method="rrf")).hits
    assert fused[0].doc_id == "bm25"
    by_id = {h.doc_id: h for h in fused}
    for single, name in ((bm25, "bm25"), (dense, "dense")):
        for hit in single:
            part = next(c for c in by_id[hit.doc_id].contributions if c.retriever == name)
            assert part.rank == hit.rank
            assert part.raw_score == pytest.approx(hit.score)
            assert part.normalized_score == pytest.approx(1 / (60 + hit.rank))
    absent = [c for h in fused for c in h.contributions if c.retriever == "bm25" and c.rank is None]
    assert all(c.raw_score is None and c.normalized_score is None for c in absent)
    lexical = next(c for c in by_id["bm25"].contributions if c.retriever == "bm25")
    assert set(lexical.matched_terms) >= {"invers", "document", "frequenc"}


def test_dense_modes_need_a_dense_index(tmp_path: Path) -> None:
    col = Collection.create(tmp_path / "c")
    col.add(DOCS)
    with pytest.raises(ConfigError, match=r"'dense' is not indexed .*--dense MODEL"):
        Searcher(col).search("x", retriever="dense")
    with pytest.raises(ConfigError, match="'hybrid' needs a second list"):
        Searcher(col).search("x", retriever="hybrid")
    with pytest.raises(ConfigError, match="unknown retriever 'vector'"):
        Searcher(col).search("x", retriever="vector")


def test_loading_a_model_draws_no_transformers_bar_and_restores_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """transformers 5 draws a "Loading weights" bar per model; hybridir turns transformers'
    bars off while loading and puts the caller's setting back."""
    import sentence_transformers
    from transformers.utils import logging as hf_logging

    from hybridir.dense import encoders

    seen: list[bool] = []

    def fake_model(path: str, **kwargs: object) -> str:
        seen.append(hf_logging.is_progress_bar_enabled())
        return path

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", fake_model)
    for before in (True, False):
        (hf_logging.enable_progress_bar if before else hf_logging.disable_progress_bar)()
        assert encoders._load_torch("some/model") == "some/model"
        assert hf_logging.is_progress_bar_enabled() is before
    hf_logging.enable_progress_bar()
    assert seen == [False, False]
