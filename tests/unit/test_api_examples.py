"""Code examples of the Python API page run and print what their comments say."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

API_PAGE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "api.md"


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_the_bm25_engine_example_prints_its_comment() -> None:
    block = next(b for b in _python_blocks(API_PAGE.read_text()) if "BM25Index" in b)
    printed = block.strip().splitlines()[-1]
    expected = re.search(r"# (\[.*?\])", printed)
    assert expected is not None, "the example's last line states its output"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, str(API_PAGE), "exec"), {})
    assert out.getvalue().strip() == expected.group(1)
