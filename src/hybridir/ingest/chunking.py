"""Long documents cut into passages that the encoder reads whole, along their structure.

A passage is what the encoders read: ``f"{title} {text}"`` (as the collection writer builds
it), so the parent's title, repeated in every passage, counts against ``ChunkConfig.size``;
a title longer than half the size is cut to its first ``size // 2`` tokens. What is left,
the *budget*, is filled by these rules:

1. **Sections.** A new top-level section (the first heading of the blocks' heading path
   changes) always starts a new passage: two topics in one passage blur its vector, and a
   short passage is still a good retrieval unit. A section of headings alone (no text
   under them) joins the next one.
2. **Blocks whole.** Blocks (paragraphs, lists, tables, code) are packed greedily, in
   order, and a block that fits the budget is never cut; one that does not fit what is left
   of the current passage starts the next.
3. **Headings stay with their text** ("keep with next"): a heading starts a new passage when
   it and the first block under it do not fit what is left, or when the current passage is
   already half full (so that a subsection rather than its tail opens a passage).
4. **Too-long blocks** are cut into sentences (prose) or lines (lists, tables, code)
   (:mod:`hybridir.ingest.sentences`), packed the same way; a sentence longer than the budget
   is cut into windows of at most ``size`` tokens, ``overlap`` tokens repeated from one
   window to the next, on the tokenizer's own offsets, preferring word boundaries.
5. **Overlap.** Within a section, a passage that follows another (not at a heading) starts
   with the previous passage's last whole sentences of at most ``overlap`` tokens; when even
   the last sentence is longer, its last ``overlap`` tokens (from a word start).

Each block is tokenized once; packing adds up the token counts of its spans, which is exact
for WordPiece and words but not always for byte-level BPE (which may count the blank line
between blocks, or a word differently after a space). So every passage is counted once
more, exactly, all of a document's in one batch; when one is over the size, the document is
packed again counting each passage as it is finished, and a passage over the size gives
its last unit back to the next. No passage is longer than ``size`` tokens per the counter.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import islice

from hybridir.config import ChunkConfig
from hybridir.ingest.document import BLOCK_SEPARATOR, Block, Loaded
from hybridir.ingest.sentences import SPLITTERS, Span, sentence_spans
from hybridir.ingest.tokens import TokenCounter, TokenTable, token_windows, word_start
from hybridir.types import HEADINGS, PAGES, PARENT, PASSAGE, Document, passage_id

logger = logging.getLogger(__name__)


def encoded_text(title: str, text: str) -> str:
    """What the encoders read of a document (the collection writer's ``title text``)."""
    return f"{title} {text}".strip()


@dataclass(frozen=True)
class _Unit:
    """A piece of one block, ``block.text[start:end]``: the unit of packing.

    ``piece`` is the index of a hard window of one sentence (-1: not windowed); windows
    after the first start passages of their own, as they already overlap.
    """

    block: int
    start: int
    end: int
    tokens: int
    heading: bool
    piece: int = -1


@dataclass(frozen=True)
class _Context:
    """What every step of one document's chunking reads."""

    blocks: tuple[Block, ...]
    tokens: tuple[TokenTable, ...]
    counter: TokenCounter
    size: int
    overlap: int
    title: str
    budget: int
    exact: bool = False

    def join(self, units: Sequence[_Unit]) -> str:
        """The passage text of ``units``: runs of one block as they stand in the block (a
        run's units are adjacent), blocks separated by a blank line."""
        parts: list[str] = []
        first = 0
        for i, unit in enumerate(units):
            if i + 1 == len(units) or units[i + 1].block != unit.block:
                parts.append(self.blocks[unit.block].text[units[first].start : unit.end])
                first = i + 1
        return BLOCK_SEPARATOR.join(parts)

    def fits_text(self, text: str) -> bool:
        """Whether a passage of ``text`` is at most ``size`` tokens, title included."""
        return self.counter.count(encoded_text(self.title, text)) <= self.size

    def fits(self, units: Sequence[_Unit]) -> bool:
        """Whether the passage of ``units`` is at most ``size`` tokens, title included."""
        return self.fits_text(self.join(units))

    def parts(self, block: int, start: int, end: int) -> list[Span]:
        """The sentences (prose) or lines (lists, tables, code) of a block's span."""
        text = self.blocks[block].text
        return SPLITTERS.get(self.blocks[block].kind, sentence_spans)(text, start, end)


def _cut_title(title: str, size: int, counter: TokenCounter) -> str:
    """The first ``size // 2`` tokens of a title that is longer."""
    limit = size // 2
    spans = counter.spans(title)
    (start, end), *_ = token_windows(
        spans,
        limit,
        0,
        lambda s, e: counter.count(title[spans[s].start : spans[e - 1].end]) <= limit,
    )
    return title[spans[start].start : spans[end - 1].end]


def _sections(blocks: Sequence[Block]) -> list[list[int]]:
    """Indexes of the non-blank blocks, one list per top-level section (rule 1)."""
    sections: list[list[int]] = []
    top: tuple[str, ...] | None = None
    for i, block in enumerate(blocks):
        if not block.text.strip():
            continue
        key = block.headings[:1]
        opens = block.kind == "heading" and len(block.headings) == 1
        if not sections or key != top or opens:
            sections.append([])
        sections[-1].append(i)
        top = key
    merged: list[list[int]] = []
    carry: list[int] = []
    for section in sections:
        if all(blocks[i].kind == "heading" for i in section):
            carry.extend(section)
            continue
        merged.append(carry + section)
        carry = []
    if carry:
        merged.append(carry)
    return merged


def _windows(ctx: _Context, block: int, span: Span) -> list[_Unit]:
    """A too-long sentence (or line) cut into hard windows (rule 4), each of which makes a
    passage of at most ``size`` tokens on its own, title included."""
    text = ctx.blocks[block].text
    start, end = span
    lo, hi = ctx.tokens[block].between(start, end)
    spans = ctx.tokens[block].spans[lo:hi]

    def chars(s: int, e: int) -> Span:
        # A window runs up to the next token, so that characters outside every token (a
        # word counter's punctuation) stay with the text before them; the first and last
        # windows reach the ends of the sentence.
        a = start if s == 0 else spans[s].start
        b = end if e == len(spans) else spans[e].start
        while b > a and text[b - 1].isspace():
            b -= 1
        return a, b

    def fits(s: int, e: int) -> bool:
        a, b = chars(s, e)
        return ctx.fits_text(text[a:b])

    heading = ctx.blocks[block].kind == "heading"
    return [
        _Unit(block, *chars(s, e), e - s, heading, piece)
        for piece, (s, e) in enumerate(token_windows(spans, ctx.budget, ctx.overlap, fits))
    ]


def _split(ctx: _Context, block: int, spans: Sequence[Span]) -> list[_Unit]:
    """Units of the parts (sentences or lines) of one block, too-long parts windowed."""
    heading = ctx.blocks[block].kind == "heading"
    units: list[_Unit] = []
    for a, b in spans:
        n = ctx.tokens[block].count(a, b)
        if n <= ctx.budget:
            units.append(_Unit(block, a, b, n, heading))
        else:
            units.extend(_windows(ctx, block, (a, b)))
    return units


def _units(ctx: _Context, section: Sequence[int]) -> list[_Unit]:
    """A section's blocks as units: whole when they fit the budget, else split (rule 4)."""
    units: list[_Unit] = []
    for i in section:
        text = ctx.blocks[i].text
        a, b = len(text) - len(text.lstrip()), len(text.rstrip())
        n = ctx.tokens[i].count(a, b)
        if n <= ctx.budget:
            units.append(_Unit(i, a, b, n, ctx.blocks[i].kind == "heading"))
        else:
            units.extend(_split(ctx, i, ctx.parts(i, a, b)))
    return units


def _sentences(ctx: _Context, unit: _Unit) -> list[_Unit]:
    """``unit`` as units of its sentences (or lines); a window is one part of its own."""
    if unit.piece >= 0:
        return [unit]
    spans = ctx.parts(unit.block, unit.start, unit.end)
    if len(spans) == 1:
        return [unit]
    tokens = ctx.tokens[unit.block]
    return [_Unit(unit.block, a, b, tokens.count(a, b), unit.heading) for a, b in spans]


def _tail(ctx: _Context, unit: _Unit) -> list[_Unit]:
    """The last ``overlap`` tokens of ``unit`` from a word start (rule 5's fallback)."""
    tokens = ctx.tokens[unit.block]
    lo, hi = tokens.between(unit.start, unit.end)
    first = hi - ctx.overlap
    while lo < first < hi and not word_start(tokens.spans, first):
        first += 1
    if not lo < first < hi:
        return []
    return [_Unit(unit.block, tokens.spans[first].start, unit.end, hi - first, unit.heading)]


def _overlap(ctx: _Context, body: Sequence[_Unit]) -> list[_Unit]:
    """The last whole sentences of ``body`` of at most ``overlap`` tokens (rule 5)."""
    if ctx.overlap == 0:
        return []
    taken: list[_Unit] = []
    used = 0
    for unit in reversed(body):
        if unit.heading:
            break
        for part in reversed(_sentences(ctx, unit)):
            if used + part.tokens > ctx.overlap:
                return taken if taken else _tail(ctx, part)
            taken.insert(0, part)
            used += part.tokens
    return taken


@dataclass
class _Passage:
    """A passage being built: ``lead`` units repeated from the previous one, then its own."""

    units: list[_Unit]
    lead: int = 0

    @property
    def body(self) -> list[_Unit]:
        return self.units[self.lead :]

    @property
    def tokens(self) -> int:
        return sum(u.tokens for u in self.units)


def _opens_passage(ctx: _Context, current: _Passage, queue: deque[_Unit]) -> bool:
    """Whether the next unit must start a new passage (rules 2 to 4)."""
    unit = queue[0]
    used = current.tokens
    if unit.piece > 0 or used + unit.tokens > ctx.budget:
        return True
    if not unit.heading or current.body[-1].heading:
        return False
    if 2 * used >= ctx.budget:
        return True
    ahead = 0
    for nxt in queue:  # the heading(s) and the first block under them (rule 3)
        ahead += nxt.tokens
        if not nxt.heading:
            break
    return used + ahead > ctx.budget


def _after_heading(ctx: _Context, current: _Passage, queue: deque[_Unit]) -> None:
    """When a block does not fit after the heading(s) ending ``current``, cut it into its
    sentences (lines) in ``queue``, so that its first ones join the heading (rule 3)."""
    unit = queue[0]
    if current.body[-1].heading and current.tokens + unit.tokens > ctx.budget:
        parts = _sentences(ctx, unit)
        if len(parts) > 1:
            queue.popleft()
            queue.extendleft(reversed(parts))


def _settle(ctx: _Context, current: _Passage, queue: deque[_Unit]) -> _Passage | None:
    """``current`` made to fit exactly: it gives its last units back to ``queue`` or drops
    its lead. A single unit that fits the budget but not beside the title (a tokenizer
    that counts the join) goes back to ``queue`` as windows that fit exactly (``None``).
    Only in ``ctx.exact`` mode; otherwise the estimate stands until :func:`chunk` checks."""
    while ctx.exact and not ctx.fits(current.units):
        if len(current.body) > 1:
            queue.appendleft(current.units.pop())
        elif current.lead:
            current = _Passage(current.units[1:], current.lead - 1)
        else:
            unit = current.units[0]
            windows = _windows(ctx, unit.block, (unit.start, unit.end))
            if len(windows) == 1 and (windows[0].start, windows[0].end) == (unit.start, unit.end):
                logger.warning("a passage of one token is longer than the chunk size")
                return current
            queue.extendleft(reversed(windows))
            return None
    return current


def _next(ctx: _Context, done: _Passage | None, queue: deque[_Unit]) -> _Passage:
    """The passage after ``done``: empty, or led by ``done``'s overlap (rule 5) when the
    next unit continues the same text (not a heading, not a later window)."""
    if done is None or not queue or queue[0].heading or queue[0].piece > 0:
        return _Passage([])
    unit = queue[0]
    lead = _overlap(ctx, done.body)
    while lead and sum(u.tokens for u in lead) + unit.tokens > ctx.budget:
        lead.pop(0)
    return _Passage(lead, len(lead))


def _pack(ctx: _Context, units: Sequence[_Unit]) -> list[_Passage]:
    """One section's units packed into passages (rules 2 to 5)."""
    passages: list[_Passage] = []
    queue = deque(units)
    current = _Passage([])
    while queue or current.body:
        if queue and current.body:
            _after_heading(ctx, current, queue)
        if queue and not (current.body and _opens_passage(ctx, current, queue)):
            current.units.append(queue.popleft())
            continue
        done = _settle(ctx, current, queue)
        if done is not None:
            passages.append(done)
        current = _next(ctx, done, queue)
    return passages


def _common_prefix(paths: Iterable[tuple[str, ...]]) -> list[str]:
    prefix: list[str] | None = None
    for path in paths:
        if prefix is None:
            prefix = list(path)
            continue
        n = 0
        while n < min(len(prefix), len(path)) and prefix[n] == path[n]:
            n += 1
        del prefix[n:]
    return prefix or []


def _document(doc: Loaded, ctx: _Context, position: int, passage: _Passage) -> Document:
    """The :class:`Document` of one passage, with the parent's metadata and its place."""
    metadata = dict(doc.metadata)
    metadata[PARENT] = doc.doc_id
    metadata[PASSAGE] = position
    metadata[HEADINGS] = _common_prefix(ctx.blocks[u.block].headings for u in passage.body)
    pages = {ctx.blocks[u.block].page for u in passage.units} - {None}
    if pages:
        metadata[PAGES] = sorted(p for p in pages if p is not None)
    return Document(passage_id(doc.doc_id, position), ctx.join(passage.units), ctx.title, metadata)


def _passages(ctx: _Context) -> list[_Passage]:
    return [p for s in _sections(ctx.blocks) for p in _pack(ctx, _units(ctx, s))]


def _contexts(docs: Sequence[Loaded], config: ChunkConfig, counter: TokenCounter) -> list[_Context]:
    """Each document's context: its passage title and budget, its blocks tokenized (all the
    documents' blocks in one batch, so that the Rust tokenizer's threads share the work)."""
    titles = [d.title if d.title.strip() else "" for d in docs]
    title_tokens = counter.count_many(titles)
    for i, n in enumerate(title_tokens):
        if n > config.size // 2:  # a title gets at most half the size
            titles[i] = _cut_title(titles[i], config.size, counter)
            title_tokens[i] = counter.count(titles[i])
    spans = iter(counter.spans_many([b.text for d in docs for b in d.blocks]))
    return [
        _Context(
            doc.blocks,
            tuple(TokenTable(next(spans)) for _ in doc.blocks),
            counter,
            config.size,
            config.overlap,
            title,
            config.size - n,
        )
        for doc, title, n in zip(docs, titles, title_tokens, strict=True)
    ]


def _chunk_batch(
    docs: Sequence[Loaded], config: ChunkConfig, counter: TokenCounter
) -> list[list[Document]]:
    """:func:`chunk` of several documents, counting their texts in batches."""
    contexts = _contexts(docs, config, counter)
    packed = [_passages(ctx) for ctx in contexts]
    texts = [
        encoded_text(ctx.title, ctx.join(p.units))
        for ctx, ps in zip(contexts, packed, strict=True)
        for p in ps
    ]
    counts = counter.count_many(texts)
    out = []
    at = 0
    for doc, ctx, passages in zip(docs, contexts, packed, strict=True):
        mine, at = counts[at : at + len(passages)], at + len(passages)
        if any(n > config.size for n in mine):
            passages = _passages(replace(ctx, exact=True))
        if not passages and ctx.title:
            passages = [_Passage([])]
        out.append([_document(doc, ctx, i, p) for i, p in enumerate(passages)])
    return out


def chunk(doc: Loaded, config: ChunkConfig, counter: TokenCounter) -> list[Document]:
    """Cut ``doc`` into passages of at most ``config.size`` tokens (module docstring rules).

    Args:
        doc: a document as read, with its blocks.
        config: passage size and overlap, in ``counter``'s tokens.
        counter: the tokenizer lengths are measured in
            (:func:`hybridir.ingest.tokens.token_counter`).

    Returns:
        The passages in reading order: ids ``passage_id(doc.doc_id, i)``, the parent's
        title, and the parent's metadata plus :data:`~hybridir.types.PARENT`,
        :data:`~hybridir.types.PASSAGE` (``i``), :data:`~hybridir.types.HEADINGS` (the
        heading path the passage lies under) and, when blocks have pages,
        :data:`~hybridir.types.PAGES`. A document without text gives one passage with an
        empty text when it has a title, else none.

    Example:
        >>> from hybridir.ingest.document import Block
        >>> from hybridir.ingest.tokens import WordCounter
        >>> doc = Loaded("d", "", (Block("One two three four. Five six seven eight nine."),))
        >>> [p.text for p in chunk(doc, ChunkConfig(size=8, overlap=0), WordCounter())]
        ['One two three four.', 'Five six seven eight nine.']
    """
    return _chunk_batch([doc], config, counter)[0]


def chunk_many(
    docs: Iterable[Loaded], config: ChunkConfig, counter: TokenCounter, batch_size: int = 64
) -> Iterator[Document]:
    """:func:`chunk` of each document in turn, lazily, tokenizing ``batch_size`` documents
    at a time (the same passages as :func:`chunk`, faster)."""
    it = iter(docs)
    while batch := list(islice(it, batch_size)):
        for passages in _chunk_batch(batch, config, counter):
            yield from passages


def too_long(texts: Iterable[str], counter: TokenCounter, batch_size: int = 256) -> int:
    """How many of ``texts`` are longer than ``counter.window`` (0 without a window): the
    documents an encoder would truncate when they are added without chunking."""
    window = counter.window
    if window is None:
        return 0
    over = 0
    batch: list[str] = []
    for text in texts:
        batch.append(text)
        if len(batch) >= batch_size:
            over += sum(n > window for n in counter.count_many(batch))
            batch = []
    if batch:
        over += sum(n > window for n in counter.count_many(batch))
    return over
