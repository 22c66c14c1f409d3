"""The texts a dense query table is fitted on (:mod:`hybridir.learn.dense_fit`), drawn from
the collection itself: titles, whole documents, sentences and random word spans, plus any
training queries.

Sentences and short spans are query-sized pieces of the collection's own vocabulary and
topics (a table only has to be right for the words the collection holds); titles are
query-like; whole documents cost nothing to encode (their vectors are the collection's, in
the embedding cache). Sampling is seeded and nested: a smaller budget gives a subset of a
larger one's texts, whose targets are then already cached. :func:`drawn_texts` also
says which document each title and sentence came from (the positives of the
``"contrastive"`` fitting loss).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

import numpy as np

from hybridir.ingest.sentences import sentence_spans
from hybridir.types import Document

SOURCES = ("titles", "documents", "sentences", "spans", "queries")
"""Where training texts come from (:func:`training_texts`)."""

T = TypeVar("T")


def random_spans(
    words: Sequence[Sequence[str]],
    n: int,
    rng: np.random.Generator,
    shortest: int = 3,
    longest: int = 20,
) -> list[str]:
    """``n`` random spans of ``shortest``–``longest`` consecutive words, from texts drawn
    uniformly among those with at least ``shortest`` words. Drawn one after the other, so
    a smaller ``n`` gives a prefix of a larger one (whose targets are then cached)."""
    candidates = [w for w in words if len(w) >= shortest]
    out = []
    for _ in range(n if candidates else 0):
        text = candidates[int(rng.integers(len(candidates)))]
        size = min(int(rng.integers(shortest, longest + 1)), len(text))
        start = int(rng.integers(len(text) - size + 1))
        out.append(" ".join(text[start : start + size]))
    return out


def sample(texts: list[T], n: int, rng: np.random.Generator) -> list[T]:
    """At most ``n`` of ``texts``, in their order: a prefix of one random permutation, so a
    smaller ``n`` gives a subset of a larger one."""
    if len(texts) <= n:
        return texts
    return [texts[i] for i in np.sort(rng.permutation(len(texts))[:n])]


def training_texts(
    documents: Iterable[Document],
    queries: Sequence[str] = (),
    *,
    budget: int = 20_000,
    seed: int = 0,
) -> dict[str, list[str]]:
    """The texts a table is fitted on, by source (:data:`SOURCES`).

    Titles, whole documents (``title text``, the text the collection encoded) and
    ``queries`` are taken up to ``budget`` each; sentences (3–60 words) and random
    3–20-word spans share ``budget``, half each (spans fill what sentences leave).
    Documents are taken in doc id order, so the same documents give the same texts however
    they are stored or sharded, and a smaller budget gives a subset of a larger one's.
    """
    return drawn_texts(documents, queries, budget=budget, seed=seed)[0]


def drawn_texts(
    documents: Iterable[Document],
    queries: Sequence[str] = (),
    *,
    budget: int = 20_000,
    seed: int = 0,
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """:func:`training_texts`, and the source document of each title and sentence: its
    whole text (as in the ``documents`` source; the first document in doc id order when
    several hold the same text)."""
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)]
    titles: list[tuple[str, str]] = []
    whole: list[str] = []
    sentences: list[tuple[str, str]] = []
    words: list[list[str]] = []
    for doc in sorted(documents, key=lambda d: d.doc_id):
        text = f"{doc.title} {doc.text}".strip()
        if doc.title.strip():
            titles.append((doc.title.strip(), text))
        whole.append(text)
        for a, b in sentence_spans(doc.text):
            if 3 <= len(doc.text[a:b].split()) <= 60:
                sentences.append((doc.text[a:b], text))
        words.append(doc.text.split())
    sentences = sample(sentences, budget // 2, rngs[0])
    titles = sample(titles, budget, rngs[1])
    texts = {
        "titles": [t for t, _ in titles],
        "documents": sample(whole, budget, rngs[2]),
        "sentences": [t for t, _ in sentences],
        "spans": random_spans(words, budget - len(sentences), rngs[3]),
        "queries": sample([q for q in queries if q.strip()], budget, rngs[4]),
    }
    origins: dict[str, str] = {}
    for found, source in [*titles, *sentences]:
        origins.setdefault(found, source)
    return {name: list(dict.fromkeys(found)) for name, found in texts.items()}, origins
