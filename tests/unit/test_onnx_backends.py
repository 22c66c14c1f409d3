"""The ONNX Runtime backends of MiniLM against its torch backend, on real SciFact text.

50 documents (title + the start of the abstract) holding the relevant documents of the first
20 judged test queries, encoded by ``backend="torch"``, ``"onnx"`` (exported to the hybridir
cache on first use) and ``"onnx-int8"`` (that export dynamically quantized for AVX2). Each
backend must give nearly the torch vector for every text and nearly the torch top-10 for
every query.

Measured on the development machine (x86-64, 2 cores): the ONNX export took 2.1 s and the
int8 quantization 2.2 s (loading the cached files afterwards, 0.2 s each); fp32 ONNX min
cosine 0.9999999 with all 20 top-10 lists identical; int8 min cosine 0.988 (mean 0.992),
top-10 overlap mean 0.905 (min 0.7).
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from hybridir._cache import CACHE_ENV
from hybridir.config import DenseConfig
from hybridir.dense.encoders import make_encoder, resolve_model
from hybridir.dense.onnx import INT8_FILE, ONNX_FILE, onnx_model_dir
from hybridir.eval.datasets import load_beir

pytest.importorskip("sentence_transformers")
pytest.importorskip("onnxruntime")
pytest.importorskip("optimum.onnxruntime")

MODEL = "all-MiniLM-L6-v2"
N_DOCS = 50
N_QUERIES = 20
K = 10


class Encoded(NamedTuple):
    docs: np.ndarray
    queries: np.ndarray
    load_seconds: float


class Sample(NamedTuple):
    texts: list[str]
    queries: list[str]


@pytest.fixture(scope="module")
def sample(data_dir: Path) -> Sample:
    """The first judged SciFact test queries, their relevant documents, then filler documents."""
    ds = load_beir(data_dir / "scifact")
    qids = list(ds.qrels)[:N_QUERIES]
    relevant = {d for q in qids for d in ds.qrels[q]}
    corpus = list(itertools.islice(ds.corpus(), 2000))
    chosen = [d for d in corpus if d.doc_id in relevant]
    chosen += [d for d in corpus if d.doc_id not in relevant][: N_DOCS - len(chosen)]
    assert len(chosen) == N_DOCS
    return Sample([f"{d.title} {d.text[:300]}" for d in chosen], [ds.queries[q] for q in qids])


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private hybridir cache, so the test times and checks a real export."""
    return tmp_path_factory.mktemp("hybridir-cache")


@pytest.fixture(scope="module")
def encoded(sample: Sample, cache: Path) -> dict[str, Encoded]:
    """Each backend's document and query vectors (built in this order: the int8 model is a
    quantization of the fp32 export)."""
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CACHE_ENV, str(cache))
        for backend in ("torch", "onnx", "onnx-int8"):
            clock = time.perf_counter()
            encoder = make_encoder(DenseConfig(model=MODEL, backend=backend))
            seconds = time.perf_counter() - clock
            assert encoder.dim == 384
            out[backend] = Encoded(
                encoder.encode_documents(sample.texts),
                encoder.encode_queries(sample.queries),
                seconds,
            )
    return out


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _top(queries: np.ndarray, docs: np.ndarray) -> np.ndarray:
    return np.argsort(-(queries @ docs.T), axis=1, kind="stable")[:, :K]


def _overlaps(a: Encoded, b: Encoded) -> list[float]:
    """Per query, the share of ``a``'s top-10 documents that are in ``b``'s top-10."""
    top_a, top_b = _top(a.queries, a.docs), _top(b.queries, b.docs)
    return [len(set(x) & set(y)) / K for x, y in zip(top_a, top_b, strict=True)]


@pytest.mark.parametrize(
    ("backend", "min_cosine", "min_overlap"),
    [
        # measured: min cosine 0.9999999, every top-10 identical (overlap 1.0)
        ("onnx", 0.9999, 0.95),
        # measured: min cosine 0.988 (mean 0.992), mean top-10 overlap 0.905 (min 0.7)
        ("onnx-int8", 0.97, 0.8),
    ],
)
def test_onnx_backend_matches_torch(
    encoded: dict[str, Encoded], backend: str, min_cosine: float, min_overlap: float
) -> None:
    torch, onnx = encoded["torch"], encoded[backend]
    assert onnx.docs.shape == torch.docs.shape == (N_DOCS, 384)
    np.testing.assert_allclose(np.linalg.norm(onnx.docs, axis=1), 1.0, rtol=1e-4)
    assert _cosines(onnx.docs, torch.docs).min() >= min_cosine
    assert _cosines(onnx.queries, torch.queries).min() >= min_cosine
    assert float(np.mean(_overlaps(torch, onnx))) >= min_overlap


def test_int8_is_a_different_model_than_fp32(encoded: dict[str, Encoded]) -> None:
    """The int8 backend really loads the quantized file (else the test above proves nothing)."""
    assert _cosines(encoded["onnx-int8"].docs, encoded["onnx"].docs).min() < 0.9999


def test_export_is_cached_and_quick(encoded: dict[str, Encoded], cache: Path) -> None:
    # Export + quantize measured at 4.3 s; a minute means something went wrong.
    assert encoded["onnx"].load_seconds + encoded["onnx-int8"].load_seconds < 60
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CACHE_ENV, str(cache))
        folder, name = onnx_model_dir(resolve_model(MODEL), quantize=True)
        assert folder.parent == cache / "onnx"
        assert name == INT8_FILE
        files = [folder / ONNX_FILE, folder / INT8_FILE]
        stamps = [f.stat().st_mtime_ns for f in files]
        assert onnx_model_dir(resolve_model(MODEL), quantize=True) == (folder, INT8_FILE)
        assert [f.stat().st_mtime_ns for f in files] == stamps  # reused, not exported again
