"""Downloads: a checksumming :func:`fetch`, and the official BEIR dataset zips.

The BEIR checksum table lives in ``data/beir_checksums.json`` (copied from the BEIR README,
Thakur et al., NeurIPS 2021 Datasets and Benchmarks). A zip is streamed to a temporary folder
inside the cache, verified, extracted there and moved into place with ``os.replace``, so the
cache never holds a partial dataset. :mod:`hybridir.eval.loaders` fetches the Mr. TyDi, MIRACL
and PIRB files through :func:`fetch` the same way.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

from hybridir.errors import InvalidInputError, NotFoundError

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20
_TIMEOUT_S = 60.0


def _table() -> dict[str, Any]:
    """The parsed ``beir_checksums.json`` (read on each call: tiny, and no hidden global state)."""
    text = resources.files("hybridir.eval").joinpath("data/beir_checksums.json").read_text("utf-8")
    table: dict[str, Any] = json.loads(text)
    return table


def official_checksums() -> dict[str, str | None]:
    """Map each official BEIR dataset name to its published zip MD5 (``None`` when unknown)."""
    table = _table()
    known: dict[str, str | None] = dict(table["md5"])
    known.update(dict.fromkeys(table.get("without_checksum", [])))
    return known


def is_official_beir(name: str) -> bool:
    """Whether ``name`` (or its first path component, e.g. ``cqadupstack/android``) is official."""
    return name.split("/", 1)[0] in official_checksums()


def beir_url(name: str) -> str:
    """The download address of an official BEIR dataset zip."""
    template: str = _table()["url_template"]
    return template.format(name=name)


class Digests(NamedTuple):
    """What was fetched: size and checksums of the bytes written."""

    size: int
    md5: str
    sha256: str


class RemoteNotFoundError(NotFoundError):
    """The server answered that the file does not exist (HTTP 404, or a missing ``file://``)."""


def fetch(url: str, dest: Path) -> Digests:
    """Stream ``url`` into ``dest`` with a progress bar on stderr; return its size and digests.

    Any scheme ``urllib`` opens works, ``file://`` included (handy for local mirrors and tests).

    Raises:
        RemoteNotFoundError: the file does not exist there (HTTP 404, or no such local file).
        NotFoundError: any other failure to download (the message says which, and for HTTP 401
            or 403 that the host wants a login or accepted terms).
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    md5 = hashlib.md5(usedforsecurity=False)
    sha256 = hashlib.sha256()
    size = 0
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    try:
        with (
            urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response,
            dest.open("wb") as out,
            Progress(*columns, console=Console(stderr=True), transient=True) as progress,
        ):
            length = response.headers.get("Content-Length")
            task = progress.add_task(f"download {dest.name}", total=int(length) if length else None)
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                md5.update(chunk)
                sha256.update(chunk)
                size += len(chunk)
                progress.advance(task, len(chunk))
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise RemoteNotFoundError(f"{url} does not exist (HTTP 404)") from exc
        hint = " (the host wants a login or accepted terms)" if exc.code in (401, 403) else ""
        raise NotFoundError(f"could not download {url}: HTTP {exc.code}{hint}") from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, FileNotFoundError):
            raise RemoteNotFoundError(f"{url} does not exist") from exc
        raise NotFoundError(f"could not download {url}: {exc}") from exc
    except TimeoutError as exc:
        raise NotFoundError(f"could not download {url}: {exc}") from exc
    return Digests(size, md5.hexdigest(), sha256.hexdigest())


def _extracted_root(extract_dir: Path, name: str) -> Path:
    """The dataset folder inside an extracted zip: ``<name>/`` when present, else the top."""
    nested = extract_dir / name
    return nested if nested.is_dir() else extract_dir


def download_beir(name: str, cache: Path) -> Path:
    """Download, verify and unpack an official BEIR dataset into ``cache`` (once).

    Args:
        name: an official BEIR name, optionally with a sub-folder (``"cqadupstack/android"``):
            the whole top-level zip is fetched.
        cache: the cache folder; created if missing.

    Returns:
        ``cache / name``.

    Raises:
        NotFoundError: ``name`` is not official, the download failed, or the zip lacks ``name``.
        InvalidInputError: the zip does not match its published MD5 or is not a valid zip;
            nothing is left in the cache.
    """
    top = name.split("/", 1)[0]
    checksums = official_checksums()
    if top not in checksums:
        raise NotFoundError(f"{top!r} is not an official BEIR dataset: {sorted(checksums)}")
    target = cache / top
    if not target.is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{top}.", dir=cache))
        try:
            _download_into(top, checksums[top], work, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    result = cache / name
    if not result.is_dir():
        raise NotFoundError(f"{name!r} is not in the downloaded BEIR dataset {top!r} ({target})")
    return result


def _download_into(top: str, expected_md5: str | None, work: Path, target: Path) -> None:
    """Fetch, verify, extract inside ``work``, then move the dataset folder to ``target``."""
    url = beir_url(top)
    logger.info("downloading %s to %s", url, target)
    archive = work / f"{top}.zip"
    md5 = fetch(url, archive).md5
    if expected_md5 is None:
        logger.warning("no published checksum for BEIR dataset %r; %s is unverified", top, url)
    elif md5 != expected_md5:
        raise InvalidInputError(
            f"checksum mismatch for {url}: expected MD5 {expected_md5}, got {md5}; "
            "the download was discarded"
        )
    extract_dir = work / "extract"
    try:
        # ZipFile.extractall drops absolute paths and '..' components, so members stay inside.
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(extract_dir)
    except zipfile.BadZipFile as exc:
        raise InvalidInputError(f"{url} is not a valid zip file: {exc}") from exc
    try:
        os.replace(_extracted_root(extract_dir, top), target)
    except OSError:
        # Another process finished the same download first; its copy is as good as ours.
        if not target.is_dir():
            raise
