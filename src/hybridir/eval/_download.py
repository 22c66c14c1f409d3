"""Download of the official BEIR dataset zips, checked against BEIR's published MD5 checksums.

The checksum table lives in ``data/beir_checksums.json`` (copied from the BEIR README,
Thakur et al., NeurIPS 2021 Datasets and Benchmarks). A zip is streamed to a temporary folder
inside the cache, verified, extracted there and moved into place with ``os.replace``, so the
cache never holds a partial dataset.
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
from typing import Any

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


def _fetch(url: str, dest: Path) -> str:
    """Stream ``url`` into ``dest`` with a progress bar on stderr; return the MD5 hex digest."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    digest = hashlib.md5(usedforsecurity=False)
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
                digest.update(chunk)
                progress.advance(task, len(chunk))
    except (urllib.error.URLError, TimeoutError) as exc:
        raise NotFoundError(f"could not download {url}: {exc}") from exc
    return digest.hexdigest()


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
    md5 = _fetch(url, archive)
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
