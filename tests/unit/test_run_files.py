"""``hybridir fuse`` / ``eval`` / ``compare`` on hand-made run files: the tie rule, missing
documents and queries, hand-computed values, report formats and every kind of bad input.
(The real-run oracles, ranx and pytrec_eval, are in tests/oracle/test_run_files_oracle.py.)"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from hybridir.cli import main
from hybridir.errors import ConfigError
from hybridir.eval.metrics import check_metrics, evaluate
from hybridir.eval.significance import adjust_p_values, bonferroni, holm

ranx = pytest.importorskip("ranx")

# q1: tied scores in both runs and documents found by one run only; q2: the two runs rank
# the same two documents in opposite orders (a tie after RRF); q3: only in run A.
RUN_A = """q1 Q0 d1 1 3.0 a
q1 Q0 d3 2 2.0 a
q1 Q0 d2 3 2.0 a
q1 Q0 d4 4 1.0 a
q2 Q0 x 1 2.0 a
q2 Q0 y 2 1.0 a
q3 Q0 s 1 0.5 a
"""
RUN_B = """q1 Q0 d5 1 0.8 b
q1 Q0 d2 2 0.8 b
q1 Q0 d1 3 0.5 b
q2 Q0 y 1 2.0 b
q2 Q0 x 2 1.0 b
"""
QRELS_TREC = "q1 0 d2 1\nq1 0 d4 2\nq2 0 y 1\nq3 0 s 1\nq3 0 t 1\n"
QRELS_BEIR = "query-id\tcorpus-id\tscore\nq1\td2\t1\nq1\td4\t2\nq2\ty\t1\nq3\ts\t1\nq3\tt\t1\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {
        "a": write(tmp_path / "a.run", RUN_A),
        "b": write(tmp_path / "b.run", RUN_B),
        "qrels": write(tmp_path / "qrels.txt", QRELS_TREC),
        "beir": write(tmp_path / "qrels.tsv", QRELS_BEIR),
    }


def lines(path: Path) -> list[tuple[str, str, int, float, str]]:
    out = []
    for line in path.read_text().splitlines():
        qid, q0, doc_id, rank, score, tag = line.split()
        assert q0 == "Q0"
        out.append((qid, doc_id, int(rank), float(score), tag))
    return out


def assert_lines(path: Path, expected: list[tuple[str, str, int, float, str]]) -> None:
    got = lines(path)
    assert [(q, d, r, t) for q, d, r, _, t in got] == [(q, d, r, t) for q, d, r, _, t in expected]
    assert [s for *_, s, _ in got] == pytest.approx([s for *_, s, _ in expected], abs=1e-12)


def test_rrf_by_hand_with_ties_missing_documents_and_queries(
    files: dict[str, Path], tmp_path: Path
) -> None:
    """Ranks come from (score desc, doc id asc): in A, d2 (2.0) is 2nd and d3 (2.0) 3rd
    whatever the file's rank column says; in B, d2 (0.8) is 1st and d5 (0.8) 2nd. Fused ties
    are broken by doc id (q2: x before y)."""
    out = tmp_path / "rrf.run"
    assert main(["fuse", str(files["a"]), str(files["b"]), "--out", str(out)]) == 0

    def r(rank: int) -> float:
        return 1 / (60 + rank)

    expected = [
        ("q1", "d2", 1, r(2) + r(1), "hybridir-rrf"),
        ("q1", "d1", 2, r(1) + r(3), "hybridir-rrf"),
        ("q1", "d5", 3, r(2), "hybridir-rrf"),
        ("q1", "d3", 4, r(3), "hybridir-rrf"),
        ("q1", "d4", 5, r(4), "hybridir-rrf"),
        ("q2", "x", 1, r(1) + r(2), "hybridir-rrf"),
        ("q2", "y", 2, r(1) + r(2), "hybridir-rrf"),
        ("q3", "s", 1, r(1), "hybridir-rrf"),
    ]
    assert_lines(out, expected)
    first = out.read_bytes()
    assert main(["fuse", str(files["a"]), str(files["b"]), "--out", str(out)]) == 0
    assert out.read_bytes() == first  # deterministic, byte for byte


def test_depth_k_weights_and_tag(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "sum.run"
    args = ["fuse", str(files["a"]), str(files["b"]), "--method", "combsum", "--norm", "none"]
    args += ["--weights", "1,2", "--depth", "2", "-k", "2", "--run-tag", "mine", "-o", str(out)]
    assert main(args) == 0
    # depth 2: A gives d1 3.0, d2 2.0 (d2 before d3 on the tie); B gives d2 0.8, d5 0.8 (its
    # d1 at rank 3 is not read, or d1 would score 3.0 + 2 * 0.5 = 4.0 and lead)
    assert_lines(
        out,
        [
            ("q1", "d2", 1, 2.0 + 2 * 0.8, "mine"),
            ("q1", "d1", 2, 3.0, "mine"),
            ("q2", "y", 1, 1.0 + 2 * 2.0, "mine"),
            ("q2", "x", 2, 2.0 + 2 * 1.0, "mine"),
            ("q3", "s", 1, 0.5, "mine"),
        ],
    )


@pytest.mark.parametrize(
    ("method", "norm", "missing", "ranx_norm", "ranx_method"),
    [
        ("combsum", "minmax", "zero", "min-max", "sum"),
        ("combmnz", "minmax", "zero", "min-max", "mnz"),
        ("combmnz", "zscore", "skip", "zmuv", "mnz"),
        # ranx's max looks only at the runs holding a document: hybridir's "skip" rule
        # ("zero" would lift a negative z-score to 0)
        ("combmax", "zscore", "skip", "zmuv", "max"),
        ("combsum", "none", "zero", None, "sum"),
    ],
)
def test_score_methods_equal_ranx_on_ties_and_missing_documents(
    files: dict[str, Path],
    tmp_path: Path,
    method: str,
    norm: str,
    missing: str,
    ranx_norm: str | None,
    ranx_method: str,
) -> None:
    """Score-based methods do not depend on the order of ties: equal to ranx on the queries
    both runs answer (ranx needs the same queries in every run)."""
    a = write(tmp_path / "a2.run", "".join(x for x in RUN_A.splitlines(True) if "q3" not in x))
    out = tmp_path / "fused.run"
    options = ["--method", method, "--norm", norm, "--missing", missing]
    assert main(["fuse", str(a), str(files["b"]), *options, "-o", str(out)]) == 0
    expected = ranx.fuse(
        [ranx.Run.from_file(str(a), kind="trec"), ranx.Run.from_file(str(files["b"]), kind="trec")],
        norm=ranx_norm,
        method=ranx_method,
    ).to_dict()
    got: dict[str, dict[str, float]] = {}
    for qid, doc_id, _, score, _ in lines(out):
        got.setdefault(qid, {})[doc_id] = score
    assert got.keys() == expected.keys()
    for qid in got:
        assert got[qid] == pytest.approx(expected[qid], abs=1e-9)
        ranked = [d for d, _ in sorted(got[qid].items(), key=lambda kv: (-kv[1], kv[0]))]
        assert [d for q, d, *_ in lines(out) if q == qid] == ranked


def test_fuse_json_summary(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "f.run"
    assert main(["fuse", str(files["a"]), str(files["b"]), "-o", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (summary["queries"], summary["hits"]) == (3, 8)
    assert (summary["fusion"]["method"], summary["fusion"]["rrf_k"]) == ("rrf", 60.0)


def test_eval_reads_trec_and_beir_qrels_alike(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    results = []
    for source in (files["qrels"], files["beir"]):
        args = [
            "eval",
            str(files["a"]),
            str(source),
            "--metrics",
            "P_1,recip_rank,ndcg@10,recall_10",
        ]
        assert main([*args, "--json"]) == 0
        results.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))
    assert results[0] == results[1]
    # trec_eval's order, ties by doc id descending: q1 d1 d3 d2 d4, relevant at 3 and 4;
    # q2: y at 2; q3: s at 1 (t is never found)
    assert results[0]["P_1"] == pytest.approx((0 + 0 + 1) / 3)
    assert results[0]["recip_rank"] == pytest.approx((1 / 3 + 1 / 2 + 1) / 3)
    assert results[0]["recall_10"] == pytest.approx((1 + 1 + 0.5) / 3)


def test_eval_notes_queries_that_do_not_pair_up(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", str(files["b"]), str(files["qrels"]), "--metrics", "map"]) == 0
    captured = capsys.readouterr()
    assert "1 of 3 judged queries have no hits and score 0" in captured.err
    assert "map" in captured.out


def test_compare_formats(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = [str(files["a"]), str(files["b"])]
    fused = tmp_path / "rrf.run"
    assert main(["fuse", *runs, "-o", str(fused)]) == 0
    runs.append(str(fused))
    base = ["compare", *runs, "--qrels", str(files["qrels"]), "--metrics", "ndcg@10,P_1"]

    assert main([*base, "--format", "csv", "--out", str(tmp_path / "t.md")]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["run", "ndcg@10", "ndcg@10 p", "P_1", "P_1 p"]
    assert [r[0] for r in rows[1:]] == ["a", "b", "rrf"]
    assert rows[1][2] == ""  # the baseline has no p-value
    assert 0.0 < float(rows[2][2]) <= 1.0
    assert float(rows[1][3]) == pytest.approx(1 / 3)  # P_1 of run a, by hand

    assert (tmp_path / "t.md").read_text().startswith("run,")  # --format wins over the suffix
    assert main([*base, "--out", str(tmp_path / "t.md")]) == 0
    table = [line for line in (tmp_path / "t.md").read_text().splitlines() if line.startswith("|")]
    assert len(table) == 2 + 3  # header, separator, one row per run
    assert "significantly better/worse than a" in (tmp_path / "t.md").read_text()
    assert "3 runs, 3 queries" in capsys.readouterr().out  # the terminal table

    assert main([*base, "--out", str(tmp_path / "t.tex"), "--baseline", str(fused)]) == 0
    tex = (tmp_path / "t.tex").read_text()
    assert tex.startswith(r"\begin{tabular}{lrr}")
    assert r"\bottomrule" in tex
    assert "ndcg@10 & P\\_1" in tex
    assert tex.count(r" \\") == 1 + 3  # header and one row per run
    assert "than rrf" in tex

    assert main([*base, "--out", str(tmp_path / "t.csv"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["runs"]["a"]["P_1"]["mean"] == pytest.approx(1 / 3)
    assert (tmp_path / "t.csv").read_text().startswith("run,ndcg@10,")


def test_significance_marks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A run that finds the relevant document first on 30 queries, against one that never
    finds it: significantly better (▲), and the baseline is worse when the roles swap."""
    qrels = "".join(f"q{i} 0 rel 1\n" for i in range(30))
    good = "".join(f"q{i} Q0 rel 1 2.0 g\nq{i} Q0 junk 2 1.0 g\n" for i in range(30))
    bad = "".join(f"q{i} Q0 junk 1 2.0 b\n" for i in range(30))
    paths = [write(tmp_path / "bad.run", bad), write(tmp_path / "good.run", good)]
    q = write(tmp_path / "q.txt", qrels)
    args = [
        "compare",
        *map(str, paths),
        "--qrels",
        str(q),
        "--metrics",
        "P_1",
        "--format",
        "markdown",
    ]
    assert main(args) == 0
    assert "| good | **1.0000**▲ |" in capsys.readouterr().out
    assert main([*args, "--baseline", "good", "--test", "t-test"]) == 0
    assert "| bad | 0.0000▼ |" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fuse", "{a}", "{missing}", "-o", "{out}"], "file not found:"),
        (["fuse", "{a}", "{bad}", "-o", "{out}"], "bad.run:2: bad rank or score"),
        (["fuse", "{a}", "{short}", "-o", "{out}"], "short.run:1: expected 6 fields, got 5"),
        (["fuse", "{a}", "{empty}", "-o", "{out}"], "empty.run: empty run"),
        (["fuse", "{a}", "-o", "{out}"], "fusion needs at least 2 runs"),
        (["fuse", "{a}", "{b}", "-o", "{out}", "--method", "fancy"], "valid: ['rrf', 'isr'"),
        (["fuse", "{a}", "{b}", "-o", "{out}", "--method", "rescore"], "for run files; valid"),
        (["fuse", "{a}", "{b}", "-o", "{out}", "--norm", "fancy"], "unknown normalization"),
        (["fuse", "{a}", "{b}", "-o", "{out}", "--weights", "1"], "1 values for 2 runs"),
        (["fuse", "{a}", "{b}", "-o", "{out}", "--weights", "1,x"], "numbers expected"),
        (["fuse", "{a}", "{b}", "-o", "{out}", "-k", "0"], "k and depth must be >= 1"),
        # Was "[Errno 2] … '.x.run.<hex>.tmp'", the atomic writer's temporary name.
        (["fuse", "{a}", "{b}", "-o", "{tmp}/no/x.run"], "/no does not exist"),
        (["fuse", "{a}", "{b}", "-o", "{tmp}"], "it is a folder"),
        (["eval", "{a}", "{qrels}", "--metrics", "ndcg@10,nope"], "unknown metric 'nope'"),
        (["eval", "{a}", "{qrels}", "--metrics", "P_0"], "must be a positive integer"),
        (["eval", "{a}", "{badqrels}"], "badqrels.txt:2: grade 'x' is not an integer"),
        (["eval", "{a}", "{emptyqrels}"], "no judgments"),
        (["eval", "{a}", "{otherqrels}"], "answers none of the 1 judged queries"),
        (["eval", "{a}", "{tmp}/nope.txt"], "file not found:"),
        (["compare", "{a}", "{b}", "--qrels", "{qrels}", "--baseline", "c"], "unknown baseline"),
        (["compare", "{a}", "{b}", "--qrels", "{qrels}", "--test", "z"], "valid: ['randomization'"),
        (["compare", "{a}", "{b}", "--qrels", "{qrels}", "--correction", "z"], "valid: ['bonf"),
        (["compare", "{a}", "{b}", "--qrels", "{qrels}", "--alpha", "2"], "alpha must be in"),
        (["compare", "{a}", "{b}", "--qrels", "{qrels}", "--format", "z"], "unknown format"),
        (["compare", "{a}", "{b}", "--qrels", "{qrels}", "-o", "{tmp}/x.pdf"], "suffix"),
        (["compare", "{a}", "{a}", "--qrels", "{qrels}"], "given twice"),
    ],
)
def test_bad_input_gives_one_error_line(
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    paths = {
        **{k: str(v) for k, v in files.items()},
        "tmp": str(tmp_path),
        "out": str(tmp_path / "out.run"),
        "missing": str(tmp_path / "missing.run"),
        "bad": str(write(tmp_path / "bad.run", "q1 Q0 d1 1 1.0 t\nq1 Q0 d2 x 0.5 t\n")),
        "short": str(write(tmp_path / "short.run", "q1 Q0 d1 1 1.0\n")),
        "empty": str(write(tmp_path / "empty.run", "\n")),
        "badqrels": str(write(tmp_path / "badqrels.txt", "q1 0 d1 1\nq1 0 d2 x\n")),
        "emptyqrels": str(write(tmp_path / "emptyqrels.txt", "query-id\tcorpus-id\tscore\n")),
        "otherqrels": str(write(tmp_path / "otherqrels.txt", "zz 0 d1 1\n")),
    }
    assert main([a.format(**paths) for a in args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out.run").exists()


@pytest.mark.parametrize("command", ["fuse", "eval", "compare"])
def test_help_has_an_example_and_no_markup(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    assert f"Example: hybridir {command} " in text
    assert "`" not in text


def test_trec_eval_names_parse_and_hybridir_names_keep_working() -> None:
    run = {"q1": {"a": 3.0, "b": 2.0, "c": 1.0}, "q2": {"x": 1.0}}
    qrels = {"q1": {"b": 1, "c": 2}, "q2": {"y": 1}}
    values = evaluate(
        run, qrels, ["P_2", "p.2", "P@2", "success_1", "hit_rate@1", "recip_rank", "mrr@1"]
    )
    assert values == {
        "P_2": 0.25,
        "p.2": 0.25,
        "P@2": 0.25,
        "success_1": 0.0,
        "hit_rate@1": 0.0,
        "recip_rank": 0.25,
        "mrr@1": 0.0,
    }
    with pytest.raises(ConfigError, match="trec_eval names: P_k, recall_k, ndcg_cut_k"):
        check_metrics(["gm_map"])
    with pytest.raises(ConfigError, match="needs a cutoff"):
        check_metrics(["recall"])


def test_corrections_by_hand() -> None:
    p = [0.01, 0.04, 0.03, 0.5]
    assert bonferroni(p) == pytest.approx([0.04, 0.16, 0.12, 1.0])
    # Holm: sorted 0.01, 0.03, 0.04, 0.5 times 4, 3, 2, 1 → 0.04, 0.09, 0.08→0.09, 0.5
    assert holm(p) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert adjust_p_values(p, "none") == p
    assert holm([]) == []
    assert bonferroni([0.7, 0.9]) == [1.0, 1.0]
    with pytest.raises(ConfigError, match="valid: \\['bonferroni', 'holm', 'none'\\]"):
        adjust_p_values(p, "bh")
