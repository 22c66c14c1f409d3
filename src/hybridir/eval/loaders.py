"""Mr. TyDi, MIRACL and PIRB by name: fetched from their official sources, stored in BEIR layout.

Names are ``<family>/<member>``: ``mrtydi/<language>`` (Mr. TyDi v1.1, e.g. ``mrtydi/sw``),
``miracl/<language>`` (MIRACL v1.0, e.g. ``miracl/yo``) and ``pirb/<dataset>`` (PIRB's
BEIR-PL group, e.g. ``pirb/scifact-pl``). :data:`LOADERS` maps each family to its members, the
files one member needs and the converter of its native format (:mod:`hybridir.eval._native`);
where the files live is in ``data/dataset_sources.json`` with the papers that define them.

:func:`~hybridir.eval.datasets.resolve_dataset` calls :func:`download_dataset` for such a name
when no local copy exists. Files are fetched into a temporary folder inside the cache,
converted there and moved into place with ``os.replace``, so the cache never holds a partial
dataset. None of these sources publishes checksums for its files; an expected MD5 or SHA-256
listed in the table is checked, and every download's size, MD5 and SHA-256 are recorded in the
converted folder's ``source.json`` so a copy can be audited later.

Files fetched by hand convert with :func:`convert_mrtydi`, :func:`convert_miracl` and
:func:`convert_pirb`, or straight into the cache with :func:`import_dataset`.

Example:
    >>> from hybridir.eval import load_beir
    >>> ds = load_beir("mrtydi/sw", split="test")  # doctest: +SKIP
    >>> import_dataset("mrtydi/sw", "~/Downloads/mrtydi-v1.1-swahili.tar.gz")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

from hybridir._atomic import fsync_tree
from hybridir._cache import cache_root
from hybridir._version import __version__
from hybridir.errors import ConfigError, InvalidInputError, NotFoundError
from hybridir.eval import _download
from hybridir.eval._native import write_miracl, write_mrtydi, write_pirb

logger = logging.getLogger(__name__)

SOURCE_FILE = "source.json"
"""Provenance record written into every converted folder."""


def sources() -> dict[str, Any]:
    """The parsed ``data/dataset_sources.json`` (read on each call: small, no global state)."""
    text = resources.files("hybridir.eval").joinpath("data/dataset_sources.json").read_text("utf-8")
    table: dict[str, Any] = json.loads(text)
    return table


class RemoteFile(NamedTuple):
    """One file to fetch: its address, its path in the download folder, whether it must exist."""

    url: str
    path: str
    required: bool = True


@dataclass(frozen=True)
class Loader:
    """A dataset family: its members, the files one needs, and its native-format converter.

    ``convert(src, out, scratch, native)`` writes the BEIR files into the empty folder ``out``;
    ``native(member)`` is what the source calls a member (checked against the files where it
    can be); ``pattern`` is the name form shown in error messages.
    """

    members: Callable[[], list[str]]
    remotes: Callable[[str], list[RemoteFile]]
    native: Callable[[str], str]
    convert: Callable[[Path, Path, Path, str | None], None]
    pattern: str


# -- the families ------------------------------------------------------------------------------


def _mrtydi_remotes(language: str) -> list[RemoteFile]:
    """One tarball per language (castorini/mr.tydi README, v1.1)."""
    table = sources()["mrtydi"]
    name = table["languages"][language]
    url = table["url_template"].format(language=name)
    return [RemoteFile(url, f"mrtydi-v1.1-{name}.tar.gz")]


def _miracl_remotes(language: str) -> list[RemoteFile]:
    """Topics and qrels of each judged split, then every corpus shard (miracl/miracl-corpus)."""
    table = sources()["miracl"]
    info = table["languages"][language]
    files = []
    for split in info["splits"]:
        for kind in ("topics", "qrels"):
            url = table[f"{kind}_url"].format(language=language, split=split)
            files.append(RemoteFile(url, url.rsplit("/", 1)[1]))
    for shard in range(int(info["shards"])):
        files.append(
            RemoteFile(
                table["corpus_url"].format(language=language, shard=shard), f"docs-{shard}.jsonl.gz"
            )
        )
    return files


def _pirb_remotes(name: str) -> list[RemoteFile]:
    """BEIR-PL corpus and queries (clarin-knext/<name>), qrels per split (<name>-qrels)."""
    table = sources()["pirb"]
    splits = table["datasets"][name]
    files = [
        RemoteFile(table["corpus_url"].format(name=name), "corpus.jsonl.gz"),
        RemoteFile(table["queries_url"].format(name=name), "queries.jsonl.gz"),
    ]
    for required, key in ((True, "required"), (False, "optional")):
        for split in splits[key]:
            url = table["qrels_url"].format(name=name, split=split)
            files.append(RemoteFile(url, f"qrels/{split}.tsv", required))
    return files


LOADERS: dict[str, Loader] = {
    "mrtydi": Loader(
        members=lambda: sorted(sources()["mrtydi"]["languages"]),
        remotes=_mrtydi_remotes,
        native=lambda language: str(sources()["mrtydi"]["languages"][language]),
        convert=write_mrtydi,
        pattern="mrtydi/<language>",
    ),
    "miracl": Loader(
        members=lambda: sorted(sources()["miracl"]["languages"]),
        remotes=_miracl_remotes,
        native=lambda language: language,
        convert=write_miracl,
        pattern="miracl/<language>",
    ),
    "pirb": Loader(
        members=lambda: sorted(sources()["pirb"]["datasets"]),
        remotes=_pirb_remotes,
        native=lambda name: name,
        convert=write_pirb,
        pattern="pirb/<dataset>",
    ),
}
"""Dataset families by name prefix."""


def loader_for(name: str) -> tuple[Loader, str] | None:
    """The family and member of ``name`` (``"mrtydi/sw"``), or ``None`` for another prefix.

    Raises:
        NotFoundError: the prefix is a family but the member is not one of it (the message
            lists the valid members).
    """
    family, _, member = name.partition("/")
    loader = LOADERS.get(family)
    if loader is None:
        return None
    valid = loader.members()
    if member not in valid:
        raise NotFoundError(f"{name!r}: unknown {family} member {member!r}; valid: {valid}")
    return loader, member


def _require(name: str) -> tuple[Loader, str]:
    """As :func:`loader_for`, but a name of no family is an error too."""
    found = loader_for(name)
    if found is None:
        raise NotFoundError(f"{name!r} is not a downloadable dataset; families: {sorted(LOADERS)}")
    return found


# -- writing a converted folder atomically -----------------------------------------------------


@contextmanager
def _staged(dest: Path, work_root: Path) -> Iterator[tuple[Path, Path]]:
    """Yield ``(out, scratch)`` folders; move ``out`` to ``dest`` on success.

    Both live in one temporary folder under ``work_root`` (on ``dest``'s file system, so the
    final ``os.replace`` is atomic), removed whatever happens: ``dest`` is either absent or
    complete, and a failure leaves no folder behind. A ``dest`` that appears meanwhile
    (another process converting the same dataset) is kept.
    """
    work_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=work_root))
    try:
        out, scratch = work / "out", work / "scratch"
        out.mkdir()
        scratch.mkdir()
        yield out, scratch
        fsync_tree(out)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(out, dest)
        except OSError:
            if not (dest / "corpus.jsonl").is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _write_source(out: Path, record: dict[str, Any]) -> None:
    """Write the provenance record (with the hybridir version) as ``source.json``."""

    record = {**record, "hybridir": __version__}
    (out / SOURCE_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def _refuse_existing(dest: Path) -> None:
    """Never convert over existing data."""
    if dest.exists() and any(dest.iterdir()):
        raise ConfigError(f"{dest} exists and is not empty; remove it first")


def _convert_local(
    family: str, src: str | os.PathLike[str], dest: str | os.PathLike[str], member: str | None
) -> Path:
    """Convert native files at ``src`` into the BEIR folder ``dest`` (shared by convert_*)."""
    source, target = Path(src).expanduser(), Path(dest).expanduser()
    if not source.exists():
        raise NotFoundError(f"{source} does not exist")
    _refuse_existing(target)
    loader = LOADERS[family]
    with _staged(target, target.parent) as (out, scratch):
        loader.convert(source, out, scratch, member)
        _write_source(out, {"family": family, "converted_from": str(source.resolve())})
    return target


def convert_mrtydi(
    src: str | os.PathLike[str], dest: str | os.PathLike[str], language: str | None = None
) -> Path:
    """Convert a hand-downloaded Mr. TyDi v1.1 language into a BEIR folder.

    Args:
        src: ``mrtydi-v1.1-<language>.tar.gz``, its extracted folder, or a folder holding one.
        dest: the new BEIR folder (must not exist or be empty).
        language: the language, as a code (``"sw"``) or as Mr. TyDi names it (``"swahili"``),
            to check the files against.

    Returns:
        ``dest``, holding corpus.jsonl, queries.jsonl, qrels/<split>.tsv and source.json.

    Raises:
        NotFoundError: ``src`` or a needed file is missing.
        ConfigError: ``dest`` is not empty, or the files are of another language.
        InvalidInputError: a malformed file.

    Example:
        >>> convert_mrtydi("mrtydi-v1.1-swahili.tar.gz", "datasets/mrtydi/sw")  # doctest: +SKIP
    """
    names: dict[str, str] = sources()["mrtydi"]["languages"]
    return _convert_local("mrtydi", src, dest, names.get(language or "", language))


def convert_miracl(
    src: str | os.PathLike[str], dest: str | os.PathLike[str], language: str | None = None
) -> Path:
    """Convert hand-downloaded MIRACL v1.0 files of one language into a BEIR folder.

    Args:
        src: a folder holding (anywhere below it) the language's topics and qrels TSV files
            and its ``docs-<n>.jsonl[.gz]`` corpus shards.
        dest: the new BEIR folder (must not exist or be empty).
        language: the language code, needed when ``src`` holds several languages.

    Returns:
        ``dest``; its qrels splits are the judged ones (train, dev).

    Raises:
        NotFoundError: ``src``, the qrels or the corpus shards are missing.
        ConfigError: ``dest`` is not empty, or several languages and no ``language``.
        InvalidInputError: a malformed file.
    """
    return _convert_local("miracl", src, dest, language)


def convert_pirb(src: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Convert a hand-downloaded PIRB BEIR-PL dataset (clarin-knext's files) into a BEIR folder.

    Args:
        src: a folder holding ``corpus.jsonl[.gz]``, ``queries.jsonl[.gz]`` and the
            ``<split>.tsv`` qrels (beside them or under ``qrels/``).
        dest: the new BEIR folder (must not exist or be empty).

    Returns:
        ``dest``.

    Raises:
        NotFoundError: ``src`` or a needed file is missing.
        ConfigError: ``dest`` is not empty.
        InvalidInputError: a malformed file.
    """
    return _convert_local("pirb", src, dest, None)


def import_dataset(name: str, src: str | os.PathLike[str], cache: Path | None = None) -> Path:
    """Convert hand-downloaded files of ``name`` into the cache, where resolve_dataset finds them.

    Args:
        name: ``mrtydi/<language>``, ``miracl/<language>`` or ``pirb/<dataset>``.
        src: the native files, as the family's ``convert_*`` function takes them.
        cache: the dataset cache; by default :func:`dataset_cache`.

    Returns:
        The converted folder, ``cache / name``.

    Raises:
        NotFoundError: ``name`` is not a known dataset, or a file is missing.
        ConfigError: the dataset is already in the cache.
        InvalidInputError: a malformed file.
    """
    loader, member = _require(name)
    family = name.partition("/")[0]
    return _convert_local(family, src, (cache or dataset_cache()) / name, loader.native(member))


def dataset_cache() -> Path:
    """The download cache: ``$HYBRIDIR_CACHE/datasets`` or ``~/.cache/hybridir/datasets``."""
    return cache_root("datasets")


# -- downloading -------------------------------------------------------------------------------


def _expected(url: str) -> tuple[str, str] | None:
    """The published ``(algorithm, hex digest)`` for ``url``, if the table lists one."""
    entry = sources()["checksums"]["by_url"].get(url)
    if not entry:
        return None
    algorithm, _, digest = str(entry).partition(":")
    if algorithm not in ("md5", "sha256"):
        raise ConfigError(f"checksum {entry!r} for {url}: expected 'md5:<hex>' or 'sha256:<hex>'")
    return algorithm, digest.lower()


def _fetch_checked(remote: RemoteFile, folder: Path) -> dict[str, Any] | None:
    """Fetch one file and check it; ``None`` when an optional file does not exist."""
    dest = folder / remote.path
    dest.parent.mkdir(parents=True, exist_ok=True)
    logger.info("downloading %s", remote.url)
    try:
        got = _download.fetch(remote.url, dest)
    except _download.RemoteNotFoundError:
        if remote.required:
            raise
        logger.info("%s does not exist; skipped (optional)", remote.url)
        return None
    expected = _expected(remote.url)
    if expected is not None:
        algorithm, digest = expected
        actual = got.md5 if algorithm == "md5" else got.sha256
        if actual != digest:
            raise InvalidInputError(
                f"checksum mismatch for {remote.url}: expected {algorithm.upper()} {digest}, "
                f"got {actual}; the download was discarded"
            )
    return {
        "url": remote.url,
        "path": remote.path,
        "bytes": got.size,
        "md5": got.md5,
        "sha256": got.sha256,
        "verified": expected[0] if expected else None,
    }


def download_dataset(name: str, cache: Path) -> Path:
    """Fetch ``name`` from its official source and convert it into ``cache / name`` (once).

    Args:
        name: ``mrtydi/<language>``, ``miracl/<language>`` or ``pirb/<dataset>``.
        cache: the dataset cache; created if missing.

    Returns:
        ``cache / name``, a BEIR folder with a ``source.json`` recording every file fetched.

    Raises:
        NotFoundError: ``name`` is not known, or a required file could not be downloaded.
        InvalidInputError: a file does not match its listed checksum, or is malformed; nothing
            is left in the cache.
    """
    loader, member = _require(name)
    target = cache / name
    if (target / "corpus.jsonl").is_file():
        return target
    family = name.partition("/")[0]
    with _staged(target, cache) as (out, scratch):
        raw = scratch / "download"
        fetched = [r for remote in loader.remotes(member) if (r := _fetch_checked(remote, raw))]
        if not any(f["verified"] for f in fetched):
            logger.warning(
                "%s publishes no checksums; SHA-256s recorded in %s", family, SOURCE_FILE
            )
        loader.convert(raw, out, scratch, loader.native(member))
        _write_source(
            out,
            {
                "family": family,
                "name": name,
                "source": sources()[family]["source"],
                "files": fetched,
            },
        )
    return target
