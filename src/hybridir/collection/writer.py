"""The collection handle: opening, refreshing, and every write as one durable transaction.

A write (``add``, ``upsert``, ``delete``) encodes its documents first (outside the lock),
then, holding the single-writer lock, writes a new segment and new deletion lists, stages
the document versions, and publishes the next generation by atomically replacing
``manifest.json`` (docs/architecture.md, "Durability"). A crash before that rename leaves
the previous generation intact; the next writer discards what the dead one staged.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from hybridir._atomic import atomic_write_text, fsync_dir
from hybridir.collection.check import check_generation
from hybridir.collection.files import (
    LOCK,
    crashpoint,
    flock_until,
    orphans,
    orphans_unless_writing,
    remove,
    save_segment,
    with_deletions,
)
from hybridir.collection.language import resolve_language
from hybridir.collection.manifest import MANIFEST, Manifest, Segment
from hybridir.collection.merge import merge_plan, merged_rows
from hybridir.collection.sources import (
    IngestReport,
    add_source,
    count_truncated,
    sync_folder,
    warn_truncated,
)
from hybridir.collection.state import load_with_retry
from hybridir.collection.validation import validate_documents, validate_id
from hybridir.collection.view import CollectionView, Shared
from hybridir.config import (
    AUTO,
    Calibration,
    CollectionConfig,
    FusionConfig,
    check_model_name,
    indexed_lists,
)
from hybridir.docstore import STORE, DocStore
from hybridir.errors import (
    ConfigError,
    HybridirError,
    IndexFormatError,
    InvalidInputError,
    NotFoundError,
    WriterBusyError,
)
from hybridir.sparse.postings import build_from_ids
from hybridir.sparse.warmup import warm_in_background
from hybridir.text.analyzer import Analyzer
from hybridir.text.batch import concat_term_ids
from hybridir.text.languages import analyzer_language
from hybridir.types import Document

if TYPE_CHECKING:
    from hybridir._progress import ShowProgress
    from hybridir.sparse.encoders import SparseVector

logger = logging.getLogger(__name__)


class Collection(CollectionView):
    """A searchable, updatable document collection stored in a directory.

    A write returns only once it is durable: when ``add``, ``upsert`` or ``delete``
    returns, the documents survive ``kill -9`` of any process and a power cut, and every
    process that opens the collection afterwards sees them (docs/architecture.md,
    "Durability"). One process writes at a time (a ``flock`` on ``write.lock``); a writer
    that finds it taken waits up to ``wait`` seconds, then raises :class:`WriterBusyError`.

    Example:
        >>> col = Collection.create("/tmp/demo-col", overwrite=True)
        >>> col.add([Document("d1", "BM25 ranks documents"), Document("d2", "dense vectors")])
        2
        >>> col.upsert([Document("d2", "dense vectors, revised")])
        1
        >>> col.delete(["d1"])
        1
        >>> len(col)
        1
    """

    max_segments: int = 4
    """More segments than this after a write triggers a merge of the smallest ones
    (:mod:`hybridir.collection.merge`)."""
    merge_dead_share: float = 0.5
    """A segment with more deleted rows than this share is merged (purged) after a write."""

    def __init__(
        self, directory: Path, manifest: Manifest, *, wait: float = 0.0, create: bool = False
    ) -> None:
        shared = Shared(directory, create=create)
        super().__init__(directory, shared, load_with_retry(directory, manifest))
        self._refresh_lock = threading.Lock()
        self._manifest_stamp: tuple[int, ...] | None = None
        self._write_lock = threading.Lock()  # threads sharing this handle write in turn
        self.wait = wait
        """Seconds a write waits for another writer to finish before failing."""

    # -- opening -----------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        directory: str | Path,
        config: CollectionConfig | None = None,
        *,
        overwrite: bool = False,
        exist_ok: bool = False,
        wait: float = 0.0,
    ) -> Collection:
        """Create an empty collection (``overwrite`` replaces an existing one;
        ``exist_ok`` opens it instead, when it was built with the same analyzer, BM25,
        encoders and chunking: a notebook cell can run twice)."""
        path = Path(directory)
        if exist_ok and not overwrite and (path / MANIFEST).is_file():
            return cls._reopen(path, config, wait)
        if path.exists() and any(path.iterdir()):
            if not overwrite:
                raise ConfigError(
                    f"{path} exists and is not empty; pass overwrite=True (CLI: --overwrite)"
                )
            if not (path / MANIFEST).is_file():
                raise ConfigError(f"refusing to overwrite {path}: it is not a hybridir collection")
            shutil.rmtree(path)
        config = _covered(_registered(config or CollectionConfig()))
        Analyzer(config.analyzer)  # fail now on an unknown language or stemmer
        path.mkdir(parents=True, exist_ok=True)
        fsync_dir(path.parent)
        DocStore(path / STORE, create=True).close()  # the store exists before the manifest
        manifest = Manifest(generation=0, config=config)
        atomic_write_text(path / MANIFEST, manifest.to_json())
        return cls(path, manifest, wait=wait)

    @classmethod
    def _reopen(cls, path: Path, config: CollectionConfig | None, wait: float) -> Collection:
        collection = cls.open(path, wait=wait)
        if config is None:
            return collection
        built = collection.config
        config = _registered(config)
        if config.analyzer.language == AUTO:  # as the first write resolved it
            config = replace(
                config, analyzer=replace(config.analyzer, language=built.analyzer.language)
            )
        fixed = ("analyzer", "bm25", "dense", "splade", "chunking")
        differ = [f for f in fixed if getattr(built, f) != getattr(config, f)]
        if differ:
            collection.close()
            raise ConfigError(
                f"{path} exists with another {', '.join(differ)} configuration; "
                "pass overwrite=True to rebuild it"
            )
        return collection

    @classmethod
    def open(cls, directory: str | Path, *, wait: float = 0.0) -> Collection:
        """Open an existing collection, checking its format version and its files.

        Args:
            directory: the collection folder.
            wait: seconds a write waits for another process's write to finish.
        """
        path = Path(directory)
        return cls(path, Manifest.read(path), wait=wait)

    def close(self) -> None:
        self._shared.store.close()

    def refresh(self) -> bool:
        """Move to the newest published generation; returns whether it changed."""
        with self._refresh_lock:
            # A commit replaces the manifest by a rename, so an unchanged inode, time and
            # size mean an unchanged manifest: a stat (2 µs) instead of a parse (~100 µs).
            try:
                st = os.stat(self.directory / MANIFEST)
            except OSError as exc:
                raise IndexFormatError(f"cannot read {self.directory / MANIFEST}: {exc}") from exc
            stamp = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)
            if stamp == self._manifest_stamp:
                return False
            latest = Manifest.read(self.directory)
            self._manifest_stamp = stamp
            if latest.generation == self.generation:
                return False
            self._state = load_with_retry(self.directory, latest, self._state)
            return True

    def snapshot(self) -> CollectionView:
        """The newest generation as a view that stays consistent while it is used."""
        self.refresh()
        return CollectionView(self.directory, self._shared, self._state)

    # -- writing -----------------------------------------------------------------------
    @contextmanager
    def _writer_lock(self) -> Iterator[CollectionView]:
        """Hold the collection's single-writer lock and yield the newest generation,
        cleaned of what a writer that died left behind (staged document versions,
        unreferenced segment files)."""
        # Waits beyond what the lock can express (days, inf) wait as long as it can.
        wait = min(max(0.0, self.wait), threading.TIMEOUT_MAX)
        deadline = time.monotonic() + wait
        if not self._write_lock.acquire(timeout=wait or -1):
            raise WriterBusyError(self._busy_message())
        try:
            with open(self.directory / LOCK, "a") as handle:
                flock_until(handle, deadline, self._busy_message)
                try:
                    self.refresh()
                    self._shared.store.discard_unpublished(self.generation)
                    self._reclaim(self.manifest)
                    yield CollectionView(self.directory, self._shared, self._state)
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            self._write_lock.release()

    def _busy_message(self) -> str:
        waited = f" (waited {self.wait:g} s)" if self.wait > 0 else ""
        return (
            f"another process is writing to {self.directory}{waited}; one writer at a time "
            "(wait for it: Collection.open(..., wait=SECONDS), CLI --wait SECONDS)"
        )

    def add(
        self,
        docs: Iterable[Document],
        *,
        vectors: NDArray[np.float32] | None = None,
        show_progress: ShowProgress = False,
        allow_empty: bool = False,
    ) -> int:
        """Add new documents in one transaction; returns how many were added, once they
        are durable.

        Args:
            docs: the documents; none may already be in the collection.
            vectors: their embeddings (one row each) instead of encoding them here.
            show_progress: show analysis and encoding progress bars.
            allow_empty: accept documents without text (bulk loads of test collections).

        Raises:
            InvalidInputError: a document is invalid (:func:`validate_documents`), already
                stored, or ``vectors`` has the wrong shape. Nothing is written then.
            WriterBusyError: another process kept writing for longer than ``wait``.
        """
        return self._write(
            list(docs), (), vectors, replace=False, show=show_progress, allow_empty=allow_empty
        )

    def upsert(
        self,
        docs: Iterable[Document],
        *,
        vectors: NDArray[np.float32] | None = None,
        show_progress: ShowProgress = False,
        allow_empty: bool = False,
    ) -> int:
        """Add documents, replacing stored ones with the same ids, in one transaction."""
        return self._write(
            list(docs), (), vectors, replace=True, show=show_progress, allow_empty=allow_empty
        )

    def update(
        self,
        upsert: Iterable[Document] = (),
        delete: Iterable[str] = (),
        *,
        show_progress: ShowProgress = False,
    ) -> int:
        """Upsert ``upsert`` and delete ``delete`` (ids; absent ones are ignored) in ONE
        transaction: a reader sees all of it or none. Returns how many documents were
        written or deleted. An id in both is upserted (the new version wins)."""
        batch = list(upsert)
        new = {d.doc_id for d in batch}
        ids = [d for d in dict.fromkeys(delete) if d not in new]
        for i, d in enumerate(ids):
            validate_id(d, f"doc id #{i}")
        return self._write(batch, ids, None, replace=True, show=show_progress, missing_ok=True)

    def add_source(
        self,
        source: str | Path,
        *,
        upsert: bool = False,
        show_progress: ShowProgress = False,
        **options: Any,
    ) -> IngestReport:
        """Add a source of documents in one transaction: a folder or glob of ``.txt``,
        ``.md``, ``.html``, ``.pdf``, ``.docx`` files, a JSONL/CSV/TSV/Parquet table, or a
        BEIR folder or dataset name, cut into passages when the collection chunks
        (:attr:`CollectionConfig.chunking`). ``options`` are the reader's field mapping and
        error policy (:func:`hybridir.ingest.sources.load_source`).

        Example:
            >>> col.add_source("./mydocs").passages  # doctest: +SKIP
            42
        """
        return add_source(self, source, upsert=upsert, show_progress=show_progress, **options)

    def sync(
        self, folder: str | Path, *, show_progress: ShowProgress = False, **options: Any
    ) -> IngestReport:
        """Make the collection equal ``folder`` in one transaction (new and changed files
        upserted, removed ones deleted, unchanged ones untouched): see
        :func:`hybridir.collection.sources.sync_folder`."""
        return sync_folder(self, folder, show_progress=show_progress, **options)

    def delete(self, doc_ids: Iterable[str], *, missing_ok: bool = False) -> int:
        """Delete documents in one transaction; returns how many were deleted.

        Raises:
            NotFoundError: an id is not in the collection (unless ``missing_ok``); nothing
                is deleted then.
        """
        ids = list(dict.fromkeys(doc_ids))
        for i, d in enumerate(ids):
            validate_id(d, f"doc id #{i}")
        return self._write([], ids, None, replace=False, show=False, missing_ok=missing_ok)

    def _write(
        self,
        batch: list[Document],
        deletes: Sequence[str],
        vectors: NDArray[np.float32] | None,
        *,
        replace: bool,
        show: ShowProgress,
        missing_ok: bool = False,
        allow_empty: bool = False,
    ) -> int:
        validate_documents(batch, allow_empty=allow_empty)
        if vectors is not None:
            self._check_vectors(batch, vectors)
        elif batch:
            warn_truncated(count_truncated(self.config, batch))
        if batch and self.config.analyzer.language == AUTO:
            self._resolve_language(batch)
        # Encode before taking the lock: the slow part of a write never blocks other writers.
        fresh, weights = vectors, None
        if batch:
            current = self.snapshot()
            if fresh is None:
                fresh = _encode(current, batch, show)
            weights = _encode_sparse(current, batch, show)
        with self._writer_lock() as view:
            bm25 = view.bm25
            taken = [d.doc_id for d in batch if bm25.has(d.doc_id)]
            if taken and not replace:
                raise InvalidInputError(
                    f"doc_id(s) already in the collection: {taken[:5]} (use upsert to replace)"
                )
            missing = [d for d in deletes if not bm25.has(d)]
            if missing and not missing_ok:
                raise NotFoundError(f"no document(s) with id(s) {missing[:5]}; nothing deleted")
            removed = [d for d in deletes if bm25.has(d)] + taken
            if not batch and not removed:
                return 0
            removed = list(dict.fromkeys(removed))
            generation = view.generation + 1
            state = view._state
            segments = with_deletions(
                self.directory, view.manifest.segments, state.live, bm25, removed, generation
            )
            if batch:
                segments.append(self._write_segment(view, batch, fresh, weights, generation, show))
            crashpoint("segment-written")
            self._shared.store.stage(batch, removed, generation)
            crashpoint("staged")
            n_live = len(view) + len(batch) - len(removed)
            dim = None if fresh is None else int(fresh.shape[1])
            self._publish(view, segments, n_live, generation, dim)
            self._maybe_merge()
        return len(batch) + len(removed) - len(taken) if batch else len(removed)

    def _resolve_language(self, batch: Sequence[Document]) -> None:
        """Replace a language ``"auto"`` by the one detected in ``batch`` (the first
        documents written), published as a config generation of its own before the write
        (which fixes the language even if that write then fails). Under the writer lock, and
        only while the stored language is still ``"auto"``: when two writers race, the first
        one's choice stands and the other analyses with it."""
        with self._writer_lock() as view:
            if view.config.analyzer.language != AUTO:
                return
            config, choice = resolve_language(view.config, batch)
            logger.info("%s", choice.describe())
            config = _covered(config)
            self._publish_config(view, analyzer=config.analyzer, fusion=config.fusion)

    def _check_vectors(self, batch: Sequence[Document], vectors: NDArray[np.float32]) -> None:
        if not self.has_dense:
            raise InvalidInputError("vectors given but the collection has no dense index")
        shape = getattr(vectors, "shape", None)
        # The first vectors fix the dimension (the encoder is only loaded to encode queries).
        dim = self.manifest.dim or (shape[1] if shape is not None and len(shape) == 2 else -1)
        if shape != (len(batch), dim):
            raise InvalidInputError(
                f"vectors must have shape ({len(batch)}, {dim}) for this batch, got {shape}"
            )
        if not np.isfinite(vectors).all():
            raise InvalidInputError("vectors contain NaN or infinite values")

    def _write_segment(
        self,
        view: CollectionView,
        batch: Sequence[Document],
        vectors: NDArray[np.float32] | None,
        weights: Sequence[SparseVector] | None,
        generation: int,
        show: ShowProgress,
    ) -> Segment:
        warm_in_background()  # so that the first query of a later process finds them cached
        terms = concat_term_ids(
            [view.index_term_ids(docs) for docs in _chunked(batch, show, "Analyzing")]
        )
        doc_ids = [d.doc_id for d in batch]
        impacts = None
        if weights is not None:
            from hybridir.sparse.impact import build_impacts

            splade = view._splade_config()
            vocab = view.sparse_encoder.vocab
            impacts = build_impacts(weights, vocab, doc_ids, splade.scale, splade.max_terms)
        return save_segment(
            self.directory,
            f"seg-{generation:06d}",
            build_from_ids(terms.ids, terms.ptr, terms.terms, doc_ids),
            [dict(d.metadata) for d in batch],
            vectors,
            view.config.dense,
            impacts,
        )

    def _publish(
        self,
        view: CollectionView,
        segments: list[Segment],
        n_live: int,
        generation: int,
        dim: int | None = None,
    ) -> None:
        """Write the manifest of ``generation`` (the commit point), then drop what it no
        longer references. ``dim``: the vector dimension, when these are the first vectors.

        Everything the manifest names is already durable (segment trees and deletion lists
        fsynced, document versions committed by SQLite with ``synchronous=FULL``), so the
        fsynced rename is the one step that makes the write visible and durable at once.
        """
        manifest = Manifest(
            generation, view.config, tuple(segments), n_live, view.manifest.dim or dim
        )
        atomic_write_text(self.directory / MANIFEST, manifest.to_json())
        crashpoint("published")
        self._state = load_with_retry(self.directory, manifest, self._state)
        # Readers that loaded the old generation keep their open files and maps (POSIX).
        remove(self.directory, view.manifest.referenced() - manifest.referenced())

    def orphans(self) -> list[str]:
        """Files and folders no manifest references (left by a writer killed between
        writing them and publishing, or before removing what a commit replaced); the next
        write or :meth:`optimize` removes them. Empty while another process is writing
        (what it is writing is not an orphan)."""
        return orphans_unless_writing(self.directory)

    def _reclaim(self, manifest: Manifest) -> None:
        """Remove orphans (under the writer lock, so none of them is being written)."""
        found = orphans(self.directory, manifest)
        if found:
            logger.info(
                "removing %d unreferenced file(s) in %s: %s", len(found), self.directory, found[:5]
            )
            remove(self.directory, found)

    # -- merging -----------------------------------------------------------------------
    def _maybe_merge(self) -> None:
        plan = merge_plan(self.manifest.segments, self.max_segments, self.merge_dead_share)
        if plan:
            self._merge(plan)

    def optimize(self) -> None:
        """Merge every segment into one, dropping deleted rows (fastest queries), and
        remove unreferenced files."""
        with self._writer_lock():
            segments = self.manifest.segments
            if len(segments) > 1 or any(s.n_dead for s in segments):
                self._merge(list(range(len(segments))))

    def _merge(self, chosen: Sequence[int]) -> None:
        """Replace the ``chosen`` segments by one holding their live rows (a commit)."""
        view = CollectionView(self.directory, self._shared, self._state)
        rows = merged_rows(view._state, chosen)
        generation = view.generation + 1
        segment = save_segment(
            self.directory,
            f"seg-{generation:06d}",
            rows.postings,
            rows.metadata,
            rows.vectors,
            view.config.dense,
            rows.impacts,
        )
        crashpoint("merge-written")
        segments = [s for i, s in enumerate(view.manifest.segments) if i not in set(chosen)]
        segments.insert(min(chosen), segment)
        if segment.n_docs == 0:
            segments.remove(segment)
            shutil.rmtree(self.directory / segment.name, ignore_errors=True)
        self._publish(view, segments, len(view), generation)

    # -- configuration -----------------------------------------------------------------
    def set_fusion(self, fusion: FusionConfig) -> None:
        """Make ``fusion`` the collection's default, published as a new generation.

        ``search``, ``evaluate`` and ``serve`` use it from then on. A learned method's model
        must already be stored (see :func:`hybridir.learn.store.save_model`).
        """
        self._set_fusion(fusion)

    def set_calibration(self, fusion: FusionConfig, evidence: Calibration) -> None:
        """Make ``fusion`` the collection's default together with the ``evidence`` of the
        calibration that chose it, in one new generation (see
        :func:`hybridir.learn.calibrate.calibrate`)."""
        self._set_fusion(fusion, calibration=evidence)

    def _set_fusion(self, fusion: FusionConfig, **changes: Any) -> None:
        if fusion.model is not None:
            self._require_model(fusion.model)
        self._set_config(fusion=fusion, **changes)

    def set_splade_query(self, mode: str, model: str | None = None) -> None:
        """Make ``mode`` (a :data:`hybridir.sparse.impact.QUERY_MODES` name; ``"table"``
        with a stored token-weight ``model``) how learned sparse queries are weighted."""
        splade = self._splade_config()
        if model is not None:
            self._require_model(model)
        self._set_config(splade=replace(splade, query_mode=mode, query_model=model))

    def set_dense_query(self, mode: str, model: str | None = None) -> None:
        """Make ``mode`` (a :data:`hybridir.query.DENSE_QUERY_MODES` name; ``"table"``
        with a stored dense-table ``model``) how dense query vectors are made."""
        dense = self._dense_config()
        if model is not None:
            self._require_model(model)
        self._set_config(dense=replace(dense, query_mode=mode, query_model=model))

    def _require_model(self, name: str) -> None:
        check_model_name(name)
        if not (self.models_dir / name).is_dir():
            raise ConfigError(f"no trained model {name!r} in {self.models_dir}")

    def set_rerank(self, spec: str | None) -> None:
        """Make ``spec`` (or no reranking, with ``None``) the collection's default reranker."""
        self._set_config(rerank=spec)

    def _set_config(self, **changes: Any) -> None:
        with self._writer_lock() as view:
            self._publish_config(view, **changes)

    def _publish_config(self, view: CollectionView, **changes: Any) -> None:
        """Publish a generation whose config has ``changes`` (under the writer lock)."""
        m = view.manifest
        manifest = replace(m, generation=m.generation + 1, config=replace(m.config, **changes))
        atomic_write_text(self.directory / MANIFEST, manifest.to_json())
        self._state = load_with_retry(self.directory, manifest, self._state)

    # -- integrity ---------------------------------------------------------------------
    def check(self, attempts: int = 5) -> list[str]:
        """Problems found by checking that the manifest, every file it names (sizes and
        CRC-32 checksums), every segment's contents and the document store agree (an
        empty list when the collection is sound; :mod:`hybridir.collection.check`).
        Orphans are not problems: see :meth:`orphans`. Safe while another process writes:
        a generation whose files a writer removed meanwhile is checked again at the newest
        one."""
        problems: list[str] = []
        for _ in range(attempts):
            try:
                manifest = Manifest.read(self.directory)
            except HybridirError as exc:
                return [str(exc)]
            problems = check_generation(self.directory, manifest, self._shared.store)
            if not problems or Manifest.read(self.directory).generation == manifest.generation:
                return problems
        return problems


def _registered(config: CollectionConfig) -> CollectionConfig:
    """``config`` with its analyzer language as :data:`hybridir.text.languages.LANGUAGES`
    names it (a language without an analyzer of its own: the generic one, with a warning)."""
    language = analyzer_language(config.analyzer.language)
    if language == config.analyzer.language:
        return config
    return replace(config, analyzer=replace(config.analyzer, language=language))


def _covered(config: CollectionConfig) -> CollectionConfig:
    """``config``, its default fusion leaving the dense list out when the dense model does
    not cover the analyzer's language (said in a warning; :mod:`hybridir.dense.coverage`).
    A language still to be detected (``"auto"``) is checked once it is."""
    if config.dense is None or config.analyzer.language == AUTO:
        return config
    from hybridir.dense.coverage import covers, uncovered_fusion

    language, model = config.analyzer.language, config.dense.model
    if covers(model, language, config.dense.languages):
        return config
    keep = config.fusion != FusionConfig()
    logger.warning(
        "the dense model %s does not cover language %r: %s (calibrate to measure it: "
        "hybridir calibrate, or choose a model that covers it)",
        model,
        language,
        "kept the fusion given" if keep else "its list is left out of the default fusion",
    )
    if keep:
        return config
    return replace(config, fusion=uncovered_fusion(config.fusion, indexed_lists(config)))


def _encode(
    view: CollectionView, batch: Sequence[Document], show: ShowProgress
) -> NDArray[np.float32] | None:
    if not view.has_dense:
        return None
    from hybridir.dense.cache import encode_documents_cached  # torch

    texts = [f"{d.title} {d.text}".strip() for d in batch]
    return encode_documents_cached(view.encoder, texts, show_progress=show)


def _encode_sparse(
    view: CollectionView, batch: Sequence[Document], show: ShowProgress
) -> list[SparseVector] | None:
    if not view.has_splade:
        return None
    from hybridir.sparse.encoders import encode_sparse_cached  # torch

    texts = [f"{d.title} {d.text}".strip() for d in batch]
    return encode_sparse_cached(view.sparse_encoder, texts, show_progress=show)


ANALYSIS_CHUNK = 4096
"""Documents analysed per batch-analyzer call while writing (the progress bar's step)."""


def _chunked(items: Sequence[Document], show: ShowProgress, label: str) -> Iterator[list[Document]]:
    """``items`` in chunks of :data:`ANALYSIS_CHUNK`, each counted on the progress bar."""
    chunk: list[Document] = []
    for item in _progress(items, show, label):
        chunk.append(item)
        if len(chunk) == ANALYSIS_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _progress(items: Sequence[Document], show: ShowProgress, label: str) -> Iterable[Document]:
    from hybridir._progress import track

    return track(items, label, len(items), show)
