"""``hybridir index`` / ``evaluate`` with no flags: the language and dense model chosen from
the documents, and a failed build that leaves nothing behind."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path

import pytest

from hybridir.cli import main
from hybridir.collection import Collection
from hybridir.errors import MissingDependencyError

CHINESE = ["北京是中国的首都。", "上海是一个大城市。", "长城很长。", "我喜欢喝茶。"]


def _jsonl(path: Path, texts: list[str]) -> Path:
    lines = (
        json.dumps({"_id": f"d{i}", "text": t}, ensure_ascii=False) for i, t in enumerate(texts)
    )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _ndcg(capsys: pytest.CaptureFixture[str], *argv: str) -> float:
    assert main(["evaluate", *argv, "--metrics", "ndcg@10", "--json"]) == 0
    return float(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["ndcg@10"])


@pytest.mark.parametrize("language", ["zh", "ru"])
def test_evaluate_without_flags_scores_like_the_right_language(
    data_dir: Path, language: str, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = data_dir / "xquad-r" / language
    if not dataset.is_dir():
        pytest.skip(f"xquad-r/{language} not in the shared datasets")
    detected = _ndcg(capsys, str(dataset))
    given = _ndcg(capsys, str(dataset), "--language", language)
    english = _ndcg(capsys, str(dataset), "--language", "en")
    assert abs(detected - given) < 0.01
    assert given > english + 0.1  # the wrong analyzer is far worse (zh: 0.746 vs 0.088)


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_index_without_flags_detects_chinese_and_warns_for_a_missing_extra(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import hybridir.dense.coverage as coverage

    monkeypatch.setattr(coverage, "missing_extra", lambda model: "pip install 'hybridir[x]'")
    source = _jsonl(tmp_path / "zh.jsonl", CHINESE)
    assert main(["index", str(source), str(tmp_path / "col"), "--json"]) == 0
    captured = capsys.readouterr()
    assert "language: zh (detected)" in captured.err
    assert "warning: indexing BM25 only: the dense model" in captured.err
    assert "pip install 'hybridir[x]'" in captured.err
    report = json.loads(captured.out.strip().splitlines()[-1])
    assert (report["language"], report["dense"]) == ("zh", None)
    col = Collection.open(tmp_path / "col")
    assert col.config.analyzer.language == "zh"
    assert col.config.dense is None
    col.close()
    assert _entries(tmp_path) == ["col", "zh.jsonl"]


def test_index_chooses_the_multilingual_model_for_chinese(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The choice, without encoding: the dense model's loading is cut short."""
    import hybridir.dense.encoders as encoders

    def refuse(config: object) -> None:
        raise MissingDependencyError(f"not loading {config.model}")  # type: ignore[attr-defined]

    monkeypatch.setattr(encoders, "make_encoder", refuse)
    source = _jsonl(tmp_path / "zh.jsonl", CHINESE)
    assert main(["index", str(source), str(tmp_path / "col")]) == 1
    err = capsys.readouterr().err
    assert "dense: google/universal-sentence-encoder-multilingual/3 (for zh)" in err
    assert "error: not loading google/universal-sentence-encoder-multilingual/3" in err
    # a dense model that cannot load leaves nothing behind
    assert _entries(tmp_path) == ["zh.jsonl"]


def test_an_interrupted_index_leaves_nothing_and_the_rerun_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _jsonl(tmp_path / "zh.jsonl", CHINESE)
    argv = ["index", str(source), str(tmp_path / "col"), "--dense", "none"]
    real_add = Collection.add

    def interrupted(self: Collection, *args: object, **kwargs: object) -> int:
        real_add(self, *args, **kwargs)  # type: ignore[arg-type]  # a first commit is made
        raise KeyboardInterrupt

    monkeypatch.setattr(Collection, "add", interrupted)
    assert main(argv) == 130  # Ctrl-C: "Aborted!", 128 + SIGINT
    assert _entries(tmp_path) == ["zh.jsonl"]
    monkeypatch.undo()
    assert main(argv) == 0  # no --overwrite needed
    assert _entries(tmp_path) == ["col", "zh.jsonl"]


def test_a_failed_overwrite_keeps_the_old_collection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _jsonl(tmp_path / "old.jsonl", CHINESE[:2])
    assert main(["index", str(old), str(tmp_path / "col"), "--dense", "none"]) == 0
    new = _jsonl(tmp_path / "new.jsonl", CHINESE)

    def boom(self: Collection, *args: object, **kwargs: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(Collection, "add", boom)
    argv = ["index", str(new), str(tmp_path / "col"), "--dense", "none", "--overwrite"]
    with pytest.raises(RuntimeError, match="boom"):
        main(argv)
    assert _entries(tmp_path) == ["col", "new.jsonl", "old.jsonl"]
    with closing(Collection.open(tmp_path / "col")) as kept:
        assert len(kept) == 2
    monkeypatch.undo()
    assert main(argv) == 0
    capsys.readouterr()
    with closing(Collection.open(tmp_path / "col")) as replaced:
        assert len(replaced) == 4
    assert _entries(tmp_path) == ["col", "new.jsonl", "old.jsonl"]


def test_index_into_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _jsonl(tmp_path / "zh.jsonl", CHINESE)
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    assert main(["index", str(source), ".", "--dense", "none"]) == 0
    capsys.readouterr()
    with closing(Collection.open(here)) as col:
        assert len(col) == len(CHINESE)
    assert _entries(tmp_path) == ["here", "zh.jsonl"]  # no temp folder left beside it


def test_a_collection_built_meanwhile_is_not_replaced_without_overwrite(
    tmp_path: Path,
) -> None:
    from hybridir.collection.building import building
    from hybridir.errors import ConfigError
    from hybridir.types import Document

    target = tmp_path / "col"

    def build_while_another_process_builds_there() -> None:
        with building(target) as tmp:
            with closing(Collection.create(tmp)) as mine:
                mine.add([Document("mine", "x")])
            with closing(Collection.create(target)) as theirs:  # another process, meanwhile
                theirs.add([Document("theirs", "y")])

    with pytest.raises(ConfigError, match="not empty"):
        build_while_another_process_builds_there()
    with closing(Collection.open(target)) as kept:
        assert kept.get("theirs").doc_id == "theirs"
        assert len(kept) == 1
    assert _entries(tmp_path) == ["col"]


def test_overwrite_waits_for_a_writer_of_the_old_collection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl

    from hybridir.collection import building as building_module
    from hybridir.errors import WriterBusyError
    from hybridir.types import Document

    target = tmp_path / "col"
    with closing(Collection.create(target)) as old:
        old.add([Document("old", "x")])
    monkeypatch.setattr(building_module, "SWAP_WAIT", 0.2)
    with open(target / "write.lock", "a") as held:  # a writer of the old one, mid-commit
        fcntl.flock(held, fcntl.LOCK_EX)
        with (
            pytest.raises(WriterBusyError),
            building_module.building(target, overwrite=True) as tmp,
            closing(Collection.create(tmp)) as new,
        ):
            new.add([Document("new", "y")])
    with closing(Collection.open(target)) as kept:  # untouched, and nothing left over
        assert kept.get("old").doc_id == "old"
        assert len(kept) == 1
    assert _entries(tmp_path) == ["col"]


def test_a_folder_is_read_once_when_the_dense_model_is_chosen_from_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--dense auto picks MiniLM for English files, whose passages are then cut again in
    MiniLM's tokens: from the records read once, not by parsing every file again."""
    pytest.importorskip("sentence_transformers")
    from hybridir.collection import sources

    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in (("a", "Heat pumps move heat."), ("b", "Solar panels make power.")):
        (folder / f"{name}.md").write_text(f"# {name}\n\n{text}\n", encoding="utf-8")
    calls: list[object] = []
    real = sources.load_source

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sources, "load_source", counted)
    assert main(["index", str(folder), str(tmp_path / "col"), "--no-calibrate"]) == 0
    assert "dense: sentence-transformers/all-MiniLM-L6-v2 (for en)" in capsys.readouterr().err
    assert len(calls) == 1
    with closing(Collection.open(tmp_path / "col")) as col:
        assert col.has_dense
        assert len(col) == 2
