"""Exceptions raised by hybridir.

Every error derives from :class:`HybridirError`, so callers can catch one type::

    HybridirError
     ├── ConfigError            a parameter or config value is invalid
     ├── InvalidInputError      user data (documents, queries, files) is malformed
     ├── IndexFormatError       a collection on disk is missing, corrupt or of another version
     ├── MissingDependencyError an optional extra is not installed (message has the pip hint)
     ├── NotFoundError          a named thing (dataset, collection, document) does not exist
     ├── UnavailableError       a part of the system did not answer in time
     │    └── ShardUnavailableError  a shard of a sharded collection, within the deadline
     └── WriterBusyError        another writer held a collection's lock longer than we waited
"""

from __future__ import annotations


class HybridirError(Exception):
    """Base class of every error hybridir raises on purpose."""


class ConfigError(HybridirError, ValueError):
    """A parameter or configuration value is invalid."""


class InvalidInputError(HybridirError, ValueError):
    """User-supplied data (documents, queries, files) is malformed."""


class IndexFormatError(HybridirError):
    """A collection on disk is missing, corrupt, or written by an incompatible format version."""


class MissingDependencyError(HybridirError, ImportError):
    """An optional dependency is not installed; the message says which extra to install."""


class NotFoundError(HybridirError, LookupError):
    """A named dataset, collection, split or document does not exist."""


class UnavailableError(HybridirError):
    """A part of the system (e.g. a shard of a sharded collection) did not answer in time."""


class ShardUnavailableError(UnavailableError):
    """A shard of a sharded collection did not answer within the request's deadline (a
    search with ``allow_partial=True`` returns the other shards' hits instead)."""


class WriterBusyError(HybridirError):
    """Another process (or thread) held a collection's writer lock for longer than the
    writer was willing to wait (``Collection.open(path, wait=SECONDS)``, CLI ``--wait``)."""


def missing_dependency(package: str, extra: str) -> MissingDependencyError:
    """Build the error for an absent optional package, with its install hint."""
    return MissingDependencyError(
        f"{package!r} is required for this feature; "
        f"install it with: pip install 'hybridir[{extra}]'"
    )
