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

Modules: :mod:`~hybridir.collection.manifest` (the commit point, names and checksums),
:mod:`~hybridir.collection.validation` (what a document must be),
:mod:`~hybridir.collection.state` (one generation's loaded segments),
:mod:`~hybridir.collection.view` (:class:`CollectionView`, the query backend),
:mod:`~hybridir.collection.writer` (:class:`Collection`: transactions),
:mod:`~hybridir.collection.files` (segment files, orphans, the lock, crash points),
:mod:`~hybridir.collection.merge` (the merge policy), :mod:`~hybridir.collection.check`.
"""

from hybridir.collection.validation import (
    JSON_SAFE_INTEGER,
    MAX_DOCUMENT_CHARS,
    MAX_ID_CHARS,
    MAX_METADATA_DEPTH,
    validate_documents,
    validate_id,
    validate_metadata,
)
from hybridir.collection.view import CollectionView, DocView
from hybridir.collection.writer import Collection

__all__ = [
    "JSON_SAFE_INTEGER",
    "MAX_DOCUMENT_CHARS",
    "MAX_ID_CHARS",
    "MAX_METADATA_DEPTH",
    "Collection",
    "CollectionView",
    "DocView",
    "validate_documents",
    "validate_id",
    "validate_metadata",
]
