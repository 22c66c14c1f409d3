"""A folder of real files (txt, md, html, a PDF made by fpdf2, a docx) end to end: the CLI
indexes it, a server answers over HTTP with each hit's content, the CLI syncs changes while
the server runs, and both see them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")

from own_docs import make_folder  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "hybridir.cli", *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def folder(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    path = tmp_path / "mydocs"
    return path, make_folder(path)


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An indexed folder (BM25, chunked in words) and a `hybridir serve` process on it."""
    path = tmp_path / "mydocs"
    make_folder(path)
    col = tmp_path / "col"
    cli(
        "index",
        str(path),
        str(col),
        "--dense",
        "none",
        "--chunk-tokenizer",
        "words",
        "--chunk-size",
        "40",
    )
    (tmp_path / "keys").write_text("own-docs-key\n")
    port = _free_port()
    serve = ["serve", str(col), "--port", str(port), "--api-key-file", str(tmp_path / "keys")]
    proc = subprocess.Popen(
        [sys.executable, "-m", "hybridir.cli", *serve],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"server did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
    yield base, col
    proc.terminate()
    proc.wait(timeout=10)


def test_cli_indexes_a_folder_names_what_it_skipped_and_searches_it(
    folder: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    path, expected = folder
    col = tmp_path / "col"
    done = cli(
        "index",
        str(path),
        str(col),
        "--dense",
        "none",
        "--chunk-tokenizer",
        "words",
        "--chunk-size",
        "16",
        "--json",
    )
    report = json.loads(done.stdout)
    assert report["documents"] == len(expected["ids"])  # type: ignore[arg-type]
    skipped = {s["path"]: s["reason"] for s in report["skipped"]}
    assert set(skipped) == set(expected["skipped"])  # type: ignore[arg-type]
    assert skipped["papers/locked.pdf"].startswith("encrypted PDF")
    assert "no text layer" in skipped["papers/scan.pdf"]
    assert "skipped papers/scan.pdf" in done.stderr  # named for people too
    found = json.loads(cli("search", str(col), "GPU dense encoding", "--json").stdout)
    top = found["hits"][0]
    assert top["doc_id"].startswith("guides/setup.md#")
    assert top["title"] == "Setup guide"
    assert "GPU" in top["text"]
    assert top["metadata"]["parent_id"] == "guides/setup.md"
    assert top["metadata"]["headings"][-1] == "Optional GPU"
    grouped = cli("search", str(col), "quarterly", "--group-by", "document", "--json").stdout
    ids = [h["doc_id"] for h in json.loads(grouped)["hits"]]
    assert ids[0] == "papers/report.pdf"
    assert len(ids) == len(set(ids))


def test_the_fail_policy_refuses_the_folder_and_leaves_nothing(
    folder: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    path, _ = folder
    done = cli(
        "index",
        str(path),
        str(tmp_path / "col"),
        "--dense",
        "none",
        "--on-error",
        "fail",
        check=False,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "error:" in done.stderr
    assert not (tmp_path / "col").exists()


def test_http_serves_content_and_sees_a_cli_sync_while_running(
    serving: tuple[str, Path], tmp_path: Path
) -> None:
    base, col = serving
    url = f"{base}/collections/col/search"
    r = httpx.post(url, json={"query": "quarterly report revenue", "k": 3}, timeout=30)
    assert r.status_code == 200, r.text
    hit = r.json()["hits"][0]
    assert hit["doc_id"].startswith("papers/report.pdf#")
    assert hit["title"] == "Quarterly report"
    assert hit["metadata"]["pages"]
    assert hit["text"]
    # the folder changes; a second process syncs while the server keeps serving
    docs = tmp_path / "mydocs"
    (docs / "notes.txt").unlink()
    (docs / "new.md").write_text("# Zebra facts\n\nZebras have stripes.\n", encoding="utf-8")
    synced = json.loads(cli("sync", str(docs), str(col), "--json").stdout)
    assert synced["written"] >= 1
    assert synced["deleted"] >= 1
    assert synced["unchanged"] == 4
    again = json.loads(cli("sync", str(docs), str(col), "--json").stdout)
    assert again["written"] == again["deleted"] == 0
    r = httpx.post(url, json={"query": "zebra stripes", "k": 5, "group_by": "document"}, timeout=30)
    assert [h["doc_id"] for h in r.json()["hits"]][:1] == ["new.md"]
    r = httpx.post(url, json={"query": "release notes version", "k": 10}, timeout=30)
    assert not [h for h in r.json()["hits"] if h["doc_id"].startswith("notes.txt")]
    assert cli("check", str(col)).returncode == 0
