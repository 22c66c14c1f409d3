"""The issue's long document: 726 words whose answer sits at the very end, BM25's only hit.

MiniLM reads the first 254 tokens, so dense alone ranks the document near the
bottom. Fusion must not
sink it too (a one-hit list normalizes to 1.0, :mod:`hybridir.fusion`), and chunking must
let dense find the passage that holds the answer.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from hybridir import ChunkConfig, Collection, CollectionConfig, Document, Searcher
from hybridir.config import DenseConfig

FILLER = [
    "The harvest in the valley depended on steady autumn rain and careful planning.",
    "Farmers rotated barley and wheat across the terraced fields every second year.",
    "Merchants carried wool and cheese along the river road to the market town.",
    "Each spring the village council met to divide the common grazing land fairly.",
    "Old stone walls marked the boundaries between neighbouring orchards and meadows.",
]
ANSWER = "At the end of his life the lighthouse keeper Mortimer retired to the harbour."
QUERY = "Mortimer the lighthouse keeper"
NEIGHBOURS = [
    "Coastal beacons guided ships past dangerous rocks at night.",
    "The people who tended sea lights lived alone on remote islands.",
    "A tall tower with a lamp warned sailors about the reef.",
    "Foghorns sounded when mist rolled over the shipping lane.",
    "Signal fires on cliffs once protected fishing boats.",
    "Navigators relied on flashing lights to find the port entrance.",
    "Storms battered the beacon tower every winter.",
    "The lamp room at the top needed oil every evening.",
    "Sailors were grateful for the steady light on the headland.",
    "Maritime charts showed every light along the coast.",
]


def long_text() -> str:
    words: list[str] = []
    for sentence in itertools.cycle(FILLER):
        words += sentence.split()
        if len(words) >= 726 - len(ANSWER.split()):
            break
    words = words[: 726 - len(ANSWER.split())] + ANSWER.split()
    assert len(words) == 726
    return " ".join(words)


def _collection(path: Path, chunking: ChunkConfig | None) -> Collection:
    col = Collection.create(path, CollectionConfig(dense=DenseConfig(), chunking=chunking))
    docs = [Document("long", long_text(), title="Valley chronicle")]
    docs += [Document(f"n{i}", t) for i, t in enumerate(NEIGHBOURS)]
    if chunking is None:
        col.add(docs)
    else:
        folder = path.parent / f"{path.name}-files"
        folder.mkdir()
        for d in docs:
            (folder / f"{d.doc_id}.md").write_text(
                (f"# {d.title}\n\n" if d.title else "") + d.text + "\n", encoding="utf-8"
            )
        col.add_source(folder)
    return col


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> Collection:
    return _collection(tmp_path_factory.mktemp("long") / "whole", None)


def test_dense_alone_ranks_the_truncated_document_near_the_bottom(whole: Collection) -> None:
    hits = Searcher(whole).search(QUERY, k=20, retriever="dense", fields=()).hits
    assert [h.doc_id for h in hits].index("long") >= len(hits) - 2  # 10th or 11th of 11
    bm25 = Searcher(whole).search(QUERY, k=20, retriever="bm25", fields=()).hits
    assert [h.doc_id for h in bm25] == ["long"]  # BM25's only hit


@pytest.mark.parametrize("method", ["dbsf", "convex", "combsum", "tmm"])
def test_fusion_does_not_sink_bm25s_only_hit(whole: Collection, method: str) -> None:
    from hybridir import FusionConfig

    fusion = FusionConfig(method=method, norm="minmax" if method == "combsum" else "default")
    hits = Searcher(whole).search(QUERY, k=20, fusion=fusion, fields=()).hits
    assert hits[0].doc_id == "long", [(h.doc_id, round(h.score, 3)) for h in hits]


def test_the_default_hybrid_puts_it_first(whole: Collection) -> None:
    assert Searcher(whole).search(QUERY, k=5, fields=()).hits[0].doc_id == "long"


def test_chunking_lets_dense_find_the_passage_with_the_answer(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    col = _collection(tmp_path_factory.mktemp("long") / "chunked", ChunkConfig())
    long_passages = [d for d in col.snapshot() if d.metadata["parent_id"] == "long.md"]
    assert len(long_passages) > 3  # 726 words in passages of at most 200 tokens
    hits = Searcher(col).search(QUERY, k=3, retriever="dense", group_by="document").hits
    assert hits[0].doc_id == "long.md"
    assert hits[0].text is not None
    assert "Mortimer" in hits[0].text
