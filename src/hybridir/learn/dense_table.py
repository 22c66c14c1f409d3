"""Transformer-free dense queries: a per-token embedding table whose rows, pooled over a
query's tokens, stand in for the dense encoder's query vector, so that a query costs one
tokenizer call and a mean of table rows.

LightRetriever (Ma et al., "LightRetriever: A LLM-based Hybrid Retrieval Architecture with
1000x Faster Query Inference", 2025) keeps the full encoder for documents and reduces the
dense query encoder to an embedding lookup: a query's vector is the average of its tokens'
vectors. Static embedding models do the same on both sides (model2vec, Tulkens & van Dongen,
2024; sentence-transformers' "Static Embeddings", Aarsen, 2025).

**Pooling** (:func:`pool`): the mean of the rows of a text's tokens (the tokenizer's content
tokens, in the encoder's window), then L2 normalisation. A learned per-token weight times a
row would add nothing: after normalisation only a row's direction and its length relative to
the other rows count, so each row's length *is* its token's weight (stopwords learn short
rows).

**Attention pooling** (:func:`attend`, when the table has a query map): a token's weight may
then depend on the other tokens of the text. The normalised mean ``h`` is mapped to one
query vector per head (``q_j = h M_j``); head ``j`` takes a softmax over the text's tokens of
``q_j · row`` and gives slice ``j`` of the output dimensions as the weighted sum of that
slice of the rows. This is multi-head attention pooling with the seed computed from the bag
itself (Set Transformer's "pooling by multihead attention", Lee et al., ICML 2019; the
multi-hop attention of Lin et al., "A Structured Self-Attentive Sentence Embedding", ICLR
2017). A zero map gives every token the same weight: the mean, as :func:`pool`. It costs one
``dim × (heads·dim)`` product and a softmax per query, about 80 µs in all. The product runs
in numpy's own loops (``einsum``), not BLAS: BLAS threads, spun up for a product this size,
made concurrent queries wait on each other (a server with two workers answered 151 instead
of 398 requests/s). Fitted on SciFact it lifts the hybrid by about 0.002 nDCG@10 on both
query splits (docs/benchmarks.md).

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
QUERY_MAP = "query_map.npy"
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


def attend(
    table: Vectors, token_ids: Sequence[TokenIds], empty: Vectors, query_map: Vectors
) -> Vectors:
    """Each text's L2-normalised attention pooling of its tokens' rows (module docstring):
    ``query_map`` is ``dim × (heads·dim)``: head ``j``'s seed is ``h @ query_map`` in columns
    ``j·dim … (j+1)·dim``; ``dim`` must divide by ``heads``.

    Example:
        >>> t = np.array([[1, 0], [0, 1]], dtype=np.float32)
        >>> ids = [np.array([0, 1])]
        >>> attend(t, ids, np.zeros(2, np.float32), np.zeros((2, 2), np.float32)).round(3)
        array([[0.707, 0.707]], dtype=float32)

        The zero map pools as the mean; this one weighs token 0 by ``e^1.41`` against 1:
        >>> leaning = np.array([[1, 0], [1, 0]], np.float32)  # seed (1.41, 0): token 0 first
        >>> attend(t, ids, np.zeros(2, np.float32), leaning).round(3)
        array([[0.972, 0.236]], dtype=float32)
    """
    dim = table.shape[1]
    heads = query_map.shape[1] // dim
    width = dim // heads
    out = np.empty((len(token_ids), dim), dtype=np.float32)
    for i, ids in enumerate(token_ids):
        if not len(ids):
            vector = empty
        else:
            rows = table[ids]
            total = rows.sum(axis=0)
            norm = float(np.sqrt(total @ total))
            mean = total / norm if norm > 0 else total
            # einsum, not ``@``: no BLAS threads for one query (module docstring)
            seeds = np.einsum("d,de->e", mean, query_map).reshape(heads, dim)
            logits = np.einsum("td,hd->th", rows, seeds)
            weights = np.exp(logits - logits.max(axis=0))
            weights /= weights.sum(axis=0)
            sliced = rows.reshape(len(ids), heads, width)
            vector = np.einsum("th,thw->hw", weights, sliced).reshape(dim)
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
        query_map: the attention pooling's ``dim × (heads·dim)`` map (:func:`attend`), or
            ``None`` for the plain mean (:func:`pool`).
    """

    kind: ClassVar[str] = "dense-table"

    def __init__(
        self,
        table: Vectors,
        empty: Vectors,
        tokenizer: str,
        info: Mapping[str, Any],
        query_map: Vectors | None = None,
    ) -> None:
        dim = table.shape[1]
        if query_map is not None and (
            query_map.ndim != 2
            or query_map.shape[0] != dim
            or query_map.shape[1] % dim
            or not query_map.shape[1]
            or dim % (query_map.shape[1] // dim)
        ):
            raise IndexFormatError(
                f"a dense table's query map must be ({dim} × heads·{dim}) with heads dividing "
                f"{dim}, got {query_map.shape}"
            )
        self.table = table
        self.query_map = query_map
        self.empty = np.asarray(empty, dtype=np.float32)
        self.tokenizer_json = tokenizer
        self.info = dict(info)
        self.encoder = str(self.info["encoder"])
        self.max_tokens = int(self.info["max_tokens"])
        self._tokenizer = _tokenizer(tokenizer)

    @property
    def dim(self) -> int:
        return int(self.table.shape[1])

    @property
    def heads(self) -> int:
        """Attention heads of the pooling (0: the plain mean)."""
        return 0 if self.query_map is None else self.query_map.shape[1] // self.dim

    def meta(self) -> dict[str, Any]:
        heads = {"heads": self.heads} if self.heads else {}
        return {"vocab_size": int(self.table.shape[0]), "dim": self.dim, **heads, **self.info}

    def write(self, directory: Path) -> None:
        np.save(directory / TABLE, np.ascontiguousarray(self.table, dtype=np.float32))
        np.save(directory / EMPTY, self.empty)
        if self.query_map is not None:
            np.save(directory / QUERY_MAP, np.ascontiguousarray(self.query_map, np.float32))
        (directory / TOKENIZER).write_text(self.tokenizer_json, encoding="utf-8")

    @classmethod
    def read(cls, directory: Path, meta: dict[str, Any]) -> DenseTable:
        try:  # memory-mapped (processes serving one collection share the pages), read as a
            # plain array (no memmap subclass overhead on each query's gather)
            table = np.asarray(np.load(directory / TABLE, mmap_mode="r"))
            empty = np.load(directory / EMPTY)
            tokenizer = (directory / TOKENIZER).read_text(encoding="utf-8")
            heads = int(meta.get("heads", 0))
            query_map = np.load(directory / QUERY_MAP) if heads else None
        except (OSError, ValueError, TypeError) as exc:
            raise IndexFormatError(f"cannot read dense table {directory}: {exc}") from exc
        shape = (meta.get("vocab_size"), meta.get("dim"))
        if table.dtype != np.float32 or table.shape != shape or empty.shape != shape[1:]:
            raise IndexFormatError(f"{directory}: table is not float32 {shape}")
        dim = int(meta["dim"])  # = table.shape[1], checked above
        if query_map is not None and (
            query_map.dtype != np.float32 or query_map.shape != (dim, heads * dim)
        ):
            raise IndexFormatError(f"{directory}: query map is not float32 for {heads} heads")
        info = {k: v for k, v in meta.items() if k not in ("kind", "vocab_size", "dim", "heads")}
        return cls(table, empty, tokenizer, info, query_map)

    def token_ids(self, texts: Sequence[str]) -> list[TokenIds]:
        """Each text's content token ids, cut to the encoder's window."""
        encode = self._tokenizer.encode
        return [
            np.asarray(encode(t, add_special_tokens=False).ids[: self.max_tokens], np.int64)
            for t in texts
        ]

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        """Query vectors (unit length), one row per text."""
        if self.query_map is None:
            return pool(self.table, self.token_ids(texts), self.empty)
        return attend(self.table, self.token_ids(texts), self.empty, self.query_map)


def _tokenizer(tokenizer_json: str) -> Any:
    try:
        from tokenizers import Tokenizer  # type: ignore[import-untyped]
    except ImportError as exc:
        raise missing_dependency("tokenizers", "dense") from exc
    tokenizer = Tokenizer.from_str(tokenizer_json)
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer
