"""Crash-safe files: write a temporary file, fsync it, rename it over the target, fsync the
directory; fsync whole trees (every file and every directory, bottom up).

Two rules hold for every function here:

* **Never a SQLite file.** POSIX advisory locks belong to a process and an inode, and
  closing *any* descriptor of a file drops all of the process's locks on it, SQLite's
  included; another process then believes it holds the last connection and deletes the
  write-ahead log under us (the bug behind the data-safety issue). SQLite makes its own
  files durable (``synchronous=FULL``), so :func:`_refuse_sqlite` stops any path here from
  opening one.
* **The umask decides permissions.** Temporary files and folders are created with
  ``0o666`` / ``0o777`` and the kernel applies the process's umask, as for any other file
  (``tempfile.mkstemp`` would make them private, ``0o600``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

_SQLITE_SUFFIXES = (".sqlite", ".sqlite-wal", ".sqlite-shm", ".sqlite-journal")


def _refuse_sqlite(path: Path) -> None:
    if path.name.endswith(_SQLITE_SUFFIXES):
        raise ValueError(
            f"refusing to open {path}: a second descriptor on a SQLite file would drop "
            "SQLite's POSIX locks when closed (SQLite makes its own files durable)"
        )


def fsync_dir(directory: Path) -> None:
    """Flush a directory entry so a rename inside it survives a crash (no-op where the
    platform cannot open directories)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some file systems refuse fsync on directories
            os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """Flush a regular file's data and size to stable storage (never a SQLite file)."""
    _refuse_sqlite(path)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """fsync every file below ``root``, then every directory bottom up, then ``root``'s
    parent, so the whole tree and its entry survive a crash (``root`` may be a file)."""
    if root.is_file():
        fsync_file(root)
    else:
        for directory, _dirs, files in os.walk(root, topdown=False):
            for name in files:
                fsync_file(Path(directory) / name)
            fsync_dir(Path(directory))
    fsync_dir(root.parent)


def temp_name(path: Path) -> Path:
    """A fresh hidden name beside ``path`` for a file or folder that is renamed onto it."""
    return path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"


def make_temp_dir(parent: Path, prefix: str) -> Path:
    """A new empty folder ``parent/<prefix><random>`` with umask permissions
    (``tempfile.mkdtemp`` makes it ``0o700``)."""
    parent.mkdir(parents=True, exist_ok=True)
    while True:
        path = parent / f"{prefix}{secrets.token_hex(6)}"
        try:
            path.mkdir(mode=0o777)
        except FileExistsError:
            continue
        return path


def atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8, line ends as given) atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so readers see the old or the new file, never a mix,
    and the new one survives a crash once this returns."""
    _refuse_sqlite(path)
    tmp = temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)
