"""The compiled vocabulary (:mod:`hybridir.sparse.lexicon`) answers exactly what
``dict.get`` answers, and the index's long batches encode the same through it."""

from __future__ import annotations

import random

import numpy as np
import pytest

from hybridir import Analyzer
from hybridir.sparse import index as index_module
from hybridir.sparse.index import BM25Index
from hybridir.sparse.lexicon import Lexicon, build_slots, lookup_keys, utf8_keys
from hybridir.sparse.postings import build_from_terms
from hybridir.sparse.warmup import warm_kernels

ALPHABET = "ab\u00e9\u0142\U0001f600\x00\n "


def _random_terms(rng: random.Random, n: int, longest: int) -> list[str]:
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, longest))) for _ in range(n)]


def _dict_ids(terms: list[str], probes: list[str]) -> list[int]:
    vocabulary = {term: i for i, term in enumerate(terms)}
    return [vocabulary.get(p, -1) for p in probes]


EDGES = [
    "",
    "a" * 7,
    "a" * 8,
    "a" * 9,
    "a" * 255,
    "a" * 256,
    "a" * 300,
    "abcdefgh",
    "abcdefghX",
    "abcdefghY",
    "a",
    "a\x00",
    "\ud800",
    "\ud83d\ude00",
    "\U0001f600",
    "line\nbreak",
]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ids_are_those_of_a_dict(seed: int) -> None:
    warm_kernels()
    rng = random.Random(seed)
    terms = _random_terms(rng, 3000, 12) + EDGES[: 8 + seed]  # repeats among the random ones
    lexicon = Lexicon.build(terms)
    probes = terms + _random_terms(rng, 3000, 12) + EDGES + ["a" * 254, "abcdefgZ"]
    rng.shuffle(probes)
    assert lexicon.lookup(probes).tolist() == _dict_ids(terms, probes)


def test_a_repeated_term_keeps_its_later_id_as_a_dict_does() -> None:
    warm_kernels()
    terms = ["cat", "dog", "cat", "hippopotamus", "hippopotamus"]
    assert Lexicon.build(terms).lookup(["cat", "hippopotamus", "dog"]).tolist() == [2, 4, 1]


def test_an_empty_lexicon_and_an_empty_batch() -> None:
    warm_kernels()
    assert Lexicon.build([]).lookup(["a", ""]).tolist() == [-1, -1]
    assert Lexicon.build(["a"]).lookup([]).tolist() == []


def test_keys_are_the_utf8_bytes_each_with_a_newline() -> None:
    for terms in (["ab", "", "c"], ["zł", "", "c"], ["a\nb", "c"]):
        data, ptr, split = utf8_keys(terms)
        assert split == all("\n" not in t for t in terms)
        if split:  # the kernel finds the offsets: check them the same way it would
            offsets = np.flatnonzero(data == 10) + 1
            ptr = np.concatenate([[0], offsets])
        got = [data[ptr[j] : ptr[j + 1] - 1].tobytes().decode("utf-8") for j in range(len(terms))]
        assert got == terms


def test_the_table_is_at_most_half_full() -> None:
    warm_kernels()
    terms = [f"t{i}" for i in range(1000)]
    lexicon = Lexicon.build(terms)
    used = int(np.count_nonzero(lexicon.slots[1::2] != -1))
    assert used == 1000
    assert len(lexicon.slots) // 2 >= 2 * used
    assert lexicon.nbytes == lexicon.slots.nbytes + lexicon.keys.nbytes + lexicon.key_ptr.nbytes


def test_ascii_and_other_batches_share_one_compiled_signature() -> None:
    warm_kernels()
    lexicon = Lexicon.build(["a", "zł"])
    lexicon.lookup(["a", "b"])
    lexicon.lookup(["zł", "line\nbreak"])
    Lexicon.build(["x", "y"])
    assert len(lookup_keys.signatures) == 1
    assert len(build_slots.signatures) == 1


def _scifact_like(rng: random.Random) -> tuple[BM25Index, list[str]]:
    words = _random_terms(rng, 2000, 10) + [f"w{i}" for i in range(3000)]
    docs = [[rng.choice(words) for _ in range(rng.randint(1, 40))] for _ in range(400)]
    index = BM25Index(build_from_terms(docs, [f"d{i}" for i in range(400)]))
    queries = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 12))) for _ in range(300)]
    return index, queries


@pytest.mark.parametrize("seed", [0, 1])
def test_long_batches_encode_the_same_through_the_lexicon(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    warm_kernels()
    index, texts = _scifact_like(random.Random(seed))
    analyzer = Analyzer()
    as_ids = analyzer.term_ids(texts)
    as_lists = analyzer.analyze_many(texts)
    as_terms = [text.split(" ") for text in texts]  # raw terms, odd characters and all
    batches = (as_ids, as_lists, as_terms)
    monkeypatch.setattr(index_module, "LEXICON_MIN_TERMS", 10**9)
    by_dict = [index.encode(batch) for batch in batches]
    assert "lexicon" not in vars(index)
    monkeypatch.setattr(index_module, "LEXICON_MIN_TERMS", 1)
    by_lexicon = [index.encode(batch) for batch in batches]
    assert "lexicon" in vars(index)
    for a, b in zip(by_dict, by_lexicon, strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
    hits = [index.search_encoded(batch, 10) for batch in (by_dict[0], by_lexicon[0])]
    for x, y in zip(*hits, strict=True):
        np.testing.assert_array_equal(x, y)
