"""Property: after any sequence of add / upsert / delete, a live collection answers exactly
like a collection built from scratch from the surviving documents (BM25 and dense)."""

from __future__ import annotations

import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hybridir import BM25Config, Collection, CollectionConfig, Document, Searcher
from hybridir.config import DenseConfig

WORDS = ["alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "lambda", "theta", "zeta"]
IDS = [f"d{i}" for i in range(12)]
DIM = 8


def vector(text: str) -> np.ndarray:
    """A unit vector that depends only on the text (so a rebuild gets the same one)."""
    v = np.random.default_rng(zlib.crc32(text.encode())).normal(size=DIM).astype(np.float32)
    return v / np.linalg.norm(v)


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


@pytest.mark.parametrize("variant", ["lucene", "bm25+"])
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_live_collection_equals_a_rebuild(variant: str, ops: list) -> None:  # type: ignore[type-arg]
    config = CollectionConfig(
        bm25=BM25Config(variant=variant), dense=DenseConfig(model="unused-in-this-test")
    )
    with tempfile.TemporaryDirectory() as tmp:
        live = Collection.create(Path(tmp) / "live", config)
        live.max_segments = 3  # merge often
        model: dict[str, Document] = {}
        for op, arg in ops:
            apply(live, model, op, arg)
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
        queries = {f"q{i}": w for i, w in enumerate(WORDS)}
        queries |= {"pair": "alpha omega", "many": "beta beta gamma zeta kappa", "oov": "nope"}
        # every BM25 score, bit for bit, and the same order (ties by doc id)
        assert Searcher(live, "bm25").run(queries, k=20) == Searcher(fresh, "bm25").run(
            queries, k=20
        )
        if survivors:
            probes = np.stack([vector(w) for w in WORDS])
            rows_a, scores_a = live.vectors.search(probes, 5)
            rows_b, scores_b = fresh.vectors.search(probes, 5)
            for ra, sa, rb, sb in zip(rows_a, scores_a, rows_b, scores_b, strict=True):
                assert [a.doc_ids[r] for r in ra] == [b.doc_ids[r] for r in rb]
                np.testing.assert_array_equal(sa, sb)
        live.close()
        fresh.close()
