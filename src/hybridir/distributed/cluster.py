"""The coordinator of a sharded collection on Ray.

:class:`ShardedCollection` starts one :class:`ShardWorker` actor per shard (its own:
coordinators do not share actors, see :meth:`ShardedCollection._actor`) and answers queries
along the single-collection path: analyse and encode the query once, ask every shard in
parallel for each list's top hits scored with the global statistics
(:mod:`hybridir.distributed.stats`), merge each list by (score desc, doc id asc), fuse once
(:func:`hybridir.fusion.fuse`), and build hits with :func:`hybridir.search.hits_from`.
Writes go to the shard that owns each id (:func:`~hybridir.distributed.routing.shard_of`).

Faults: actors are created with ``max_restarts=-1``, so Ray restarts a crashed actor (on
another node when its node is gone), and the restarted actor reopens its shard from shared
storage. A call that fails because an actor died is resubmitted (to a recreated actor if Ray
gave up on the old one) until the request's deadline; then the query fails with
:class:`ShardUnavailableError`, or, if it allowed partial results, returns the other shards'
hits with ``SearchResult.missing_shards`` set. Writes are idempotent on retry: an ``add``
checks up front that no id exists, then writes as an upsert, so a retried shard write that
had already committed rewrites the same documents.

Per-shard writes are transactions; a batch spanning shards commits shard by shard (no
cross-shard two-phase commit), so a reader may briefly see one shard's part before
another's. Every part is retried until it lands or the deadline passes.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import itertools
import os
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from hybridir.collection import validate_documents
from hybridir.config import LEARNED_METHODS, CollectionConfig, FusionConfig
from hybridir.distributed.layout import ShardedLayout
from hybridir.distributed.routing import shard_of
from hybridir.distributed.stats import (
    GlobalStats,
    ShardStats,
    StaleStatsError,
    merge_orders,
    merge_stats,
)
from hybridir.distributed.worker import ShardWorker
from hybridir.errors import (
    ConfigError,
    InvalidInputError,
    NotFoundError,
    ShardUnavailableError,
    missing_dependency,
)
from hybridir.fusion import fuse
from hybridir.manifest import Segment
from hybridir.search import HYBRID, RETRIEVERS, RankedList, hits_from, scored_list
from hybridir.types import Document, Run, SearchResult

ACTOR_CPUS = 0.25
"""CPUs reserved per shard actor: fractional, so shard actors and Ray Data encoding tasks
share small machines without starving each other."""


def ray_module(address: str | None = None) -> Any:
    """Ray, connected to ``address``: a cluster (``host:port``, ``auto``), else ``$RAY_ADDRESS``,
    else a new local instance of this process (never silently another program's cluster).
    A process already connected keeps its connection."""
    try:
        import ray
    except ImportError as exc:
        raise missing_dependency("ray", "ray") from exc
    if not ray.is_initialized():
        target = address or os.environ.get("RAY_ADDRESS") or "local"
        ray.init(address=target, namespace="hybridir", log_to_driver=False)
    return ray


@dataclass(frozen=True)
class _Manifest:
    """What the service reads of a sharded collection's state (segments of every shard)."""

    generation: int
    segments: tuple[Segment, ...]


class ShardedSnapshot:
    """The sharded collection as the service sees it (config, size, documents)."""

    def __init__(self, owner: ShardedCollection) -> None:
        self._owner = owner
        infos = owner.infos()
        self.directory = owner.layout.directory
        self.config: CollectionConfig = owner.layout.config
        self.generation = int(sum(i["generation"] for i in infos))
        segments = [
            Segment(f"shard-{i:03d}/{name}", 0)
            for i, names in enumerate(owner.call_all("segments"))
            for name in names
        ]
        self.manifest = _Manifest(self.generation, tuple(segments))
        self._n_docs = int(sum(i["documents"] for i in infos))

    def __len__(self) -> int:
        return self._n_docs

    @property
    def has_dense(self) -> bool:
        return self.config.dense is not None

    @property
    def has_splade(self) -> bool:
        return self.config.splade is not None

    def get(self, doc_id: str) -> Document:
        return self._owner.get(doc_id)


class ShardedCollection:
    """A sharded collection served by Ray actors (see the module docstring).

    Args:
        directory: the sharded collection (:class:`ShardedLayout`), on shared storage.
        address: Ray cluster address (``None``: the connected or a new local cluster).
        actor_cpus: CPUs reserved by each shard actor.
        deadline_s: how long a call may retry before a shard counts as unavailable.
        compiled: send queries through a compiled Ray graph (Ray Compiled Graphs: shared
            memory channels instead of a task per shard, about 0.5 ms instead of 1.8 ms per
            query on two cores); any failure falls back to ordinary retried calls.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        address: str | None = None,
        actor_cpus: float = ACTOR_CPUS,
        deadline_s: float = 60.0,
        compiled: bool = True,
    ) -> None:
        self.layout = ShardedLayout.open(directory)
        self.config = self.layout.config
        self.deadline_s = deadline_s
        self._ray = ray_module(address)
        self._actor_cpus = actor_cpus
        root = str(self.layout.directory.resolve())
        self._prefix = "hybridir-" + hashlib.sha1(root.encode()).hexdigest()[:12]
        self._token = uuid.uuid4().hex[:8]
        self._replacements = 0
        self._actors = [self._actor(i) for i in range(self.layout.n_shards)]
        self._stats: GlobalStats | None = None
        self._write_lock = threading.Lock()
        self._dag: Any = None
        self._dag_lock = threading.Lock()
        self._dag_failed_at = -1e9
        self.compiled = compiled
        self._analyzer: Any = None
        self._encoders: dict[str, Any] = {}
        self.retriever = HYBRID if len(self.lists()) > 1 else "bm25"

    # -- actors ------------------------------------------------------------------------
    def _actor(self, shard: int, replacement: int = 0) -> Any:
        """A new actor for ``shard``, private to this coordinator: a compiled graph must be
        the only one driving its actors, so coordinators never share them (each ``hybridir
        serve`` worker process starts its own; they all read the same shard folders)."""
        remote = self._ray.remote(ShardWorker)
        return remote.options(
            name=f"{self._prefix}-{self._token}-{shard:03d}-{replacement}",
            namespace="hybridir",
            max_restarts=-1,
            max_task_retries=-1,
            num_cpus=self._actor_cpus,
        ).remote(str(self.layout.shard_dir(shard).resolve()), shard)

    def _replace_actor(self, shard: int) -> None:
        """Give up on the shard's actor (Ray may still be restarting it, or it died in its
        constructor) and start a new one that reopens the shard."""
        self._drop_compiled()
        with contextlib.suppress(Exception):
            self._ray.kill(self._actors[shard], no_restart=True)
        self._replacements += 1
        self._actors[shard] = self._actor(shard, self._replacements)

    def call(
        self,
        method: str,
        args: Mapping[int, tuple[Any, ...]],
        *,
        deadline_s: float | None = None,
        allow_partial: bool = False,
    ) -> tuple[dict[int, Any], list[int]]:
        """Call ``method`` on the given shards in parallel, retrying those whose actor died
        until the deadline; returns the answers and the shards that never answered."""
        ray = self._ray
        from ray.exceptions import ActorUnavailableError, GetTimeoutError, RayActorError

        end = time.monotonic() + (self.deadline_s if deadline_s is None else deadline_s)

        def submit(i: int) -> Any:
            return getattr(self._actors[i], method).remote(*args[i])

        pending = {submit(i): i for i in args}
        answers: dict[int, Any] = {}
        try:  # the common case: every shard answers at once
            values = ray.get(list(pending), timeout=max(0.0, end - time.monotonic()))
            return dict(zip(pending.values(), values, strict=True)), []
        except (RayActorError, ActorUnavailableError, GetTimeoutError):
            pass  # some shard failed or is slow: collect the others, retry the failed ones
        while pending:
            remaining = end - time.monotonic()
            if remaining <= 0:
                break
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=remaining)
            for ref in ready:
                i = pending.pop(ref)
                try:
                    answers[i] = ray.get(ref)
                except (RayActorError, ActorUnavailableError):
                    time.sleep(min(0.5, max(0.0, end - time.monotonic())))
                    self._replace_actor(i)
                    pending[submit(i)] = i
        missing = sorted(pending.values())
        for ref in pending:
            ray.cancel(ref, force=False)
        if missing and not allow_partial:
            raise ShardUnavailableError(
                f"shard(s) {missing} of {self.layout.directory} did not answer within "
                f"{self.deadline_s if deadline_s is None else deadline_s:.0f} s"
            )
        return answers, missing

    def call_all(self, method: str, *args: Any) -> list[Any]:
        """``method(*args)`` on every shard, in shard order."""
        answers, _ = self.call(method, dict.fromkeys(range(self.layout.n_shards), args))
        return [answers[i] for i in range(self.layout.n_shards)]

    def infos(self) -> list[dict[str, Any]]:
        """Each shard actor's pid, host, generation and document count."""
        return self.call_all("info")

    # -- statistics --------------------------------------------------------------------
    def stats(self) -> GlobalStats:
        """The global statistics (recomputed after writes and when a shard reports that it
        has moved to another generation)."""
        if self._stats is None:
            shard_stats: list[ShardStats] = self.call_all("stats")
            counts = merge_stats(shard_stats)
            self.call_all("set_stats", counts)
            orders: list[dict[str, float]] = self.call_all("term_order")
            merged = replace(counts, bm25_order=merge_orders(orders))
            self.call_all("set_stats", merged)
            self._stats = merged
        return self._stats

    def invalidate_stats(self) -> None:
        """Forget the merged statistics (after writes made behind this coordinator)."""
        self._stats = None

    # -- querying ----------------------------------------------------------------------
    def lists(self) -> list[str]:
        have = {"bm25": True, "splade": self.config.splade is not None}
        have["dense"] = self.config.dense is not None
        return [name for name in RETRIEVERS if have.get(name, False)]

    def _analyzer_for(self) -> Any:
        if self._analyzer is None:
            from hybridir.text.analyzer import Analyzer

            self._analyzer = Analyzer(self.config.analyzer)
        return self._analyzer

    def _encoder(self, kind: str) -> Any:
        if kind not in self._encoders:
            if kind == "dense":
                from hybridir.dense.encoders import make_encoder

                self._encoders[kind] = make_encoder(self.config.dense)
            else:
                from hybridir.sparse.encoders import SpladeEncoder

                sp = self.config.splade
                assert sp is not None
                self._encoders[kind] = SpladeEncoder(
                    sp.model, batch_size=sp.batch_size, max_length=sp.max_length
                )
        return self._encoders[kind]

    def _payload(self, name: str, texts: Sequence[str], stats: GlobalStats) -> Any:
        """Queries as the shards take them: analysed terms, vectors or term weights."""
        if name == "bm25":
            return [self._analyzer_for().analyze(t) for t in texts]
        if name == "dense":
            return self._encoder("dense").encode_queries(list(texts))
        return _splade_payload(self.config, self._encoder("splade"), texts, stats)

    def _check_mode(self, mode: str) -> list[str]:
        have = self.lists()
        if mode == HYBRID:
            if len(have) < 2:
                raise ConfigError("retriever 'hybrid' needs a second list (dense or splade)")
            return have
        if mode not in have:
            raise ConfigError(f"retriever {mode!r} is not indexed (this collection has {have})")
        return [mode]

    def retrieve_lists(
        self,
        queries: Sequence[str],
        k: int,
        mode: str,
        fusion: FusionConfig,
        *,
        allow_partial: bool = False,
    ) -> tuple[dict[str, list[RankedList]], list[int]]:
        """Each list's global top hits per query, merged over shards; and missing shards."""
        if k < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        names = self._check_mode(mode)
        depth = {n: fusion.depth(n) if mode == HYBRID else k for n in names}
        for _ in range(5):
            stats = self.stats()
            requests = {n: (self._payload(n, queries, stats), depth[n]) for n in names}
            args = dict.fromkeys(range(self.layout.n_shards), (requests, stats.key))
            try:
                fast = self._compiled_search((requests, stats.key))
                missing: list[int] = []
                if fast is not None:
                    answers = fast
                    break
                answers, missing = self.call("search", args, allow_partial=allow_partial)
                break
            except StaleStatsError:
                self._stats = None  # a shard changed generation: merge fresh statistics
        else:
            raise ShardUnavailableError("shards kept changing generation during the query")
        out: dict[str, list[RankedList]] = {}
        for n in names:
            merged = []
            for q in range(len(queries)):
                # Each shard's list is sorted by (score desc, doc id asc): merge, not sort.
                runs = [
                    zip(answers[shard][n][q][1], answers[shard][n][q][0], strict=True)
                    for shard in sorted(answers)
                ]
                top = list(
                    itertools.islice(
                        heapq.merge(*runs, key=lambda hit: (-hit[0], hit[1])), depth[n]
                    )
                )
                merged.append(RankedList([d for _, d in top], [s for s, _ in top]))
            out[n] = merged
        return out, missing

    def search(
        self,
        query: str,
        k: int = 10,
        *,
        retriever: str | None = None,
        fusion: FusionConfig | None = None,
        rerank: bool | None = None,
        explain: bool = True,
        filter: Mapping[str, Any] | None = None,
        boosts: Sequence[Mapping[str, Any]] = (),
        allow_partial: bool = False,
    ) -> SearchResult:
        """Top-``k`` hits of ``query`` over every shard, as
        :meth:`hybridir.search.Searcher.search` gives them for one collection (filters,
        boosts and reranking are not distributed yet)."""
        if filter or boosts or rerank:
            raise ConfigError(
                "filters, boosts and reranking are not available on sharded collections"
            )
        mode = retriever or self.retriever
        config = fusion or self.config.fusion
        if config.method in LEARNED_METHODS:
            raise ConfigError("learned fusion is not available on sharded collections")
        clock = time.perf_counter()
        lists, missing = self.retrieve_lists([query], k, mode, config, allow_partial=allow_partial)
        timings = {"retrieve": (time.perf_counter() - clock) * 1e3}
        clock = time.perf_counter()
        one = {n: v[0] for n, v in lists.items()}
        hits = hits_from(one, mode, _fused(one, config, k) if mode == HYBRID else None)[:k]
        timings["fuse"] = (time.perf_counter() - clock) * 1e3
        return SearchResult(query, tuple(hits), timings, tuple(missing))

    def run(
        self,
        queries: Mapping[str, str],
        k: int = 1000,
        *,
        retriever: str | None = None,
        fusion: FusionConfig | None = None,
    ) -> Run:
        """Batch retrieval for evaluation: ``{qid: {doc_id: score}}``."""
        mode = retriever or self.retriever
        config = fusion or self.config.fusion
        qids = list(queries)
        lists, _ = self.retrieve_lists([queries[q] for q in qids], k, mode, config)
        out: Run = {}
        for j, qid in enumerate(qids):
            one = {n: v[j] for n, v in lists.items()}
            if mode != HYBRID:
                out[qid] = dict(zip(one[mode].doc_ids, one[mode].scores, strict=True))
                continue
            fused = _fused(one, config, k)
            out[qid] = dict(zip(fused.doc_ids, fused.scores.tolist(), strict=True))
        return out

    def _compiled_search(self, packed: tuple[Any, str]) -> dict[int, Any] | None:
        """Every shard's answer through the compiled graph, or ``None`` when it is busy
        (another thread's query), unavailable or failing: the caller then uses :meth:`call`,
        which retries and reports missing shards. Statistics errors pass through."""
        if not self.compiled or not self._dag_lock.acquire(blocking=False):
            return None
        try:
            if self._dag is None:
                if time.monotonic() - self._dag_failed_at < 10.0:
                    return None  # failed recently: let ordinary calls recover the shards
                from ray.dag import InputNode, MultiOutputNode

                with InputNode() as query:
                    graph = MultiOutputNode([a.search_packed.bind(query) for a in self._actors])
                self._dag = graph.experimental_compile()
            values = self._ray.get(self._dag.execute(packed), timeout=self.deadline_s)
            return dict(enumerate(values))
        except StaleStatsError:
            raise
        except Exception:  # an actor died, a node left, a timeout: rebuild later
            self._drop_compiled()
            self._dag_failed_at = time.monotonic()
            return None
        finally:
            self._dag_lock.release()

    def _drop_compiled(self) -> None:
        dag, self._dag = self._dag, None
        if dag is not None:
            with contextlib.suppress(Exception):
                dag.teardown()

    # -- documents ---------------------------------------------------------------------
    def snapshot(self) -> ShardedSnapshot:
        return ShardedSnapshot(self)

    @property
    def generation(self) -> int:
        return int(sum(i["generation"] for i in self.infos()))

    def __len__(self) -> int:
        return int(sum(i["documents"] for i in self.infos()))

    def _by_shard(self, ids: Iterable[str]) -> dict[int, list[int]]:
        groups: dict[int, list[int]] = {}
        for pos, doc_id in enumerate(ids):
            groups.setdefault(shard_of(doc_id, self.layout.n_shards), []).append(pos)
        return groups

    def _existing(self, doc_ids: Sequence[str]) -> list[str]:
        groups = self._by_shard(doc_ids)
        args = {s: ([doc_ids[p] for p in pos],) for s, pos in groups.items()}
        answers, _ = self.call("existing", args)
        return [d for s in sorted(answers) for d in answers[s]]

    def add(
        self,
        docs: Iterable[Document],
        *,
        vectors: Any = None,
        upsert: bool = False,
        allow_empty: bool = False,
    ) -> int:
        """Add (or upsert) documents, each in its shard's transaction; an ``add`` of an id
        that exists anywhere is rejected before anything is written."""
        batch = list(docs)
        validate_documents(batch, allow_empty=allow_empty)
        with self._write_lock:
            if not upsert:
                taken = self._existing([d.doc_id for d in batch])
                if taken:
                    raise InvalidInputError(
                        f"doc_id(s) already in the collection: {taken[:5]} (use upsert)"
                    )
            groups = self._by_shard(d.doc_id for d in batch)
            array = None if vectors is None else np.asarray(vectors, dtype=np.float32)
            args = {
                s: (
                    [_doc_dict(batch[p]) for p in pos],
                    None if array is None else array[pos],
                    True,
                    allow_empty,
                )
                for s, pos in groups.items()
            }
            self.call("write", args)
            self._stats = None
        return len(batch)

    def upsert(self, docs: Iterable[Document], **kwargs: Any) -> int:
        return self.add(docs, upsert=True, **kwargs)

    def delete(self, doc_ids: Iterable[str], *, missing_ok: bool = False) -> int:
        ids = list(doc_ids)
        with self._write_lock:
            if not missing_ok:
                found = set(self._existing(ids))
                missing = [d for d in ids if d not in found]
                if missing:
                    raise NotFoundError(f"no document(s) with id(s) {missing[:5]}; nothing deleted")
            groups = self._by_shard(ids)
            answers, _ = self.call(
                "delete", {s: ([ids[p] for p in pos], True) for s, pos in groups.items()}
            )
            self._stats = None
        return int(sum(answers.values()))

    def get(self, doc_id: str) -> Document:
        shard = shard_of(doc_id, self.layout.n_shards)
        answers, _ = self.call("get", {shard: (doc_id,)})
        found = answers[shard]
        if found is None:
            raise NotFoundError(f"no document with id {doc_id!r}")
        return Document(**found)

    def close(self) -> None:
        """Release the compiled graph and the actors (they stop when no handle is left)."""
        self._drop_compiled()
        self._actors = []


def _doc_dict(doc: Document) -> dict[str, Any]:
    return {
        "doc_id": doc.doc_id,
        "text": doc.text,
        "title": doc.title,
        "metadata": dict(doc.metadata),
    }


def _fused(lists: Mapping[str, RankedList], config: FusionConfig, k: int) -> Any:
    return fuse([scored_list(n, r, config.depth(n)) for n, r in lists.items()], config, k)


def _splade_payload(
    config: CollectionConfig, encoder: Any, texts: Sequence[str], stats: GlobalStats
) -> list[dict[str, float]]:
    """Learned sparse query weights as one collection's ``QUERY_MODES`` give them, with the
    global statistics as the IDF source."""
    from hybridir.sparse.impact import QUERY_MODES

    sp = config.splade
    assert sp is not None
    if sp.query_mode == "table":
        raise ConfigError("learned sparse query mode 'table' is not distributed yet")
    return QUERY_MODES[sp.query_mode](encoder, stats, list(texts), None)
