"""Collection: the on-disk unit of hybridir, live and exact under adds, updates and deletes.

Layout of a collection directory::

    manifest.json            format_version, generation, configs, the segment list
    docs.sqlite              document versions (see :mod:`hybridir.docstore`)
    seg-<generation>/        one immutable segment: postings/ (BM25), impacts/ (with a learned
                             sparse index), vectors/ (with a dense index), metadata.json
    deletes/<seg>-<gen>.npy  rows of a segment deleted as of a generation
    models/<name>/           trained fusion models and rerankers (:mod:`hybridir.learn`)

A write (``add``, ``upsert``, ``delete``) is one transaction: it writes a new segment for
the new documents and new deletion lists for the segments it touches, stages the document
versions, then publishes the next generation by atomically replacing ``manifest.json``. A
crash before that rename leaves the previous generation intact; the next writer discards
what the dead one staged. A small write therefore rewrites nothing old; a merge policy
folds small or mostly-deleted segments together so queries stay fast
(:meth:`Collection.optimize` merges everything).

Scores stay exact: BM25 statistics are recomputed over the live documents of all segments
(:class:`hybridir.sparse.segments.SegmentedBM25`), so every score equals that of a
collection built from scratch from the surviving documents.

Readers take a :class:`CollectionView` (one generation, loaded once) per query; a
:class:`Collection` handle moves to the newest generation when asked
(:meth:`Collection.refresh`, which :class:`~hybridir.search.Searcher` calls per query).
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import re
import shutil
import signal
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
from numpy.typing import NDArray

from hybridir._atomic import atomic_write_text, fsync_dir, fsync_tree
from hybridir.config import (
    CollectionConfig,
    DenseConfig,
    FusionConfig,
    SpladeConfig,
    check_model_name,
)
from hybridir.docstore import DocStore
from hybridir.errors import (
    ConfigError,
    HybridirError,
    IndexFormatError,
    InvalidInputError,
    NotFoundError,
    WriterBusyError,
)
from hybridir.manifest import (
    DELETES,
    MANIFEST,
    METADATA,
    Manifest,
    Segment,
    file_sums,
    tree_files,
    verify_checksums,
    verify_sizes,
)
from hybridir.sparse.postings import (
    Postings,
    append_postings,
    build_from_terms,
    compact_postings,
    load_postings,
    save_postings,
)
from hybridir.sparse.segments import SegmentedBM25
from hybridir.text.analyzer import Analyzer
from hybridir.types import Document

if TYPE_CHECKING:
    from hybridir.dense.encoders import Encoder
    from hybridir.dense.vectors import SegmentedVectors
    from hybridir.sparse.encoders import SparseEncoder, SparseVector
    from hybridir.sparse.impact import SegmentedImpacts

logger = logging.getLogger(__name__)

MAX_DOCUMENT_CHARS = 1_000_000
"""Longest title + text accepted (characters); longer documents should be split."""
MAX_ID_CHARS = 512
"""Longest document id accepted (characters)."""
MAX_METADATA_DEPTH = 32
"""Deepest nesting of metadata objects and lists accepted."""
JSON_SAFE_INTEGER = 2**53 - 1
"""Largest integer magnitude in metadata: beyond it, JSON readers that use doubles (most
of them) change the value (RFC 7493, I-JSON, section 2.2)."""
STORE = "docs.sqlite"
LOCK = "write.lock"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def validate_documents(docs: Sequence[Document], *, allow_empty: bool = False) -> None:
    """Reject a batch that cannot be stored and read back exactly, naming the offending
    document.

    Raises:
        InvalidInputError: a bad doc id (:func:`validate_id`) or one repeated in the batch;
            a non-string title or text; an empty title and text (unless ``allow_empty``:
            test collections such as Cranfield hold a few empty documents, indexed so that
            they never match); a document over :data:`MAX_DOCUMENT_CHARS`; text that is not
            valid Unicode (lone surrogates, e.g. from undecodable bytes); metadata that JSON
            cannot carry exactly (:func:`validate_metadata`).
    """
    seen: set[str] = set()
    for i, doc in enumerate(docs):
        if not isinstance(doc, Document):
            raise InvalidInputError(f"item #{i} is a {type(doc).__name__}, not a Document")
        validate_id(doc.doc_id, f"document #{i}")
        name = repr(doc.doc_id)
        if doc.doc_id in seen:
            raise InvalidInputError(f"duplicate doc_id {name} in the batch")
        seen.add(doc.doc_id)
        if not isinstance(doc.text, str) or not isinstance(doc.title, str):
            raise InvalidInputError(f"document {name}: title and text must be strings")
        if not allow_empty and not (doc.text.strip() or doc.title.strip()):
            raise InvalidInputError(f"document {name} has no text (empty title and text)")
        size = len(doc.text) + len(doc.title)
        if size > MAX_DOCUMENT_CHARS:
            raise InvalidInputError(
                f"document {name} has {size:,} characters, over the limit of "
                f"{MAX_DOCUMENT_CHARS:,}; split it into passages"
            )
        _check_unicode(doc.title, f"document {name}: the title")
        _check_unicode(doc.text, f"document {name}: the text")
        validate_metadata(doc.metadata, f"document {name}")


def validate_id(doc_id: object, what: str = "a document") -> None:
    """A doc id is a non-blank string of at most :data:`MAX_ID_CHARS` valid Unicode
    characters without control characters. ``/`` is allowed (ids from file paths); over
    HTTP such ids work in the document URL as they are."""
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise InvalidInputError(f"{what} has an empty or non-string doc_id")
    if len(doc_id) > MAX_ID_CHARS:
        raise InvalidInputError(
            f"{what} has a doc_id of {len(doc_id):,} characters (at most {MAX_ID_CHARS})"
        )
    _check_unicode(doc_id, f"{what}: the doc_id")
    if _CONTROL.search(doc_id):
        raise InvalidInputError(f"{what}: the doc_id {doc_id!r} holds a control character")


def _check_unicode(value: str, what: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"{what} is not valid Unicode text (a lone surrogate at position {exc.start}, "
            "e.g. from undecodable bytes)"
        ) from None


def validate_metadata(metadata: object, what: str) -> None:
    """Metadata is a JSON object that round-trips exactly: string keys, valid Unicode,
    finite numbers, integers within :data:`JSON_SAFE_INTEGER`, at most
    :data:`MAX_METADATA_DEPTH` levels. Walked without recursion, so any depth gets an
    answer."""
    if not isinstance(metadata, Mapping):
        raise InvalidInputError(f"{what}: metadata must be a JSON object")
    stack: list[tuple[object, int, str]] = [(metadata, 1, "metadata")]
    while stack:
        value, depth, where = stack.pop()
        if isinstance(value, Mapping | list | tuple) and depth > MAX_METADATA_DEPTH:
            raise InvalidInputError(
                f"{what}: {where} is nested over {MAX_METADATA_DEPTH} levels deep"
            )
        if isinstance(value, Mapping):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise InvalidInputError(f"{what}: {where} has a non-string key {key!r}")
                _check_unicode(key, f"{what}: a key in {where}")
                stack.append((item, depth + 1, f"{where}.{key}"))
        elif isinstance(value, list | tuple):
            stack.extend((item, depth + 1, f"{where}[{i}]") for i, item in enumerate(value))
        elif isinstance(value, str):
            _check_unicode(value, f"{what}: {where}")
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if abs(value) > JSON_SAFE_INTEGER:
                raise InvalidInputError(
                    f"{what}: {where} = {value} is beyond ±2^53-1, which JSON numbers do not "
                    "carry exactly; store it as a string"
                )
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise InvalidInputError(f"{what}: {where} is {value}, which JSON cannot carry")
        else:
            raise InvalidInputError(
                f"{what}: {where} is a {type(value).__name__}, not a JSON value"
            )


class DocView:
    """The documents of one generation (a view over the shared store)."""

    def __init__(self, store: DocStore, generation: int) -> None:
        self._store = store
        self.generation = generation

    def get(self, doc_id: str) -> Document:
        return self._store.get(doc_id, self.generation)

    def get_many(self, doc_ids: Sequence[str]) -> list[Document]:
        return self._store.get_many(doc_ids, self.generation)

    def __len__(self) -> int:
        return self._store.count(self.generation)

    def __iter__(self) -> Iterator[Document]:
        return self._store.iterate(self.generation)


class _Missing:
    """The value of a metadata field a document does not have."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


@dataclass(frozen=True)
class _Parts:
    """What one segment is made of, loaded once: segments never change, so a new
    generation reuses the parts of every segment it keeps (only new ones are read).

    Files read lazily (metadata, a FAISS index) are opened now: an open file outlives its
    removal by a later merge, so a view of an old generation keeps answering.
    """

    postings: Postings
    metadata: BinaryIO
    vectors: NDArray[np.float32] | None = None
    vector_dir: Path | None = None
    faiss: BinaryIO | None = None
    impacts: Postings | None = None


@dataclass
class _State:
    """The loaded components of one manifest (never changed once built)."""

    manifest: Manifest
    parts: list[_Parts]
    live: list[NDArray[np.bool_]]
    lock: threading.Lock = field(default_factory=threading.Lock)
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def postings(self) -> list[Postings]:
        return [p.postings for p in self.parts]

    @property
    def impacts(self) -> list[Postings]:
        return [p.impacts for p in self.parts if p.impacts is not None]

    @property
    def vector_arrays(self) -> list[NDArray[np.float32]]:
        return [p.vectors for p in self.parts if p.vectors is not None]

    def metadata(self, i: int) -> list[dict[str, Any]]:
        """Row metadata of segment ``i`` (read from the file opened at load)."""
        handle = self.parts[i].metadata
        name = self.manifest.segments[i].name
        try:
            data = os.pread(handle.fileno(), os.fstat(handle.fileno()).st_size, 0)
            rows = json.loads(data.decode("utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise IndexFormatError(f"cannot read the metadata of {name}: {exc}") from exc
        if not isinstance(rows, list) or len(rows) != self.manifest.segments[i].n_docs:
            raise IndexFormatError(f"the metadata of {name} does not match its rows")
        return rows


def _segment_key(seg: Segment) -> tuple[Any, ...]:
    """What identifies a segment's content (its name, rows and recorded files)."""
    return (seg.name, seg.n_docs, tuple(sorted(seg.own_files().items())))


def _load_parts(directory: Path, config: CollectionConfig, seg: Segment) -> _Parts:
    verify_sizes(directory, seg)
    folder = directory / seg.name
    postings = load_postings(folder / "postings")
    if postings.n_docs != seg.n_docs:
        raise IndexFormatError(
            f"segment {seg.name} has {postings.n_docs} rows, manifest {seg.n_docs}"
        )
    try:
        metadata = open(folder / METADATA, "rb")  # noqa: SIM115 (kept open: see _Parts)
    except OSError as exc:
        raise IndexFormatError(f"cannot read the metadata of {seg.name}: {exc}") from exc
    parts = _Parts(postings, metadata)
    if config.dense is not None:
        from hybridir.dense.vectors import FAISS_FILE, VectorIndex

        vectors = VectorIndex.read_vectors(folder / "vectors")
        if vectors.ndim != 2 or vectors.shape[0] != seg.n_docs:
            raise IndexFormatError(f"segment {seg.name}: vectors of shape {vectors.shape}")
        faiss = None
        if config.dense.index != "Flat":
            try:
                faiss = open(folder / "vectors" / FAISS_FILE, "rb")  # noqa: SIM115
            except OSError as exc:
                raise IndexFormatError(f"segment {seg.name}: {exc}") from exc
        parts = replace(parts, vectors=vectors, vector_dir=folder / "vectors", faiss=faiss)
    if config.splade is not None:
        impacts = load_postings(folder / "impacts")
        if impacts.n_docs != seg.n_docs:
            raise IndexFormatError(f"segment {seg.name}: impacts and postings rows differ")
        parts = replace(parts, impacts=impacts)
    return parts


def _live_mask(directory: Path, seg: Segment) -> NDArray[np.bool_]:
    mask = np.ones(seg.n_docs, dtype=np.bool_)
    if seg.dead is not None:
        try:
            dead = np.load(directory / seg.dead)
        except (OSError, ValueError) as exc:
            raise IndexFormatError(f"cannot read {seg.dead}: {exc}") from exc
        if (
            dead.ndim != 1
            or dead.dtype.kind not in "iu"
            or (len(dead) and (int(dead.min()) < 0 or int(dead.max()) >= seg.n_docs))
        ):
            raise IndexFormatError(f"{seg.dead} is damaged (rows outside segment {seg.name})")
        mask[dead] = False
    return mask


def _load_state(directory: Path, manifest: Manifest, previous: _State | None = None) -> _State:
    """Load ``manifest``'s components, reusing ``previous``'s parts of unchanged segments."""
    known = {}
    if previous is not None and previous.manifest.config == manifest.config:
        known = {
            _segment_key(seg): part
            for seg, part in zip(previous.manifest.segments, previous.parts, strict=True)
        }
    parts, live = [], []
    for seg in manifest.segments:
        part = known.get(_segment_key(seg))
        if part is None:
            part = _load_parts(directory, manifest.config, seg)
        parts.append(part)
        live.append(_live_mask(directory, seg))
    return _State(manifest, parts, live)


class CollectionView:
    """A collection as of one generation: everything a query reads."""

    def __init__(self, directory: Path, shared: _Shared, state: _State) -> None:
        self.directory = directory
        self._shared = shared
        self._state = state

    # -- what it is --------------------------------------------------------------------
    @property
    def manifest(self) -> Manifest:
        return self._state.manifest

    @property
    def generation(self) -> int:
        return self._state.manifest.generation

    @property
    def config(self) -> CollectionConfig:
        return self._state.manifest.config

    def __len__(self) -> int:
        """Live documents."""
        return self._state.manifest.n_docs

    @property
    def has_dense(self) -> bool:
        return self.config.dense is not None

    @property
    def has_splade(self) -> bool:
        return self.config.splade is not None

    @property
    def models_dir(self) -> Path:
        """Where trained models of this collection live (one folder per model)."""
        return self.directory / "models"

    def snapshot(self) -> CollectionView:
        """This view (it already stands for one generation)."""
        return self

    # -- components --------------------------------------------------------------------
    @property
    def analyzer(self) -> Analyzer:
        return self._shared.analyzer(self.config)

    @property
    def encoder(self) -> Encoder:
        """The dense encoder (loaded on first use, shared by every view)."""
        return self._shared.encoder(self._dense_config())

    @property
    def bm25(self) -> SegmentedBM25:
        """BM25 over the live documents of every segment (built once per generation)."""
        state = self._state
        with state.lock:
            if "bm25" not in state.cache:
                state.cache["bm25"] = SegmentedBM25(state.postings, state.live, self.config.bm25)
            index: SegmentedBM25 = state.cache["bm25"]
        return index

    @property
    def vectors(self) -> SegmentedVectors:
        """Exact dense search over the live rows, rows aligned with :attr:`bm25`'s."""
        from hybridir.dense.vectors import SegmentedVectors, VectorIndex

        dense = self._dense_config()
        state = self._state
        with state.lock:
            if "vectors" not in state.cache:
                indexes = [
                    VectorIndex.load(
                        part.vector_dir or self.directory,
                        dense.index,
                        vectors=part.vectors,
                        index_file=part.faiss,
                    )
                    for part in state.parts
                ]
                dim = self.manifest.dim or (indexes[0].dim if indexes else self.encoder.dim)
                state.cache["vectors"] = (indexes, dim)
            indexes, dim = state.cache["vectors"]
        return SegmentedVectors(indexes, state.live, self.bm25.doc_ids, dim)

    @property
    def sparse_encoder(self) -> SparseEncoder:
        """The learned sparse encoder (loaded on first use, shared by every view)."""
        return self._shared.sparse_encoder(self._splade_config())

    @property
    def splade(self) -> SegmentedImpacts:
        """Exact learned sparse (impact) search over the live rows, rows aligned with
        :attr:`bm25`'s."""
        from hybridir.sparse.impact import SegmentedImpacts

        config = self._splade_config()
        state = self._state
        with state.lock:
            if "splade" not in state.cache:
                state.cache["splade"] = SegmentedImpacts(state.impacts, state.live, config.scale)
            index: SegmentedImpacts = state.cache["splade"]
        return index

    def splade_queries(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Learned sparse query weights by term, as the configured ``query_mode`` gives them."""
        from hybridir.sparse.impact import QUERY_MODES

        config = self._splade_config()
        table = None
        if config.query_mode == "table":
            from hybridir.learn.store import load_model

            table = load_model(self.models_dir, str(config.query_model))
        return QUERY_MODES[config.query_mode](self.sparse_encoder, self.splade, texts, table)

    def _splade_config(self) -> SpladeConfig:
        if self.config.splade is None:
            raise ConfigError(
                f"collection {self.directory} has no learned sparse index; create it with "
                "CollectionConfig(splade=SpladeConfig(...)) or `index --splade MODEL`"
            )
        return self.config.splade

    def _dense_config(self) -> DenseConfig:
        if self.config.dense is None:
            raise ConfigError(
                f"collection {self.directory} has no dense index; "
                "create it with CollectionConfig(dense=DenseConfig(...)) or `index --dense MODEL`"
            )
        return self.config.dense

    def metadata_column(self, name: str) -> NDArray[np.object_]:
        """Value of metadata field ``name`` for every row (:data:`MISSING` where absent),
        read once per generation and field."""
        state = self._state
        with state.lock:
            key = f"meta:{name}"
            if key not in state.cache:
                if "meta" not in state.cache:
                    state.cache["meta"] = [state.metadata(i) for i in range(len(state.parts))]
                values = [m.get(name, MISSING) for rows in state.cache["meta"] for m in rows]
                column = np.empty(len(values), dtype=object)
                column[:] = values
                state.cache[key] = column
            out: NDArray[np.object_] = state.cache[key]
        return out

    # -- documents ---------------------------------------------------------------------
    @property
    def docs(self) -> DocView:
        return DocView(self._shared.store, self.generation)

    def get(self, doc_id: str) -> Document:
        """The stored document ``doc_id``."""
        return self.docs.get(doc_id)

    def __iter__(self) -> Iterator[Document]:
        return iter(self.docs)

    def index_terms(self, doc: Document) -> list[str]:
        """Index terms of a document: title terms ``title_weight`` times, then text terms."""
        title = self.analyzer.analyze(doc.title) if doc.title else []
        return title * self.config.bm25.title_weight + self.analyzer.analyze(doc.text)


class _Shared:
    """What every view of one open collection shares: the document store and the models."""

    def __init__(self, directory: Path, *, create: bool = False) -> None:
        self.store = DocStore(directory / STORE, create=create)
        self._analyzer: tuple[Any, Analyzer] | None = None
        self._encoder: tuple[DenseConfig, Encoder] | None = None
        self._sparse: tuple[tuple[str, int, int], SparseEncoder] | None = None
        self._lock = threading.Lock()

    def analyzer(self, config: CollectionConfig) -> Analyzer:
        with self._lock:
            if self._analyzer is None or self._analyzer[0] != config.analyzer:
                self._analyzer = (config.analyzer, Analyzer(config.analyzer))
            return self._analyzer[1]

    def encoder(self, dense: DenseConfig) -> Encoder:
        with self._lock:
            if self._encoder is None or self._encoder[0] != dense:
                from hybridir.dense.encoders import make_encoder

                encoder = make_encoder(dense)
                self._encoder = (dense, encoder)
            return self._encoder[1]

    def sparse_encoder(self, splade: SpladeConfig) -> SparseEncoder:
        key = (splade.model, splade.batch_size, splade.max_length)
        with self._lock:
            if self._sparse is None or self._sparse[0] != key:
                from hybridir.sparse.encoders import SpladeEncoder

                encoder = SpladeEncoder(
                    splade.model, batch_size=splade.batch_size, max_length=splade.max_length
                )
                self._sparse = (key, encoder)
            return self._sparse[1]


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
    """More segments than this after a write triggers a merge of the smallest ones (4 keeps
    BM25 query throughput within 20% of a fresh build after 1,000 single adds; see
    docs/benchmarks.md)."""
    merge_dead_share: float = 0.5
    """A segment with more deleted rows than this share is merged (purged) after a write."""

    def __init__(
        self, directory: Path, manifest: Manifest, *, wait: float = 0.0, create: bool = False
    ) -> None:
        shared = _Shared(directory, create=create)
        super().__init__(directory, shared, _load_with_retry(directory, manifest))
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
        wait: float = 0.0,
    ) -> Collection:
        """Create an empty collection (``overwrite`` replaces an existing one)."""
        path = Path(directory)
        if path.exists() and any(path.iterdir()):
            if not overwrite:
                raise ConfigError(
                    f"{path} exists and is not empty; pass overwrite=True (CLI: --overwrite)"
                )
            if not (path / MANIFEST).is_file():
                raise ConfigError(f"refusing to overwrite {path}: it is not a hybridir collection")
            shutil.rmtree(path)
        config = config or CollectionConfig()
        Analyzer(config.analyzer)  # fail now on an unknown language or stemmer
        path.mkdir(parents=True, exist_ok=True)
        fsync_dir(path.parent)
        DocStore(path / STORE, create=True).close()  # the store exists before the manifest
        manifest = Manifest(generation=0, config=config)
        atomic_write_text(path / MANIFEST, manifest.to_json())
        return cls(path, manifest, wait=wait)

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
            self._state = _load_with_retry(self.directory, latest, self._state)
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
        deadline = time.monotonic() + max(0.0, self.wait)
        if not self._write_lock.acquire(timeout=max(0.0, self.wait) or -1):
            raise WriterBusyError(self._busy_message())
        try:
            with open(self.directory / LOCK, "a") as handle:
                _flock_until(handle, deadline, self._busy_message)
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
        show_progress: bool = False,
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
        show_progress: bool = False,
        allow_empty: bool = False,
    ) -> int:
        """Add documents, replacing stored ones with the same ids, in one transaction."""
        return self._write(
            list(docs), (), vectors, replace=True, show=show_progress, allow_empty=allow_empty
        )

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
        show: bool,
        missing_ok: bool = False,
        allow_empty: bool = False,
    ) -> int:
        validate_documents(batch, allow_empty=allow_empty)
        if vectors is not None:
            self._check_vectors(batch, vectors)
        # Encode before taking the lock: the slow part of a write never blocks other writers.
        fresh, weights = vectors, None
        if batch:
            current = self.snapshot()
            if fresh is None:
                fresh = self._encode(current, batch, show)
            weights = self._encode_sparse(current, batch, show)
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
            generation = view.generation + 1
            new_segment = None
            if batch:
                new_segment = self._write_segment(view, batch, fresh, weights, generation, show)
            segments = self._with_deletions(view, removed, generation)
            if new_segment is not None:
                segments.append(new_segment)
            _crashpoint("segment-written")
            self._shared.store.stage(batch, removed, generation)
            _crashpoint("staged")
            n_live = len(view) + len(batch) - len(removed)
            dim = None if fresh is None else int(fresh.shape[1])
            self._publish(view, segments, n_live, generation, dim)
            self._maybe_merge()
        return len(batch) if batch else len(removed)

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

    def _encode(
        self, view: CollectionView, batch: Sequence[Document], show: bool
    ) -> NDArray[np.float32] | None:
        if not view.has_dense:
            return None
        from hybridir.dense.cache import encode_documents_cached

        texts = [f"{d.title} {d.text}".strip() for d in batch]
        return encode_documents_cached(view.encoder, texts, show_progress=show)

    def _encode_sparse(
        self, view: CollectionView, batch: Sequence[Document], show: bool
    ) -> list[SparseVector] | None:
        if not view.has_splade:
            return None
        from hybridir.sparse.encoders import encode_sparse_cached

        texts = [f"{d.title} {d.text}".strip() for d in batch]
        return encode_sparse_cached(view.sparse_encoder, texts, show_progress=show)

    def _write_segment(
        self,
        view: CollectionView,
        batch: Sequence[Document],
        vectors: NDArray[np.float32] | None,
        weights: Sequence[SparseVector] | None,
        generation: int,
        show: bool,
    ) -> Segment:
        terms = [view.index_terms(d) for d in _progress(batch, show, "Analyzing")]
        doc_ids = [d.doc_id for d in batch]
        postings = build_from_terms(terms, doc_ids)
        impacts = None
        if weights is not None:
            from hybridir.sparse.impact import build_impacts

            splade = view._splade_config()
            vocab = view.sparse_encoder.vocab
            impacts = build_impacts(weights, vocab, doc_ids, splade.scale, splade.max_terms)
        metadata = [dict(d.metadata) for d in batch]
        return self._save_segment(f"seg-{generation:06d}", postings, vectors, metadata, impacts)

    def _save_segment(
        self,
        name: str,
        postings: Postings,
        vectors: NDArray[np.float32] | None,
        metadata: list[dict[str, Any]],
        impacts: Postings | None = None,
    ) -> Segment:
        """Write a segment folder, fsync it (files, folders, its entry) and return it with
        its files' checksums."""
        folder = self.directory / name
        if folder.exists():  # left by a writer that died before publishing
            shutil.rmtree(folder)
        save_postings(postings, folder / "postings")
        if impacts is not None:
            save_postings(impacts, folder / "impacts")
        # Metadata beside the postings, row by row: filters and boosts read it per segment.
        (folder / METADATA).write_text(json.dumps(metadata), encoding="utf-8")
        if vectors is not None:
            from hybridir.dense.vectors import VectorIndex

            dense = self._dense_config()
            VectorIndex(np.asarray(vectors, dtype=np.float32), dense.index).save(folder / "vectors")
        fsync_tree(folder)
        files = file_sums(self.directory, tree_files(self.directory, name))
        return Segment(name, postings.n_docs, files=files)

    def _with_deletions(
        self, view: CollectionView, removed: Sequence[str], generation: int
    ) -> list[Segment]:
        """The current segments with ``removed`` added to their deleted rows (new files
        only for the segments that change)."""
        segments = list(view.manifest.segments)
        if not removed:
            return segments
        bm25 = view.bm25
        by_segment: dict[int, list[int]] = {}
        for row in bm25.rows_of(removed):
            s, local = bm25.locate(row)
            by_segment.setdefault(s, []).append(local)
        deletes = self.directory / DELETES
        if not deletes.is_dir():
            deletes.mkdir()
            fsync_dir(self.directory)
        for s, rows in by_segment.items():
            seg = segments[s]
            dead = np.flatnonzero(~view._state.live[s]).tolist() + rows
            path = f"{DELETES}/{seg.name}-{generation:06d}.npy"
            np.save(self.directory / path, np.unique(np.asarray(dead, dtype=np.int64)))
            fsync_tree(self.directory / path)
            files = {**seg.own_files(), **file_sums(self.directory, [path])}
            segments[s] = Segment(seg.name, seg.n_docs, path, len(set(dead)), files)
        return segments

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
        _crashpoint("published")
        self._state = _load_with_retry(self.directory, manifest, self._state)
        # Readers that loaded the old generation keep their open files and maps (POSIX).
        self._remove(view.manifest.referenced() - manifest.referenced())

    def _remove(self, names: Iterable[str]) -> None:
        """Remove files and folders of the collection named relative to it."""
        for name in names:
            target = self.directory / name
            if target.is_dir():
                shutil.rmtree(target, ignore_errors=True)
            else:
                target.unlink(missing_ok=True)

    def orphans(self) -> list[str]:
        """Files and folders no manifest references (left by a writer killed between
        writing them and publishing, or before removing what a commit replaced); the next
        write or :meth:`optimize` removes them. Empty while another process is writing
        (what it is writing is not an orphan)."""
        with open(self.directory / LOCK, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return []
            try:
                return _orphans(self.directory, Manifest.read(self.directory))
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _reclaim(self, manifest: Manifest) -> None:
        """Remove orphans (under the writer lock, so none of them is being written)."""
        found = _orphans(self.directory, manifest)
        if found:
            logger.info(
                "removing %d unreferenced file(s) in %s: %s", len(found), self.directory, found[:5]
            )
            self._remove(found)

    # -- merging -----------------------------------------------------------------------
    def _merge_plan(self, segments: Sequence[Segment]) -> list[int]:
        """Segments to merge now: the smallest ones when there are too many, plus any
        that is mostly deleted rows."""
        live = [s.n_docs - s.n_dead for s in segments]
        chosen: set[int] = {
            i for i, s in enumerate(segments) if s.n_dead > self.merge_dead_share * s.n_docs
        }
        if len(segments) > self.max_segments:
            order = sorted(range(len(segments)), key=lambda i: (live[i], i))
            chosen |= set(order[: len(segments) - self.max_segments // 2 + 1])
        if len(chosen) == 1 and segments[next(iter(chosen))].n_dead == 0:
            return []
        return sorted(chosen)

    def _maybe_merge(self) -> None:
        plan = self._merge_plan(self.manifest.segments)
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
        state = view._state
        merged: Postings | None = None
        merged_impacts: Postings | None = None
        parts: list[NDArray[np.float32]] = []
        metadata: list[dict[str, Any]] = []
        for i in chosen:
            kept = compact_postings(state.postings[i], state.live[i])
            merged = kept if merged is None else append_postings(merged, kept)
            part = state.parts[i]
            if part.impacts is not None:
                imp = compact_postings(part.impacts, state.live[i])
                merged_impacts = (
                    imp if merged_impacts is None else append_postings(merged_impacts, imp)
                )
            rows = state.metadata(i)
            metadata += [m for m, ok in zip(rows, state.live[i].tolist(), strict=True) if ok]
            if part.vectors is not None:
                parts.append(np.asarray(part.vectors)[state.live[i]])
        assert merged is not None
        generation = view.generation + 1
        vectors = np.concatenate(parts) if parts else None
        segment = self._save_segment(
            f"seg-{generation:06d}", merged, vectors, metadata, merged_impacts
        )
        _crashpoint("merge-written")
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
        if fusion.model is not None:
            self._require_model(fusion.model)
        self._set_config(fusion=fusion)

    def set_splade_query(self, mode: str, model: str | None = None) -> None:
        """Make ``mode`` (a :data:`hybridir.sparse.impact.QUERY_MODES` name; ``"table"``
        with a stored token-weight ``model``) how learned sparse queries are weighted."""
        splade = self._splade_config()
        if model is not None:
            self._require_model(model)
        self._set_config(splade=replace(splade, query_mode=mode, query_model=model))

    def _require_model(self, name: str) -> None:
        check_model_name(name)
        if not (self.models_dir / name).is_dir():
            raise ConfigError(f"no trained model {name!r} in {self.models_dir}")

    def set_rerank(self, spec: str | None) -> None:
        """Make ``spec`` (or no reranking, with ``None``) the collection's default reranker."""
        self._set_config(rerank=spec)

    def _set_config(self, **changes: Any) -> None:
        with self._writer_lock() as view:
            m = view.manifest
            manifest = replace(m, generation=m.generation + 1, config=replace(m.config, **changes))
            atomic_write_text(self.directory / MANIFEST, manifest.to_json())
            self._state = _load_with_retry(self.directory, manifest, self._state)

    # -- integrity ---------------------------------------------------------------------
    def check(self, attempts: int = 5) -> list[str]:
        """Problems found by checking that the manifest, every file it names (sizes and
        CRC-32 checksums), every segment's contents and the document store agree (an
        empty list when the collection is sound). Orphans are not problems: see
        :meth:`orphans`. Safe while another process writes: a generation whose files a
        writer removed meanwhile is checked again at the newest one."""
        problems: list[str] = []
        for _ in range(attempts):
            try:
                manifest = Manifest.read(self.directory)
            except HybridirError as exc:
                return [str(exc)]
            problems = self._check(manifest)
            if not problems or Manifest.read(self.directory).generation == manifest.generation:
                return problems
        return problems

    def _check(self, manifest: Manifest) -> list[str]:
        problems: list[str] = []
        for seg in manifest.segments:
            problems += [f"{seg.name}: {p}" for p in verify_checksums(self.directory, seg)]
            if not seg.files:
                problems += _missing_files(self.directory, manifest.config, seg)
        if problems:
            return problems
        try:
            state = _load_state(self.directory, manifest)
            metadata = [state.metadata(i) for i in range(len(state.parts))]
        except HybridirError as exc:
            return [str(exc)]
        live_ids: list[str] = []
        for seg, part, mask, rows in zip(
            manifest.segments, state.parts, state.live, metadata, strict=True
        ):
            problems += _check_postings(seg.name, part.postings)
            if int((~mask).sum()) != seg.n_dead:
                problems.append(
                    f"{seg.name}: {int((~mask).sum())} deleted rows, manifest {seg.n_dead}"
                )
            if not all(isinstance(r, dict) for r in rows):
                problems.append(f"{seg.name}: metadata rows are not JSON objects")
            live_ids += [
                d for d, ok in zip(part.postings.doc_ids, mask.tolist(), strict=True) if ok
            ]
            if part.impacts is not None:
                problems += _check_postings(f"{seg.name}/impacts", part.impacts)
                if part.impacts.doc_ids != part.postings.doc_ids:
                    problems.append(f"{seg.name}: impact rows and postings rows differ")
            if part.vectors is not None:
                if manifest.dim is not None and part.vectors.shape[1] != manifest.dim:
                    dim = part.vectors.shape[1]
                    problems.append(f"{seg.name}: vectors of dimension {dim}, not {manifest.dim}")
                if not np.isfinite(part.vectors).all():
                    problems.append(f"{seg.name}: vectors hold NaN or infinite values")
        if len(live_ids) != len(set(live_ids)):
            problems.append("a doc id is live in more than one row")
        if len(live_ids) != manifest.n_docs:
            problems.append(f"{len(live_ids)} live rows, manifest says {manifest.n_docs}")
        if not (self.directory / STORE).is_file():
            return [*problems, f"the document store {STORE} is missing"]
        problems += self._shared.store.quick_check()
        visible = {d.doc_id for d in DocView(self._shared.store, manifest.generation)}
        if visible != set(live_ids):
            extra = sorted(visible - set(live_ids))[:5]
            lost = sorted(set(live_ids) - visible)[:5]
            problems.append(
                f"document store and index disagree: only stored {extra}, only indexed {lost}"
            )
        return problems


def _flock_until(handle: Any, deadline: float, message: Any) -> None:
    """Take an exclusive ``flock`` on ``handle``, polling until ``deadline`` (``flock``
    has no timeout of its own)."""
    pause = 0.005
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WriterBusyError(message()) from None
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.1)


_ORPHAN_TEMP = re.compile(r"^\.manifest\.json\..*\.tmp$")


def _orphans(directory: Path, manifest: Manifest) -> list[str]:
    """Names (relative to ``directory``) of hybridir's own files that ``manifest`` does not
    reference: segment folders, deletion lists, temporary manifests, and model folders
    a killed ``save_model`` left half-written. Anything else in the folder is left alone."""
    from hybridir.learn.store import TMP_PREFIX
    from hybridir.manifest import DEAD_NAME, SEGMENT_NAME

    referenced = manifest.referenced()
    found = [
        entry.name
        for entry in directory.iterdir()
        if ((SEGMENT_NAME.match(entry.name) and entry.is_dir()) or _ORPHAN_TEMP.match(entry.name))
        and entry.name not in referenced
    ]
    if (directory / DELETES).is_dir():
        for entry in (directory / DELETES).iterdir():
            name = f"{DELETES}/{entry.name}"
            if DEAD_NAME.match(name) and name not in referenced:
                found.append(name)
    models = directory / "models"
    if models.is_dir():
        stale = time.time() - 3600  # a model being saved right now is not an orphan yet
        found += [
            f"models/{entry.name}"
            for entry in models.iterdir()
            if entry.name.startswith(TMP_PREFIX) and entry.stat().st_mtime < stale
        ]
    return sorted(found)


def _missing_files(directory: Path, config: CollectionConfig, seg: Segment) -> list[str]:
    """Files a segment without recorded checksums (format 2) needs but lacks."""
    from hybridir.sparse.postings import _ARRAYS

    needed = [METADATA, *(f"postings/{a}.npy" for a in _ARRAYS), "postings/terms.json"]
    needed.append("postings/doc_ids.json")
    if config.splade is not None:
        needed += [p.replace("postings/", "impacts/") for p in needed if p.startswith("postings/")]
    if config.dense is not None:
        needed.append("vectors/vectors.npy")
    return [
        f"{seg.name}: {n} is missing" for n in needed if not (directory / seg.name / n).is_file()
    ]


def _check_postings(name: str, p: Postings) -> list[str]:
    """The checks too slow for every open (structure is checked by ``load_postings``)."""
    problems = []
    if np.any(p.tfs <= 0):
        problems.append(f"{name}: a posting has a non-positive term frequency")
    lengths = np.bincount(p.doc_rows, weights=p.tfs, minlength=p.n_docs)
    if not np.array_equal(lengths.astype(np.int64), np.asarray(p.doc_lengths, dtype=np.int64)):
        problems.append(f"{name}: document lengths differ from their postings")
    return problems


def _load_with_retry(
    directory: Path, manifest: Manifest, previous: _State | None = None, attempts: int = 20
) -> _State:
    """Load ``manifest``'s components; if a writer removed them meanwhile (it published a
    newer generation and cleaned up), move to the newest manifest and try again."""
    for _ in range(attempts):
        try:
            return _load_state(directory, manifest, previous)
        except IndexFormatError:
            latest = Manifest.read(directory)
            if latest.generation == manifest.generation:
                raise
            manifest = latest
    return _load_state(directory, manifest, previous)


def _crashpoint(name: str) -> None:
    """Fault injection for the crash tests: with ``HYBRIDIR_CRASH_AT=<name>[:<n>]`` in the
    environment, the process kills itself with SIGKILL the ``n``-th time (default 1st) it
    reaches the point ``name`` of a commit. Points, in commit order: ``segment-written``
    (segment and deletion files durable), ``staged`` (document versions committed, manifest
    not yet replaced), ``published`` (manifest replaced, old files not yet removed),
    ``merge-written`` (a merged segment written, not yet published)."""
    spec = os.environ.get("HYBRIDIR_CRASH_AT")
    if not spec or spec.partition(":")[0] != name:
        return
    _CRASH_COUNTS[name] = _CRASH_COUNTS.get(name, 0) + 1
    if _CRASH_COUNTS[name] >= int(spec.partition(":")[2] or 1):
        os.kill(os.getpid(), signal.SIGKILL)


_CRASH_COUNTS: dict[str, int] = {}


def _progress(items: Sequence[Document], show: bool, label: str) -> Iterable[Document]:
    if not show:
        return items
    from rich.progress import track

    return track(items, description=label, total=len(items))
