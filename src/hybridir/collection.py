"""Collection: the on-disk unit of hybridir (manifest, document store, index components).

Layout of a collection directory::

    manifest.json      format_version, generation, configs, component directories
    docs.sqlite        documents (see :mod:`hybridir.docstore`)
    bm25-<generation>/ postings arrays of that generation (:mod:`hybridir.sparse.postings`)
    dense-<generation>/ FAISS index of that generation (:mod:`hybridir.dense.vectors`)
    models/<name>/     trained fusion models and rerankers (:mod:`hybridir.learn`), immutable

Every write builds the next generation's files beside the current ones, then publishes it by
atomically replacing ``manifest.json``; a crash at any point leaves the previous generation
intact and readable.
"""

from __future__ import annotations

import fcntl
import json
import logging
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from hybridir._atomic import atomic_write_text, fsync_tree
from hybridir.config import CollectionConfig, DenseConfig, FusionConfig
from hybridir.docstore import DocStore
from hybridir.errors import ConfigError, HybridirError, IndexFormatError, InvalidInputError
from hybridir.sparse.index import BM25Index
from hybridir.sparse.postings import (
    Postings,
    append_postings,
    build_from_terms,
    empty_postings,
    load_postings,
    save_postings,
)
from hybridir.text.analyzer import Analyzer
from hybridir.types import Document

if TYPE_CHECKING:
    from hybridir.dense.encoders import Encoder
    from hybridir.dense.vectors import VectorIndex

logger = logging.getLogger(__name__)

FORMAT_NAME = "hybridir-collection"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Manifest:
    """The published state of a collection."""

    generation: int
    config: CollectionConfig
    components: dict[str, str]
    n_docs: int

    def to_json(self) -> str:
        from hybridir import __version__

        return json.dumps(
            {
                "format": FORMAT_NAME,
                "format_version": FORMAT_VERSION,
                "hybridir_version": __version__,
                "generation": self.generation,
                "n_docs": self.n_docs,
                "config": self.config.to_dict(),
                "components": self.components,
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
                components=dict(data["components"]),
                n_docs=int(data["n_docs"]),
            )
        except (KeyError, TypeError, ValueError, ConfigError) as exc:
            raise IndexFormatError(f"{path} is malformed: {exc}") from exc


def _validate_batch(docs: Sequence[Document]) -> None:
    seen: set[str] = set()
    for i, doc in enumerate(docs):
        if not isinstance(doc.doc_id, str) or not doc.doc_id:
            raise InvalidInputError(f"document #{i} has an empty or non-string doc_id")
        if not isinstance(doc.text, str) or not isinstance(doc.title, str):
            raise InvalidInputError(f"document {doc.doc_id!r}: title and text must be strings")
        if doc.doc_id in seen:
            raise InvalidInputError(f"duplicate doc_id {doc.doc_id!r} in the batch")
        seen.add(doc.doc_id)


class Collection:
    """A searchable document collection stored in a directory.

    Example:
        >>> col = Collection.create("/tmp/demo-col", overwrite=True)
        >>> col.add([Document("d1", "BM25 ranks documents"), Document("d2", "dense vectors")])
        2
        >>> len(col)
        2
    """

    def __init__(self, directory: Path, manifest: Manifest) -> None:
        self.directory = directory
        self.manifest = manifest
        self.docs = DocStore(directory / "docs.sqlite", manifest.generation)

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
        manifest = Manifest(generation=0, config=config, components={}, n_docs=0)
        atomic_write_text(path / MANIFEST, manifest.to_json())
        return cls(path, manifest)

    @classmethod
    def open(cls, directory: str | Path) -> Collection:
        """Open an existing collection, checking its format version."""
        path = Path(directory)
        return cls(path, Manifest.read(path))

    def close(self) -> None:
        self.docs.close()

    # -- reading -----------------------------------------------------------------------
    @property
    def config(self) -> CollectionConfig:
        return self.manifest.config

    def __len__(self) -> int:
        return self.manifest.n_docs

    @cached_property
    def analyzer(self) -> Analyzer:
        return Analyzer(self.config.analyzer)

    @cached_property
    def postings(self) -> Postings:
        name = self.manifest.components.get("bm25")
        return empty_postings() if name is None else load_postings(self.directory / name)

    @cached_property
    def bm25(self) -> BM25Index:
        return BM25Index(self.postings, self.config.bm25)

    @property
    def has_dense(self) -> bool:
        return self.config.dense is not None

    @cached_property
    def encoder(self) -> Encoder:
        """The dense encoder (loaded on first use)."""
        dense = self._dense_config()
        from hybridir.dense.encoders import SentenceTransformerEncoder

        return SentenceTransformerEncoder(
            dense.model,
            backend=dense.backend,
            batch_size=dense.batch_size,
            normalize=dense.normalize,
            query_prompt=dense.query_prompt,
            document_prompt=dense.document_prompt,
        )

    @cached_property
    def vectors(self) -> VectorIndex:
        """The dense vector index, rows aligned with the BM25 rows."""
        from hybridir.dense.vectors import VectorIndex

        dense = self._dense_config()
        name = self.manifest.components.get("dense")
        if name is None:
            return VectorIndex(np.zeros((0, self.encoder.dim), dtype=np.float32), dense.index)
        return VectorIndex.load(self.directory / name, dense.index)

    def _dense_config(self) -> DenseConfig:
        if self.config.dense is None:
            raise ConfigError(
                f"collection {self.directory} has no dense index; "
                "create it with CollectionConfig(dense=DenseConfig(...)) or `index --dense MODEL`"
            )
        return self.config.dense

    def get(self, doc_id: str) -> Document:
        """The stored document ``doc_id``."""
        return self.docs.get(doc_id)

    def __iter__(self) -> Iterator[Document]:
        return iter(self.docs)

    def index_terms(self, doc: Document) -> list[str]:
        """Index terms of a document: title terms ``title_weight`` times, then text terms."""
        title = self.analyzer.analyze(doc.title) if doc.title else []
        return title * self.config.bm25.title_weight + self.analyzer.analyze(doc.text)

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

    def add(self, docs: Iterable[Document], *, show_progress: bool = False) -> int:
        """Add new documents in one transaction; returns how many were added.

        Raises:
            InvalidInputError: a doc id is empty, repeated in the batch or already stored, or a
                field has the wrong type. Nothing is written then.
        """
        batch = list(docs)
        _validate_batch(batch)
        with self._writer_lock():
            current = Manifest.read(self.directory)
            if current.generation != self.manifest.generation:
                self._reload(current)
            taken = self.docs.existing_ids([d.doc_id for d in batch])
            if taken:
                raise InvalidInputError(f"doc_id(s) already in the collection: {taken[:5]}")
            if not batch:
                return 0
            self.docs.discard_unpublished()
            terms = [self.index_terms(d) for d in _progress(batch, show_progress, "Analyzing")]
            extra = build_from_terms(terms, [d.doc_id for d in batch])
            postings = append_postings(self.postings, extra) if len(self) else extra
            vectors = self._encode_batch(batch, show_progress) if self.has_dense else None
            self._publish(postings, vectors, batch)
        return len(batch)

    def set_fusion(self, fusion: FusionConfig) -> None:
        """Make ``fusion`` the collection's default, published as a new generation.

        ``search``, ``evaluate`` and ``serve`` use it from then on. A learned method's model
        must already be stored (see :func:`hybridir.learn.store.save_model`).
        """
        if fusion.model is not None and not (self.models_dir / fusion.model).is_dir():
            raise ConfigError(f"no trained model {fusion.model!r} in {self.models_dir}")
        self._set_config(fusion=fusion)

    def set_rerank(self, spec: str | None) -> None:
        """Make ``spec`` (or no reranking, with ``None``) the collection's default reranker."""
        self._set_config(rerank=spec)

    def _set_config(self, **changes: Any) -> None:
        with self._writer_lock():
            current = Manifest.read(self.directory)
            if current.generation != self.manifest.generation:
                self._reload(current)
            m = self.manifest
            manifest = Manifest(
                m.generation + 1, replace(m.config, **changes), dict(m.components), m.n_docs
            )
            atomic_write_text(self.directory / MANIFEST, manifest.to_json())
            self._reload(manifest)

    @property
    def models_dir(self) -> Path:
        """Where trained models of this collection live (one folder per model)."""
        return self.directory / "models"

    def _encode_batch(self, batch: Sequence[Document], show_progress: bool) -> NDArray[np.float32]:
        """Old vectors followed by the batch's (title + text, through the embedding cache)."""
        from hybridir.dense.cache import encode_documents_cached

        texts = [f"{d.title} {d.text}".strip() for d in batch]
        fresh = encode_documents_cached(self.encoder, texts, show_progress=show_progress)
        old = self.vectors.vectors
        return np.concatenate([old, fresh]) if len(old) else fresh

    def _publish(
        self, postings: Postings, vectors: NDArray[np.float32] | None, batch: Sequence[Document]
    ) -> None:
        generation = self.manifest.generation + 1
        components = {"bm25": f"bm25-{generation:06d}"}
        if vectors is not None:
            components["dense"] = f"dense-{generation:06d}"
        for name in components.values():
            if (self.directory / name).exists():  # left by a writer that died before publishing
                shutil.rmtree(self.directory / name)
        save_postings(postings, self.directory / components["bm25"])
        if vectors is not None:
            from hybridir.dense.vectors import VectorIndex

            dense = self._dense_config()
            VectorIndex(vectors, dense.index).save(self.directory / components["dense"])
        for name in components.values():
            fsync_tree(self.directory / name)
        self.docs.stage(batch, first_row=len(self), generation=generation)
        manifest = Manifest(generation, self.config, components, postings.n_docs)
        atomic_write_text(self.directory / MANIFEST, manifest.to_json())
        old = set(self.manifest.components.values()) - set(components.values())
        self._reload(manifest)
        for name in old:
            # Readers that opened the old generation keep their memory maps alive on POSIX.
            shutil.rmtree(self.directory / name, ignore_errors=True)

    def _reload(self, manifest: Manifest) -> None:
        changed = manifest.components != self.manifest.components
        self.manifest = manifest
        self.docs.publish(manifest.generation)
        if changed:
            for attr in ("postings", "bm25", "vectors"):
                self.__dict__.pop(attr, None)


def _progress(items: Sequence[Document], show: bool, label: str) -> Iterable[Document]:
    if not show:
        return items
    from rich.progress import track

    return track(items, description=label, total=len(items))
