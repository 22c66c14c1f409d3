"""Property: after any sequence of add / upsert / delete, a live collection answers exactly
like a collection built from scratch from the surviving documents (BM25, dense and fused
hybrid rankings, in order, at depths below the collection's size), both through the live
handle and after reopening the folder; and a snapshot keeps answering as it did when it
was taken while later writes and merges remove the segments it was built on."""

from __future__ import annotations

import tempfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hybridir import BM25Config, Collection, CollectionConfig, Document, Searcher
from hybridir.collection import CollectionView
from hybridir.config import DenseConfig, FusionConfig
from hybridir.dense.encoders import ENCODER_FAMILIES

WORDS = ["alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "lambda", "theta", "zeta"]
IDS = [f"d{i}" for i in range(12)]
DIM = 8
HASH_MODEL = "test-crc32-hash-encoder"
QUERIES = {f"q{i}": w for i, w in enumerate(WORDS)} | {
    "pair": "alpha omega",
    "many": "beta beta gamma zeta kappa",
    "oov": "nope",
}
MODES: dict[str, tuple[str, FusionConfig | None]] = {
    "bm25": ("bm25", None),
    "dense": ("dense", None),
    "hybrid": ("hybrid", None),  # the collection's default fusion, every list in full
    # RRF over each list's top 4 only: the fused candidates depend on where each list is cut.
    "hybrid-rrf-cut": ("hybrid", FusionConfig(method="rrf", depths={"bm25": 4, "dense": 4})),
}

Answers = dict[str, list[tuple[str, float]]]
"""``"<mode>@<k>/<qid>"`` → the ordered (doc id, score) hits."""


def vector(text: str) -> np.ndarray:
    """A unit vector that depends only on the text (so a rebuild gets the same one)."""
    v = np.random.default_rng(zlib.crc32(text.encode())).normal(size=DIM).astype(np.float32)
    return v / np.linalg.norm(v)


class HashEncoder:
    """A deterministic stand-in for a dense model: every text's vector is :func:`vector`
    of it, so queries and the documents' given vectors share one space (equal texts tie)."""

    name = HASH_MODEL
    dim = DIM
    similarity = "cosine"

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_documents(texts)

    def encode_documents(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        return np.stack([vector(t) for t in texts]) if texts else np.zeros((0, DIM), np.float32)


@pytest.fixture(scope="module", autouse=True)
def hash_encoder() -> Iterator[None]:
    """Collections configured with :data:`HASH_MODEL` encode queries with :class:`HashEncoder`."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(
            ENCODER_FAMILIES, "test-hash", (lambda m: m == HASH_MODEL, lambda c: HashEncoder())
        )
        yield


texts = st.lists(st.sampled_from(WORDS), min_size=1, max_size=10).map(" ".join)
docs = st.builds(Document, st.sampled_from(IDS), texts)
batches = st.lists(docs, min_size=1, max_size=5, unique_by=lambda d: d.doc_id)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), batches),
        st.tuples(st.just("upsert"), batches),
        st.tuples(st.just("delete"), st.lists(st.sampled_from(IDS), min_size=1, max_size=4)),
    ),
    min_size=1,
    max_size=12,
)


def apply(col: Collection, model: dict[str, Document], op: str, arg: list) -> None:  # type: ignore[type-arg]
    if op == "add":
        fresh = [d for d in arg if d.doc_id not in model]
        if fresh:
            col.add(fresh, vectors=np.stack([vector(d.text) for d in fresh]))
            model.update({d.doc_id: d for d in fresh})
    elif op == "upsert":
        col.upsert(arg, vectors=np.stack([vector(d.text) for d in arg]))
        model.update({d.doc_id: d for d in arg})
    else:
        gone = [d for d in dict.fromkeys(arg) if d in model]
        assert col.delete(arg, missing_ok=True) == len(gone)
        for d in gone:
            del model[d]


def answers(col: CollectionView, n_live: int) -> Answers:
    """Every mode's ordered hits for every query, at k = 3 and k = one below the live count
    (so each ranking is cut inside the collection, where ties at the cut matter)."""
    out: Answers = {}
    for k in sorted({3, max(1, n_live - 1)}):
        for name, (mode, fusion) in MODES.items():
            run = Searcher(col, mode, fusion=fusion).run(QUERIES, k=k)
            for qid in QUERIES:
                hits = list(run[qid].items())
                if name in ("dense", "hybrid"):  # every live document has a dense score
                    assert len(hits) == min(k, n_live)
                out[f"{name}@{k}/{qid}"] = hits
    return out


@pytest.mark.parametrize("variant", ["lucene", "bm25+"])
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_live_collection_equals_a_rebuild(variant: str, ops: list) -> None:  # type: ignore[type-arg]
    config = CollectionConfig(bm25=BM25Config(variant=variant), dense=DenseConfig(model=HASH_MODEL))
    with tempfile.TemporaryDirectory() as tmp:
        live = Collection.create(Path(tmp) / "live", config)
        live.max_segments = 2  # merge often: merges delete the folders of merged segments
        model: dict[str, Document] = {}
        snapshots: list[tuple[CollectionView, int, Answers]] = []
        for op, arg in ops:
            apply(live, model, op, arg)
            snap = live.snapshot()
            snapshots.append((snap, len(model), answers(snap, len(model))))
        assert live.check() == []
        assert len(live) == len(model)
        assert {d.doc_id: d for d in live} == model
        survivors = list(model.values())
        fresh = Collection.create(Path(tmp) / "fresh", config)
        if survivors:
            fresh.add(survivors, vectors=np.stack([vector(d.text) for d in survivors]))
        a, b = live.bm25, fresh.bm25
        assert (a.stats.n_docs, a.stats.avg_doc_length) == (b.stats.n_docs, b.stats.avg_doc_length)
        assert a.stats.n_postings == b.stats.n_postings
        # every score bit for bit, in the same order (ties by doc id)
        expected = answers(fresh, len(model))
        assert answers(live, len(model)) == expected
        reopened = Collection.open(live.directory)
        assert answers(reopened, len(model)) == expected
        # each snapshot still answers as when it was taken, though later writes and merges
        # published newer generations and removed its segments' folders
        for snap, n_live, then in snapshots:
            assert answers(snap, n_live) == then
        reopened.close()
        live.close()
        fresh.close()


def test_a_snapshot_outlives_the_merge_that_removes_its_segments(tmp_path: Path) -> None:
    """The deterministic case the property relies on: a merge really deletes the folder of a
    segment an open snapshot reads, and the snapshot still answers as before."""
    config = CollectionConfig(dense=DenseConfig(model=HASH_MODEL))
    live = Collection.create(tmp_path / "c", config)
    live.max_segments = 2
    first = [Document(f"a{i}", f"{WORDS[i]} {WORDS[i + 1]}") for i in range(4)]
    live.add(first, vectors=np.stack([vector(d.text) for d in first]))
    snap = live.snapshot()
    then = answers(snap, len(first))
    for i, word in enumerate(WORDS):
        live.add([Document(f"b{i}", f"{word} alpha")], vectors=vector(f"{word} alpha")[None])
    live.delete(["a1"])
    gone = [s.name for s in snap.manifest.segments if not (live.directory / s.name).exists()]
    assert gone == [s.name for s in snap.manifest.segments]  # merged away, folder removed
    assert answers(snap, len(first)) == then
    assert answers(live, len(live)) != then  # the live handle did move on
    live.close()
