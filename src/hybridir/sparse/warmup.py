"""Compiling the kernels into the cache ahead of the first query.

``python -m hybridir.sparse [LOCK]`` (:func:`main`) is what
:func:`hybridir.sparse.jit.start_warmup` runs in the background: it compiles every kernel
(or loads them, when cached), leaves the ready marker beside them so that other processes
call them at once, and removes ``LOCK``.
:func:`warm_kernels` does the compiling part in the calling process;
:func:`warm_in_background` starts the background one when it is needed.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from hybridir._atomic import atomic_write_text
from hybridir.sparse.index import BM25Index
from hybridir.sparse.jit import READINESS, cache_key, ready_marker
from hybridir.sparse.kernels import score_queries
from hybridir.sparse.postings import build_from_terms

logger = logging.getLogger(__name__)


def warm_kernels() -> None:
    """Compile every kernel that indexing and search run (or load them from the cache),
    in this process: a two-document index answers one query. Seconds on a fresh install,
    microseconds once this process has them."""
    from hybridir.text.batch import term_ids_of, warm_batch_kernels

    READINESS.force()
    index = BM25Index(build_from_terms([["a", "b"], ["b"]], ["0", "1"]))
    index.search_encoded(index.encode([["a"]]), 1)
    index.encode(term_ids_of([["a", "b", "a"], ["c"]]))  # a batch: counted compiled
    index.lexicon.lookup(["a", "zł", "a" * 9])  # a long batch's vocabulary look-up
    warm_batch_kernels()  # the batch analyzer's, which indexing runs


def warm_in_background() -> None:
    """Make sure the query kernels get compiled into the cache without waiting for it: a
    warm-up process starts unless this process has them or a warm-up already left its
    marker (what a collection's first write does, so that its first query finds them)."""
    READINESS(score_queries)


def main(argv: Sequence[str] | None = None) -> int:
    """Warm the kernels, leave the ready marker, release the lock given as first argument."""
    args = list(sys.argv[1:] if argv is None else argv)
    lock = Path(args[0]) if args else None
    try:
        warm_kernels()
        atomic_write_text(ready_marker(), cache_key() + "\n")
    finally:
        if lock is not None:
            lock.unlink(missing_ok=True)
    return 0
