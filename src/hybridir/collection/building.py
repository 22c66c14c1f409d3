"""A new collection built whole or not at all: in a hidden folder beside its target, renamed
into place once it is complete.

A build that fails (a source that cannot be read, a model that cannot load, Ctrl-C) removes
its folder, so nothing blocks the rerun; with ``overwrite`` the old collection is replaced
only by a complete new one. Everything inside the folder is durable before the rename (each
commit fsyncs its files, SQLite its own), and the parent folder is fsynced after it
(docs/architecture.md, "Durability"). A process killed mid-build leaves only a hidden
``.<name>.tmp-<random>`` folder, which no command reads.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TypeVar

from hybridir._atomic import fsync_dir, make_temp_dir
from hybridir.collection.files import LOCK, flock_until
from hybridir.collection.manifest import MANIFEST
from hybridir.collection.writer import Collection
from hybridir.config import CollectionConfig
from hybridir.errors import ConfigError

T = TypeVar("T")

SWAP_WAIT = 30.0
"""Seconds an overwrite waits for a writer of the old collection to finish."""

logger = logging.getLogger(__name__)


def check_target(directory: Path, *, overwrite: bool) -> None:
    """Refuse to build at ``directory`` when that would destroy something.

    Raises:
        ConfigError: ``directory`` holds files and ``overwrite`` is off, or it holds
            something that is not a collection.
    """
    if not directory.exists() or not any(directory.iterdir()):
        return
    if not overwrite:
        raise ConfigError(
            f"{directory} exists and is not empty; pass overwrite=True (CLI: --overwrite)"
        )
    if not (directory / MANIFEST).is_file():
        raise ConfigError(f"refusing to overwrite {directory}: it is not a hybridir collection")


@contextmanager
def building(directory: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """A new empty folder beside ``directory`` to build a collection in; when the block
    ends normally the folder replaces ``directory`` (which must then hold no open handle of
    it: close the collection first), when it raises the folder is removed.

    Args:
        directory: where the collection should end up.
        overwrite: replace an existing collection there (only once the new one is built).

    Raises:
        ConfigError: see :func:`check_target` (checked before and after the build).

    Example:
        >>> with building("/tmp/col", overwrite=True) as tmp:  # doctest: +SKIP
        ...     with closing(Collection.create(tmp)) as col:
        ...         col.add(docs)
    """
    target = Path(directory).resolve()  # "." has no name to put the temp folder beside
    check_target(target, overwrite=overwrite)
    tmp = make_temp_dir(target.parent, f".{target.name}.tmp-")
    try:
        yield tmp
        check_target(target, overwrite=overwrite)  # another process may have built it since
        _move_into_place(tmp, target, overwrite=overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def build_new(
    directory: str | Path,
    config: CollectionConfig,
    fill: Callable[[Collection], T],
    *,
    overwrite: bool = False,
) -> tuple[Collection, T]:
    """Create a collection with ``config`` and ``fill`` it (add documents, calibrate, …)
    in a folder beside ``directory`` (:func:`building`), then open it at ``directory``.

    Returns:
        The collection, opened where it now is, and what ``fill`` returned.
    """
    with (
        building(directory, overwrite=overwrite) as tmp,
        closing(Collection.create(tmp, config)) as collection,
    ):
        result = fill(collection)
    return Collection.open(directory), result


def _move_into_place(tmp: Path, target: Path, *, overwrite: bool) -> None:
    """Put ``tmp`` in ``target``'s place: into an existing empty folder entry by entry
    (:func:`_move_entries`), over an absent one in one rename (which the system refuses
    over a non-empty folder: a collection another process built there in the meantime is
    never replaced without ``overwrite``), over an old collection by first moving it aside
    under its writer lock (a writer of it finishes first), then removing it.

    Raises:
        ConfigError: ``target`` is not empty and ``overwrite`` is off.
        WriterBusyError: with ``overwrite``, a writer of the old collection did not finish
            within :data:`SWAP_WAIT` seconds.
    """
    if target.is_dir() and not any(target.iterdir()):
        _move_entries(tmp, target)
        return
    if not overwrite or not target.exists():
        try:
            os.replace(tmp, target)
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            raise ConfigError(
                f"{target} exists and is not empty; pass overwrite=True (CLI: --overwrite)"
            ) from None
        fsync_dir(target.parent)
        return
    busy = f"another process is writing to {target}"
    with open(target / LOCK, "a") as lock:
        flock_until(lock, time.monotonic() + SWAP_WAIT, lambda: busy)
        old = make_temp_dir(target.parent, f".{target.name}.old-")
        os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(old, target)  # put the old collection back
        raise
    fsync_dir(target.parent)
    shutil.rmtree(old, ignore_errors=True)
    logger.info("replaced the collection at %s", target)


def _move_entries(tmp: Path, target: Path) -> None:
    """Move what ``tmp`` holds into the existing empty folder ``target``, the manifest last
    (it is what makes the folder a collection), and remove ``tmp``: the folder itself stays,
    so a shell or process whose working directory it is (``hybridir index SRC .``) still
    sees the collection there."""
    entries = sorted(tmp.iterdir(), key=lambda p: (p.name == MANIFEST, p.name))
    for entry in entries:
        os.replace(entry, target / entry.name)
    fsync_dir(target)
    tmp.rmdir()
    fsync_dir(target.parent)
