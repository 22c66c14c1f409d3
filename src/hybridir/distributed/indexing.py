"""Distributed indexing: encode with Ray Data, build the shards in parallel, resume after a
failure without re-encoding finished batches.

1. The corpus is cut into fixed batches (``batch_size`` documents, in file order).
2. Dense vectors: every batch not yet on disk goes through Ray Data ``map_batches`` with a
   fractional CPU reservation per encoding task (so shard actors and encoders share the
   machines); each task writes its batch's vectors to ``<work>/vectors/batch-<n>.npy``
   (temporary file, then rename), which is what makes a rerun skip it.
3. Documents are routed to shards by :func:`~hybridir.distributed.routing.shard_of`; every
   shard actor adds its documents with their vectors in one transaction per part, in
   parallel. A shard's part that already landed (its ids are present) is skipped on a
   rerun. Learned sparse weights are encoded inside the shard actors, through the shared
   embedding cache.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hybridir._progress import ShowProgress, progress_bar
from hybridir.config import CollectionConfig, DenseConfig
from hybridir.distributed.actors import ACTOR_CPUS, ray_module
from hybridir.distributed.cluster import ShardedCollection
from hybridir.distributed.layout import ShardedLayout
from hybridir.distributed.routing import shard_of
from hybridir.types import Document

ENCODE_CPUS = 0.5
"""CPUs reserved per Ray Data encoding task."""


class _EncodeBatch:
    """Ray Data callable: encodes one corpus batch and stores its vectors on shared storage
    (the model loads once per worker)."""

    def __init__(self, dense: dict[str, Any], out_dir: str) -> None:
        from hybridir.dense.encoders import make_encoder

        self.encoder = make_encoder(DenseConfig.from_dict(dense))
        self.out_dir = Path(out_dir)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        done = []
        for number, texts in zip(batch["batch"], batch["texts"], strict=True):
            vectors = self.encoder.encode_documents([str(t) for t in texts])
            _save_atomic(self.out_dir / f"batch-{int(number):06d}.npy", vectors)
            done.append(int(number))
        return {"batch": np.asarray(done, dtype=np.int64)}


def _save_atomic(path: Path, array: np.ndarray) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npy")
    with os.fdopen(fd, "wb") as handle:
        np.save(handle, array)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def encode_distributed(
    texts: Sequence[str],
    dense: DenseConfig,
    work: Path,
    *,
    batch_size: int = 256,
    encode_cpus: float = ENCODE_CPUS,
    concurrency: int = 2,
    address: str | None = None,
    progress: Callable[[str], None] | None = None,
    show: ShowProgress = False,
) -> np.ndarray:
    """Dense vectors of ``texts`` (row per text), encoded by Ray Data tasks; batches already
    in ``work/vectors`` are reused, not re-encoded. ``show`` draws a bar of the texts
    encoded as Ray Data hands back each finished batch (:mod:`hybridir._progress`)."""
    ray = ray_module(address)
    out_dir = work / "vectors"
    out_dir.mkdir(parents=True, exist_ok=True)
    starts = range(0, len(texts), batch_size)
    pending = [b for b in range(len(starts)) if not (out_dir / f"batch-{b:06d}.npy").is_file()]
    todo = [{"batch": b, "texts": list(texts[starts[b] : starts[b] + batch_size])} for b in pending]
    sizes = {b: min(batch_size, len(texts) - starts[b]) for b in pending}
    if progress:
        progress(f"encoding {len(todo)} of {len(starts)} batches with Ray Data")
    if todo:
        dataset = ray.data.from_items(todo).map_batches(
            _EncodeBatch,
            fn_constructor_args=(dense.to_dict(), str(out_dir)),
            batch_size=1,
            num_cpus=encode_cpus,
            compute=ray.data.ActorPoolStrategy(size=concurrency),
        )
        with progress_bar("Encoding (dense, Ray Data)", sum(sizes.values()), show) as bar:
            for done in dataset.iter_batches(batch_size=None):
                bar.advance(sum(sizes[int(b)] for b in done["batch"]))
    parts = [np.load(out_dir / f"batch-{b:06d}.npy") for b in range(len(starts))]
    if not parts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


def index_sharded(
    docs: Sequence[Document],
    directory: str | Path,
    config: CollectionConfig,
    n_shards: int,
    *,
    address: str | None = None,
    work: str | Path | None = None,
    batch_size: int = 256,
    actor_cpus: float = ACTOR_CPUS,
    encode_cpus: float = ENCODE_CPUS,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
    deadline_s: float = 60.0,
    show: ShowProgress = False,
) -> ShardedCollection:
    """Index ``docs`` into a new (or, when resuming, the existing) sharded collection.

    ``work`` keeps the encoded batches (default: ``<directory>/.work``); rerunning after a
    failure reuses them and skips shard parts already written.
    """
    root = Path(directory)
    if ShardedLayout.is_sharded(root) and not overwrite:
        layout = ShardedLayout.open(root)
        if layout.n_shards != n_shards or layout.config != config:
            from hybridir.errors import ConfigError

            raise ConfigError(
                f"{root} holds a sharded collection with another configuration; "
                "pass overwrite=True (CLI: --overwrite) to rebuild it"
            )
    else:
        layout = ShardedLayout.create(root, config, n_shards, overwrite=overwrite)
    work_dir = Path(work) if work is not None else root / ".work"
    vectors = None
    if config.dense is not None:
        texts = [f"{d.title} {d.text}".strip() for d in docs]
        vectors = encode_distributed(
            texts,
            config.dense,
            work_dir,
            batch_size=batch_size,
            encode_cpus=encode_cpus,
            address=address,
            progress=progress,
            show=show,
        )
    sharded = ShardedCollection(root, address=address, actor_cpus=actor_cpus, deadline_s=deadline_s)
    groups: dict[int, list[int]] = {}
    for row, doc in enumerate(docs):
        groups.setdefault(shard_of(doc.doc_id, n_shards), []).append(row)
    present = sharded.call(
        "existing", {s: ([docs[p].doc_id for p in pos],) for s, pos in groups.items()}
    )[0]
    args: dict[int, tuple[Any, ...]] = {}
    for s, pos in groups.items():
        if present.get(s):
            continue  # this shard's part landed before a failure: not written twice
        args[s] = (
            [
                {
                    "doc_id": docs[p].doc_id,
                    "text": docs[p].text,
                    "title": docs[p].title,
                    "metadata": dict(docs[p].metadata),
                }
                for p in pos
            ],
            None if vectors is None else vectors[pos],
            False,
            True,
        )
    if progress:
        progress(f"building {len(args)} of {n_shards} shards in parallel")
    if args:
        sharded.call("write", args)
    sharded.invalidate_stats()
    return sharded
