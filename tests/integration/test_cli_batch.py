"""``hybridir search COLLECTION --topics FILE --output RUN`` (batch search) and the ``--json``
objects of ``index``, ``add``, ``delete``, ``check`` and ``optimize``, in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hybridir.cli import main
from hybridir.eval.datasets import load_beir
from hybridir.eval.trec import read_run


def last_json(out: str) -> dict[str, object]:
    data = json.loads(out.strip().splitlines()[-1])
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def adi(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ADI indexed with BM25 only."""
    col = tmp_path_factory.mktemp("adi") / "col"
    args = ["index", str(data_dir / "adi"), str(col), "--dense", "none", "--language", "en"]
    assert main(args) == 0
    return col


@pytest.fixture(scope="module")
def topics(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """ADI's test queries as a TSV and as a BEIR JSONL topics file."""
    queries = load_beir(data_dir / "adi").queries
    folder = tmp_path_factory.mktemp("topics")
    tsv, jsonl = folder / "queries.tsv", folder / "queries.jsonl"
    tsv.write_text("".join(f"{q}\t{t}\n" for q, t in queries.items()), encoding="utf-8")
    jsonl.write_text(
        "".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in queries.items()),
        encoding="utf-8",
    )
    return {"tsv": tsv, "jsonl": jsonl}


def test_batch_run_equals_evaluates_run(
    adi: Path, topics: dict[str, Path], data_dir: Path, tmp_path: Path
) -> None:
    evaluated = tmp_path / "evaluate.trec"
    args = ["evaluate", str(data_dir / "adi"), "--language", "en", "--depth", "100"]
    assert main([*args, "--save-run", str(evaluated)]) == 0
    for fmt, path in topics.items():
        run = tmp_path / f"{fmt}.trec"
        assert main(["search", str(adi), "--topics", str(path), "--output", str(run)]) == 0
        assert read_run(run) == read_run(evaluated) != {}
        assert len(read_run(run)["1"]) == 52  # every match: --hits defaults to 1000, not 10
    by_name = tmp_path / "name.trec"
    argv = ["search", str(adi), "--topics", str(data_dir / "adi"), "-o", str(by_name)]
    assert main([*argv, "--hits", "100", "--run-tag", "bm25-adi", "--batch-size", "7"]) == 0
    lines = by_name.read_text(encoding="utf-8").splitlines()
    assert lines == [
        line.rsplit(" ", 1)[0] + " bm25-adi"
        for line in evaluated.read_text(encoding="utf-8").splitlines()
    ]


def test_tsv_and_jsonl_topics_give_the_same_run_in_every_format(
    adi: Path, topics: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    written: dict[str, list[bytes]] = {}
    for fmt in ("trec", "msmarco", "jsonl"):
        for kind, path in topics.items():
            out = tmp_path / f"{kind}.{fmt}"
            argv = ["search", str(adi), "--topics", str(path), "--output", str(out), "-k", "5"]
            assert main([*argv, "--output-format", fmt, "--json"]) == 0
            summary = last_json(capsys.readouterr().out)
            assert summary["queries"] == 35
            assert summary["format"] == fmt
            written.setdefault(fmt, []).append(out.read_bytes())
        assert written[fmt][0] == written[fmt][1]
    trec = [line.split() for line in written["trec"][0].decode().splitlines()]
    msmarco = [line.split("\t") for line in written["msmarco"][0].decode().splitlines()]
    assert msmarco == [[q, d, r] for q, _, d, r, _, _ in trec]
    records = [json.loads(line) for line in written["jsonl"][0].decode().splitlines()]
    assert [
        (r["qid"], h["doc_id"], str(h["rank"]), repr(h["score"]))
        for r in records
        for h in r["hits"]
    ] == [(q, d, r, s) for q, _, d, r, s, _ in trec]


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("bad.tsv", "1\tfirst query\n\n2 no tab here\n", "bad.tsv:3: expected 'id<TAB>text'"),
        ("dup.tsv", "1\tone\n1\tagain\n", "dup.tsv:2: duplicate id '1'"),
        ("empty.tsv", "1\t  \n", "empty.tsv:1: empty text"),
        ("bad.jsonl", '{"_id": "1", "text": "ok"}\n{"_id": "2", "text": \n', "bad.jsonl:2:"),
        ("noid.jsonl", '{"text": "no id"}\n', "noid.jsonl:1: missing or invalid '_id'"),
    ],
)
def test_malformed_topics_name_file_and_line(
    adi: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    text: str,
    where: str,
) -> None:
    bad = tmp_path / name
    bad.write_text(text, encoding="utf-8")
    run = tmp_path / "run.trec"
    assert main(["search", str(adi), "--topics", str(bad), "--output", str(run)]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ")
    assert "\n" not in error
    assert f"{tmp_path / where}" in error
    assert not run.exists()


def test_unwritable_output_is_one_clear_error_and_writes_nothing(
    adi: Path, topics: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["search", str(adi), "--topics", str(topics["tsv"]), "--output"]
    missing = tmp_path / "no-such-folder" / "run.trec"
    assert main([*base, str(missing)]) == 1
    err = capsys.readouterr().err
    assert err == f"error: cannot write {missing}: folder {missing.parent} does not exist\n"
    assert main([*base, str(tmp_path)]) == 1
    assert f"error: cannot write {tmp_path}: it is a folder" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    kept = tmp_path / "kept.trec"
    kept.write_text("old\n", encoding="utf-8")
    bad = tmp_path / "bad.tsv"
    bad.write_text("1\tok\nbroken\n", encoding="utf-8")
    argv = ["search", str(adi), "--topics", str(bad), "--output", str(kept)]
    assert main(argv) == 1
    assert kept.read_text(encoding="utf-8") == "old\n"  # a failed batch leaves the old run
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tsv", "kept.trec"]


def test_query_and_topics_usage(
    adi: Path, topics: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", str(adi)]) == 1
    assert "give a QUERY, or --topics FILE" in capsys.readouterr().err
    assert main(["search", str(adi), "q", "--topics", str(topics["tsv"]), "-o", "x"]) == 1
    assert "not both" in capsys.readouterr().err
    assert main(["search", str(adi), "--topics", str(topics["tsv"])]) == 1
    assert "--topics needs --output" in capsys.readouterr().err
    argv = ["search", str(adi), "--topics", str(topics["tsv"]), "-o", "x", "--output-format", "csv"]
    assert main(argv) == 1
    assert (
        "unknown output format 'csv'; valid: ['jsonl', 'msmarco', 'trec']"
        in capsys.readouterr().err
    )


def test_a_mistyped_topics_file_and_zero_hits_are_named(
    adi: Path, topics: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run.trec"
    missing = tmp_path / "querys.tsv"
    assert main(["search", str(adi), "--topics", str(missing), "--output", str(run)]) == 1
    assert f"file not found: {missing}" in capsys.readouterr().err  # not "dataset not found"
    argv = ["search", str(adi), "--topics", str(topics["tsv"]), "--output", str(run)]
    assert main([*argv, "--hits", "0"]) == 1  # 0 is not "the default of 1000"
    assert "k must be >= 1, got 0" in capsys.readouterr().err
    assert not run.exists()


def test_maintenance_commands_print_one_json_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    col = str(tmp_path / "col")
    first = tmp_path / "a.jsonl"
    first.write_text(
        "".join(f'{{"_id": "{i}", "text": "red {i}"}}\n' for i in ("a", "x", "y")),
        encoding="utf-8",
    )
    more = tmp_path / "b.jsonl"
    more.write_text(
        '{"_id": "b", "text": "green pears"}\n{"_id": "c", "text": "red cherries"}\n',
        encoding="utf-8",
    )
    assert main(["index", str(first), col, "--dense", "none", "--language", "en", "--json"]) == 0
    made = last_json(capsys.readouterr().out)
    assert (made["documents"], made["passages"], made["generation"]) == (3, 3, 1)
    assert made["lists"] == ["bm25"]
    assert isinstance(made["seconds"], float)
    assert main(["add", col, str(more), "--json"]) == 0
    added = last_json(capsys.readouterr().out)
    assert (added["written"], added["documents_stored"], added["generation"]) == (2, 5, 2)
    assert main(["delete", col, "a", "--json"]) == 0
    deleted = last_json(capsys.readouterr().out)
    assert (deleted["deleted"], deleted["documents"], deleted["generation"]) == (1, 4, 3)
    assert main(["check", col, "--json"]) == 0
    checked = last_json(capsys.readouterr().out)
    assert checked["ok"] is True
    assert checked["problems"] == checked["orphans"] == []
    assert (checked["documents"], checked["segments"], checked["generation"]) == (4, 2, 3)
    assert main(["optimize", col, "--json"]) == 0
    optimized = last_json(capsys.readouterr().out)
    assert (optimized["segments_before"], optimized["segments"], optimized["documents"]) == (
        2,
        1,
        4,
    )
    assert optimized["generation"] == 4
    damaged = next(p for p in sorted((tmp_path / "col").glob("seg-*/**/*")) if p.is_file())
    damaged.write_bytes(damaged.read_bytes() + b"\0")
    assert main(["check", col, "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # no object for a collection that does not open: one error
    assert captured.err.startswith("error: ")
    assert damaged.name in captured.err
