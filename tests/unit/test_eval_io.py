"""BEIR readers, TREC run/qrels files, dataset resolution and the (mocked) BEIR download."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest

from hybridir.errors import HybridirError, InvalidInputError, NotFoundError
from hybridir.eval import (
    _download,
    datasets,
    exclude_identical_ids,
    load_beir,
    read_corpus,
    read_qrels,
    read_queries,
    read_run,
    read_trec_qrels,
    resolve_dataset,
    write_qrels,
    write_run,
)
from hybridir.types import Document, Run


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _make_dataset(root: Path) -> Path:
    """A tiny BEIR folder: 3 docs, 3 queries, test split judging q1/q2 (q2 -> a missing doc)."""
    docs = [
        {"_id": "d1", "title": "T1", "text": "alpha beta", "metadata": {"year": 2020}},
        {"_id": "d2", "title": "", "text": "gamma"},
        {"_id": "d3", "text": "delta"},
    ]
    _write(root / "corpus.jsonl", "".join(json.dumps(d) + "\n" for d in docs))
    queries = [{"_id": q, "text": f"query {q}"} for q in ("q1", "q2", "q3")]
    _write(root / "queries.jsonl", "".join(json.dumps(q) + "\n" for q in queries))
    _write(root / "qrels" / "test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\tdX\t2\n")
    _write(root / "qrels" / "train.tsv", "q3\td3\t1\n")
    return root


# --- BEIR readers ---------------------------------------------------------------------------


def test_read_corpus_streams_documents_and_skips_blank_lines(tmp_path: Path) -> None:
    path = _make_dataset(tmp_path / "ds") / "corpus.jsonl"
    _write(path, "\n" + path.read_text(encoding="utf-8") + "\n\n")
    docs = read_corpus(path)
    assert iter(docs) is docs  # a lazy iterator, not a list
    assert list(docs) == [
        Document("d1", "alpha beta", "T1", {"year": 2020}),
        Document("d2", "gamma", ""),
        Document("d3", "delta", ""),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"_id": "d2", "text": ', "malformed JSON"),
        ('{"text": "no id"}', "'_id'"),
        ('{"_id": "d2", "text": 5}', "'text' must be a string"),
        ('{"_id": "d2", "title": ["x"], "text": ""}', "'title' must be a string"),
        ('{"_id": "d1", "text": "again"}', "duplicate '_id'"),
        ('["not", "an", "object"]', "expected a JSON object"),
    ],
)
def test_read_corpus_errors_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = _write(tmp_path / "corpus.jsonl", '{"_id": "d1", "text": "ok"}\n\n' + line + "\n")
    with pytest.raises(InvalidInputError, match=message) as info:
        list(read_corpus(path))
    assert str(info.value).startswith(f"{path}:3:")


def test_non_utf8_bytes_are_reported_with_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "queries.jsonl", b'{"_id": "q1", "text": "ok"}\n{"_id": "q\xff"}\n')
    with pytest.raises(InvalidInputError, match="UTF-8") as info:
        read_queries(path)
    assert str(info.value).startswith(f"{path}:2:")


def test_read_queries_and_missing_file(tmp_path: Path) -> None:
    path = _make_dataset(tmp_path / "ds") / "queries.jsonl"
    assert read_queries(path) == {"q1": "query q1", "q2": "query q2", "q3": "query q3"}
    with pytest.raises(InvalidInputError, match=r":2: duplicate"):
        read_queries(_write(tmp_path / "dup.jsonl", '{"_id": "a"}\n{"_id": "a"}\n'))
    with pytest.raises(NotFoundError):
        read_queries(tmp_path / "absent.jsonl")


def test_read_qrels_with_and_without_header(tmp_path: Path) -> None:
    with_header = _write(tmp_path / "a.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t0\n")
    without = _write(tmp_path / "b.tsv", "q1\td1\t1\r\nq1\td2\t0\r\n")
    assert read_qrels(with_header) == read_qrels(without) == {"q1": {"d1": 1, "d2": 0}}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("q1\td2", "3 tab-separated columns"),
        ("q1\td2\t1\textra", "3 tab-separated columns"),
        ("q1\td2\t1.5", "not an integer"),
        ("q1\td2\thigh", "not an integer"),
        ("q1\td1\t2", "conflicting grades"),
        ("\td2\t1", "empty"),
    ],
)
def test_read_qrels_errors_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = _write(tmp_path / "test.tsv", f"query-id\tcorpus-id\tscore\nq1\td1\t1\n{line}\n")
    with pytest.raises(InvalidInputError, match=message) as info:
        read_qrels(path)
    assert str(info.value).startswith(f"{path}:3:")


# --- load_beir ------------------------------------------------------------------------------


def test_load_beir_keeps_only_judged_queries_and_unknown_docs(tmp_path: Path) -> None:
    ds = load_beir(_make_dataset(tmp_path / "tiny"), split="test")
    assert (ds.name, ds.split) == ("tiny", "test")
    assert ds.queries == {"q1": "query q1", "q2": "query q2"}
    assert ds.qrels == {"q1": {"d1": 1}, "q2": {"dX": 2}}  # dX is not in the corpus: kept
    assert [d.doc_id for d in ds.corpus()] == ["d1", "d2", "d3"]
    assert load_beir(tmp_path / "tiny", split="train").queries == {"q3": "query q3"}


def test_missing_split_lists_available_splits(tmp_path: Path) -> None:
    root = _make_dataset(tmp_path / "tiny")
    with pytest.raises(NotFoundError, match=r"'dev'.*\['test', 'train'\]"):
        load_beir(root, split="dev")


def test_judged_query_missing_from_queries_file(tmp_path: Path) -> None:
    root = _make_dataset(tmp_path / "tiny")
    _write(root / "qrels" / "test.tsv", "q1\td1\t1\nq7\td2\t1\n")
    with pytest.raises(InvalidInputError, match="q7"):
        load_beir(root)


def test_load_real_scifact(data_dir: Path) -> None:
    if not (data_dir / "scifact").is_dir():
        pytest.skip("scifact not in the shared datasets folder")
    ds = load_beir(data_dir / "scifact", split="test")
    assert len(ds.queries) == 300
    assert sum(len(docs) for docs in ds.qrels.values()) == 339
    assert set(ds.queries) == set(ds.qrels)


def test_exclude_identical_ids() -> None:
    run: Run = {"q1": {"q1": 9.0, "d1": 1.0}, "d1": {"d1": 3.0}}
    assert exclude_identical_ids(run) == {"q1": {"d1": 1.0}, "d1": {}}
    assert run == {"q1": {"q1": 9.0, "d1": 1.0}, "d1": {"d1": 3.0}}  # input untouched


# --- TREC files -----------------------------------------------------------------------------


def test_run_file_is_deterministic_with_ties(tmp_path: Path) -> None:
    a: Run = {"q2": {"b": 0.5, "a": 0.5, "c": 0.1 + 0.2}, "q10": {"x": 1.0}}
    b: Run = {"q10": {"x": 1.0}, "q2": {"c": 0.1 + 0.2, "a": 0.5, "b": 0.5}}
    write_run(a, tmp_path / "a.run", tag="t")
    write_run(b, tmp_path / "b.run", tag="t")
    assert (tmp_path / "a.run").read_bytes() == (tmp_path / "b.run").read_bytes()
    assert (tmp_path / "a.run").read_text(encoding="utf-8").splitlines() == [
        "q10 Q0 x 1 1.0 t",
        "q2 Q0 a 1 0.5 t",
        "q2 Q0 b 2 0.5 t",
        "q2 Q0 c 3 0.30000000000000004 t",
    ]
    assert read_run(tmp_path / "a.run") == a  # exact float round trip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.run", "b.run"]  # no temp files


def test_write_run_overwrites_and_rejects_bad_tokens(tmp_path: Path) -> None:
    path = tmp_path / "r.run"
    write_run({"q": {"d": 1.0}}, path)
    write_run({"q": {"e": 2.0}}, path)
    assert read_run(path) == {"q": {"e": 2.0}}
    for bad_run, tag in [({"q": {"d 1": 1.0}}, "t"), ({"q": {"d": 1.0}}, "my tag")]:
        with pytest.raises(InvalidInputError, match="whitespace"):
            write_run(bad_run, path, tag=tag)
    with pytest.raises(InvalidInputError, match="NaN"):
        write_run({"q": {"d": float("nan")}}, path)
    assert read_run(path) == {"q": {"e": 2.0}}  # a failed write leaves the old file


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("q1 Q0 d2 2 0.5", "expected 6 fields"),
        ("q1 Q0 d2 two 0.5 t", "bad rank or score"),
        ("q1 Q0 d2 2 high t", "bad rank or score"),
        ("q1 Q0 d2 2 nan t", "NaN"),
        ("q1 Q0 d1 2 0.5 t", "repeated"),
    ],
)
def test_read_run_errors_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = _write(tmp_path / "x.run", f"q1 Q0 d1 1 0.9 t\n\n{line}\n")
    with pytest.raises(InvalidInputError, match=message) as info:
        read_run(path)
    assert str(info.value).startswith(f"{path}:3:")


def test_qrels_round_trip_and_errors(tmp_path: Path) -> None:
    qrels = {"q2": {"b": 0, "a": 3}, "q1": {"z": 1}}
    write_qrels(qrels, tmp_path / "q.txt")
    assert (tmp_path / "q.txt").read_text(encoding="utf-8") == "q1 0 z 1\nq2 0 a 3\nq2 0 b 0\n"
    assert read_trec_qrels(tmp_path / "q.txt") == qrels
    bad = _write(tmp_path / "bad.txt", "q1 0 z 1\nq1 0 y\n")
    with pytest.raises(InvalidInputError, match=r":2: expected 4 fields"):
        read_trec_qrels(bad)
    bad = _write(tmp_path / "bad2.txt", "q1 0 z one\n")
    with pytest.raises(InvalidInputError, match=r":1: grade 'one'"):
        read_trec_qrels(bad)


# --- resolve_dataset ------------------------------------------------------------------------


@pytest.fixture
def local_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    _make_dataset(data / "tiny")
    _make_dataset(data / "multi" / "en")
    monkeypatch.setenv("HYBRIDIR_DATA", str(data))
    monkeypatch.setenv("HYBRIDIR_CACHE", str(tmp_path / "cache"))
    return data


def test_resolve_by_path_and_by_name(local_data: Path) -> None:
    assert resolve_dataset(local_data / "tiny") == local_data / "tiny"
    assert resolve_dataset("tiny") == local_data / "tiny"
    assert resolve_dataset("multi/en") == local_data / "multi" / "en"
    assert load_beir("multi/en").name == "multi/en"


def test_unknown_name_lists_local_datasets(local_data: Path) -> None:
    with pytest.raises(NotFoundError, match=r"available locally: \['multi/en', 'tiny'\]"):
        resolve_dataset("no-such-dataset")
    with pytest.raises(NotFoundError):
        resolve_dataset("../data/tiny")


def test_lookup_order_data_env_then_cache_then_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, cache = tmp_path / "data", tmp_path / "cache"
    monkeypatch.setenv("HYBRIDIR_DATA", str(data))
    monkeypatch.setenv("HYBRIDIR_CACHE", str(cache))
    _make_dataset(data / "both")
    _make_dataset(cache / "datasets" / "both")
    _make_dataset(cache / "datasets" / "cached-only")
    fetched: list[tuple[str, Path]] = []

    def fake_download(name: str, into: Path) -> Path:
        fetched.append((name, into))
        return _make_dataset(into / name)

    monkeypatch.setattr(datasets, "is_official_beir", lambda name: name == "remote")
    monkeypatch.setattr(datasets, "download_beir", fake_download)

    assert resolve_dataset("both") == data / "both"  # $HYBRIDIR_DATA before the cache
    assert resolve_dataset("cached-only") == cache / "datasets" / "cached-only"
    assert fetched == []
    assert resolve_dataset("remote") == cache / "datasets" / "remote"  # in neither: downloaded
    assert fetched == [("remote", cache / "datasets")]
    assert resolve_dataset("remote") == cache / "datasets" / "remote"  # now from the cache
    assert len(fetched) == 1

    monkeypatch.delenv("HYBRIDIR_DATA")  # unset: the cache alone
    assert resolve_dataset("cached-only") == cache / "datasets" / "cached-only"
    with pytest.raises(NotFoundError, match=r"available locally: \['both', 'cached-only'"):
        resolve_dataset("no-such-dataset")


def test_names_never_resolve_beside_the_cwd_or_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old defaults (``../shared/datasets`` from the cwd or the checkout) are gone."""
    monkeypatch.delenv("HYBRIDIR_DATA", raising=False)
    monkeypatch.setenv("HYBRIDIR_CACHE", str(tmp_path / "cache"))
    _make_dataset(tmp_path / "shared" / "datasets" / "tiny")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    with pytest.raises(NotFoundError) as info:
        resolve_dataset("tiny")
    assert f"searched {[str(tmp_path / 'cache' / 'datasets')]}" in str(info.value)
    with pytest.raises(NotFoundError):
        resolve_dataset("adi")  # beside this checkout (../shared/datasets), yet not looked up


# --- download (mocked network) --------------------------------------------------------------


def _zip_of(dataset: Path, name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for file in sorted(dataset.rglob("*")):
            if file.is_file():
                zf.write(file, f"{name}/{file.relative_to(dataset).as_posix()}")
    return buffer.getvalue()


class _FakeResponse(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


@pytest.fixture
def served(tmp_path: Path, local_data: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Serve a zip of the tiny dataset as the official BEIR dataset 'tinybeir'."""
    payload = _zip_of(local_data / "tiny", "tinybeir")
    state: dict[str, Any] = {"payload": payload, "urls": [], "checksums": {}}
    state["checksums"]["tinybeir"] = hashlib.md5(payload).hexdigest()

    def fake_urlopen(url: str, timeout: float) -> _FakeResponse:
        state["urls"].append(url)
        return _FakeResponse(state["payload"])

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    monkeypatch.setattr(_download, "official_checksums", lambda: state["checksums"])
    return state


def test_download_verifies_and_unpacks_once(served: dict[str, Any], tmp_path: Path) -> None:
    path = resolve_dataset("tinybeir")
    assert path == tmp_path / "cache" / "datasets" / "tinybeir"
    assert served["urls"] == [
        "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/tinybeir.zip"
    ]
    assert load_beir("tinybeir").queries == {"q1": "query q1", "q2": "query q2"}
    assert len(served["urls"]) == 1  # the second lookup used the cache
    assert [p.name for p in (tmp_path / "cache" / "datasets").iterdir()] == ["tinybeir"]


def test_checksum_mismatch_leaves_nothing_behind(served: dict[str, Any], tmp_path: Path) -> None:
    served["checksums"]["tinybeir"] = "0" * 32
    with pytest.raises(InvalidInputError, match="checksum mismatch") as info:
        resolve_dataset("tinybeir")
    assert isinstance(info.value, HybridirError)
    assert list((tmp_path / "cache" / "datasets").glob("*")) == []


def test_corrupt_zip_leaves_nothing_behind(served: dict[str, Any], tmp_path: Path) -> None:
    served["payload"] = b"not a zip"
    served["checksums"]["tinybeir"] = hashlib.md5(b"not a zip").hexdigest()
    with pytest.raises(InvalidInputError, match="not a valid zip"):
        resolve_dataset("tinybeir")
    assert list((tmp_path / "cache" / "datasets").glob("*")) == []


def test_unknown_checksum_downloads_with_warning(
    served: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    served["checksums"]["tinybeir"] = None
    with caplog.at_level(logging.WARNING, logger="hybridir.eval._download"):
        path = resolve_dataset("tinybeir")
    assert (path / "corpus.jsonl").is_file()
    assert "no published checksum" in caplog.text


def test_checksum_table_is_packaged() -> None:
    table = _download.official_checksums()
    assert table["scifact"] == "5f7d1de60b170fc8027bb7898e2efca1"
    assert all(v is None or len(v) == 32 for v in table.values())
