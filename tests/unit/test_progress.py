"""Progress bars (``hybridir._progress``): drawn with counts, rate and time left on a
terminal, advancing while the dense encoder works; nothing drawn anywhere else."""

from __future__ import annotations

import importlib
import io
import re
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from hybridir import _progress
from hybridir._progress import chunks, progress_bar, track
from hybridir.cli import main

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def terminal() -> tuple[Console, io.StringIO]:
    """A console that believes it writes to a terminal, into a string."""
    buffer = io.StringIO()
    return Console(force_terminal=True, file=buffer, width=120), buffer


def counts(buffer: io.StringIO, total: int) -> list[int]:
    """The ``done/total`` counts drawn, in drawing order, repeats collapsed."""
    drawn = [int(m) for m in re.findall(rf"(\d+)/{total}\b", ANSI.sub("", buffer.getvalue()))]
    return [n for i, n in enumerate(drawn) if i == 0 or n != drawn[i - 1]]


def test_dense_encoding_reports_advancing_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("sentence_transformers")
    from hybridir.dense import encoders

    monkeypatch.setattr(_progress, "CHUNK_BATCHES", 1)  # a step per batch: 4, 8, 10
    encoder = encoders.SentenceTransformerEncoder(batch_size=4)
    texts = [f"document {i} about {'retrieval ' * (i % 7)}" for i in range(10)]
    console, buffer = terminal()
    vectors = encoder.encode_documents(texts, show_progress=console)
    assert counts(buffer, 10) == [0, 4, 8, 10]
    assert re.search(r"Encoding \(dense\).*\d+/s", ANSI.sub("", buffer.getvalue()))
    # the chunks change when the bar advances, not the vectors (rows in the texts' order)
    whole = encoder._model.encode(texts, batch_size=4, normalize_embeddings=True)
    assert np.allclose(vectors, whole, atol=1e-5)


def test_a_bar_shows_count_rate_elapsed_and_time_left() -> None:
    console, buffer = terminal()
    with progress_bar("Searching", 30, console) as bar:
        for _ in range(3):
            bar.advance(10)
    shown = ANSI.sub("", buffer.getvalue())
    assert counts(buffer, 30) == [0, 10, 20, 30]
    assert re.search(r"Searching .* 30/30 [\d,.]+/s 0:00:\d\d left 0:00:\d\d", shown)


def test_track_yields_every_item_and_counts_them() -> None:
    console, buffer = terminal()
    assert list(track(iter("abcde"), "Analyzing", 5, console)) == list("abcde")
    assert counts(buffer, 5)[-1] == 5


@pytest.mark.parametrize("show", [False, Console(file=io.StringIO())])
def test_nothing_is_drawn_off_a_terminal(show: bool | Console) -> None:
    with progress_bar("Encoding", 2, show) as bar:
        bar.advance(2)
    assert list(track([1, 2], "Reading", 2, show)) == [1, 2]
    if isinstance(show, Console):
        assert isinstance(show.file, io.StringIO)
        assert show.file.getvalue() == ""


def test_json_commands_draw_no_bar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    console, buffer = terminal()
    monkeypatch.setattr(importlib.import_module("hybridir.cli.app"), "err", console)
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(f'{{"_id": "d{i}", "text": "t {i}"}}\n' for i in range(3)))
    col = str(tmp_path / "col")
    args = ["index", str(docs), col, "--dense", "none", "--language", "en"]
    assert main([*args, "--json"]) == 0
    assert "Analyzing" not in buffer.getvalue()
    capsys.readouterr()
    assert main([*args, "--overwrite"]) == 0
    assert counts(buffer, 3)[-1] == 3  # the same command draws its bar without --json


def test_chunks_cover_the_rows_in_order_and_advance_the_bar_per_chunk() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    seen = list(chunks([4, 2, 0, 1, 3], 2, "Encoding", console))
    assert seen == [[4, 2], [0, 1], [3]]
    assert "5/5" in console.file.getvalue()  # type: ignore[attr-defined]
    assert list(chunks([], 3, "Encoding", False)) == []
