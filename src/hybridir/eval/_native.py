"""Readers of the native Mr. TyDi, MIRACL and PIRB files and the writer of their BEIR copies.

Each ``write_*`` function reads one dataset in the layout its authors publish it in and writes
the BEIR layout (Thakur et al., NeurIPS 2021 Datasets and Benchmarks) into an empty folder::

    corpus.jsonl        {"_id", "title", "text"} per line
    queries.jsonl       {"_id", "text"} per line, the queries of every judged split
    qrels/<split>.tsv   query-id <TAB> corpus-id <TAB> score, with that header

Native layouts (documented by the sources cited in ``data/dataset_sources.json``):

* Mr. TyDi v1.1 (castorini/mr.tydi): ``mrtydi-v1.1-<language>/`` holding
  ``collection/docs.jsonl[.gz]`` (``id``, optional ``title``, ``contents``),
  ``topic.<split>.tsv`` (``qid<TAB>text``) and ``qrels.<split>.txt`` (TREC qrels).
* MIRACL v1.0 (miracl/miracl, miracl/miracl-corpus): ``topics.miracl-v1.0-<lang>-<split>.tsv``,
  ``qrels.miracl-v1.0-<lang>-<split>.tsv`` (TREC qrels) and ``docs-<n>.jsonl.gz`` shards
  (``docid``, ``title``, ``text``).
* PIRB's BEIR-PL datasets (clarin-knext/<name> and clarin-knext/<name>-qrels): BEIR's own files,
  gzip-compressed (``corpus.jsonl.gz``, ``queries.jsonl.gz``) and ``<split>.tsv`` qrels.

Malformed input raises :class:`~hybridir.errors.InvalidInputError` naming the file and line.
"""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from hybridir.errors import ConfigError, InvalidInputError, NotFoundError
from hybridir.eval._lines import iter_json_objects, iter_lines, line_error
from hybridir.eval.readers import read_corpus, read_qrels, read_queries
from hybridir.eval.trec import read_trec_qrels
from hybridir.types import Qrels

_QRELS_HEADER = "query-id\tcorpus-id\tscore\n"


# -- the BEIR side -----------------------------------------------------------------------------


def _write_jsonl(path: Path, rows: Iterable[dict[str, str]]) -> int:
    """Write one compact JSON object per line (UTF-8, ``\\n``); return the number of rows."""
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def write_beir(
    out: Path,
    docs: Iterable[tuple[str, str, str]],
    queries: Mapping[str, str],
    qrels: Mapping[str, Qrels],
) -> None:
    """Write a BEIR folder from ``(doc_id, title, text)`` rows, queries and qrels per split.

    Raises:
        InvalidInputError: no documents, or no judged split.
    """
    if not qrels:
        raise InvalidInputError("the source has no relevance judgements (no qrels split)")
    rows = ({"_id": d, "title": title, "text": text} for d, title, text in docs)
    if _write_jsonl(out / "corpus.jsonl", rows) == 0:
        raise InvalidInputError("the source has no documents")
    _write_jsonl(out / "queries.jsonl", ({"_id": q, "text": t} for q, t in queries.items()))
    (out / "qrels").mkdir()
    for split, judged in sorted(qrels.items()):
        lines = [f"{q}\t{d}\t{g}\n" for q, hits in judged.items() for d, g in hits.items()]
        (out / "qrels" / f"{split}.tsv").write_text(
            _QRELS_HEADER + "".join(lines), encoding="utf-8", newline="\n"
        )


def _merge_queries(parts: Iterable[tuple[Path, dict[str, str]]]) -> dict[str, str]:
    """Union of several query files; a qid given two different texts is an error."""
    merged: dict[str, str] = {}
    for path, queries in parts:
        for qid, text in queries.items():
            if merged.setdefault(qid, text) != text:
                raise InvalidInputError(f"{path}: query {qid!r} has another text in another split")
    return merged


def _judged_only(queries: dict[str, str], qrels: Mapping[str, Qrels], where: Path) -> None:
    """Check that every judged query has a text (load_beir would refuse the folder otherwise)."""
    missing = sorted({q for judged in qrels.values() for q in judged} - queries.keys())
    if missing:
        raise InvalidInputError(
            f"{len(missing)} judged queries have no text in {where}, e.g. {missing[:5]}"
        )


# -- shared native readers ---------------------------------------------------------------------


def read_topics_tsv(path: Path) -> dict[str, str]:
    """Read a ``qid<TAB>text`` topics file (Anserini's TsvString/TsvInt topic format).

    Raises:
        InvalidInputError: a line without a tab, an empty qid, or a qid repeated with another text.
    """
    topics: dict[str, str] = {}
    for lineno, line in iter_lines(path):
        qid, tab, text = line.partition("\t")
        if not tab or not qid.strip():
            raise line_error(path, lineno, "expected 'qid<TAB>text'")
        if topics.setdefault(qid.strip(), text.strip()) != text.strip():
            raise line_error(path, lineno, f"query {qid.strip()!r} repeated with another text")
    return topics


def _string(obj: dict[str, Any], keys: tuple[str, ...], path: Path, lineno: int) -> str:
    """The first of ``keys`` present in ``obj``, as a string (ints accepted for ids)."""
    for key in keys:
        if key in obj and obj[key] is not None:
            value = obj[key]
            if isinstance(value, int) and not isinstance(value, bool):
                return str(value)
            if not isinstance(value, str):
                raise line_error(path, lineno, f"field {key!r} must be a string")
            return value
    return ""


def iter_native_docs(
    path: Path, id_keys: tuple[str, ...], text_keys: tuple[str, ...]
) -> Iterator[tuple[str, str, str]]:
    """Yield ``(doc_id, title, text)`` from a JSON-lines file whose field names vary by source.

    Raises:
        InvalidInputError: a line without an id (``<file>:<line>: ...``).
    """
    for lineno, obj in iter_json_objects(path):
        doc_id = _string(obj, id_keys, path, lineno)
        if not doc_id:
            raise line_error(path, lineno, f"missing document id (one of {list(id_keys)})")
        yield (
            doc_id,
            _string(obj, ("title",), path, lineno),
            _string(obj, text_keys, path, lineno),
        )


def extract_tar(archive: Path, scratch: Path) -> Path:
    """Unpack a tar archive into ``scratch`` with the ``data`` filter (no links out, no devices).

    Raises:
        InvalidInputError: the file is not a readable tar archive.
    """
    target = scratch / "extract"
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise InvalidInputError(f"{archive} is not a valid tar archive: {exc}") from exc
    return target


# -- Mr. TyDi ----------------------------------------------------------------------------------


def _mrtydi_root(src: Path, scratch: Path) -> Path:
    """The ``mrtydi-v1.1-<language>`` folder in ``src`` (a tarball, or a folder near one)."""
    if src.is_file():
        return _mrtydi_root(extract_tar(src, scratch), scratch)
    candidates = [
        d for d in (src, *src.glob("*/"), *src.glob("*/*/")) if (d / "collection").is_dir()
    ]
    if len(candidates) == 1:
        return candidates[0]
    tarballs = sorted(src.glob("mrtydi-*.tar.gz"))
    if not candidates and len(tarballs) == 1:
        return _mrtydi_root(extract_tar(tarballs[0], scratch), scratch)
    raise NotFoundError(
        f"expected one Mr. TyDi folder (with collection/docs.jsonl[.gz]) or one "
        f"mrtydi-*.tar.gz in {src}; found {[str(c) for c in candidates] or 'none'}"
    )


def write_mrtydi(src: Path, out: Path, scratch: Path, language: str | None) -> None:
    """Convert Mr. TyDi v1.1 (tarball or extracted folder) into BEIR layout in ``out``.

    Args:
        src: ``mrtydi-v1.1-<language>.tar.gz``, its extracted folder, or a folder holding one.
        out: an empty folder.
        scratch: a folder for the extracted archive.
        language: the full language name the folder must carry (``"swahili"``), or ``None``.

    Raises:
        NotFoundError: no Mr. TyDi folder, no docs file or no qrels in ``src``.
        ConfigError: the folder is of another language than ``language``.
        InvalidInputError: a malformed file.
    """
    root = _mrtydi_root(src, scratch)
    if language is not None and not root.name.endswith(f"-{language}"):
        raise ConfigError(f"{root.name} is not the Mr. TyDi {language} dataset")
    docs = [
        p for p in (root / "collection" / n for n in ("docs.jsonl", "docs.jsonl.gz")) if p.is_file()
    ]
    if not docs:
        raise NotFoundError(f"no collection/docs.jsonl[.gz] in {root}")
    qrels = {p.name.split(".")[1]: read_trec_qrels(p) for p in sorted(root.glob("qrels.*.txt"))}
    if not qrels:
        raise NotFoundError(f"no qrels.<split>.txt in {root}")
    # topic.<split>.tsv per judged split, and topic.tsv (all splits) where the release has it
    files = [root / f"topic.{s}.tsv" for s in sorted(qrels)] + [root / "topic.tsv"]
    queries = _merge_queries((p, read_topics_tsv(p)) for p in files if p.is_file())
    _judged_only(queries, qrels, root)
    write_beir(
        out, iter_native_docs(docs[0], ("id", "docid", "_id"), ("contents", "text")), queries, qrels
    )


# -- MIRACL ------------------------------------------------------------------------------------

_MIRACL_FILE = re.compile(r"^(topics|qrels)\.miracl-v1\.0-([a-z]+)-([\w-]+)\.tsv$")
_MIRACL_SHARD = re.compile(r"^docs-(\d+)\.jsonl(\.gz)?$")


def write_miracl(src: Path, out: Path, scratch: Path, language: str | None) -> None:
    """Convert MIRACL v1.0 files of one language (anywhere below ``src``) into BEIR layout.

    Only splits with qrels are kept (topics without published qrels, such as test-a and test-b,
    are skipped).

    Args:
        src: a folder holding ``topics.miracl-v1.0-<lang>-<split>.tsv``,
            ``qrels.miracl-v1.0-<lang>-<split>.tsv`` and the ``docs-<n>.jsonl[.gz]`` shards.
        out: an empty folder.
        scratch: unused (the files are read in place).
        language: the language code to take; required when ``src`` holds several.

    Raises:
        NotFoundError: no qrels or no corpus shards.
        ConfigError: several languages and ``language`` is ``None``.
        InvalidInputError: a malformed file.
    """
    found: dict[tuple[str, str], dict[str, Path]] = {}
    for path in sorted(src.rglob("*.miracl-v1.0-*.tsv")):
        if match := _MIRACL_FILE.match(path.name):
            kind, lang, split = match.groups()
            found.setdefault((lang, split), {})[kind] = path
    languages = sorted({lang for lang, _ in found})
    if language is None and len(languages) > 1:
        raise ConfigError(f"{src} holds MIRACL files of several languages {languages}; name one")
    lang = language or (languages[0] if languages else "")
    judged = {s: files for (lg, s), files in found.items() if lg == lang and "qrels" in files}
    if not judged:
        raise NotFoundError(f"no qrels.miracl-v1.0-{lang or '<lang>'}-<split>.tsv below {src}")
    qrels = {split: read_trec_qrels(files["qrels"]) for split, files in judged.items()}
    topics = [
        (f["topics"], read_topics_tsv(f["topics"]))
        for _, f in sorted(judged.items())
        if "topics" in f
    ]
    queries = _merge_queries(topics)
    _judged_only(queries, qrels, src)
    shards = sorted(
        (int(m.group(1)), p)
        for p in src.rglob("docs-*.jsonl*")
        if (m := _MIRACL_SHARD.match(p.name))
    )
    if not shards:
        raise NotFoundError(f"no MIRACL corpus shards (docs-<n>.jsonl[.gz]) below {src}")
    docs = (
        row
        for _, shard in shards
        for row in iter_native_docs(shard, ("docid", "id", "_id"), ("text",))
    )
    write_beir(out, docs, queries, qrels)


# -- PIRB (BEIR-PL) ----------------------------------------------------------------------------


def _one_of(folder: Path, names: tuple[str, ...]) -> Path:
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise NotFoundError(f"none of {list(names)} in {folder}")


def write_pirb(src: Path, out: Path, scratch: Path, name: str | None) -> None:
    """Convert a PIRB BEIR-PL dataset (gzip-compressed BEIR files) into plain BEIR layout.

    Args:
        src: a folder holding ``corpus.jsonl[.gz]`` and ``queries.jsonl[.gz]`` (the
            ``clarin-knext/<name>`` repository) and the ``<split>.tsv`` qrels (the
            ``clarin-knext/<name>-qrels`` repository), beside them or under ``qrels/``.
        out: an empty folder.
        scratch: unused.
        name: unused (the files carry no name to check).

    Raises:
        NotFoundError: a file is missing.
        InvalidInputError: a malformed file.
    """
    corpus = _one_of(src, ("corpus.jsonl", "corpus.jsonl.gz"))
    queries = read_queries(_one_of(src, ("queries.jsonl", "queries.jsonl.gz")))
    qrels_dir = src / "qrels" if (src / "qrels").is_dir() else src
    qrels = {p.stem: read_qrels(p) for p in sorted(qrels_dir.glob("*.tsv"))}
    if not qrels:
        raise NotFoundError(f"no qrels <split>.tsv in {qrels_dir}")
    _judged_only(queries, qrels, src)
    docs = ((d.doc_id, d.title, d.text) for d in read_corpus(corpus))
    write_beir(out, docs, queries, qrels)
