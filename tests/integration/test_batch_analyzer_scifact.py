"""SciFact at full size: the batch analyzer's terms and postings equal the regex path's for
all 5,183 documents (titles weighted as a collection indexes them)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hybridir.sparse.postings import build_from_ids, build_from_terms
from hybridir.sparse.warmup import warm_kernels
from hybridir.text.analyzer import BATCH_MIN_CHARS, Analyzer


def test_scifact_terms_are_identical(data_dir: Path) -> None:
    corpus = data_dir / "scifact" / "corpus.jsonl"
    if not corpus.is_file():
        pytest.skip(f"{corpus} not found")
    rows = [json.loads(line) for line in corpus.open(encoding="utf-8")]
    titles = [str(r.get("title", "")) for r in rows]
    texts = [str(r["text"]) for r in rows]
    doc_ids = [str(r["_id"]) for r in rows]
    assert len(rows) == 5183
    assert sum(map(len, texts)) >= BATCH_MIN_CHARS
    warm_kernels()

    regex = Analyzer()
    expected = [regex.analyze(t) for t in texts]
    batch = Analyzer()
    assert batch.analyze_many(texts) == expected
    assert batch._table is not None  # the compiled scan did run

    weighted = [regex.analyze(a) * 2 + b for a, b in zip(titles, expected, strict=True)]
    found = Analyzer().fields_term_ids(titles, texts, 2)
    assert found.lists() == weighted
    built = build_from_ids(found.ids, found.ptr, found.terms, doc_ids)
    reference = build_from_terms(weighted, doc_ids)
    assert built.terms == reference.terms
    for name in ("indptr", "doc_rows", "tfs", "doc_lengths", "tie_key"):
        np.testing.assert_array_equal(getattr(built, name), getattr(reference, name))
