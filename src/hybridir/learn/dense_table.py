"""Transformer-free dense queries: a per-token embedding table whose rows, pooled over a
query's tokens, stand in for the dense encoder's query vector, so that a query costs one
tokenizer call and a mean of table rows.

LightRetriever (Ma et al., "LightRetriever: A LLM-based Hybrid Retrieval Architecture with
1000x Faster Query Inference", 2025) keeps the full encoder for documents and reduces the
dense query encoder to an embedding lookup: a query's vector is the average of its tokens'
vectors. Static embedding models do the same on both sides (model2vec, Tulkens & van Dongen,
2024; sentence-transformers' "Static Embeddings", Aarsen, 2025).

**Pooling**: the mean of the rows of a text's tokens (the tokenizer's content tokens, in the
encoder's window), then L2 normalisation. A learned per-token weight times a row would add
nothing: after normalisation only a row's direction and its length relative to the other
rows count, so each row's length *is* its token's weight (stopwords learn short rows).

The table is fitted to a collection's encoder by :mod:`hybridir.learn.dense_fit`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from hybridir.errors import IndexFormatError, missing_dependency

Vectors = NDArray[np.float32]
TokenIds = NDArray[np.int64]

TABLE = "table.npy"
EMPTY = "empty.npy"
TOKENIZER = "tokenizer.json"


def pool(table: Vectors, token_ids: Sequence[TokenIds], empty: Vectors) -> Vectors:
    """Each text's L2-normalised mean of its tokens' rows of ``table`` (``empty`` for a
    text without tokens).

    Example:
        >>> t = np.array([[1, 0], [0, 1], [3, 4]], dtype=np.float32)
        >>> pool(t, [np.array([0, 1]), np.array([2])], np.zeros(2, np.float32)).round(3)
        array([[0.707, 0.707],
               [0.6  , 0.8  ]], dtype=float32)
    """
    out = np.empty((len(token_ids), table.shape[1]), dtype=np.float32)
    for i, ids in enumerate(token_ids):
        # The sum has the mean's direction; one text at a time keeps a query to a few
        # small numpy calls (a query costs microseconds).
        vector = table[ids].sum(axis=0) if len(ids) else empty
        norm = float(np.sqrt(vector @ vector))
        out[i] = vector / norm if norm > 0 else vector
    return out


class DenseTable:
    """A query vector for every text from a per-token table and the encoder's tokenizer.

    Args:
        table: one row per vocabulary id (``vocab_size × dim``).
        empty: the encoder's vector of a text without tokens.
        tokenizer: the encoder's fast tokenizer, as ``tokenizer.json`` text.
        info: what it was distilled from (``encoder``, ``max_tokens``) and how.
    """

    kind: ClassVar[str] = "dense-table"

    def __init__(
        self, table: Vectors, empty: Vectors, tokenizer: str, info: Mapping[str, Any]
    ) -> None:
        self.table = table
        self.empty = np.asarray(empty, dtype=np.float32)
        self.tokenizer_json = tokenizer
        self.info = dict(info)
        self.encoder = str(self.info["encoder"])
        self.max_tokens = int(self.info["max_tokens"])
        self._tokenizer = _tokenizer(tokenizer)

    @property
    def dim(self) -> int:
        return int(self.table.shape[1])

    def meta(self) -> dict[str, Any]:
        return {"vocab_size": int(self.table.shape[0]), "dim": self.dim, **self.info}

    def write(self, directory: Path) -> None:
        np.save(directory / TABLE, np.ascontiguousarray(self.table, dtype=np.float32))
        np.save(directory / EMPTY, self.empty)
        (directory / TOKENIZER).write_text(self.tokenizer_json, encoding="utf-8")

    @classmethod
    def read(cls, directory: Path, meta: dict[str, Any]) -> DenseTable:
        try:  # memory-mapped (processes serving one collection share the pages), read as a
            # plain array (no memmap subclass overhead on each query's gather)
            table = np.asarray(np.load(directory / TABLE, mmap_mode="r"))
            empty = np.load(directory / EMPTY)
            tokenizer = (directory / TOKENIZER).read_text(encoding="utf-8")
        except (OSError, ValueError) as exc:
            raise IndexFormatError(f"cannot read dense table {directory}: {exc}") from exc
        shape = (meta.get("vocab_size"), meta.get("dim"))
        if table.dtype != np.float32 or table.shape != shape or empty.shape != shape[1:]:
            raise IndexFormatError(f"{directory}: table is not float32 {shape}")
        info = {k: v for k, v in meta.items() if k not in ("kind", "vocab_size", "dim")}
        return cls(table, empty, tokenizer, info)

    def token_ids(self, texts: Sequence[str]) -> list[TokenIds]:
        """Each text's content token ids, cut to the encoder's window."""
        encode = self._tokenizer.encode
        return [
            np.asarray(encode(t, add_special_tokens=False).ids[: self.max_tokens], np.int64)
            for t in texts
        ]

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        """Query vectors (unit length), one row per text."""
        return pool(self.table, self.token_ids(texts), self.empty)


def _tokenizer(tokenizer_json: str) -> Any:
    try:
        from tokenizers import Tokenizer  # type: ignore[import-untyped]
    except ImportError as exc:
        raise missing_dependency("tokenizers", "dense") from exc
    tokenizer = Tokenizer.from_str(tokenizer_json)
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer
