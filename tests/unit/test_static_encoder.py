"""The static encoder (``static:<model>``): model2vec distilled from the offline MiniLM.

Distilling MiniLM's whole vocabulary (29.5k tokens, one transformer pass each) takes about a
minute on two cores, so this module distills a reduced vocabulary once, into a temporary
hybridir cache: :data:`SMALL` keeps single characters and word pieces of at most four
characters (3.9k tokens, every lowercase word still tokenizes), which takes about ten
seconds. The full distillation runs in ``benchmarks/static_encoder.py``. The build runs with
every socket connection refused: the shipped copy distills with no network.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from hybridir import Collection, CollectionConfig, Document, Searcher
from hybridir._cache import CACHE_ENV
from hybridir.config import DenseConfig
from hybridir.dense import static
from hybridir.dense.cache import encoder_key
from hybridir.dense.encoders import ENCODER_FAMILIES, Encoder, make_encoder, resolve_model
from hybridir.dense.static import DistillSettings, StaticEncoder, is_static, static_base
from hybridir.errors import ConfigError, MissingDependencyError

pytest.importorskip("model2vec.distill")
pytest.importorskip("faiss")

NAME = "static:all-MiniLM-L6-v2"
SMALL = DistillSettings(token_remove_pattern=r"(?!\[UNK\]$)(?:\[unused|.*[^#a-z]|.{5,})")
"""Single characters and ``##`` pieces or words of at most four lowercase characters."""

DOCS = [
    Document("cats", "Cats are small domesticated felines that purr."),
    Document("dogs", "Dogs are loyal companions and good guard animals."),
    Document("bm25", "BM25 ranks documents with term frequency and inverse document frequency."),
    Document("dense", "Dense retrievers embed text into vectors compared by cosine similarity."),
    Document("scurvy", "Scurvy is caused by a lack of vitamin C in the diet."),
]


@dataclass
class Built:
    """The module's encoder, how it was built, and how many distillations ran."""

    encoder: StaticEncoder
    distills: list[str]
    build_seconds: float
    cache: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """One distillation per module, into a private cache, with the network refused."""
    cache = tmp_path_factory.mktemp("static-cache")
    distills: list[str] = []
    real = static.distill_static

    def counting(source: str, folder: Path, settings: DistillSettings) -> None:
        distills.append(source)
        real(source, folder, settings)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("network refused in this test")

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CACHE_ENV, str(cache))
        mp.setattr(static, "DEFAULT_SETTINGS", SMALL)
        mp.setattr(static, "distill_static", counting)
        with pytest.MonkeyPatch.context() as offline:
            offline.setattr(socket.socket, "connect", refuse)
            start = time.perf_counter()
            encoder = make_encoder(DenseConfig(model=NAME))
            seconds = time.perf_counter() - start
        assert isinstance(encoder, StaticEncoder)
        yield Built(encoder, distills, seconds, cache)


def test_the_family_resolves_static_names() -> None:
    matches, _ = ENCODER_FAMILIES["static"]
    assert matches(NAME)
    assert matches(" Static:foo/bar")
    assert is_static("STATIC:x")
    assert not matches("all-MiniLM-L6-v2")
    assert not matches("sentence-transformers/static")
    assert static_base(" static: all-MiniLM-L6-v2 ") == "all-MiniLM-L6-v2"


def test_encoder_shape_dim_and_protocol(built: Built) -> None:
    encoder = built.encoder
    assert isinstance(encoder, Encoder)
    assert encoder.name == NAME
    assert encoder.similarity == "cosine"
    assert encoder.dim == 256  # PCA dimensions
    vectors = encoder.encode_documents([d.text for d in DOCS], show_progress=True)
    assert vectors.shape == (len(DOCS), 256)
    assert vectors.dtype == np.float32
    assert vectors.flags["C_CONTIGUOUS"]
    assert encoder.encode_queries([]).shape == (0, 256)
    assert encoder.encode_queries(["vitamin"]).shape == (1, 256)


def test_vectors_are_unit_length(built: Built) -> None:
    vectors = built.encoder.encode_documents([d.text for d in DOCS] + ["a", "purr"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    # A text with no token in the vocabulary has no direction: zeros, not NaN.
    empty = built.encoder.encode_documents(["", "   "])
    assert not np.isnan(empty).any()
    assert not empty.any()


def test_a_vector_is_the_normalised_mean_of_its_token_rows(built: Built) -> None:
    model = static.load_static(built.encoder.path, normalize=False)
    text = "vitamin c and scurvy"
    ids = model.tokenize([text])[0]
    assert 0 < len(ids) < 16  # the source tokenizer's padding to 128 is gone
    expected = model.embedding[ids].mean(axis=0)
    expected /= np.linalg.norm(expected)
    np.testing.assert_allclose(built.encoder.encode_queries([text])[0], expected, rtol=1e-5)
    twice = built.encoder.encode_queries(["purr", "purr purr"])
    np.testing.assert_allclose(twice[0], twice[1], rtol=1e-6)


def test_vectors_are_deterministic_across_batches_and_loads(built: Built) -> None:
    texts = [d.text for d in DOCS]
    first = built.encoder.encode_documents(texts)
    np.testing.assert_array_equal(first, built.encoder.encode_documents(texts))
    one_by_one = np.vstack([built.encoder.encode_queries([t]) for t in texts])
    np.testing.assert_array_equal(first, one_by_one)
    small_batches = StaticEncoder(NAME, source=resolve_model("all-MiniLM-L6-v2"), batch_size=2)
    np.testing.assert_array_equal(first, small_batches.encode_documents(texts))


def test_the_distilled_model_is_stored_once_and_reused(built: Built) -> None:
    assert built.distills == [resolve_model("all-MiniLM-L6-v2")]
    path = built.encoder.path
    assert path.parent == built.cache / "static"
    assert (path / static.MODEL_FILE).is_file()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".distill-")]
    start = time.perf_counter()
    again = make_encoder(DenseConfig(model=NAME))
    seconds = time.perf_counter() - start
    assert isinstance(again, StaticEncoder)
    assert again.path == path
    assert built.distills == [resolve_model("all-MiniLM-L6-v2")]  # loaded, not distilled
    assert seconds < built.build_seconds / 3, (seconds, built.build_seconds)


def test_other_settings_distill_into_another_folder(built: Built) -> None:
    source = resolve_model("all-MiniLM-L6-v2")
    other = DistillSettings(pca_dims=128, token_remove_pattern=SMALL.token_remove_pattern)
    slug = static.model_slug("all-MiniLM-L6-v2", source, other)
    assert slug.startswith("all-MiniLM-L6-v2-")
    assert slug != built.encoder.path.name


def test_static_vectors_never_share_the_transformers_embedding_cache(built: Built) -> None:
    transformer = SimpleNamespace(
        name="sentence-transformers/all-MiniLM-L6-v2",
        backend="torch",
        normalize=True,
        document_prompt=None,
    )
    key = encoder_key(built.encoder)
    assert key != encoder_key(transformer)
    assert f"model2vec-{built.encoder.path.name}" in key


def test_a_collection_indexed_with_it_searches(built: Built, tmp_path: Path) -> None:
    config = CollectionConfig(dense=DenseConfig(model=NAME))
    collection = Collection.create(tmp_path / "c", config)
    collection.add(DOCS)
    assert built.distills == [resolve_model("all-MiniLM-L6-v2")]
    searcher = Searcher(Collection.open(collection.directory))
    query = "what causes scurvy"
    vectors = built.encoder.encode_documents([d.text for d in DOCS])
    q = built.encoder.encode_queries([query])[0]
    expected = [DOCS[i].doc_id for i in np.argsort(-(vectors @ q), kind="stable")]
    dense = searcher.search(query, k=len(DOCS), retriever="dense").hits
    assert [h.doc_id for h in dense] == expected
    np.testing.assert_allclose([h.score for h in dense], np.sort(vectors @ q)[::-1], rtol=1e-5)
    hybrid = searcher.search(query, k=3).hits
    assert hybrid[0].doc_id == "scurvy"
    assert {c.retriever for c in hybrid[0].contributions} == {"bm25", "dense"}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (DenseConfig(model="static:"), "names no model"),
        (DenseConfig(model="static:static:x"), "names no model"),
        (DenseConfig(model="static:/no/such/folder"), "not a folder"),
        (DenseConfig(model="static:./missing"), "not a folder"),
        (DenseConfig(model=NAME, backend="onnx"), "no 'onnx' backend"),
        (DenseConfig(model=NAME, query_prompt="query: "), "no prompts"),
    ],
)
def test_bad_names_and_options_are_config_errors(config: DenseConfig, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_encoder(config)


def test_static_base_refuses_other_names() -> None:
    with pytest.raises(ConfigError, match="not a static model name"):
        static_base("all-MiniLM-L6-v2")


def test_without_model2vec_the_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for module in ("model2vec", "model2vec.distill"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingDependencyError, match=r"hybridir\[static\]"):
        static.distill_static("x", tmp_path, SMALL)
    with pytest.raises(MissingDependencyError, match=r"hybridir\[static\]"):
        static.load_static(tmp_path, normalize=True)
