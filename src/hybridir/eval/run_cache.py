"""Reuse of retrieved lists between benchmark runs.

Once collections are cached, retrieval is most of a benchmark's time, and its result is fixed by
a few inputs. :class:`CachingSearcher` keys the lists of one ``retrieve_lists`` call by all of
them — the collection (folder name, configuration, generation, document count), the label
(dataset and split), a digest of the query texts, the depth ``k``, the mode, the fusion
configuration (its per-list depths) and the package versions (a new model or library may
score differently) — and keeps them as gzip-compressed JSON under the cache folder::

    <cache>/runs/<label>-<key digest>.json.gz
        {"key": {...}, "lists": {retriever: {qid: [doc_ids, scores]}}}

Scores are stored as JSON numbers, which read back as the same floats, and lists keep their
order, so a reused run is identical to a recomputed one. Files are written atomically; one
that cannot be read or does not match its key is recomputed (and rewritten), never trusted.
Delete ``<cache>/runs`` to drop every cached list.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hybridir._atomic import atomic_write_bytes
from hybridir.backend import Backend, Source
from hybridir.config import FusionConfig
from hybridir.search import Searcher
from hybridir.types import RankedList

logger = logging.getLogger(__name__)

FORMAT = 1
"""Version of the cached-list file layout; part of every key."""

Lists = dict[str, dict[str, RankedList]]
"""``{retriever: {qid: RankedList}}``, as :meth:`Searcher.retrieve_lists` returns."""


def queries_digest(queries: Mapping[str, str]) -> str:
    """SHA-256 of the ``(qid, text)`` pairs in qid order (the lists do not depend on order)."""
    canonical = json.dumps(sorted(queries.items()), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def lists_key(
    collection: Backend,
    label: str,
    queries: Mapping[str, str],
    k: int,
    mode: str,
    fusion: FusionConfig,
    versions: Mapping[str, str],
) -> dict[str, Any]:
    """Everything that determines a ``retrieve_lists`` answer, as a JSON-ready dict."""
    key = {
        "format": FORMAT,
        "label": label,
        "collection": {
            "name": collection.directory.name,
            "config": collection.config.to_dict(),
            "generation": collection.generation,
            "documents": len(collection),
        },
        "queries": {"count": len(queries), "sha256": queries_digest(queries)},
        "k": k,
        "mode": mode,
        "fusion": fusion.to_dict(),
        "versions": dict(sorted(versions.items())),
    }
    # normalized through JSON so it compares equal to the copy read back from a file
    normalized: dict[str, Any] = json.loads(json.dumps(key, sort_keys=True))
    return normalized


def entry_path(folder: Path, key: Mapping[str, Any]) -> Path:
    """The file of ``key``: ``<label>-<first 16 hex of the key's SHA-256>.json.gz``."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", str(key["label"])).strip("-") or "lists"
    return folder / f"{slug}-{digest[:16]}.json.gz"


def save_lists(path: Path, key: Mapping[str, Any], lists: Lists) -> None:
    """Write ``lists`` under ``key`` to ``path`` atomically (gzip-compressed JSON)."""
    payload = {
        "key": key,
        "lists": {
            name: {qid: [list(r.doc_ids), [float(s) for s in r.scores]] for qid, r in per.items()}
            for name, per in lists.items()
        },
    }
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    # level 1: these files are written once per change and read often; speed beats size
    atomic_write_bytes(path, gzip.compress(data, compresslevel=1, mtime=0))


def _ranked(value: Any) -> RankedList:
    """One ``[doc_ids, scores]`` pair, checked; ``ValueError`` when malformed."""
    doc_ids, scores = value
    if not (isinstance(doc_ids, list) and isinstance(scores, list)) or len(doc_ids) != len(scores):
        raise ValueError("a list's ids and scores differ in length")
    if not all(isinstance(d, str) for d in doc_ids):
        raise ValueError("a doc id is not a string")
    if not all(isinstance(s, float | int) and not isinstance(s, bool) for s in scores):
        raise ValueError("a score is not a number")
    return RankedList(doc_ids, [float(s) for s in scores])


def load_lists(path: Path, key: Mapping[str, Any], qids: list[str]) -> Lists | None:
    """The lists stored in ``path`` for ``key``, in ``qids`` order; ``None`` when absent.

    A file that is unreadable, not gzip or JSON, stored under another key, or missing a query
    is logged and treated as absent, so the caller recomputes it.
    """
    if not path.is_file():
        return None
    try:
        payload = json.loads(gzip.decompress(path.read_bytes()).decode("utf-8"))
        if payload["key"] != key:
            raise ValueError("stored under another key")
        return {
            str(name): {qid: _ranked(per[qid]) for qid in qids}
            for name, per in payload["lists"].items()
        }
    except (OSError, EOFError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        logger.warning("ignoring unreadable cached lists %s (%s); recomputing", path, exc)
        return None


class CachingSearcher(Searcher):
    """A :class:`Searcher` whose :meth:`retrieve_lists` reuses lists cached under ``folder``.

    Calls with a ``view`` or a row filter (``allowed``) bypass the cache.

    Args:
        collection: what to search.
        folder: where cached lists live (``<benchmark cache>/runs``).
        label: names the lists in files and messages, e.g. ``"scifact:test"``.
        versions: package versions the lists depend on (part of the key).
        progress: called with a message when lists are retrieved or reused.
        retriever: the default mode, as for :class:`Searcher`.

    Example:
        >>> s = CachingSearcher(col, cache / "runs", "scifact:test", versions)  # doctest: +SKIP
        >>> lists = s.retrieve_lists(queries, 1000, "hybrid", fusion)  # doctest: +SKIP
    """

    def __init__(
        self,
        collection: Source,
        folder: Path,
        label: str,
        versions: Mapping[str, str],
        progress: Callable[[str], None] | None = None,
        retriever: str | None = None,
    ) -> None:
        super().__init__(collection, retriever)
        self.folder = folder
        self.label = label
        self.versions = dict(versions)
        self.progress = progress
        self.reused = 0
        """How many ``retrieve_lists`` calls were answered from the cache."""

    def _say(self, message: str) -> None:
        if self.progress:
            self.progress(f"{self.label}: {message}")

    def retrieve_lists(
        self,
        queries: Mapping[str, str],
        k: int,
        mode: str,
        fusion: FusionConfig,
        n_threads: int = 1,
        backend: Backend | None = None,
        filters: Mapping[str, Any] | None = None,
    ) -> dict[str, dict[str, RankedList]]:
        """As :meth:`Searcher.retrieve_lists`, reusing a cached answer to the same inputs."""
        if filters is not None:
            return super().retrieve_lists(queries, k, mode, fusion, n_threads, backend, filters)
        backend = backend if backend is not None else self.collection.snapshot()
        key = lists_key(backend, self.label, queries, k, mode, fusion, self.versions)
        path = entry_path(self.folder, key)
        cached = load_lists(path, key, list(queries))
        if cached is not None:
            self.reused += 1
            self._say(f"reused cached runs ({', '.join(cached)}) for {len(queries)} queries")
            return cached
        self._say(f"retrieving {len(queries)} queries")
        lists = super().retrieve_lists(queries, k, mode, fusion, n_threads, backend)
        save_lists(path, key, lists)
        return lists
