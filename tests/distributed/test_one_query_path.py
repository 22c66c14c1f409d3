"""One query path: every query option gives identical hits, scores and explanations on one
collection and on the same documents in a two-shard collection served by Ray.

Options covered, on ADI and on Cranfield: each retriever (BM25, dense, hybrid), every fixed
fusion method, a metadata filter (plain and MongoDB-style), boosts, a trained rescoring
model, a trained adaptive-α model, the collaborative reranker and a cross-encoder, a
filter with a boost and a reranker together, batch runs, and the CLI's ``search`` on the
sharded folder. Dense vectors come from a deterministic hash encoder (registered for the
test), so both sides embed queries identically without a model download.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("ray")
pytest.importorskip("lightgbm")

from hybridir import Collection, CollectionConfig, Document, FusionConfig, Searcher
from hybridir.cli import main
from hybridir.config import FIXED_METHODS, DenseConfig, DiversifyConfig, SpladeConfig
from hybridir.dense.encoders import ENCODER_FAMILIES
from hybridir.distributed.cluster import ShardedCollection
from hybridir.distributed.layout import ShardedLayout
from hybridir.distributed.routing import shard_of
from hybridir.eval.datasets import load_beir, read_corpus
from hybridir.learn.data import collect
from hybridir.learn.store import save_model
from hybridir.learn.train import fit, train_collaborative
from hybridir.rerank import CrossEncoderReranker
from hybridir.types import PARENT

pytestmark = [pytest.mark.ray, pytest.mark.timeout(1200)]

HASH_MODEL = "test-hash-encoder-32"
DIM = 32
N_QUERIES = 12


def _vector(text: str) -> np.ndarray:
    v = np.random.default_rng(zlib.crc32(text.encode())).normal(size=DIM).astype(np.float32)
    return v / np.linalg.norm(v)


class HashEncoder:
    """Same text, same unit vector (in every process that registers it)."""

    name = HASH_MODEL
    dim = DIM

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([_vector(t) for t in texts]) if texts else np.zeros((0, DIM), "float32")

    def encode_documents(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        return self.encode_queries(texts)


@pytest.fixture(scope="module")
def ray_local() -> Iterator[None]:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    ENCODER_FAMILIES["test-hash"] = (lambda m: m == HASH_MODEL, lambda c: HashEncoder())
    ray.init(num_cpus=2, namespace="hybridir", log_to_driver=False, include_dashboard=False)
    try:
        yield
    finally:
        ray.shutdown()
        ENCODER_FAMILIES.pop("test-hash", None)


def _documents(data_dir: Path, dataset: str, limit: int) -> list[Document]:
    """The corpus with metadata to filter and boost on (deterministic per document), and
    parents to group by: four documents share one, every fifth has none."""
    docs = list(read_corpus(data_dir / dataset / "corpus.jsonl"))[:limit]
    return [
        Document(
            d.doc_id,
            d.text,
            d.title,
            {"year": 1960 + i % 20, "tag": ["theory", "method", "data"][i % 3], "odd": i % 2}
            | ({PARENT: f"p{i // 4}"} if i % 5 else {}),
        )
        for i, d in enumerate(docs)
    ]


class Pair:
    """The same documents as one collection and as two shards, with the same models."""

    def __init__(self, root: Path, docs: list[Document], dataset: Path, splade: bool) -> None:
        config = CollectionConfig(
            dense=DenseConfig(model=HASH_MODEL), splade=SpladeConfig() if splade else None
        )
        vectors = np.stack([_vector(f"{d.title} {d.text}".strip()) for d in docs])
        self.single = Collection.create(root / "single", config)
        self.single.add(docs, vectors=vectors, allow_empty=True)
        layout = ShardedLayout.create(root / "sharded", config, 2)
        for i, path in enumerate(layout.shard_dirs):
            rows = [r for r, d in enumerate(docs) if shard_of(d.doc_id, 2) == i]
            part = Collection.open(path)
            part.add([docs[r] for r in rows], vectors=vectors[rows], allow_empty=True)
            part.close()
        self.sharded = ShardedCollection(root / "sharded")
        self.dataset = dataset
        data = load_beir(dataset)
        self.queries = dict(list(data.queries.items())[:N_QUERIES])
        depths = dict.fromkeys(self.single.lists(), 100)
        training = collect(Searcher(self.single), data.queries, data.qrels, depths)
        base = self.single.config.fusion
        self.models: dict[str, str] = {}
        kinds = ("rescore", "adaptive") if len(self.single.lists()) == 2 else ("rescore",)
        for kind in kinds:  # adaptive α weighs exactly two lists
            model = fit(kind, self.single.snapshot(), training, base)
            self.models[kind] = save_model(self.single.models_dir, model)
            assert save_model(self.sharded.models_dir, model) == self.models[kind]
        collaborative = train_collaborative(Searcher(self.single), training)
        self.models["collaborative"] = save_model(self.single.models_dir, collaborative)
        save_model(self.sharded.models_dir, collaborative)
        if splade:
            # Training encoded every query in one padded batch; a transformer's output
            # moves by ~1e-6 with the padding, and the query cache would keep that
            # encoding: forget it, so both sides encode each query the same way.
            self.single.sparse_encoder.clear_cache()


@pytest.fixture(
    scope="module",
    params=[("adi", 82, True), ("cranfield", 700, False)],
    ids=["adi+splade", "cranfield"],
)
def pair(
    request: pytest.FixtureRequest,
    ray_local: None,
    data_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pair]:
    dataset, limit, splade = request.param
    docs = _documents(data_dir, dataset, limit)
    built = Pair(tmp_path_factory.mktemp(dataset), docs, data_dir / dataset, splade)
    try:
        yield built
    finally:
        built.sharded.close()
        built.single.close()


def _options(pair: Pair, cross_encoder: str) -> dict[str, dict[str, Any]]:
    """Every query option, as keyword arguments of Searcher.search (plus searcher ones)."""
    options: dict[str, dict[str, Any]] = {
        "bm25": {"retriever": "bm25"},
        "dense": {"retriever": "dense"},
        "hybrid default": {},
        "filter": {"filters": {"tag": "method", "year": {"gte": 1965}}},
        "filter $-style": {"filters": {"tag": {"$in": ["data", "theory"]}, "odd": {"$eq": 1}}},
        "filter bm25": {"retriever": "bm25", "filters": {"year": {"lt": 1970}}},
        "boost": {"boosts": [{"field": "tag", "value": "data", "factor": 2.5}]},
        "boost in": {"boosts": [{"field": "year", "in": [1961, 1962], "factor": 1.5}]},
        "rescore": {"fusion": FusionConfig(method="rescore", model=pair.models["rescore"])},
        "collaborative": {"reranker": f"collaborative:{pair.models['collaborative']}"},
        "cross-encoder": {"reranker": f"cross-encoder:{cross_encoder}"},
        "everything": {
            "filters": {"odd": 0},
            "boosts": [{"field": "tag", "value": "theory", "factor": 1.8}],
            "fusion": FusionConfig(method="rescore", model=pair.models["rescore"]),
            "reranker": f"collaborative:{pair.models['collaborative']}",
        },
    }
    options |= {  # content and grouping (every option above also carries default content)
        "bare": {"fields": ()},
        "snippet": {"fields": ["title", "snippet"]},
        "group": {"group_by": "document"},
        "group bm25 snippet": {"retriever": "bm25", "group_by": "document", "fields": ["snippet"]},
        "group dense": {"retriever": "dense", "group_by": "document"},
        "group filter boost": {
            "group_by": "document",
            "filters": {"odd": 1},
            "boosts": [{"field": "tag", "value": "data", "factor": 2.0}],
        },
        "group everything": {
            "group_by": "document",
            "fields": ["title", "snippet", "metadata"],
            "fusion": FusionConfig(method="rescore", model=pair.models["rescore"]),
            "reranker": f"collaborative:{pair.models['collaborative']}",
        },
    }
    if "dense" in pair.single.lists():  # diversification compares dense vectors
        options |= {
            "mmr": {"diversify": DiversifyConfig("mmr", lambda_=0.5, depth=30)},
            "clusters": {"diversify": DiversifyConfig("clusters", depth=20)},
            "group mmr filter": {
                "group_by": "document",
                "filters": {"odd": 1},
                "diversify": DiversifyConfig("mmr", lambda_=0.6),
            },
        }
    if "adaptive" in pair.models:
        model = pair.models["adaptive"]
        options["adaptive"] = {"fusion": FusionConfig(method="adaptive", model=model)}
    for method in FIXED_METHODS:
        options[f"fusion {method}"] = {"fusion": FusionConfig(method=method, depths={"bm25": 50})}
    if "splade" in pair.single.lists():  # three-way hybrids above; the list alone here
        options["splade"] = {"retriever": "splade"}
        options["splade filter"] = {"retriever": "splade", "filters": {"tag": "theory"}}
    return options


def _searcher(collection: Any, spec: str | None) -> Searcher:
    if spec is None:
        return Searcher(collection)
    from hybridir.rerank import reranker_from_spec

    reranker = reranker_from_spec(collection.snapshot(), spec)
    if isinstance(reranker, CrossEncoderReranker):
        reranker.depth = 15
    return Searcher(collection, reranker=reranker)


def test_every_query_option_is_identical_on_shards(pair: Pair, tiny_cross_encoder: Path) -> None:
    checked = 0
    for name, kwargs in _options(pair, str(tiny_cross_encoder)).items():
        spec = kwargs.pop("reranker", None)
        one, many = _searcher(pair.single, spec), _searcher(pair.sharded, spec)
        for query in pair.queries.values():
            expected = one.search(query, 10, **kwargs)
            got = many.search(query, 10, **kwargs)
            assert got.hits == expected.hits, f"{name}: {query!r}"
            assert not got.partial
            checked += len(expected.hits)
            if name == "filter":  # applied, not ignored: every hit matches
                for doc in pair.single.documents([h.doc_id for h in got.hits]):
                    assert doc.metadata["tag"] == "method"
                    assert doc.metadata["year"] >= 1965
    assert checked > 300
    # explanations are there, not just equal: matched terms and per-list ranks
    hit = Searcher(pair.sharded).search(next(iter(pair.queries.values())), 3).hits[0]
    assert hit.contributions[0].matched_terms
    assert {c.retriever for c in hit.contributions} == set(pair.single.lists())
    if "splade" in pair.single.lists():
        (splade,) = [c for c in hit.contributions if c.retriever == "splade"]
        assert splade.term_scores  # expanded terms with their share of the score


def test_content_and_groups_are_read_once_per_shard(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search's content is one lookup call to the shards (one batch for each shard that
    holds hits), a grouped search's parents one per round; grouped hits are documents."""
    calls: list[tuple[str, list[int]]] = []
    call = pair.sharded.call

    def counted(method: str, args: Any, **kwargs: Any) -> Any:
        if method == "lookup":
            calls.append((next(iter(args.values()))[0], sorted(args)))
        return call(method, args, **kwargs)

    monkeypatch.setattr(pair.sharded, "call", counted)
    query = next(iter(pair.queries.values()))
    result = Searcher(pair.sharded).search(query, 10, fields=["title", "snippet"], explain=False)
    assert calls == [("documents", [0, 1])]
    assert any("<mark>" in (h.text or "") for h in result.hits)
    calls.clear()
    grouped = Searcher(pair.sharded).search(query, 10, group_by="document", explain=False)
    assert [method for method, _ in calls] == ["metadata", "documents"]  # one round
    assert len({h.doc_id for h in grouped.hits}) == len(grouped.hits) == 10
    parents = {h.passage_id: h.doc_id for h in grouped.hits}
    docs = pair.single.snapshot().documents(list(parents))
    assert {d.doc_id: d.metadata.get(PARENT, d.doc_id) for d in docs} == parents


def test_batch_runs_and_the_cli_take_a_sharded_folder(
    pair: Pair, capsys: pytest.CaptureFixture[str]
) -> None:
    for retriever in ("bm25", "dense", "hybrid"):
        assert Searcher(pair.sharded).run(pair.queries, 100, retriever=retriever) == Searcher(
            pair.single
        ).run(pair.queries, 100, retriever=retriever)
    query = next(iter(pair.queries.values()))
    results = []
    for folder in (pair.single.directory, pair.sharded.directory):
        assert main(["search", str(folder), query, "-k", "5", "--json"]) == 0
        results.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))
    assert results[0]["hits"] == results[1]["hits"]


def test_evaluate_and_train_take_a_sharded_folder(
    pair: Pair, capsys: pytest.CaptureFixture[str]
) -> None:
    """``evaluate --collection`` scores the same on both; ``train`` on the sharded folder
    learns the very model training on one collection does (same features, same digest)
    and makes it the sharded collection's fusion."""
    dataset = str(pair.dataset)
    scores = []
    for folder in (pair.single.directory, pair.sharded.directory):
        argv = ["evaluate", dataset, "--collection", str(folder), "--json"]
        assert main(argv) == 0
        scores.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))
    assert scores[0] == scores[1]
    names = []
    for folder in (pair.single.directory, pair.sharded.directory):
        argv = ["train", str(folder), dataset, "--model", "rescore", "--split", "test"]
        assert main([*argv, "--allow-test", "--folds", "0", "--json"]) == 0
        names.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["model"])
    assert names[0] == names[1]
    sharded_config = ShardedLayout.open(pair.sharded.directory).config
    assert sharded_config.fusion.method == "rescore"
    assert sharded_config.fusion.model == names[0]
    query = next(iter(pair.queries.values()))
    pair.single.refresh()
    assert (
        Searcher(pair.sharded).search(query, 10).hits
        == Searcher(pair.single).search(query, 10).hits
    )


def test_dense_table_queries_are_identical_on_shards(
    pair: Pair, capsys: pytest.CaptureFixture[str]
) -> None:
    """``DenseConfig(query_mode="table")``: the coordinator makes each query's vector from
    the stored table once, so dense and hybrid hits equal one collection's (a seeded table
    over MiniLM's tokenizer, named for the hash encoder whose vectors the documents have)."""
    from hybridir.dense.encoders import resolve_model
    from hybridir.learn.dense_table import DenseTable
    from hybridir.query import dense_queries

    tokenizer = (Path(resolve_model("all-MiniLM-L6-v2")) / "tokenizer.json").read_text()
    rows = np.random.default_rng(0).normal(size=(30522, DIM)).astype(np.float32)
    table = DenseTable(rows, rows[0], tokenizer, {"encoder": HASH_MODEL, "max_tokens": 254})
    name = save_model(pair.single.models_dir, table)
    assert save_model(pair.sharded.models_dir, table) == name
    both = (pair.single, pair.sharded)
    for collection in both:
        collection.set_dense_query("table", name)
    try:
        for query in pair.queries.values():
            for retriever in ("dense", "hybrid"):
                expected = Searcher(pair.single).search(query, 10, retriever=retriever)
                assert Searcher(pair.sharded).search(query, 10, retriever=retriever).hits == (
                    expected.hits
                ), f"{retriever}: {query!r}"
        queries = list(pair.queries.values())
        np.testing.assert_array_equal(
            dense_queries(pair.sharded.snapshot(), queries), table.encode_queries(queries)
        )
        results = []
        for folder in (pair.single.directory, pair.sharded.directory):
            assert main(["search", str(folder), queries[0], "-k", "5", "--json"]) == 0
            results.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))
        assert results[0]["hits"] == results[1]["hits"]
    finally:
        for collection in both:
            collection.set_dense_query("encoder")
