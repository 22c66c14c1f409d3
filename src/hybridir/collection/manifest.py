"""The collection manifest: the published state of a collection, its commit point.

``manifest.json`` names the generation, the configuration and every segment with the files
it is made of (size and CRC-32 of each). It is replaced atomically by each commit. What it
names is checked before anything is read or removed: a segment is ``seg-<digits>``, a
deletion list ``deletes/<segment>-<digits>.npy``, and a file path inside a segment is made
of plain names (no separators beyond the segment's own, no ``..``, no leading dot), so a
tampered manifest cannot make hybridir read or delete anything outside the collection.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hybridir._version import __version__
from hybridir.config import CollectionConfig
from hybridir.errors import ConfigError, IndexFormatError

FORMAT_NAME = "hybridir-collection"
FORMAT_VERSION = 3
"""3: segments record their files' sizes and CRC-32 (2: no checksums; still read)."""
READABLE_VERSIONS = (2, 3)
MANIFEST = "manifest.json"
DELETES = "deletes"
METADATA = "metadata.json"

SEGMENT_NAME = re.compile(r"^seg-[0-9]{6,}$")
DEAD_NAME = re.compile(r"^deletes/(seg-[0-9]{6,})-[0-9]{6,}\.npy$")
_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Segment:
    """One immutable segment: its folder, row count, deleted rows as of this manifest, and
    ``files``: path (relative to the collection) → ``(size, crc32)`` of every file it reads,
    the deletion list included."""

    name: str
    n_docs: int
    dead: str | None = None  # path of the deleted-rows array, relative to the collection
    n_dead: int = 0
    files: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "n_docs": self.n_docs,
            "dead": self.dead,
            "n_dead": self.n_dead,
            "files": {path: list(sums) for path, sums in sorted(self.files.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Segment:
        files = {str(p): (int(s[0]), int(s[1])) for p, s in dict(data.get("files", {})).items()}
        dead = data.get("dead")
        segment = cls(
            str(data["name"]),
            int(data["n_docs"]),
            None if dead is None else str(dead),
            int(data.get("n_dead", 0)),
            files,
        )
        check_segment(segment)
        return segment

    def own_files(self) -> dict[str, tuple[int, int]]:
        """The files of the segment folder (its deletion list left out)."""
        return {p: s for p, s in self.files.items() if p != self.dead}


def check_segment(segment: Segment) -> None:
    """Refuse names that could point outside the collection (see the module docstring)."""
    if not SEGMENT_NAME.match(segment.name):
        raise IndexFormatError(f"invalid segment name {segment.name!r} in the manifest")
    if segment.dead is not None:
        found = DEAD_NAME.match(segment.dead)
        if not found or found.group(1) != segment.name:
            raise IndexFormatError(
                f"invalid deletion list {segment.dead!r} for segment {segment.name!r}"
            )
    if not 0 <= segment.n_dead <= segment.n_docs:
        raise IndexFormatError(
            f"segment {segment.name}: {segment.n_dead} deleted rows of a bad count"
        )
    for path in segment.files:
        parts = path.split("/")
        inside = (parts[0] == segment.name and len(parts) > 1) or path == segment.dead
        if not inside or not all(_PART.match(p) for p in parts):
            raise IndexFormatError(f"segment {segment.name}: invalid file path {path!r}")


@dataclass(frozen=True)
class Manifest:
    """The published state of a collection."""

    generation: int
    config: CollectionConfig
    segments: tuple[Segment, ...] = ()
    n_docs: int = 0  # live documents
    dim: int | None = None  # dense vector dimension, once known

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT_NAME,
                "format_version": FORMAT_VERSION,
                "hybridir_version": __version__,
                "generation": self.generation,
                "n_docs": self.n_docs,
                "dim": self.dim,
                "config": self.config.to_dict(),
                "segments": [s.to_dict() for s in self.segments],
            },
            indent=2,
        )

    def referenced(self) -> set[str]:
        """Every folder and file name the manifest points at, relative to the collection."""
        names = set()
        for seg in self.segments:
            names.add(seg.name)
            if seg.dead is not None:
                names.add(seg.dead)
        return names

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST
        if not path.is_file():
            raise IndexFormatError(f"{directory} is not a hybridir collection (no {MANIFEST})")
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise IndexFormatError(f"cannot read {path}: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
            raise IndexFormatError(f"{path} is not a hybridir manifest")
        version = data.get("format_version")
        if version not in READABLE_VERSIONS:
            raise IndexFormatError(
                f"{directory} has collection format version {version}, this hybridir reads "
                f"versions {', '.join(map(str, READABLE_VERSIONS))}; rebuild it with "
                f"`hybridir index` (written by hybridir {data.get('hybridir_version', '?')})"
            )
        try:
            segments = tuple(Segment.from_dict(s) for s in data["segments"])
            if len({s.name for s in segments}) != len(segments):
                raise IndexFormatError(f"{path} names a segment twice")
            return cls(
                generation=int(data["generation"]),
                config=CollectionConfig.from_dict(data["config"]),
                segments=segments,
                n_docs=int(data["n_docs"]),
                dim=None if data.get("dim") is None else int(data["dim"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, ConfigError) as exc:
            raise IndexFormatError(f"{path} is malformed: {exc}") from exc


def crc32_file(path: Path, chunk: int = 1 << 20) -> int:
    """CRC-32 (zlib) of a file's bytes."""
    crc = 0
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            crc = zlib.crc32(block, crc)
    return crc


def file_sums(directory: Path, paths: Iterable[str]) -> dict[str, tuple[int, int]]:
    """``path → (size, crc32)`` for files given relative to ``directory``."""
    return {p: (os.path.getsize(directory / p), crc32_file(directory / p)) for p in paths}


def tree_files(directory: Path, folder: str) -> list[str]:
    """Every file below ``directory/folder``, relative to ``directory``, sorted."""
    root = directory / folder
    return sorted(
        str((Path(d) / name).relative_to(directory))
        for d, _, names in os.walk(root)
        for name in names
    )


def verify_sizes(directory: Path, segment: Segment) -> None:
    """Each recorded file is there with its recorded size (a stat each: cheap at open)."""
    for path, (size, _) in segment.files.items():
        try:
            found = os.path.getsize(directory / path)
        except OSError as exc:
            raise IndexFormatError(f"segment {segment.name}: {path} is missing ({exc})") from exc
        if found != size:
            raise IndexFormatError(
                f"segment {segment.name}: {path} has {found} bytes, the manifest says {size}"
            )


def verify_checksums(directory: Path, segment: Segment) -> list[str]:
    """Problems found by re-reading every recorded file (sizes and CRC-32)."""
    problems = []
    for path, (size, crc) in sorted(segment.files.items()):
        try:
            found = os.path.getsize(directory / path)
            if found != size:
                problems.append(f"{path}: {found} bytes, the manifest says {size}")
            elif crc32_file(directory / path) != crc:
                problems.append(f"{path}: checksum mismatch (the file is damaged)")
        except OSError as exc:
            problems.append(f"{path}: cannot be read ({exc.strerror or exc})")
    return problems
