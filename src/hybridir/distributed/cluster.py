"""The coordinator of a sharded collection on Ray.

:class:`ShardedCollection` starts one :class:`ShardWorker` actor per shard (its own:
coordinators do not share actors, see :meth:`ShardedCollection._actor`). Its
:meth:`~ShardedCollection.snapshot` is a :class:`ShardedView`, the query backend
(:class:`hybridir.backend.Backend`) of the whole cluster, so the one
:class:`~hybridir.search.Searcher` serves sharded collections with every feature: queries
are prepared once here, every shard answers each list's top hits inside the filter with the
global statistics (:mod:`hybridir.distributed.stats`), each list is merged by (score desc,
doc id asc) and fused once; lookups by doc id (text, metadata, matched terms, vectors) go
to the shard that owns the id (:func:`~hybridir.distributed.routing.shard_of`), as do writes.

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

import heapq
import itertools
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import numpy as np
from numpy.typing import NDArray

from hybridir.collection import validate_documents
from hybridir.collection.manifest import Segment
from hybridir.config import (
    CollectionConfig,
    FusionConfig,
    SpladeConfig,
    check_model_name,
    indexed_lists,
)
from hybridir.dense.encoders import Encoder, make_encoder
from hybridir.distributed.actors import ACTOR_CPUS, ShardActors
from hybridir.distributed.layout import ShardedLayout
from hybridir.distributed.routing import shard_of
from hybridir.distributed.stats import (
    GlobalStats,
    ShardStats,
    StaleStatsError,
    merge_orders,
    merge_stats,
)
from hybridir.errors import (
    ConfigError,
    InvalidInputError,
    NotFoundError,
    ShardUnavailableError,
)
from hybridir.sparse.encoders import SparseEncoder, SpladeEncoder
from hybridir.text.analyzer import Analyzer
from hybridir.types import Document, RankedList, Retrieval

if TYPE_CHECKING:
    from hybridir._progress import ShowProgress

__all__ = ["ShardUnavailableError", "ShardedCollection", "ShardedView"]

T = TypeVar("T")
STATS_ROUNDS = 5
"""How often a query re-merges statistics when shards move to new generations under it."""


class ShardedView:
    """The query backend of a sharded collection (:class:`hybridir.backend.Backend`).

    Cheap to make (one per query): nothing is asked of the shards until a call needs it.
    Retrieval and lookups run under the current global statistics; a shard that moved to
    a new generation meanwhile makes the coordinator merge fresh ones and ask again.
    """

    def __init__(self, owner: ShardedCollection) -> None:
        self._owner = owner
        self.directory = owner.layout.directory
        self.config: CollectionConfig = owner.config

    @property
    def generation(self) -> int:
        return self._owner.generation

    def __len__(self) -> int:
        return len(self._owner)

    @property
    def models_dir(self) -> Path:
        return self._owner.models_dir

    @property
    def manifest(self) -> Any:
        """Segment names of every shard, for the service's metrics."""
        return self._owner.manifest()

    def lists(self) -> list[str]:
        return self._owner.lists()

    @property
    def analyzer(self) -> Analyzer:
        return self._owner.analyzer

    @property
    def encoder(self) -> Encoder:
        return self._owner.encoder

    @property
    def sparse_encoder(self) -> SparseEncoder:
        return self._owner.sparse_encoder

    @property
    def splade_idf(self) -> Mapping[str, float]:
        return self._owner.stats().idf

    def retrieve(
        self,
        requests: Mapping[str, tuple[Any, int]],
        filters: Mapping[str, Any] | None = None,
        *,
        n_threads: int = 1,
        allow_partial: bool = False,
    ) -> Retrieval:
        return self._owner.retrieve(requests, filters, allow_partial=allow_partial)

    def documents(self, doc_ids: Sequence[str]) -> list[Document]:
        return self._owner.lookup("documents", doc_ids)

    def metadata(self, doc_ids: Sequence[str], field: str) -> list[Any]:
        return self._owner.lookup("metadata", doc_ids, field)

    def document_frequencies(self, terms: Sequence[str]) -> tuple[int, list[int | None]]:
        totals = self._owner.stats().bm25
        dfs = [totals.df.get(t) for t in terms]
        return totals.n_docs, [None if d is None else int(d) for d in dfs]

    def doc_lengths(self, doc_ids: Sequence[str]) -> NDArray[np.float64]:
        return np.asarray(self._owner.lookup("doc_lengths", doc_ids), dtype=np.float64)

    def matched_terms(self, doc_ids: Sequence[str], terms: Sequence[str]) -> list[tuple[str, ...]]:
        return self._owner.lookup("matched_terms", doc_ids, list(terms))

    def splade_contributions(
        self, doc_ids: Sequence[str], weights: Mapping[str, float]
    ) -> list[tuple[tuple[str, float], ...]]:
        return self._owner.lookup("splade_contributions", doc_ids, dict(weights))

    def term_vectors(self, doc_ids: Sequence[str]) -> list[dict[str, float]]:
        return self._owner.lookup("term_vectors", doc_ids)

    def dense_vectors(self, doc_ids: Sequence[str]) -> NDArray[np.float32]:
        return np.asarray(self._owner.lookup("dense_vectors", doc_ids), dtype=np.float32)


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
        self.directory = self.layout.directory
        self.actors = ShardActors(
            self.layout.shard_dirs,
            address=address,
            actor_cpus=actor_cpus,
            deadline_s=deadline_s,
            compiled=compiled,
        )
        self._stats: GlobalStats | None = None
        self._write_lock = threading.Lock()
        self._models_lock = threading.Lock()
        self._analyzer: Analyzer | None = None
        self._encoders: dict[str, Any] = {}

    @property
    def config(self) -> CollectionConfig:
        """The collection's configuration (``sharded.json``; read again when it changed)."""
        return self.layout.config

    @property
    def models_dir(self) -> Path:
        """Trained models of the sharded collection (fusion happens on the coordinator)."""
        return self.layout.directory / "models"

    def snapshot(self) -> ShardedView:
        """The query backend for one query (:class:`ShardedView`)."""
        self.layout = self.layout.reloaded()
        return ShardedView(self)

    @property
    def generation(self) -> int:
        """The sum of the shards' generations (it changes whenever any shard's does)."""
        return int(sum(i["generation"] for i in self.infos()))

    def __len__(self) -> int:
        return int(sum(i["documents"] for i in self.infos()))

    def lists(self) -> list[str]:
        return indexed_lists(self.config)

    # -- query models (on the coordinator: each query is prepared once) -------------------
    @property
    def analyzer(self) -> Analyzer:
        with self._models_lock:
            if self._analyzer is None:
                self._analyzer = Analyzer(self.config.analyzer)
            return self._analyzer

    @property
    def encoder(self) -> Encoder:
        dense = self.config.dense
        if dense is None:
            raise ConfigError(f"{self.directory} has no dense index")
        return self._model("dense", lambda: make_encoder(dense))

    @property
    def sparse_encoder(self) -> SparseEncoder:
        sp: SpladeConfig | None = self.config.splade
        if sp is None:
            raise ConfigError(f"{self.directory} has no learned sparse index")
        return self._model(
            "splade",
            lambda: SpladeEncoder(sp.model, batch_size=sp.batch_size, max_length=sp.max_length),
        )

    def _model(self, kind: str, build: Callable[[], T]) -> T:
        with self._models_lock:
            if kind not in self._encoders:
                self._encoders[kind] = build()
            model: T = self._encoders[kind]
            return model

    # -- actors ------------------------------------------------------------------------
    @property
    def deadline_s(self) -> float:
        """How long a call may retry before a shard counts as unavailable."""
        return self.actors.deadline_s

    @deadline_s.setter
    def deadline_s(self, seconds: float) -> None:
        self.actors.deadline_s = seconds

    def call(
        self,
        method: str,
        args: Mapping[int, tuple[Any, ...]],
        *,
        allow_partial: bool = False,
    ) -> tuple[dict[int, Any], list[int]]:
        """``method`` on the given shards (:meth:`ShardActors.call`)."""
        return self.actors.call(method, args, allow_partial=allow_partial)

    def call_all(self, method: str, *args: Any) -> list[Any]:
        """``method(*args)`` on every shard, in shard order."""
        return self.actors.call_all(method, *args)

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

    # -- the backend's calls -------------------------------------------------------------
    def retrieve(
        self,
        requests: Mapping[str, tuple[Any, int]],
        filters: Mapping[str, Any] | None = None,
        *,
        allow_partial: bool = False,
    ) -> Retrieval:
        """Each list's global top hits per query, merged over shards; and missing shards."""
        for _ in range(STATS_ROUNDS):
            stats = self.stats()
            packed = (dict(requests), stats.key, filters)
            try:
                fast = self.actors.compiled_search(packed)
                missing: list[int] = []
                if fast is not None:
                    answers = fast
                    break
                args = dict.fromkeys(range(self.layout.n_shards), packed)
                answers, missing = self.call("search", args, allow_partial=allow_partial)
                break
            except StaleStatsError:
                self._stats = None  # a shard changed generation: merge fresh statistics
        else:
            raise ShardUnavailableError("shards kept changing generation during the query")
        lists = {
            name: [_merge(answers, name, q, depth) for q in range(len(payload))]
            for name, (payload, depth) in requests.items()
        }
        return Retrieval(lists, tuple(missing))

    def lookup(self, method: str, doc_ids: Sequence[str], *args: Any) -> list[Any]:
        """A per-document backend call, answered by the shard that owns each id, in the
        order of ``doc_ids``."""
        groups = self._by_shard(doc_ids)
        for _ in range(STATS_ROUNDS):
            key = self.stats().key
            calls = {
                s: (method, key, [doc_ids[p] for p in pos], *args) for s, pos in groups.items()
            }
            try:
                answers, _ = self.call("lookup", calls)
                break
            except StaleStatsError:
                self._stats = None
        else:
            raise ShardUnavailableError("shards kept changing generation during the query")
        out: list[Any] = [None] * len(doc_ids)
        for shard, positions in groups.items():
            for p, value in zip(positions, answers[shard], strict=True):
                out[p] = value
        return out

    # -- maintenance, shard by shard ----------------------------------------------------
    def check(self) -> list[str]:
        """Every shard's :meth:`~hybridir.collection.Collection.check`, prefixed by it."""
        return [f"shard-{i:03d}: {p}" for i, ps in enumerate(self.call_all("check")) for p in ps]

    def orphans(self) -> list[str]:
        """Every shard's unreferenced files, as paths from the sharded folder."""
        return [f"shard-{i:03d}/{o}" for i, os_ in enumerate(self.call_all("orphans")) for o in os_]

    def optimize(self) -> None:
        """Merge each shard's segments into one."""
        self.call_all("optimize")
        self._stats = None

    def manifest(self) -> Any:
        """Segment names of every shard (``shard-NNN/seg-…``), for metrics."""
        names = [
            f"shard-{i:03d}/{name}" for i, ns in enumerate(self.call_all("segments")) for name in ns
        ]
        return _ShardSegments(tuple(Segment(name, 0) for name in names))

    # -- configuration ------------------------------------------------------------------
    def set_fusion(self, fusion: FusionConfig) -> None:
        """Make ``fusion`` the collection's default (fusion runs on the coordinator)."""
        if fusion.model is not None:
            self._require_model(fusion.model)
        self.layout = self.layout.with_config(replace(self.config, fusion=fusion))

    def set_rerank(self, spec: str | None) -> None:
        """Make ``spec`` (or none) the collection's default reranker."""
        self.layout = self.layout.with_config(replace(self.config, rerank=spec))

    def set_splade_query(self, mode: str, model: str | None = None) -> None:
        """How learned sparse queries are weighted (prepared on the coordinator)."""
        splade = self.config.splade
        if splade is None:
            raise ConfigError(f"{self.directory} has no learned sparse index")
        if model is not None:
            self._require_model(model)
        new = replace(splade, query_mode=mode, query_model=model)
        self.layout = self.layout.with_config(replace(self.config, splade=new))

    def set_dense_query(self, mode: str, model: str | None = None) -> None:
        """How dense query vectors are made (prepared on the coordinator)."""
        dense = self.config.dense
        if dense is None:
            raise ConfigError(f"{self.directory} has no dense index")
        if model is not None:
            self._require_model(model)
        new = replace(dense, query_mode=mode, query_model=model)
        self.layout = self.layout.with_config(replace(self.config, dense=new))

    def _require_model(self, name: str) -> None:
        check_model_name(name)
        if not (self.models_dir / name).is_dir():
            raise ConfigError(f"no trained model {name!r} in {self.models_dir}")

    # -- documents ---------------------------------------------------------------------
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
        show_progress: ShowProgress = False,
    ) -> int:
        """Add (or upsert) documents, each in its shard's transaction; an ``add`` of an id
        that exists anywhere is rejected before anything is written (``show_progress``:
        accepted like :meth:`Collection.add`'s; shards encode without a bar)."""
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
        self.actors.close()


def _doc_dict(doc: Document) -> dict[str, Any]:
    return {
        "doc_id": doc.doc_id,
        "text": doc.text,
        "title": doc.title,
        "metadata": dict(doc.metadata),
    }


class _ShardSegments(NamedTuple):
    """What the service's metrics read of a manifest, over every shard."""

    segments: tuple[Segment, ...]


def _merge(answers: Mapping[int, Any], name: str, q: int, depth: int) -> RankedList:
    """List ``name``'s top ``depth`` for query ``q`` over every shard's answer: each shard's
    list is sorted by (score desc, doc id asc), so a merge, not a sort."""
    runs = [
        zip(answers[s][name][q].scores, answers[s][name][q].doc_ids, strict=True)
        for s in sorted(answers)
    ]
    top = list(itertools.islice(heapq.merge(*runs, key=lambda hit: (-hit[0], hit[1])), depth))
    return RankedList([d for _, d in top], [s for s, _ in top])
