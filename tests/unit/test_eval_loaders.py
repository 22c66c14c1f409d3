"""Mr. TyDi, MIRACL and PIRB: native formats converted to BEIR, and their (offline) download.

Every fixture is written here in the format its source publishes (see
``hybridir/eval/_native.py``); downloads are served from ``file://`` URLs, so no test touches
the network.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from hybridir.errors import ConfigError, InvalidInputError, NotFoundError
from hybridir.eval import (
    available_splits,
    convert_miracl,
    convert_mrtydi,
    convert_pirb,
    import_dataset,
    load_beir,
    loaders,
    read_queries,
    resolve_dataset,
)
from hybridir.types import Document


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode("utf-8")))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _tar_gz(folder: Path, archive: Path) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(buffer.getvalue())
    return archive


# --- native fixtures ------------------------------------------------------------------------


def _mrtydi(root: Path, gz: bool = True) -> Path:
    """``mrtydi-v1.1-swahili/``: docs with and without titles, three judged splits."""
    folder = root / "mrtydi-v1.1-swahili"
    docs = [
        {"id": "7#0", "title": "Nairobi", "contents": "Nairobi ni mji mkuu wa Kenya."},
        {"id": "7#1", "title": "Nairobi", "contents": "Mji una wakazi wengi."},
        {"id": "9#0", "contents": "Ziwa Viktoria ni ziwa kubwa."},  # v1.0 style: no title
    ]
    _write(folder / "collection" / ("docs.jsonl.gz" if gz else "docs.jsonl"), _jsonl(docs))
    _write(folder / "topic.train.tsv", "1\tmji mkuu wa Kenya\n")
    _write(folder / "topic.dev.tsv", "2\twakazi wa Nairobi\n")
    _write(folder / "topic.test.tsv", "3\tziwa kubwa\r\n\n4\tswali\tlenye tabo\n")
    _write(folder / "qrels.train.txt", "1 Q0 7#0 1\n")
    _write(folder / "qrels.dev.txt", "2 Q0 7#1 1\n")
    _write(folder / "qrels.test.txt", "3 Q0 9#0 1\n4 Q0 7#0 1\n4 Q0 7#1 1\n")
    return folder


def _miracl(root: Path) -> Path:
    """MIRACL's Hugging Face layout for Swahili; test-b has topics but no qrels."""
    topics = root / "miracl" / "miracl-v1.0-sw" / "topics"
    qrels = root / "miracl" / "miracl-v1.0-sw" / "qrels"
    _write(topics / "topics.miracl-v1.0-sw-train.tsv", "10\tJe, Mlima Kilimanjaro uko wapi?\n")
    _write(topics / "topics.miracl-v1.0-sw-dev.tsv", "20\tNani aliandika Utenzi?\n")
    _write(topics / "topics.miracl-v1.0-sw-test-b.tsv", "30\tswali la majaribio\n")
    _write(qrels / "qrels.miracl-v1.0-sw-train.tsv", "10\tQ0\t100#0\t1\n10\tQ0\t100#1\t0\n")
    _write(qrels / "qrels.miracl-v1.0-sw-dev.tsv", "20\tQ0\t200#3\t1\n")
    corpus = root / "miracl-corpus" / "miracl-corpus-v1.0-sw"
    # shard 10 sorts after shard 2 (numeric order, not the file names' string order)
    _write(
        corpus / "docs-2.jsonl.gz",
        _jsonl(
            [
                {"docid": "100#0", "title": "Kilimanjaro", "text": "Mlima uko Tanzania."},
                {"docid": "100#1", "title": "Kilimanjaro", "text": "Una vilele vitatu."},
            ]
        ),
    )
    _write(
        corpus / "docs-10.jsonl.gz",
        _jsonl([{"docid": "200#3", "title": "Utenzi", "text": "Utenzi wa Tambuka."}]),
    )
    return root


def _pirb(root: Path, with_train: bool = False) -> Path:
    """clarin-knext/scifact-pl and clarin-knext/scifact-pl-qrels files in one folder."""
    docs: list[dict[str, Any]] = [
        {"_id": "4983", "title": "Mikrostruktura", "text": "Rozwój istoty białej."},
        {"_id": 5836, "title": "", "text": "Komórki macierzyste."},  # numeric id, as exported
    ]
    _write(root / "corpus.jsonl.gz", _jsonl(docs))
    queries = [
        {"_id": "1", "text": "zapytanie pierwsze"},
        {"_id": "3", "text": "zapytanie trzecie"},
    ]
    _write(root / "queries.jsonl.gz", _jsonl(queries))
    _write(root / "qrels" / "test.tsv", "query-id\tcorpus-id\tscore\n1\t4983\t1\n")
    if with_train:
        _write(root / "qrels" / "train.tsv", "query-id\tcorpus-id\tscore\n3\t5836\t2\n")
    return root


# --- conversions from local files -----------------------------------------------------------


def test_mrtydi_tarball_converts_to_beir(tmp_path: Path) -> None:
    archive = _tar_gz(_mrtydi(tmp_path / "src"), tmp_path / "mrtydi-v1.1-swahili.tar.gz")
    dest = convert_mrtydi(archive, tmp_path / "out" / "sw", language="sw")
    assert available_splits(dest) == ["dev", "test", "train"]
    test = load_beir(dest, split="test")
    assert test.queries == {"3": "ziwa kubwa", "4": "swali\tlenye tabo"}
    assert test.qrels == {"3": {"9#0": 1}, "4": {"7#0": 1, "7#1": 1}}
    assert load_beir(dest, split="train").queries == {"1": "mji mkuu wa Kenya"}
    assert list(test.corpus()) == [
        Document("7#0", "Nairobi ni mji mkuu wa Kenya.", "Nairobi"),
        Document("7#1", "Mji una wakazi wengi.", "Nairobi"),
        Document("9#0", "Ziwa Viktoria ni ziwa kubwa.", ""),
    ]
    header = (dest / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "query-id\tcorpus-id\tscore"
    assert json.loads((dest / "source.json").read_text())["converted_from"] == str(archive)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["sw"]  # no temp folder left


def test_mrtydi_extracted_folder_gives_the_same_files(tmp_path: Path) -> None:
    from_tar = convert_mrtydi(
        _tar_gz(_mrtydi(tmp_path / "a"), tmp_path / "a.tar.gz"), tmp_path / "x"
    )
    from_dir = convert_mrtydi(_mrtydi(tmp_path / "b", gz=False).parent, tmp_path / "y")
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv", "qrels/dev.tsv"):
        assert (from_tar / name).read_bytes() == (from_dir / name).read_bytes()


def test_mrtydi_checks_language_and_destination(tmp_path: Path) -> None:
    src = _mrtydi(tmp_path / "src")
    with pytest.raises(ConfigError, match=r"not the Mr\. TyDi telugu"):
        convert_mrtydi(src, tmp_path / "te", language="te")
    assert not (tmp_path / "te").exists()
    convert_mrtydi(src, tmp_path / "sw", language="swahili")
    with pytest.raises(ConfigError, match="not empty"):
        convert_mrtydi(src, tmp_path / "sw")
    with pytest.raises(NotFoundError, match="does not exist"):
        convert_mrtydi(tmp_path / "absent.tar.gz", tmp_path / "z")


def test_malformed_native_files_name_file_and_line(tmp_path: Path) -> None:
    src = _mrtydi(tmp_path / "src")
    _write(src / "topic.dev.tsv", "2\twakazi wa Nairobi\nno-tab-here\n")
    with pytest.raises(InvalidInputError, match=r"topic\.dev\.tsv:2: expected 'qid<TAB>text'"):
        convert_mrtydi(src, tmp_path / "bad")
    _write(src / "topic.dev.tsv", "99\tswali lingine\n")  # query 2 is judged but has no text
    with pytest.raises(InvalidInputError, match=r"judged queries have no text.*'2'"):
        convert_mrtydi(src, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_miracl_files_convert_to_beir(tmp_path: Path) -> None:
    dest = convert_miracl(_miracl(tmp_path / "src"), tmp_path / "sw")
    assert available_splits(dest) == ["dev", "train"]  # test-b has no qrels
    train = load_beir(dest, split="train")
    assert train.queries == {"10": "Je, Mlima Kilimanjaro uko wapi?"}
    assert train.qrels == {"10": {"100#0": 1, "100#1": 0}}  # judged non-relevant kept
    assert load_beir(dest, split="dev").qrels == {"20": {"200#3": 1}}
    assert read_queries(dest / "queries.jsonl") == {
        "20": "Nani aliandika Utenzi?",
        "10": "Je, Mlima Kilimanjaro uko wapi?",
    }
    assert [d.doc_id for d in train.corpus()] == ["100#0", "100#1", "200#3"]
    assert list(train.corpus())[2] == Document("200#3", "Utenzi wa Tambuka.", "Utenzi")


def test_miracl_with_several_languages_needs_one(tmp_path: Path) -> None:
    src = _miracl(tmp_path / "src")
    _write(src / "miracl" / "qrels.miracl-v1.0-yo-dev.tsv", "1\tQ0\t1#0\t1\n")
    with pytest.raises(ConfigError, match=r"several languages \['sw', 'yo'\]"):
        convert_miracl(src, tmp_path / "x")
    assert available_splits(convert_miracl(src, tmp_path / "sw", language="sw")) == ["dev", "train"]


def test_pirb_gzipped_beir_converts(tmp_path: Path) -> None:
    dest = convert_pirb(_pirb(tmp_path / "src", with_train=True), tmp_path / "scifact-pl")
    test = load_beir(dest)
    assert test.queries == {"1": "zapytanie pierwsze"}
    assert test.qrels == {"1": {"4983": 1}}
    assert load_beir(dest, split="train").qrels == {"3": {"5836": 2}}
    assert list(test.corpus()) == [
        Document("4983", "Rozwój istoty białej.", "Mikrostruktura"),
        Document("5836", "Komórki macierzyste.", ""),
    ]


def test_import_dataset_lands_where_resolve_finds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYBRIDIR_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("HYBRIDIR_CACHE", str(tmp_path / "cache"))
    path = import_dataset("pirb/scifact-pl", _pirb(tmp_path / "src"))
    assert path == tmp_path / "cache" / "datasets" / "pirb" / "scifact-pl"
    assert resolve_dataset("pirb/scifact-pl") == path
    with pytest.raises(NotFoundError, match=r"unknown pirb member 'nope'.*scifact-pl"):
        import_dataset("pirb/nope", tmp_path / "src")


# --- downloads from file:// URLs ------------------------------------------------------------


@pytest.fixture
def remote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Serve every family from ``file://`` URLs; return the live source table and the cache."""
    server = tmp_path / "server"
    _tar_gz(_mrtydi(tmp_path / "native"), server / "mrtydi-v1.1-swahili.tar.gz")
    miracl = _miracl(tmp_path / "native-miracl")
    _pirb(server / "clarin-knext" / "scifact-pl")
    (server / "clarin-knext" / "scifact-pl" / "qrels").rename(
        server / "clarin-knext" / "scifact-pl-qrels"
    )
    table = copy.deepcopy(loaders.sources())
    base = server.as_uri()
    table["mrtydi"]["url_template"] = base + "/mrtydi-v1.1-{language}.tar.gz"
    table["miracl"]["topics_url"] = (
        miracl.as_uri() + "/miracl/miracl-v1.0-{language}/topics/"
        "topics.miracl-v1.0-{language}-{split}.tsv"
    )
    table["miracl"]["qrels_url"] = (
        miracl.as_uri() + "/miracl/miracl-v1.0-{language}/qrels/"
        "qrels.miracl-v1.0-{language}-{split}.tsv"
    )
    shards = miracl / "miracl-corpus" / "miracl-corpus-v1.0-sw"
    (shards / "docs-2.jsonl.gz").rename(shards / "docs-0.jsonl.gz")
    (shards / "docs-10.jsonl.gz").rename(shards / "docs-1.jsonl.gz")
    table["miracl"]["corpus_url"] = (
        miracl.as_uri() + "/miracl-corpus/miracl-corpus-v1.0-{language}/docs-{shard}.jsonl.gz"
    )
    table["miracl"]["languages"]["sw"]["shards"] = 2
    table["pirb"]["corpus_url"] = base + "/clarin-knext/{name}/corpus.jsonl.gz"
    table["pirb"]["queries_url"] = base + "/clarin-knext/{name}/queries.jsonl.gz"
    table["pirb"]["qrels_url"] = base + "/clarin-knext/{name}-qrels/{split}.tsv"
    monkeypatch.setattr(loaders, "sources", lambda: table)
    monkeypatch.setenv("HYBRIDIR_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("HYBRIDIR_CACHE", str(tmp_path / "cache"))
    return {"table": table, "server": server, "cache": tmp_path / "cache" / "datasets"}


def test_download_converts_once_and_records_sha256(remote: dict[str, Any]) -> None:
    path = resolve_dataset("mrtydi/sw")
    assert path == remote["cache"] / "mrtydi" / "sw"
    assert load_beir("mrtydi/sw").qrels == {"3": {"9#0": 1}, "4": {"7#0": 1, "7#1": 1}}
    tarball = remote["server"] / "mrtydi-v1.1-swahili.tar.gz"
    record = json.loads((path / "source.json").read_text())
    assert record["name"] == "mrtydi/sw"
    assert record["files"] == [
        {
            "url": tarball.as_uri(),
            "path": "mrtydi-v1.1-swahili.tar.gz",
            "bytes": tarball.stat().st_size,
            "md5": hashlib.md5(tarball.read_bytes()).hexdigest(),
            "sha256": hashlib.sha256(tarball.read_bytes()).hexdigest(),
            "verified": None,
        }
    ]
    tarball.unlink()  # a second lookup uses the cache, not the server
    assert resolve_dataset("mrtydi/sw") == path
    assert sorted(p.name for p in remote["cache"].iterdir()) == ["mrtydi"]


def test_download_miracl_shards_and_pirb_optional_splits(remote: dict[str, Any]) -> None:
    miracl = load_beir("miracl/sw", split="train")
    assert [d.doc_id for d in miracl.corpus()] == ["100#0", "100#1", "200#3"]
    pirb = resolve_dataset("pirb/scifact-pl")
    assert available_splits(pirb) == ["test"]  # train is optional and absent on the server
    urls = [f["url"] for f in json.loads((pirb / "source.json").read_text())["files"]]
    assert [u.rsplit("/", 2)[-2:] for u in urls] == [
        ["scifact-pl", "corpus.jsonl.gz"],
        ["scifact-pl", "queries.jsonl.gz"],
        ["scifact-pl-qrels", "test.tsv"],
    ]


def test_checksum_mismatch_raises_and_leaves_nothing(remote: dict[str, Any]) -> None:
    url = (remote["server"] / "mrtydi-v1.1-swahili.tar.gz").as_uri()
    remote["table"]["checksums"]["by_url"][url] = "sha256:" + "0" * 64
    with pytest.raises(InvalidInputError, match="checksum mismatch") as info:
        resolve_dataset("mrtydi/sw")
    assert url in str(info.value)
    assert list(remote["cache"].rglob("*")) == []
    # the right digest passes and is recorded as verified
    digest = hashlib.sha256(Path(url.removeprefix("file://")).read_bytes()).hexdigest()
    remote["table"]["checksums"]["by_url"][url] = f"sha256:{digest}"
    path = resolve_dataset("mrtydi/sw")
    assert json.loads((path / "source.json").read_text())["files"][0]["verified"] == "sha256"


def test_missing_required_file_or_bad_archive_leaves_nothing(remote: dict[str, Any]) -> None:
    (remote["server"] / "clarin-knext" / "scifact-pl-qrels" / "test.tsv").unlink()
    with pytest.raises(NotFoundError, match=r"test\.tsv does not exist"):
        resolve_dataset("pirb/scifact-pl")
    (remote["server"] / "mrtydi-v1.1-swahili.tar.gz").write_bytes(b"not a tarball")
    with pytest.raises(InvalidInputError, match="not a valid tar archive"):
        resolve_dataset("mrtydi/sw")
    assert list(remote["cache"].rglob("*")) == []


def test_unknown_member_lists_the_valid_ones(remote: dict[str, Any]) -> None:
    with pytest.raises(NotFoundError, match=r"unknown mrtydi member 'xx'.*'sw'"):
        resolve_dataset("mrtydi/xx")
    with pytest.raises(NotFoundError, match=r"downloadable: .*mrtydi/<language>"):
        resolve_dataset("no-such-family/xx")


def test_packaged_source_table_is_complete() -> None:
    table = loaders.sources()
    assert sorted(loaders.LOADERS) == ["miracl", "mrtydi", "pirb"]
    for family, loader in loaders.LOADERS.items():
        members = loader.members()
        assert members
        for member in members:
            remotes = loader.remotes(member)
            assert remotes
            assert all(r.url.startswith("https://") for r in remotes), family
    assert len(loaders.LOADERS["mrtydi"].members()) == 11
    assert len(loaders.LOADERS["miracl"].members()) == 18
    assert loaders.LOADERS["mrtydi"].remotes("sw")[0].url.endswith("mrtydi-v1.1-swahili.tar.gz")
    assert table["checksums"]["by_url"] == {}
