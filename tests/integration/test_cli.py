"""The CLI in-process through ``main(argv)``: outputs, JSON last lines and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hybridir.cli import main
from hybridir.eval.trec import read_run

PYSERINI_SCIFACT_NDCG10 = 0.6789  # Pyserini BM25 flat, k1=0.9, b=0.4 (BEIR regressions)


def last_json(out: str) -> dict[str, object]:
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_index_then_search_json(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["index", str(data_dir / "adi"), str(tmp_path / "col"), "--dense", "none"]) == 0
    assert "indexed 82 documents" in capsys.readouterr().out
    assert (
        main(["search", str(tmp_path / "col"), "information retrieval", "-k", "3", "--json"]) == 0
    )
    result = last_json(capsys.readouterr().out)
    hits = result["hits"]
    assert isinstance(hits, list)
    assert len(hits) == 3
    assert [h["rank"] for h in hits] == [1, 2, 3]
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]
    assert hits[0]["lists"][0]["matched_terms"] == ["inform", "retriev"]
    assert main(["search", str(tmp_path / "col"), "information retrieval"]) == 0
    assert "matched terms" in capsys.readouterr().out


def test_evaluate_scifact_matches_pyserini(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_file = tmp_path / "bm25.run"
    code = main(
        [
            "evaluate",
            str(data_dir / "scifact"),
            "--retriever",
            "bm25",
            "--k1",
            "0.9",
            "--b",
            "0.4",
            "--metrics",
            "ndcg@10,recall@100",
            "--save-run",
            str(run_file),
            "--json",
        ]
    )
    assert code == 0
    scores = last_json(capsys.readouterr().out)
    assert scores["queries"] == 300
    assert abs(float(scores["ndcg@10"]) - PYSERINI_SCIFACT_NDCG10) <= 0.005  # type: ignore[arg-type]
    assert float(scores["recall@100"]) > 0.9  # type: ignore[arg-type]
    run = read_run(run_file)
    assert len(run) == 300
    assert max(len(hits) for hits in run.values()) == 1000


def test_evaluate_by_dataset_name_and_identical_id_rule(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYBRIDIR_DATA", str(data_dir))
    assert main(["evaluate", "adi", "--ignore-identical-ids", "--json"]) == 0
    scores = last_json(capsys.readouterr().out)
    assert scores["queries"] == 35
    assert set(scores) == {"ndcg@10", "recall@100", "mrr@10", "map@100", "queries"}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["index", "{tmp}/missing.jsonl", "{tmp}/c"], "missing.jsonl does not exist"),
        (["index", "{tmp}/bad.jsonl", "{tmp}/c"], "bad.jsonl:2: malformed JSON"),
        (["index", "{tmp}/empty.jsonl", "{tmp}/c"], "no readable documents"),
        (
            ["index", "{tmp}/good.jsonl", "{tmp}/c", "--language", "klingon"],
            "unknown language 'klingon'",
        ),
        (["index", "{tmp}/good.jsonl", "{tmp}/c", "--k1", "-1"], "k1 must be a finite number >= 0"),
        (["index", "{tmp}/good.jsonl", "{tmp}/c", "--variant", "okapi"], "unknown BM25 variant"),
        (["search", "{tmp}/nowhere", "q"], "not a hybridir collection"),
        (["evaluate", "{tmp}/nowhere-dataset"], "not found"),
        (["evaluate", "{data}/adi", "--metrics", "ndcg@zero"], "ndcg@zero"),
        (["evaluate", "{data}/adi", "--split", "dev"], "split 'dev' not found"),
        (["evaluate", "{data}/adi", "--retriever", "magic"], "unknown retriever 'magic'"),
        # Refused before the evaluation runs, not after it.
        (["evaluate", "{data}/adi", "--save-run", "{tmp}/no/x.run"], "/no does not exist"),
    ],
)
def test_errors_are_one_line_and_nonzero(
    argv: list[str],
    message: str,
    tmp_path: Path,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write(tmp_path / "bad.jsonl", '{"_id": "1", "text": "fine"}\n{"_id": 2, "text": oops}\n')
    write(tmp_path / "empty.jsonl", "")
    write(tmp_path / "good.jsonl", '{"_id": "1", "text": "fine"}\n')
    args = [a.format(tmp=tmp_path, data=data_dir) for a in argv]
    assert main(args) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    assert "Traceback" not in captured.err + captured.out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search"]) == 2
    assert main(["index", "x", "y", "--k1", "abc"]) == 2
    # A port outside TCP's range was an OverflowError from bind().
    for port in ("-1", "65536"):
        assert main(["serve", "x", "--port", port]) == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Path:
    monkeypatch.setenv("HYBRIDIR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HYBRIDIR_DATA", str(data_dir))
    return tmp_path


def test_hybrid_index_search_and_evaluate(
    private_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    col = str(private_cache / "col")
    assert (
        main(
            [
                "index",
                "adi",
                col,
                "--dense",
                "all-MiniLM-L6-v2",
                "--fusion",
                "convex",
                "--alpha",
                "0.6",
            ]
        )
        == 0
    )
    assert "82 vectors" in capsys.readouterr().out
    assert main(["search", col, "computer based information retrieval", "-k", "5", "--json"]) == 0
    hits = last_json(capsys.readouterr().out)["hits"]
    assert isinstance(hits, list)
    assert len(hits) == 5
    assert {part["retriever"] for part in hits[0]["lists"]} == {"bm25", "dense"}
    assert main(["search", col, "library automation", "--retriever", "dense", "--json"]) == 0
    dense_hits = last_json(capsys.readouterr().out)["hits"]
    assert isinstance(dense_hits, list)
    assert [p["retriever"] for p in dense_hits[0]["lists"]] == ["dense"]
    scores = {}
    for retriever in ("bm25", "dense", "hybrid"):
        assert (
            main(
                [
                    "evaluate",
                    "adi",
                    "--retriever",
                    retriever,
                    "--json",
                    "--metrics",
                    "ndcg@10,recall@100",
                ]
            )
            == 0
        )
        scores[retriever] = last_json(capsys.readouterr().out)
    # MiniLM on ADI reproduces the reference (REFERENCE.md: 0.4975), and RRF beats both lists.
    assert float(scores["dense"]["ndcg@10"]) == pytest.approx(0.4975, abs=0.005)  # type: ignore[arg-type]
    assert float(scores["hybrid"]["ndcg@10"]) > max(  # type: ignore[arg-type]
        float(scores["bm25"]["ndcg@10"]),
        float(scores["dense"]["ndcg@10"]),  # type: ignore[arg-type]
    )


def test_demo_runs_on_a_small_dataset(
    private_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "adi"]) == 0
    out = capsys.readouterr().out
    for system in ("bm25", "dense", "hybrid"):
        assert system in out
    assert "query 1:" in out


def test_add_delete_check_optimize(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    col = str(tmp_path / "col")
    first = write(tmp_path / "a.jsonl", '{"_id": "a", "text": "red apples"}\n')
    assert main(["index", str(first), col, "--dense", "none"]) == 0
    more = write(
        tmp_path / "b.jsonl",
        '{"_id": "b", "text": "green pears"}\n{"_id": "c", "text": "red cherries"}\n',
    )
    assert main(["add", col, str(more)]) == 0
    assert "added 2 documents; 3 in" in capsys.readouterr().out
    assert main(["add", col, str(more)]) == 1  # already stored: use --upsert
    assert "already in the collection" in capsys.readouterr().err
    assert main(["add", col, str(more), "--upsert"]) == 0
    bad = write(tmp_path / "bad.jsonl", '{"_id": "d", "text": "ok"}\n{"_id": "e", "text": \n')
    assert main(["add", col, str(bad)]) == 1
    assert "bad.jsonl:2:" in capsys.readouterr().err
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b'{"_id": "f", "text": "caf\xe9"}\n')
    assert main(["add", col, str(binary)]) == 1
    assert "not valid UTF-8" in capsys.readouterr().err
    assert main(["delete", col, "a", "zzz"]) == 1
    assert main(["delete", col, "a"]) == 0
    assert main(["check", col]) == 0
    assert "ok: generation" in capsys.readouterr().out
    assert main(["search", col, "red", "--json"]) == 0
    ids = [h["doc_id"] for h in last_json(capsys.readouterr().out)["hits"]]  # type: ignore[union-attr]
    assert ids == ["c"]
    assert main(["optimize", col]) == 0
    assert "3 documents" not in capsys.readouterr().out
    assert main(["check", col]) == 0


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            '{"_id": "x", "text": "t", "metadata": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001,
            "JSON nested too deeply",
        ),
        (
            '{"_id": "x", "text": "t", "metadata": ' + '{"a": ' * 40 + "1" + "}" * 41,
            "nested over 32 levels",
        ),
        ('{"_id": "x", "text": "bad \\ud800 surrogate"}', "not valid Unicode"),
        ('{"_id": "x\\udc80", "text": "t"}', "doc_id is not valid Unicode"),
        ('{"_id": "x", "text": "t", "metadata": {"score": NaN}}', "score is nan"),
        ('{"_id": "x", "text": "t", "metadata": {"score": 1e400}}', "score is inf"),
    ],
)
def test_bad_documents_in_a_file_give_one_error_line_and_write_nothing(
    tmp_path: Path, line: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from hybridir import Collection, Document

    col = tmp_path / "col"
    Collection.create(col).add([Document("keep", "stays")])
    source = tmp_path / "bad.jsonl"
    source.write_text('{"_id": "fine", "text": "ok"}\n' + line + "\n")
    assert main(["add", str(col), str(source)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert message in err
    assert "Traceback" not in err
    assert [d.doc_id for d in Collection.open(col)] == ["keep"]


def test_evaluate_warns_when_the_collection_holds_none_of_the_judged_documents(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    adi, notes, folder = str(tmp_path / "adi"), str(tmp_path / "notes"), tmp_path / "md"
    folder.mkdir()
    for i, topic in enumerate(["information retrieval", "library automation", "indexing"]):
        (folder / f"n{i}.md").write_text(f"# {topic}\n\nNotes on {topic} systems.\n")
    assert main(["index", str(data_dir / "adi"), adi, "--dense", "none"]) == 0
    assert main(["index", str(folder), notes, "--dense", "none"]) == 0
    capsys.readouterr()
    # ADI's queries against a folder of notes score 0: said, not silent.
    assert main(["evaluate", "adi", "--collection", notes, "--json"]) == 0
    wrong = capsys.readouterr()
    assert last_json(wrong.out)["ndcg@10"] == 0.0
    assert "no query retrieved any of adi's relevant documents" in wrong.err
    assert main(["evaluate", "adi", "--collection", adi, "--json"]) == 0
    right = capsys.readouterr()
    assert float(last_json(right.out)["ndcg@10"]) > 0.4  # type: ignore[arg-type]
    assert "warning" not in right.err
