"""Global statistics without Ray: shard workers used in-process score exactly like one
collection holding every document (BM25 variants with and without absent-term scores,
and learned sparse impacts)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from hybridir import Collection, CollectionConfig, Document
from hybridir.config import BM25Config
from hybridir.distributed.layout import ShardedLayout
from hybridir.distributed.routing import shard_of
from hybridir.distributed.stats import GlobalStats, StaleStatsError, merge_orders, merge_stats
from hybridir.distributed.worker import ShardWorker
from hybridir.errors import ConfigError
from hybridir.eval.datasets import load_beir, read_corpus
from hybridir.search import Searcher


def test_routing_is_stable_and_spread() -> None:
    # Fixed values: the routing must never change between versions or machines.
    assert [shard_of(f"doc-{i}", 4) for i in range(8)] == [
        shard_of(f"doc-{i}", 4) for i in range(8)
    ]
    counts = [0, 0, 0, 0]
    for i in range(4000):
        counts[shard_of(str(i), 4)] += 1
    assert min(counts) > 900
    assert (
        shard_of("4983", 3)
        == int.from_bytes(__import__("hashlib").blake2b(b"4983", digest_size=8).digest(), "big") % 3
    )


def global_stats(workers: list[ShardWorker]) -> GlobalStats:
    """What the coordinator does: merge counts, then the term order under them."""
    counts = merge_stats([w.stats() for w in workers])
    for w in workers:
        w.set_stats(counts)
    stats = replace(counts, bm25_order=merge_orders([w.term_order() for w in workers]))
    for w in workers:
        w.set_stats(stats)
    return stats


def merged_search(workers: list[ShardWorker], requests: dict, k: int) -> list[list[tuple]]:
    stats = global_stats(workers)
    answers = [w.search(requests, stats.key) for w in workers]
    out = []
    for name in requests:
        n_queries = len(requests[name][0])
        for q in range(n_queries):
            pool = sorted((-s, d) for a in answers for d, s in zip(*a[name][q], strict=True))[:k]
            out.append([(d, -s) for s, d in pool])
    return out


@pytest.mark.parametrize("variant", ["lucene", "bm25+"])
def test_sharded_bm25_equals_one_collection(data_dir: Path, tmp_path: Path, variant: str) -> None:
    docs = list(read_corpus(data_dir / "cranfield" / "corpus.jsonl"))[:600]
    queries = list(load_beir(data_dir / "cranfield").queries.values())[:40]
    config = CollectionConfig(bm25=BM25Config(variant=variant))
    single = Collection.create(tmp_path / "single", config)
    single.add(docs, allow_empty=True)
    layout = ShardedLayout.create(tmp_path / "sharded", config, 3)
    for i, path in enumerate(layout.shard_dirs):
        part = Collection.open(path)
        part.add([d for d in docs if shard_of(d.doc_id, 3) == i], allow_empty=True)
        part.close()
    workers = [ShardWorker(str(p), i) for i, p in enumerate(layout.shard_dirs)]
    analyzed = [single.analyzer.analyze(q) for q in queries]
    got = merged_search(workers, {"bm25": (analyzed, 20)}, 20)
    searcher = Searcher(single)
    for q, hits in zip(queries, got, strict=True):
        expected = searcher.search(q, 20, retriever="bm25", explain=False).hits
        assert hits == [(h.doc_id, h.score) for h in expected]
    # A write behind the statistics' back is detected, not scored with stale numbers.
    stats = global_stats(workers)
    workers[0].write([{"doc_id": "new", "text": "boundary layer flow"}])
    with pytest.raises(StaleStatsError):
        workers[0].search({"bm25": (analyzed, 5)}, stats.key)
    with pytest.raises(StaleStatsError):  # a restarted worker holds no statistics yet
        ShardWorker(str(layout.shard_dirs[1]), 1).search({"bm25": (analyzed, 5)}, stats.key)


def test_global_stats_cover_terms_of_other_shards(tmp_path: Path) -> None:
    config = CollectionConfig()
    layout = ShardedLayout.create(tmp_path / "s", config, 2)
    docs = [
        Document(f"d{i}", text)
        for i, text in enumerate(["alpha beta", "beta gamma", "gamma delta", "alpha"])
    ]
    for i, path in enumerate(layout.shard_dirs):
        part = Collection.open(path)
        part.add([d for d in docs if shard_of(d.doc_id, 2) == i], allow_empty=True)
        part.close()
    stats = merge_stats([ShardWorker(str(p), i).stats() for i, p in enumerate(layout.shard_dirs)])
    assert stats.bm25.n_docs == 4
    assert stats.bm25.df == {"alpha": 2, "beta": 2, "gamma": 2, "delta": 1}
    assert stats.bm25.total_length == 7


def test_a_layout_refuses_a_shard_count_out_of_range(tmp_path: Path) -> None:
    # 10^11 shards meant creating collections until the disk or the user gave up.
    for n in (0, 1025, 99_999_999_999):
        with pytest.raises(ConfigError, match=r"n_shards must be in \[1, 1024\]"):
            ShardedLayout.create(tmp_path / "s", CollectionConfig(), n)
    assert not (tmp_path / "s").exists()
