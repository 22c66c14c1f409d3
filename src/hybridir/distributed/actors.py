"""The shard actors of a sharded collection, and calls to them that survive faults.

:class:`ShardActors` starts one :class:`~hybridir.distributed.worker.ShardWorker` actor per
shard, private to its coordinator (a compiled graph must be the only one driving its
actors), and calls them in parallel: a call whose actor died is resubmitted (to a new actor
if Ray gave up on the old one) until the deadline, then the shard counts as missing. Queries
take a compiled Ray graph when it works (shared-memory channels instead of a task per
shard) and fall back to ordinary calls.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hybridir.distributed.stats import StaleStatsError
from hybridir.distributed.worker import ShardWorker
from hybridir.errors import ShardUnavailableError, missing_dependency

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


class ShardActors:
    """One actor per shard folder of ``shard_dirs``, and fault-tolerant calls to them.

    Args:
        shard_dirs: the shards' collection folders, on storage every node can read.
        address: Ray cluster address (``None``: the connected or a new local cluster).
        actor_cpus: CPUs reserved by each shard actor.
        deadline_s: how long a call may retry before a shard counts as unavailable.
        compiled: send queries through a compiled Ray graph; any failure falls back to
            ordinary retried calls.
    """

    def __init__(
        self,
        shard_dirs: list[Path],
        *,
        address: str | None = None,
        actor_cpus: float = ACTOR_CPUS,
        deadline_s: float = 60.0,
        compiled: bool = True,
    ) -> None:
        self.shard_dirs = [d.resolve() for d in shard_dirs]
        self.deadline_s = deadline_s
        self.compiled = compiled
        self._ray = ray_module(address)
        self._actor_cpus = actor_cpus
        root = str(self.shard_dirs[0].parent) if self.shard_dirs else ""
        self._prefix = "hybridir-" + hashlib.sha1(root.encode()).hexdigest()[:12]
        self._token = uuid.uuid4().hex[:8]
        self._replacements = 0
        self._actors = [self._actor(i) for i in range(len(self.shard_dirs))]
        self._dag: Any = None
        self._dag_lock = threading.Lock()
        self._dag_failed_at = -1e9

    @property
    def n_shards(self) -> int:
        return len(self.shard_dirs)

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
        ).remote(str(self.shard_dirs[shard]), shard)

    def _replace_actor(self, shard: int) -> None:
        """Give up on the shard's actor (Ray may still be restarting it, or it died in its
        constructor) and start a new one that reopens the shard."""
        self.drop_compiled()
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
                f"shard(s) {missing} of {self.shard_dirs[0].parent} did not answer within "
                f"{self.deadline_s if deadline_s is None else deadline_s:.0f} s"
            )
        return answers, missing

    def call_all(self, method: str, *args: Any) -> list[Any]:
        """``method(*args)`` on every shard, in shard order."""
        answers, _ = self.call(method, dict.fromkeys(range(self.n_shards), args))
        return [answers[i] for i in range(self.n_shards)]

    def compiled_search(self, packed: tuple[Any, ...]) -> dict[int, Any] | None:
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
            self.drop_compiled()
            self._dag_failed_at = time.monotonic()
            return None
        finally:
            self._dag_lock.release()

    def drop_compiled(self) -> None:
        dag, self._dag = self._dag, None
        if dag is not None:
            with contextlib.suppress(Exception):
                dag.teardown()

    def close(self) -> None:
        """Release the compiled graph and stop this coordinator's actors (they are its
        own: no other coordinator uses them)."""
        self.drop_compiled()
        actors, self._actors = self._actors, []
        for actor in actors:
            with contextlib.suppress(Exception):
                self._ray.kill(actor, no_restart=True)
