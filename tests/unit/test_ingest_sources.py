"""Reading own documents: folders of real files (made by fpdf2, pypdf, python-docx), table
files with default and explicit field names, and BEIR folders, through ``load_source``."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import docx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pypdf import PdfReader, PdfWriter

from hybridir.errors import ConfigError, InvalidInputError, NotFoundError
from hybridir.ingest.document import Block, Loaded, SourceError
from hybridir.ingest.readers import READERS
from hybridir.ingest.sources import SourceDocuments, load_source, matches
from hybridir.types import Document
from own_docs import ENCRYPTED_REASON, IMAGE_ONLY_REASON, PDF_PAGES, make_folder, make_pdf


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("own") / "docs"
    return root, make_folder(root)


@pytest.fixture(scope="module")
def loaded(folder: tuple[Path, dict[str, Any]]) -> tuple[dict[str, Loaded], SourceDocuments]:
    docs = load_source(folder[0])
    return {d.doc_id: d for d in docs}, docs


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    return path


# -- folders of files --------------------------------------------------------------------------


def test_folder_reads_ids_titles_and_reports_skips(
    folder: tuple[Path, dict[str, Any]], loaded: tuple[dict[str, Loaded], SourceDocuments]
) -> None:
    _, expected = folder
    by_id, docs = loaded
    assert list(by_id) == [
        "memo.docx",
        "notes.txt",
        "guides/page.html",
        "guides/setup.md",
        "papers/report.pdf",
    ]  # root files first, then folders, each sorted
    assert sorted(by_id) == expected["ids"]
    assert {i: d.title for i, d in by_id.items()} == expected["titles"]
    report = docs.report
    assert report.kind == "files"
    assert report.complete
    assert report.loaded == 5
    assert report.formats == expected["formats"]
    assert report.unsupported == expected["unsupported"]
    skipped = dict(report.skipped)
    assert sorted(skipped) == sorted(expected["skipped"])
    for where, reason in expected["skipped"].items():
        assert skipped[where].startswith(reason), (where, skipped[where])
    assert skipped["papers/locked.pdf"] == ENCRYPTED_REASON
    assert skipped["papers/scan.pdf"] == IMAGE_ONLY_REASON
    assert skipped["papers/broken.pdf"].startswith("not a readable pdf file (")
    for hidden in expected["hidden"]:
        assert hidden not in by_id
        assert hidden not in skipped
    assert "read 5 documents" in report.summary()
    assert report.to_dict()["skipped"][0] == {"where": "empty.txt", "reason": "empty file"}


def test_file_metadata_is_path_mtime_hash_and_format(
    folder: tuple[Path, dict[str, Any]], loaded: tuple[dict[str, Loaded], SourceDocuments]
) -> None:
    root, _ = folder
    by_id, docs = loaded
    assert docs.report.metadata_fields == {"path", "modified", "sha256", "format"}
    formats = {
        "memo.docx": "docx",
        "notes.txt": "text",
        "guides/page.html": "html",
        "guides/setup.md": "markdown",
        "papers/report.pdf": "pdf",
    }
    for doc_id, doc in by_id.items():
        file = root / doc_id
        assert set(doc.metadata) == {"path", "modified", "sha256", "format"}
        assert doc.metadata["path"] == doc_id
        assert doc.metadata["format"] == formats[doc_id]
        assert doc.metadata["sha256"] == hashlib.sha256(file.read_bytes()).hexdigest()
        modified = dt.datetime.fromisoformat(doc.metadata["modified"])
        assert modified.utcoffset() == dt.timedelta(0)
        assert modified.timestamp() == int(file.stat().st_mtime)


def test_markdown_headings_give_the_heading_path(
    loaded: tuple[dict[str, Loaded], SourceDocuments],
) -> None:
    doc = loaded[0]["guides/setup.md"]
    guide, req = ("Setup guide",), ("Setup guide", "Requirements")
    assert doc.blocks == (
        Block("Setup guide", guide, None, "heading"),
        Block("Install the package with pip before the first run.", guide),
        Block("Requirements", req, None, "heading"),
        Block(
            "- Python 3.11 or newer\n- a C compiler\n  - only for the optional extras",
            req,
            None,
            "list",
        ),
        Block("pip install hybridir", req, None, "code"),
        Block("extra | what for\nfiles | PDF and Word readers", req, None, "table"),
        Block("Optional GPU", (*req, "Optional GPU"), None, "heading"),
        Block("GPU support speeds up dense encoding.", (*req, "Optional GPU")),
    )


def test_html_reads_main_text_without_page_chrome(
    loaded: tuple[dict[str, Loaded], SourceDocuments],
) -> None:
    doc = loaded[0]["guides/page.html"]
    assert doc.title == "Hybrid search explained"
    assert "Junk" not in doc.text
    top, fusion = ("Hybrid retrieval",), ("Hybrid retrieval", "Fusion")
    assert doc.blocks == (
        Block("Hybrid retrieval", top, None, "heading"),
        Block("Dense and sparse result lists are fused into one ranking.", top),
        Block("Fusion", fusion, None, "heading"),
        Block("Reciprocal rank fusion adds one over sixty plus the rank.", fusion),
        Block("- BM25 finds exact terms\n- embeddings find paraphrases", fusion, None, "list"),
    )


def test_html_title_falls_back_to_the_first_h1_and_keeps_an_articles_header(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.htm").write_text(
        "<html><body><header>Site</header><main><header><h2>Kicker</h2><h1>Story</h1>"
        "</header><p>Body <i>text</i><br>more</p><nav>menu</nav></main>"
        "<footer>foot</footer></body></html>",
        "utf-8",
    )
    (doc,) = load_source(tmp_path)
    assert doc.title == "Story"
    assert [b.text for b in doc.blocks] == ["Kicker", "Story", "Body text more"]
    assert doc.blocks[2].headings == ("Story",)


def test_pdf_has_one_block_per_page_and_the_metadata_title(
    loaded: tuple[dict[str, Loaded], SourceDocuments],
) -> None:
    doc = loaded[0]["papers/report.pdf"]
    assert doc.title == "Quarterly report"
    assert [(b.page, b.text) for b in doc.blocks] == [(1, PDF_PAGES[0]), (2, PDF_PAGES[1])]


def test_docx_headings_paragraphs_lists_and_tables(
    loaded: tuple[dict[str, Loaded], SourceDocuments],
) -> None:
    doc = loaded[0]["memo.docx"]
    memo, owners = ("Team memo",), ("Team memo", "Owners")
    assert doc.blocks == (
        Block("Team memo", memo, None, "heading"),
        Block("The search service moves to the new cluster on Monday.", memo),
        Block("Queries keep working during the move.", memo),
        Block("Owners", owners, None, "heading"),
        Block("- Alice runs the migration\n- Bob watches the dashboards", owners, None, "list"),
        Block("service | owner\nsearch | Alice", owners, None, "table"),
    )


def test_text_file_paragraphs_and_first_line_title(
    loaded: tuple[dict[str, Loaded], SourceDocuments],
) -> None:
    doc = loaded[0]["notes.txt"]
    assert doc.title == "Release notes"
    assert [b.text for b in doc.blocks] == [
        "Release notes\nVersion 2.0",
        "Hybrid search fuses BM25 and dense lists.",
    ]


def test_to_document_joins_blocks_with_blank_lines(
    loaded: tuple[dict[str, Loaded], SourceDocuments],
) -> None:
    doc = loaded[0]["papers/report.pdf"]
    assert doc.to_document() == Document(
        "papers/report.pdf",
        f"{PDF_PAGES[0]}\n\n{PDF_PAGES[1]}",
        "Quarterly report",
        dict(doc.metadata),
    )
    assert Loaded("x", "", (Block("a"), Block("  "), Block("b"))).text == "a\n\nb"


def test_documents_yields_whole_documents(folder: tuple[Path, dict[str, Any]]) -> None:
    docs = list(load_source(folder[0] / "notes.txt").documents())
    assert [(d.doc_id, d.title) for d in docs] == [("notes.txt", "Release notes")]
    assert docs[0].text == "Release notes\nVersion 2.0\n\nHybrid search fuses BM25 and dense lists."


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("papers/locked.pdf", ENCRYPTED_REASON),
        ("papers/scan.pdf", IMAGE_ONLY_REASON),
        ("empty.txt", "empty file"),
    ],
)
def test_fail_mode_raises_a_typed_error_naming_the_file(
    folder: tuple[Path, dict[str, Any]], name: str, reason: str
) -> None:
    file = folder[0] / name
    with pytest.raises(SourceError) as info:
        list(load_source(file, on_error="fail"))
    assert (info.value.where, info.value.reason) == (file.name, reason)
    assert str(info.value) == f"{file.name}: {reason}"
    assert isinstance(info.value, InvalidInputError)


def test_fail_mode_on_a_folder_stops_at_the_first_bad_file(
    folder: tuple[Path, dict[str, Any]],
) -> None:
    with pytest.raises(SourceError, match=r"^papers/broken\.pdf: not a readable pdf file"):
        list(load_source(folder[0], glob="papers/*", on_error="fail"))


def test_skip_mode_names_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "latin.txt").write_bytes("café".encode("latin-1"))
    (tmp_path / "bin.md").write_bytes(b"a\x00b")
    docs = load_source(tmp_path)
    assert list(docs) == []
    assert docs.report.skipped == [
        ("bin.md", "binary content (NUL bytes) in a text file"),
        ("latin.txt", "not UTF-8 text (invalid byte at offset 3)"),
    ]


def test_glob_option_and_glob_sources(folder: tuple[Path, dict[str, Any]]) -> None:
    root = folder[0]
    assert [d.doc_id for d in load_source(root, glob="*.md")] == ["guides/setup.md"]
    assert [d.doc_id for d in load_source(root, glob="guides/*")] == [
        "guides/page.html",
        "guides/setup.md",
    ]
    assert [d.doc_id for d in load_source(f"{root}/guides/*.md")] == ["setup.md"]
    top = load_source(f"{root}/*.txt")  # as a shell globs: the top folder only
    assert [d.doc_id for d in top] == ["notes.txt"]
    assert top.report.skipped == [("empty.txt", "empty file")]
    pdfs = load_source(f"{root}/**/*.pdf")
    assert [d.doc_id for d in pdfs] == ["papers/report.pdf"]
    assert len(pdfs.report.skipped) == 3
    assert pdfs.report.unsupported == {}
    assert [d.doc_id for d in load_source(root / "guides" / "page.html")] == ["page.html"]


def test_matches() -> None:
    assert matches("guides/setup.md", "*.md")  # a bare name pattern matches at any depth
    assert not matches("guides/setup.md", "*.md", anywhere=False)
    assert matches("setup.md", "**/*.md")
    assert matches("a/b/c.md", "a/**/*.md")
    assert matches("a/c.md", "a/**/*.md")
    assert not matches("a/b/c.md", "a/*.md")  # * stays within one folder
    assert not matches("guides/setup.md", "guides/*.txt")
    assert matches("x1.md", "x[0-9].md")
    assert not matches("x1.md", "x[!0-9].md")
    assert matches("a/b.c", "**")


def test_a_second_pass_starts_the_report_afresh(folder: tuple[Path, dict[str, Any]]) -> None:
    docs = load_source(folder[0], glob="*.txt")
    assert [d.doc_id for d in docs] == [d.doc_id for d in docs] == ["notes.txt"]
    assert docs.report.loaded == 1
    assert docs.report.skipped == [("empty.txt", "empty file")]


def test_missing_sources_list_what_a_source_can_be(tmp_path: Path) -> None:
    for missing in (tmp_path / "nope", str(tmp_path / "gone.md"), "./no/such.jsonl"):
        with pytest.raises(NotFoundError, match="a SOURCE is a folder of documents"):
            load_source(missing)
    with pytest.raises(NotFoundError, match="does not exist"):
        load_source(f"{tmp_path}/absent/*.md")


def test_an_unknown_name_is_neither_dataset_nor_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYBRIDIR_DATA", str(tmp_path))
    monkeypatch.setenv("HYBRIDIR_CACHE", str(tmp_path / "cache"))
    with pytest.raises(NotFoundError, match=r"no-such-dataset-xyz.*a SOURCE is"):
        load_source("no-such-dataset-xyz")


def test_a_file_no_reader_takes_is_a_typed_error(tmp_path: Path) -> None:
    (tmp_path / "photo.png").write_bytes(b"\x89PNG")
    with pytest.raises(InvalidInputError, match=r"photo\.png: no reader takes \.png"):
        load_source(tmp_path / "photo.png")


def test_bad_options_are_config_errors(folder: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    table = _write_jsonl(tmp_path / "t.jsonl", [{"_id": "1", "text": "x"}])
    with pytest.raises(ConfigError, match="text_field apply to table files only"):
        load_source(folder[0], text_field="body")
    with pytest.raises(ConfigError, match="glob= applies to a folder"):
        load_source(table, glob="*.md")
    with pytest.raises(ConfigError, match="on_error must be one of"):
        load_source(table, on_error="ignore")  # type: ignore[arg-type]


def test_every_reader_suffix_is_lower_case_and_dotted() -> None:
    assert all(s.startswith(".") and s == s.lower() for s in READERS)
    assert {r.format for r in READERS.values()} == {"text", "markdown", "html", "pdf", "docx"}


def test_a_pdf_with_only_an_owner_password_opens_and_titles_by_first_line(
    tmp_path: Path,
) -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(("Plain words here.",)))))
    writer.encrypt(user_password="", owner_password="owner")  # restrictions only
    with (tmp_path / "open.pdf").open("wb") as handle:
        writer.write(handle)
    (doc,) = load_source(tmp_path / "open.pdf")
    assert (doc.title, doc.blocks) == ("Plain words here.", (Block("Plain words here.", (), 1),))


def test_docx_core_title_wins_over_the_first_heading(tmp_path: Path) -> None:
    document = docx.Document()
    document.core_properties.title = "Official title"
    document.add_heading("Shown heading", level=2)
    document.add_paragraph("Text.")
    document.save(str(tmp_path / "t.docx"))
    (doc,) = load_source(tmp_path / "t.docx")
    assert doc.title == "Official title"
    assert doc.blocks[1] == Block("Text.", ("Shown heading",))


def test_markdown_details(tmp_path: Path) -> None:
    (tmp_path / "d.md").write_text(
        "Lead text ![a diagram](d.png)\n\n## Second\n\n3. three\n4. four\n\n> quoted\n\n"
        "<div>raw <b>html</b></div>\n\n# Top\n\nend\n",
        "utf-8",
    )
    (doc,) = load_source(tmp_path / "d.md")
    assert doc.title == "Second"  # the first heading, whatever its level
    assert [(b.text, b.headings, b.kind) for b in doc.blocks] == [
        ("Lead text a diagram", (), "paragraph"),
        ("Second", ("Second",), "heading"),
        ("3. three\n4. four", ("Second",), "list"),
        ("quoted", ("Second",), "paragraph"),
        ("raw html", ("Second",), "paragraph"),
        ("Top", ("Top",), "heading"),
        ("end", ("Top",), "paragraph"),
    ]


def test_html_in_a_declared_charset(tmp_path: Path) -> None:
    page = '<html><head><meta charset="iso-8859-2"></head><body><p>Zażółć</p></body></html>'
    (tmp_path / "pl.html").write_bytes(page.encode("iso-8859-2"))
    (doc,) = load_source(tmp_path / "pl.html")
    assert (doc.title, doc.text) == ("", "Zażółć")


# -- tables ------------------------------------------------------------------------------------


def test_jsonl_defaults_keep_every_other_field_and_merge_nested_metadata(tmp_path: Path) -> None:
    rows = [
        {
            "_id": "d1",
            "title": "One",
            "text": "first",
            "lang": "en",
            "metadata": {"url": "u1", "lang": "xx"},
        },
        {"_id": 2, "text": "second", "lang": "pl"},
    ]
    docs = load_source(_write_jsonl(tmp_path / "corpus.jsonl", rows))
    got = list(docs)
    assert [(d.doc_id, d.title, d.text) for d in got] == [
        ("d1", "One", "first"),
        ("2", "", "second"),
    ]
    assert got[0].metadata == {"url": "u1", "lang": "en"}  # a top-level field wins
    assert got[1].metadata == {"lang": "pl"}
    assert docs.report.kind == "table"
    assert docs.report.fields == {"id": "_id", "text": "text", "title": "title"}
    assert docs.report.metadata_fields == {"lang", "url"}
    assert docs.report.formats == {"jsonl": 2}


def test_pyserini_jsonl_id_and_contents(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "docs.jsonl", [{"id": "p1", "contents": "hello", "src": "w"}])
    docs = load_source(path)
    (doc,) = docs
    assert (doc.doc_id, doc.title, doc.text, dict(doc.metadata)) == (
        "p1",
        "",
        "hello",
        {"src": "w"},
    )
    assert doc.blocks == (Block("hello"),)
    assert docs.report.fields == {"id": "id", "text": "contents", "title": "title"}


def test_explicit_field_names_and_metadata_selection(tmp_path: Path) -> None:
    path = _write_jsonl(
        tmp_path / "x.jsonl",
        [{"key": "k1", "body_text": "b", "heading": "H", "id": "not-the-id", "a": 1, "b": 2}],
    )
    docs = load_source(
        path,
        id_field="key",
        text_field="body_text",
        title_field="heading",
        metadata_fields=["a", "id"],
    )
    (doc,) = docs
    assert (doc.doc_id, doc.title, doc.text) == ("k1", "H", "b")
    assert doc.metadata == {"id": "not-the-id", "a": 1}
    assert docs.report.dropped_fields == {"b"}
    assert docs.report.metadata_fields == {"a", "id"}
    assert "fields left out: b" in docs.report.summary()


def test_a_row_without_an_id_names_its_line(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "c.jsonl", [{"_id": "1", "text": "a"}, {"text": "b"}])
    with pytest.raises(InvalidInputError, match=r"c\.jsonl:2: missing or empty id"):
        list(load_source(path))


def test_a_table_without_an_id_or_text_column_says_which_to_name(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "c.jsonl", [{"name": "1", "text": "a"}])
    with pytest.raises(InvalidInputError, match=r"no id column \(looked for _id, id, docid\)"):
        list(load_source(path))
    with pytest.raises(InvalidInputError, match="no text column 'txt'"):
        list(load_source(path, id_field="name", text_field="txt"))


def test_a_repeated_id_is_an_error(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "c.jsonl", [{"id": "1", "text": "a"}, {"id": 1, "text": "b"}])
    with pytest.raises(InvalidInputError, match=r"c\.jsonl:2: duplicate id '1'"):
        list(load_source(path))


def test_a_row_without_text_is_skipped_or_fails(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "c.jsonl", [{"id": "1", "text": " "}, {"id": "2", "text": "b"}])
    docs = load_source(path)
    assert [d.doc_id for d in docs] == ["2"]
    assert docs.report.skipped == [(f"{path}:1", "no text (id '1')")]
    with pytest.raises(SourceError, match=r"c\.jsonl:1: no text"):
        list(load_source(path, on_error="fail"))


def test_csv_with_quoted_fields_and_a_long_text(tmp_path: Path) -> None:
    path = tmp_path / "docs.csv"
    long_text = "word " * 40_000  # over the csv module's default 131,072-character field limit
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["docid", "title", "body", "year"])
        writer.writerow(["a", "Comma, title", 'says "hi"\nover two lines', "2020"])
        writer.writerow(["b", "", long_text, ""])
    docs = load_source(path)
    got = list(docs)
    assert [(d.doc_id, d.title, d.text) for d in got] == [
        ("a", "Comma, title", 'says "hi"\nover two lines'),
        ("b", "", long_text),
    ]
    assert got[0].metadata == {"year": "2020"}  # CSV carries no types
    assert docs.report.fields == {"id": "docid", "text": "body", "title": "title"}
    assert docs.report.skipped == []


def test_tsv_keeps_quotes_as_text(tmp_path: Path) -> None:
    path = tmp_path / "collection.tsv"
    path.write_text('id\tcontents\n7\t"quoted" start\n', "utf-8")
    (doc,) = load_source(path)
    assert (doc.doc_id, doc.text) == ("7", '"quoted" start')


def test_csv_row_with_extra_fields_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id,text\n1,a\n2,b,extra\n", "utf-8")
    with pytest.raises(InvalidInputError, match=r"bad\.csv:3: more fields than the header"):
        list(load_source(path))


def test_parquet_rows_with_typed_columns(tmp_path: Path) -> None:
    path = tmp_path / "docs.parquet"
    table = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "title": ["First", None],
            "text": ["alpha", "beta"],
            "score": [0.5, float("nan")],
            "tags": [["x", "y"], []],
            "published": pa.array([dt.datetime(2024, 5, 1, 12, 0), None], pa.timestamp("s")),
            "metadata": [{"lang": "en"}, {"lang": "pl"}],
        }
    )
    pq.write_table(table, path)
    docs = load_source(path)
    got = list(docs)
    assert [(d.doc_id, d.title, d.text) for d in got] == [
        ("1", "First", "alpha"),
        ("2", "", "beta"),
    ]
    assert got[0].metadata == {
        "lang": "en",
        "score": 0.5,
        "tags": ["x", "y"],
        "published": "2024-05-01T12:00:00",
    }
    assert got[1].metadata == {"lang": "pl", "score": None, "tags": [], "published": None}
    assert docs.report.formats == {"parquet": 2}
    assert json.dumps([dict(d.metadata) for d in got])  # JSON-ready


def test_a_binary_parquet_column_must_be_left_out(tmp_path: Path) -> None:
    path = tmp_path / "b.parquet"
    pq.write_table(pa.table({"id": ["1"], "text": ["t"], "blob": [b"\x00"]}), path)
    with pytest.raises(InvalidInputError, match=r"row 1: field 'blob'.*bytes.*metadata_fields"):
        list(load_source(path))
    (doc,) = load_source(path, metadata_fields=[])
    assert doc.metadata == {}


def test_a_broken_parquet_file_is_a_typed_error(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(InvalidInputError, match="not a readable Parquet file"):
        list(load_source(path))


# -- BEIR --------------------------------------------------------------------------------------


def _beir(root: Path) -> Path:
    root.mkdir(parents=True)
    _write_jsonl(
        root / "corpus.jsonl",
        [
            {"_id": "d1", "title": "T1", "text": "one", "metadata": {"year": 1999}},
            {"_id": "d2", "title": "", "text": ""},
        ],
    )
    return root


def test_a_beir_folder_reads_through_the_eval_reader(tmp_path: Path) -> None:
    docs = load_source(_beir(tmp_path / "tiny"))
    got = list(docs)
    assert got == [
        Loaded("d1", "T1", (Block("one"),), {"year": 1999}),
        Loaded("d2", "", (), {}),  # empty documents are kept: judgments may name them
    ]
    assert docs.report.kind == "beir"
    assert docs.report.formats == {"beir": 2}
    assert docs.report.metadata_fields == {"year"}
    assert docs.report.fields == {"id": "_id", "text": "text", "title": "title"}


def test_a_dataset_name_resolves_like_the_eval_loader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _beir(tmp_path / "group" / "tiny")
    monkeypatch.setenv("HYBRIDIR_DATA", str(tmp_path))
    docs = load_source("group/tiny")
    assert [d.doc_id for d in docs] == ["d1", "d2"]
    assert docs.report.kind == "beir"


def test_the_shared_adi_collection(data_dir: Path) -> None:
    docs = load_source(data_dir / "adi")
    first = next(iter(docs))
    assert first.doc_id == "1"
    assert len(first.blocks) == 1
    assert sum(1 for _ in docs) == 82
