"""No cold start: where compiled kernels are cached, when a process may call them, and the
numpy fallback that answers (with the same hits and scores) until it may."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numba import config as numba_config

from hybridir import BM25Config
from hybridir.sparse import fallback, jit
from hybridir.sparse.index import BM25Index
from hybridir.sparse.kernels import score_queries
from hybridir.sparse.postings import build_from_terms, load_postings, save_postings
from hybridir.sparse.warmup import warm_kernels


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``HYBRIDIR_CACHE`` in a temporary folder, numba's own cache folder unset."""
    monkeypatch.setenv("HYBRIDIR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(numba_config, "CACHE_DIR", "")
    return tmp_path / "cache"


def test_kernels_cache_under_the_hybridir_cache(cache: Path) -> None:
    assert jit.kernel_cache_dir() == cache / "numba"


def test_numba_cache_dir_set_by_the_user_wins(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(numba_config, "CACHE_DIR", str(cache / "mine"))
    assert jit.kernel_cache_dir() == cache / "mine"


def test_the_locator_puts_a_kernel_in_the_kernel_cache(cache: Path) -> None:
    assert jit._CLASSES is not None
    locator_class = jit._CLASSES[1]
    py_file = Path(jit.__file__).with_name("kernels.py")
    locator = locator_class.from_function(score_queries.py_func, str(py_file))
    assert Path(locator.get_cache_path()).parent == cache / "numba"
    assert locator.get_source_stamp() == jit.source_stamp()


def test_the_locator_steps_aside_when_the_cache_is_unwritable(cache: Path) -> None:
    assert jit._CLASSES is not None
    cache.mkdir()
    (cache / "numba").write_text("a file where the folder should be")
    py_file = Path(jit.__file__).with_name("kernels.py")
    assert jit._CLASSES[1].from_function(score_queries.py_func, str(py_file)) is None


def test_the_source_stamp_covers_every_kernel_module(tmp_path: Path) -> None:
    here = Path(jit.__file__).parent
    for name in jit.KERNEL_MODULES:
        (tmp_path / name).write_bytes((here / name).read_bytes())
    before = jit.source_stamp(tmp_path)
    assert before == jit.source_stamp()
    (tmp_path / "topk.py").write_bytes((here / "topk.py").read_bytes() + b"\n# changed\n")
    assert jit.source_stamp(tmp_path) != before


class FakeDispatcher:
    signatures: tuple[Any, ...] = ()


class FakeProcess:
    def __init__(self, code: int | None) -> None:
        self.code = code

    def poll(self) -> int | None:
        return self.code


def test_not_ready_starts_one_warmup_then_waits_for_its_marker(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Path] = []

    def start(folder: Path) -> FakeProcess:
        started.append(folder)
        return FakeProcess(None)

    monkeypatch.setattr(jit, "start_warmup", start)
    readiness = jit.Readiness()
    assert not readiness(FakeDispatcher())
    assert not readiness(FakeDispatcher())
    assert started == [cache / "numba"]
    jit.ready_marker().write_text("done")
    assert readiness(FakeDispatcher())


def test_a_failed_warmup_means_compiling_here(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    process = FakeProcess(None)
    monkeypatch.setattr(jit, "start_warmup", lambda folder: process)
    readiness = jit.Readiness()
    assert not readiness(FakeDispatcher())
    process.code = 1  # ended without leaving the marker
    assert readiness(FakeDispatcher())


def test_ready_without_a_writable_cache(cache: Path) -> None:
    cache.mkdir()
    (cache / "numba").write_text("not a folder")
    assert jit.Readiness()(FakeDispatcher())


def test_a_compiled_kernel_is_ready(cache: Path) -> None:
    class Compiled:
        signatures = ("one",)

    assert jit.Readiness()(Compiled())


def test_another_process_warming_up_is_waited_for(cache: Path) -> None:
    folder = cache / "numba"
    folder.mkdir(parents=True)
    (folder / "warmup.lock").write_text("")
    assert jit.start_warmup(folder) is None
    old = 2 * jit.WARMUP_TIMEOUT_S
    os.utime(folder / "warmup.lock", (os.path.getmtime(folder) - old,) * 2)
    assert jit.start_warmup(folder) is None  # a stale lock is cleared for the next call
    assert not (folder / "warmup.lock").exists()


def _random_index(rng: np.random.Generator, n_docs: int, deleted: float) -> BM25Index:
    vocab = [f"t{i}" for i in range(40)]
    zipf = 1.0 / np.arange(1, len(vocab) + 1)
    docs = [
        list(rng.choice(vocab, size=int(rng.integers(1, 30)), p=zipf / zipf.sum()))
        for _ in range(n_docs)
    ]
    ids = [f"d{int(i):04d}" for i in rng.permutation(n_docs)]
    live = rng.random(n_docs) >= deleted
    return BM25Index(build_from_terms(docs, ids), BM25Config(k1=0.9, b=0.4), live=live)


def _both(index: BM25Index, queries: list[list[str]], k: int) -> tuple[Any, Any]:
    """The kernel's and the fallback's hits for the same queries."""
    batch = index.encode(queries)
    kernel = index.search_encoded(batch, k)
    jit_ready = jit.READINESS._ready
    try:
        jit.READINESS._ready = False
        original = jit.Readiness._check
        jit.Readiness._check = lambda self, dispatcher: False  # type: ignore[method-assign]
        slow = index.search_encoded(batch, k)
    finally:
        jit.Readiness._check = original  # type: ignore[method-assign]
        jit.READINESS._ready = jit_ready
    return kernel, slow


@pytest.mark.parametrize("k", [1, 3, 10, 65, 200, 1000])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_fallback_gives_the_kernels_hits_and_scores(k: int, seed: int) -> None:
    warm_kernels()
    rng = np.random.default_rng(seed)
    index = _random_index(rng, n_docs=400, deleted=0.1 * seed)
    queries = [
        [f"t{int(t)}" for t in rng.integers(0, 40, size=int(rng.integers(1, 9)))] for _ in range(30)
    ]
    kernel, slow = _both(index, queries, k)
    for a, b in zip(kernel, slow, strict=True):
        np.testing.assert_array_equal(a, b)  # bit for bit


def _pruning_corpus(rng: np.random.Generator) -> tuple[BM25Index, list[list[str]]]:
    """Rare topic terms over a small cluster plus mid-frequency terms: after the rare terms
    the remaining bounds fall below the k-th score, so the kernel prunes and finishes its
    candidates by lookup (the path a small random corpus never takes)."""
    n_docs = 8000
    docs: list[list[str]] = [[] for _ in range(n_docs)]
    for topic in range(20):
        cluster = rng.choice(n_docs, size=20, replace=False)
        for d in cluster.tolist():
            docs[d] += [f"r{topic}a"] * int(rng.integers(1, 4)) + [f"r{topic}b"]
    for m in range(10):
        for d in rng.choice(n_docs, size=800, replace=False).tolist():
            docs[d] += [f"m{m}"] * int(rng.integers(1, 3))
    for d in range(n_docs):
        docs[d] += [f"f{int(t)}" for t in rng.integers(0, 3, size=int(rng.integers(1, 6)))]
    ids = [f"d{int(i):05d}" for i in rng.permutation(n_docs)]
    index = BM25Index(build_from_terms(docs, ids), BM25Config(k1=0.9, b=0.4))
    queries = [
        [f"r{t}a", f"r{t}b", f"m{int(rng.integers(0, 10))}", f"m{int(rng.integers(0, 10))}"]
        for t in rng.integers(0, 20, size=40).tolist()
    ]
    queries += [[f"r{t}a", "f0", "f1"] for t in range(20)]  # dense from the start
    return index, queries


@pytest.mark.parametrize("k", [1, 3, 10, 100])
def test_the_fallback_agrees_where_the_kernel_prunes(k: int) -> None:
    warm_kernels()
    index, queries = _pruning_corpus(np.random.default_rng(7))
    kernel, slow = _both(index, queries, k)
    for a, b in zip(kernel, slow, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_fallback_agrees_on_every_scifact_query(data_dir: Path) -> None:
    import json

    from hybridir import Analyzer

    warm_kernels()
    folder = data_dir / "scifact"
    rows = [json.loads(line) for line in (folder / "corpus.jsonl").open(encoding="utf-8")]
    analyzer = Analyzer()
    docs = analyzer.analyze_many(f"{r['title']} {r['text']}" for r in rows)
    index = BM25Index(build_from_terms(docs, [r["_id"] for r in rows]), BM25Config(k1=0.9, b=0.4))
    lines = (folder / "queries.jsonl").open(encoding="utf-8")
    queries = analyzer.analyze_many(json.loads(line)["text"] for line in lines)
    for k in (10, 1000):
        kernel, slow = _both(index, queries, k)
        for a, b in zip(kernel, slow, strict=True):
            np.testing.assert_array_equal(a, b)


def test_in_memory_and_loaded_postings_share_one_compiled_signature(tmp_path: Path) -> None:
    warm_kernels()
    postings = build_from_terms([["a", "b"], ["b", "c"], ["c", "a", "a"]], ["x", "y", "z"])
    save_postings(postings, tmp_path / "p")
    for source in (postings, load_postings(tmp_path / "p")):
        index = BM25Index(source)
        index.search([["a", "c"]], 2)
        index.search([["a", "c"]], 100)
    assert len(score_queries.signatures) == 1
    assert fallback.score_queries is not score_queries


@pytest.mark.slow
def test_a_warmup_process_leaves_the_kernels_cached(tmp_path: Path) -> None:
    env = {**os.environ, "HYBRIDIR_CACHE": str(tmp_path)}
    env.pop("NUMBA_CACHE_DIR", None)
    lock = tmp_path / "lock"
    lock.write_text("")
    cmd = [sys.executable, "-m", jit.WARMUP_MODULE, str(lock)]
    subprocess.run(cmd, env=env, check=True, timeout=600)
    markers = list((tmp_path / "numba").glob("ready-*"))
    assert len(markers) == 1
    assert list((tmp_path / "numba").glob("sparse_*/kernels.score_queries-*.nbi"))
    assert list((tmp_path / "numba").glob("sparse_*/lexicon.lookup_keys-*.nbi"))
    assert not lock.exists()
