"""The dominant language of a corpus, from a bounded, deterministic sample of its texts.

Each sampled text gets one vote: the language py3langid (Lui & Baldwin, "langid.py: An
Off-the-shelf Language Identification Tool", ACL 2012 demos; the maintained py3langid fork)
finds in its first :data:`SAMPLE_CHARS` characters. Without py3langid the vote goes to the
language of the text's dominant Unicode script (Han → zh, kana → ja, Hangul → ko, …), which
cannot tell Latin-script languages apart. A language is dominant when it has more than
:data:`DOMINANT` of the votes (a corpus split 52/48 between two languages has none).

Example:
    >>> detect_language(["这是一个句子。", "北京是中国的首都。"]).language
    'zh'
"""

from __future__ import annotations

import importlib.util
import random
from collections import Counter
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, NamedTuple

SAMPLE_HEAD = 100
"""The first texts of a corpus that are always sampled."""
SAMPLE_RANDOM = 100
"""Texts drawn (seeded) from the rest of the corpus."""
SAMPLE_CHARS = 1000
"""Characters of each sampled text that are looked at."""
DOMINANT = 0.6
"""The share of votes above which a language is the corpus's."""

# py3langid labels that name a variety of a language hybridir analyses by its ISO 639-1
# code (its model's classes: Moroccan and Egyptian Arabic, Cantonese, Wu Chinese, Nynorsk).
_ALIASES = {"ary": "ar", "arz": "ar", "yue": "zh", "wuu": "zh", "nn": "no", "uzs": "uz"}
_NO_LANGUAGE = "zxx"

# Unicode scripts (regex's \p{Script} names) whose texts are, for want of a detector, taken
# to be in one language; kana decides between Japanese and Chinese (KANA_SHARE).
SCRIPT_LANGUAGES = {
    "Han": "zh",
    "Hiragana": "ja",
    "Katakana": "ja",
    "Hangul": "ko",
    "Thai": "th",
    "Arabic": "ar",
    "Devanagari": "hi",
    "Bengali": "bn",
    "Telugu": "te",
    "Tamil": "ta",
    "Greek": "el",
    "Cyrillic": "ru",
    "Armenian": "hy",
    "Hebrew": "he",
    "Latin": "",
}
"""Script → ISO 639-1 code of the language assumed ("": cannot tell)."""
KANA_SHARE = 0.1
"""Share of kana among Han and kana characters from which a text is Japanese."""


class Detection(NamedTuple):
    """What :func:`detect_language` found.

    Attributes:
        language: the dominant language's code (py3langid's labels mapped to ISO 639-1
            where one exists), or ``None`` when no language has most votes.
        share: the share of sampled texts (with letters) voting for it (the leading
            language's share when none dominates).
        texts: how many texts were sampled.
        method: ``"py3langid"`` or ``"script"`` (the Unicode-script fallback).
        votes: (code, texts) pairs, most votes first.
    """

    language: str | None
    share: float
    texts: int
    method: str
    votes: tuple[tuple[str, int], ...]


def sample_texts(
    texts: Sequence[str], head: int = SAMPLE_HEAD, extra: int = SAMPLE_RANDOM, seed: int = 0
) -> list[str]:
    """The first ``head`` texts and ``extra`` more drawn with ``seed`` from the rest (in
    corpus order), each cut to :data:`SAMPLE_CHARS` characters: the same corpus always
    gives the same sample, and its cost does not grow with the corpus."""
    rest = range(head, len(texts))
    drawn = sorted(random.Random(seed).sample(rest, min(extra, len(rest))))
    return [texts[i][:SAMPLE_CHARS] for i in [*range(min(head, len(texts))), *drawn]]


@cache
def _identifier() -> Any:
    """py3langid's model, loaded once (about half a second)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE)


def langid_vote(text: str) -> str | None:
    """The language py3langid finds in ``text`` (``None``: no letters)."""
    if not any(c.isalpha() for c in text):
        return None
    label, _score = _identifier().classify(text)
    code = _ALIASES.get(label, label)
    return None if code == _NO_LANGUAGE else code


def script_vote(text: str) -> str | None:
    """The language of ``text``'s most frequent script (:data:`SCRIPT_LANGUAGES`);
    ``None`` for no letters or a script shared by many languages (Latin)."""
    import regex

    counts = {s: len(regex.findall(rf"\p{{Script={s}}}", text)) for s in SCRIPT_LANGUAGES}
    kana = counts["Hiragana"] + counts["Katakana"]
    if kana and kana >= KANA_SHARE * (kana + counts["Han"]):
        return "ja"
    script, count = max(counts.items(), key=lambda item: item[1])
    return (SCRIPT_LANGUAGES[script] or None) if count else None


VOTERS: dict[str, Callable[[str], str | None]] = {
    "py3langid": langid_vote,
    "script": script_vote,
}
"""Ways to find one text's language, best first (py3langid when installed)."""


def default_method() -> str:
    """``"py3langid"`` when it is installed, else ``"script"``."""
    return "py3langid" if importlib.util.find_spec("py3langid") is not None else "script"


def detect_language(texts: Sequence[str], method: str | None = None) -> Detection:
    """The dominant language of ``texts``, from :func:`sample_texts` of them.

    Args:
        texts: the corpus's texts (title and body together), in corpus order.
        method: a :data:`VOTERS` name (default: :func:`default_method`).
    """
    method = method or default_method()
    sample = sample_texts(texts)
    found = [v for v in map(VOTERS[method], sample) if v is not None]
    # Ties by code, so that the result never depends on the order of the votes.
    votes = tuple(sorted(Counter(found).items(), key=lambda kv: (-kv[1], kv[0])))
    if not votes:
        return Detection(None, 0.0, len(sample), method, ())
    code, count = votes[0]
    share = count / len(found)
    return Detection(code if share > DOMINANT else None, share, len(sample), method, votes)
