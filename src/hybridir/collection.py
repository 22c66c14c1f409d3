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
import shutil
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from hybridir._atomic import atomic_write_text, fsync_tree
from hybridir.config import CollectionConfig, DenseConfig, FusionConfig, SpladeConfig
from hybridir.docstore import DocStore
from hybridir.errors import (
    ConfigError,
    HybridirError,
    IndexFormatError,
    InvalidInputError,
    NotFoundError,
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

FORMAT_NAME = "hybridir-collection"
FORMAT_VERSION = 2
MANIFEST = "manifest.json"
DELETES = "deletes"
METADATA = "metadata.json"
MAX_DOCUMENT_CHARS = 1_000_000
"""Longest title + text accepted (characters); longer documents should be split."""


@dataclass(frozen=True)
class Segment:
    """One immutable segment: its folder, row count, and deleted rows as of this manifest."""

    name: str
    n_docs: int
    dead: str | None = None  # path of the deleted-rows array, relative to the collection
    n_dead: int = 0


@dataclass(frozen=True)
class Manifest:
    """The published state of a collection."""

    generation: int
    config: CollectionConfig
    segments: tuple[Segment, ...] = ()
    n_docs: int = 0  # live documents
    dim: int | None = None  # dense vector dimension, once known

    def to_json(self) -> str:
        from hybridir import __version__

        return json.dumps(
            {
                "format": FORMAT_NAME,
                "format_version": FORMAT_VERSION,
                "hybridir_version": __version__,
                "generation": self.generation,
                "n_docs": self.n_docs,
                "dim": self.dim,
                "config": self.config.to_dict(),
                "segments": [s.__dict__ for s in self.segments],
            },
            indent=2,
        )

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST
        if not path.is_file():
            raise IndexFormatError(f"{directory} is not a hybridir collection (no {MANIFEST})")
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexFormatError(f"cannot read {path}: {exc}") from exc
        if data.get("format") != FORMAT_NAME:
            raise IndexFormatError(f"{path} is not a hybridir manifest")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise IndexFormatError(
                f"{directory} has collection format version {version}, this hybridir reads "
                f"version {FORMAT_VERSION}; rebuild it with `hybridir index` "
                f"(written by hybridir {data.get('hybridir_version', '?')})"
            )
        try:
            return cls(
                generation=int(data["generation"]),
                config=CollectionConfig.from_dict(data["config"]),
                segments=tuple(Segment(**s) for s in data["segments"]),
                n_docs=int(data["n_docs"]),
                dim=None if data.get("dim") is None else int(data["dim"]),
            )
        except (KeyError, TypeError, ValueError, ConfigError) as exc:
            raise IndexFormatError(f"{path} is malformed: {exc}") from exc


def validate_documents(docs: Sequence[Document], *, allow_empty: bool = False) -> None:
    """Reject a batch that cannot be stored, naming the offending document.

    Raises:
        InvalidInputError: an empty, non-string or repeated doc id; a non-string title or
            text; an empty title and text (unless ``allow_empty``: test collections such as
            Cranfield hold a few empty documents, indexed so that they never match); a
            document over :data:`MAX_DOCUMENT_CHARS`; text that is not valid Unicode (lone
            surrogates, e.g. from undecodable bytes); metadata that is not JSON.
    """
    seen: set[str] = set()
    for i, doc in enumerate(docs):
        if not isinstance(doc, Document):
            raise InvalidInputError(f"item #{i} is a {type(doc).__name__}, not a Document")
        if not isinstance(doc.doc_id, str) or not doc.doc_id.strip():
            raise InvalidInputError(f"document #{i} has an empty or non-string doc_id")
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
        try:
            (doc.doc_id + doc.title + doc.text).encode("utf-8")
            json.dumps(dict(doc.metadata))
        except UnicodeEncodeError as exc:
            raise InvalidInputError(f"document {name} is not valid Unicode text: {exc}") from exc
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"document {name}: metadata is not JSON: {exc}") from exc


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


@dataclass
class _State:
    """The loaded components of one manifest (never changed once built)."""

    manifest: Manifest
    postings: list[Postings]
    live: list[NDArray[np.bool_]]
    vector_dirs: list[Path] = field(default_factory=list)
    vector_arrays: list[NDArray[np.float32]] = field(default_factory=list)
    impacts: list[Postings] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    cache: dict[str, Any] = field(default_factory=dict)


def _load_state(directory: Path, manifest: Manifest) -> _State:
    postings, live, vector_dirs, arrays, impacts = [], [], [], [], []
    dense = manifest.config.dense is not None
    splade = manifest.config.splade is not None
    for seg in manifest.segments:
        p = load_postings(directory / seg.name / "postings")
        if p.n_docs != seg.n_docs:
            raise IndexFormatError(f"segment {seg.name} has {p.n_docs} rows, manifest {seg.n_docs}")
        mask = np.ones(seg.n_docs, dtype=np.bool_)
        if seg.dead is not None:
            try:
                dead = np.load(directory / seg.dead)
            except (OSError, ValueError) as exc:
                raise IndexFormatError(f"cannot read {seg.dead}: {exc}") from exc
            mask[dead] = False
        postings.append(p)
        live.append(mask)
        if dense:
            from hybridir.dense.vectors import VectorIndex

            folder = directory / seg.name / "vectors"
            # Opened now, so a later merge that removes the folder cannot break us.
            arrays.append(VectorIndex.read_vectors(folder))
            vector_dirs.append(folder)
        if splade:
            impacts.append(load_postings(directory / seg.name / "impacts"))
            if impacts[-1].n_docs != seg.n_docs:
                raise IndexFormatError(f"segment {seg.name}: impacts and postings rows differ")
    return _State(manifest, postings, live, vector_dirs, arrays, impacts)


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
                    VectorIndex.load(folder, dense.index, vectors=array)
                    for array, folder in zip(state.vector_arrays, state.vector_dirs, strict=True)
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
                    state.cache["meta"] = [
                        segment_metadata(self.directory, seg) for seg in self.manifest.segments
                    ]
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


def segment_metadata(directory: Path, segment: Segment) -> list[dict[str, Any]]:
    """The metadata of each row of ``segment``."""
    try:
        rows: list[dict[str, Any]] = json.loads(
            (directory / segment.name / METADATA).read_text(encoding="utf-8")
        )
    except (OSError, ValueError) as exc:
        raise IndexFormatError(f"cannot read the metadata of {segment.name}: {exc}") from exc
    return rows


class _Shared:
    """What every view of one open collection shares: the document store and the models."""

    def __init__(self, directory: Path) -> None:
        self.store = DocStore(directory / "docs.sqlite")
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

    def __init__(self, directory: Path, manifest: Manifest) -> None:
        shared = _Shared(directory)
        super().__init__(directory, shared, _load_with_retry(directory, manifest))
        self._refresh_lock = threading.Lock()

    # -- opening -----------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        directory: str | Path,
        config: CollectionConfig | None = None,
        *,
        overwrite: bool = False,
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
        path.mkdir(parents=True, exist_ok=True)
        config = config or CollectionConfig()
        Analyzer(config.analyzer)  # fail now on an unknown language or stemmer
        manifest = Manifest(generation=0, config=config)
        atomic_write_text(path / MANIFEST, manifest.to_json())
        return cls(path, manifest)

    @classmethod
    def open(cls, directory: str | Path) -> Collection:
        """Open an existing collection, checking its format version."""
        path = Path(directory)
        return cls(path, Manifest.read(path))

    def close(self) -> None:
        self._shared.store.close()

    def refresh(self) -> bool:
        """Move to the newest published generation; returns whether it changed."""
        with self._refresh_lock:
            latest = Manifest.read(self.directory)
            if latest.generation == self.generation:
                return False
            self._state = _load_with_retry(self.directory, latest)
            return True

    def snapshot(self) -> CollectionView:
        """The newest generation as a view that stays consistent while it is used."""
        self.refresh()
        return CollectionView(self.directory, self._shared, self._state)

    # -- writing -----------------------------------------------------------------------
    @contextmanager
    def _writer_lock(self) -> Iterator[None]:
        with open(self.directory / "write.lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise HybridirError(
                    f"another process is writing to {self.directory}; one writer at a time"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def add(
        self,
        docs: Iterable[Document],
        *,
        vectors: NDArray[np.float32] | None = None,
        show_progress: bool = False,
        allow_empty: bool = False,
    ) -> int:
        """Add new documents in one transaction; returns how many were added.

        Args:
            docs: the documents; none may already be in the collection.
            vectors: their embeddings (one row each) instead of encoding them here.
            show_progress: show analysis and encoding progress bars.
            allow_empty: accept documents without text (bulk loads of test collections).

        Raises:
            InvalidInputError: a document is invalid (:func:`validate_documents`), already
                stored, or ``vectors`` has the wrong shape. Nothing is written then.
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
            if not isinstance(d, str) or not d:
                raise InvalidInputError(f"doc id #{i} is empty or not a string")
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
        with self._writer_lock():
            self.refresh()
            view = CollectionView(self.directory, self._shared, self._state)
            store = self._shared.store
            store.discard_unpublished(view.generation)
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
            new_segment, fresh = None, None
            if batch:
                fresh = vectors if vectors is not None else self._encode(view, batch, show)
                weights = self._encode_sparse(view, batch, show)
                new_segment = self._write_segment(view, batch, fresh, weights, generation, show)
            segments = self._with_deletions(view, removed, generation)
            if new_segment is not None:
                segments.append(new_segment)
            store.stage(batch, removed, generation)
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
        return Segment(name, postings.n_docs)

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
        (self.directory / DELETES).mkdir(exist_ok=True)
        for s, rows in by_segment.items():
            seg = segments[s]
            dead = np.flatnonzero(~view._state.live[s]).tolist() + rows
            path = Path(DELETES) / f"{seg.name}-{generation:06d}.npy"
            np.save(self.directory / path, np.unique(np.asarray(dead, dtype=np.int64)))
            fsync_tree(self.directory / path)
            segments[s] = Segment(seg.name, seg.n_docs, str(path), len(set(dead)))
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
        longer references. ``dim``: the vector dimension, when these are the first vectors."""
        manifest = Manifest(
            generation, view.config, tuple(segments), n_live, view.manifest.dim or dim
        )
        fsync_tree(self.directory / "docs.sqlite")
        atomic_write_text(self.directory / MANIFEST, manifest.to_json())
        old = self._referenced(view.manifest) - self._referenced(manifest)
        self._state = _load_with_retry(self.directory, manifest)
        for name in old:
            # Readers that loaded the old generation keep their memory maps alive on POSIX.
            target = self.directory / name
            if target.is_dir():
                shutil.rmtree(target, ignore_errors=True)
            else:
                target.unlink(missing_ok=True)

    @staticmethod
    def _referenced(manifest: Manifest) -> set[str]:
        names = set()
        for seg in manifest.segments:
            names.add(seg.name)
            if seg.dead is not None:
                names.add(seg.dead)
        return names

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
        """Merge every segment into one, dropping deleted rows (fastest queries)."""
        with self._writer_lock():
            self.refresh()
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
            if view.has_splade:
                imp = compact_postings(state.impacts[i], state.live[i])
                merged_impacts = (
                    imp if merged_impacts is None else append_postings(merged_impacts, imp)
                )
            rows = segment_metadata(self.directory, view.manifest.segments[i])
            metadata += [m for m, ok in zip(rows, state.live[i].tolist(), strict=True) if ok]
            if view.has_dense:
                parts.append(np.asarray(state.vector_arrays[i])[state.live[i]])
        assert merged is not None
        generation = view.generation + 1
        vectors = np.concatenate(parts) if parts else None
        segment = self._save_segment(
            f"seg-{generation:06d}", merged, vectors, metadata, merged_impacts
        )
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
        if fusion.model is not None and not (self.models_dir / fusion.model).is_dir():
            raise ConfigError(f"no trained model {fusion.model!r} in {self.models_dir}")
        self._set_config(fusion=fusion)

    def set_splade_query(self, mode: str, model: str | None = None) -> None:
        """Make ``mode`` (a :data:`hybridir.sparse.impact.QUERY_MODES` name; ``"table"``
        with a stored token-weight ``model``) how learned sparse queries are weighted."""
        splade = self._splade_config()
        if model is not None and not (self.models_dir / model).is_dir():
            raise ConfigError(f"no trained model {model!r} in {self.models_dir}")
        self._set_config(splade=replace(splade, query_mode=mode, query_model=model))

    def set_rerank(self, spec: str | None) -> None:
        """Make ``spec`` (or no reranking, with ``None``) the collection's default reranker."""
        self._set_config(rerank=spec)

    def _set_config(self, **changes: Any) -> None:
        with self._writer_lock():
            self.refresh()
            m = self.manifest
            manifest = replace(m, generation=m.generation + 1, config=replace(m.config, **changes))
            atomic_write_text(self.directory / MANIFEST, manifest.to_json())
            self._state = replace(self._state, manifest=manifest, cache={}, lock=threading.Lock())

    # -- integrity ---------------------------------------------------------------------
    def check(self) -> list[str]:
        """Problems found by checking that the manifest, every segment and the document
        store agree (an empty list when the collection is sound)."""
        problems: list[str] = []
        try:
            manifest = Manifest.read(self.directory)
            state = _load_state(self.directory, manifest)
        except HybridirError as exc:
            return [str(exc)]
        live_ids: list[str] = []
        for seg, p, mask in zip(manifest.segments, state.postings, state.live, strict=True):
            problems += _check_postings(seg.name, p)
            if int((~mask).sum()) != seg.n_dead:
                problems.append(
                    f"{seg.name}: {int((~mask).sum())} deleted rows, manifest {seg.n_dead}"
                )
            live_ids += [d for d, ok in zip(p.doc_ids, mask.tolist(), strict=True) if ok]
        for seg, imp, p in zip(manifest.segments, state.impacts, state.postings, strict=False):
            problems += _check_postings(f"{seg.name}/impacts", imp)
            if imp.doc_ids != p.doc_ids:
                problems.append(f"{seg.name}: impact rows and postings rows differ")
        for seg, array in zip(manifest.segments, state.vector_arrays, strict=False):
            if array.shape[0] != seg.n_docs:
                problems.append(f"{seg.name}: {array.shape[0]} vectors for {seg.n_docs} rows")
            if manifest.dim is not None and array.shape[1] != manifest.dim:
                problems.append(
                    f"{seg.name}: vectors of dimension {array.shape[1]}, not {manifest.dim}"
                )
        if len(live_ids) != len(set(live_ids)):
            problems.append("a doc id is live in more than one row")
        if len(live_ids) != manifest.n_docs:
            problems.append(f"{len(live_ids)} live rows, manifest says {manifest.n_docs}")
        stored = DocView(self._shared.store, manifest.generation)
        visible = {d.doc_id for d in stored}
        if visible != set(live_ids):
            extra = sorted(visible - set(live_ids))[:5]
            lost = sorted(set(live_ids) - visible)[:5]
            problems.append(
                f"document store and index disagree: only stored {extra}, only indexed {lost}"
            )
        return problems


def _check_postings(name: str, p: Postings) -> list[str]:
    problems = []
    if np.any(np.diff(p.indptr) < 0) or int(p.indptr[-1]) != len(p.doc_rows):
        problems.append(f"{name}: posting offsets are inconsistent")
        return problems
    if len(p.doc_rows) and (p.doc_rows.min() < 0 or p.doc_rows.max() >= p.n_docs):
        problems.append(f"{name}: a posting points outside the segment")
    if np.any(p.tfs <= 0):
        problems.append(f"{name}: a posting has a non-positive term frequency")
    lengths = np.bincount(p.doc_rows, weights=p.tfs, minlength=p.n_docs)
    if not np.array_equal(lengths.astype(np.int64), np.asarray(p.doc_lengths, dtype=np.int64)):
        problems.append(f"{name}: document lengths differ from their postings")
    return problems


def _load_with_retry(directory: Path, manifest: Manifest, attempts: int = 20) -> _State:
    """Load ``manifest``'s components; if a writer removed them meanwhile (it published a
    newer generation and cleaned up), move to the newest manifest and try again."""
    for _ in range(attempts):
        try:
            return _load_state(directory, manifest)
        except IndexFormatError:
            latest = Manifest.read(directory)
            if latest.generation == manifest.generation:
                raise
            manifest = latest
    return _load_state(directory, manifest)


def _progress(items: Sequence[Document], show: bool, label: str) -> Iterable[Document]:
    if not show:
        return items
    from rich.progress import track

    return track(items, description=label, total=len(items))
