"""A new collection's analyzer language, checked against its documents.

``AnalyzerConfig(language="auto")`` becomes the language detected in the documents
(:func:`hybridir.text.detect.detect_language`): the first write of a collection created
with it resolves it (or ``hybridir index``, before it creates the collection), and the
manifest stores the resolved code, never ``"auto"``. A language that was given is kept, with
a :class:`LanguageMismatchWarning` when the documents are in another one.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import NamedTuple

from hybridir.config import AUTO, CollectionConfig
from hybridir.text.detect import Detection, detect_language
from hybridir.text.languages import (
    GENERIC,
    LANGUAGES,
    UnsupportedLanguageWarning,
    analyzer_language,
)
from hybridir.types import PARENT, Document


class LanguageMismatchWarning(UserWarning):
    """The documents are not in the language the analyzer was given."""


class LanguageChoice(NamedTuple):
    """The language a collection analyses, and why.

    Attributes:
        language: the :data:`~hybridir.text.languages.LANGUAGES` key stored in its config.
        given: what the configuration said (``"auto"`` or a code).
        detection: what the documents showed.
    """

    language: str
    given: str
    detection: Detection

    @property
    def detected(self) -> bool:
        """Whether the language was chosen from the documents (``"auto"``)."""
        return self.given == AUTO

    def describe(self) -> str:
        """One line: ``language: zh (detected)``, ``language: en`` or ``language: xx
        (generic: no dominant language)``."""
        if not self.detected:
            return f"language: {self.language}"
        found = self.detection.language
        if found is None:
            return f"language: {self.language} (generic: no dominant language detected)"
        if self.language == GENERIC and found != GENERIC:
            return f"language: {self.language} (generic; detected {found})"
        return f"language: {self.language} (detected)"


def document_texts(docs: Sequence[Document]) -> list[str]:
    """What language detection reads: title and text of each document, and of a file cut
    into passages its first passage only (metadata :data:`~hybridir.types.PARENT`), so that
    one long file does not outvote the other files with its many passages."""
    texts: list[str] = []
    seen: set[str] = set()
    for d in docs:
        parent = str(d.metadata.get(PARENT, d.doc_id))
        if parent not in seen:
            seen.add(parent)
            texts.append(f"{d.title}\n{d.text}" if d.title else d.text)
    return texts


def _registered(code: str) -> str:
    """:func:`analyzer_language` of a detector's code; one that is not an ISO 639-1 code
    (py3langid also knows ISO 639-3 languages) is analysed generically, with a warning."""
    if code in LANGUAGES or len(code) == 2:
        return analyzer_language(code)
    warnings.warn(
        f"no analyzer for the detected language {code!r}: using the generic one",
        UnsupportedLanguageWarning,
        stacklevel=3,
    )
    return GENERIC


def choose_language(given: str, detection: Detection) -> LanguageChoice:
    """The language to analyse with: ``given``, or the detected one when ``given`` is
    ``"auto"`` (the generic analyzer, with a warning, when no language dominates).

    Warns:
        LanguageMismatchWarning: a language was given and the documents are mostly in
            another one.
        UnsupportedLanguageWarning: the language has no analyzer of its own.
    """
    found = detection.language
    if given != AUTO:
        language = analyzer_language(given)
        if found is not None and found != given and _registered_quietly(found) != language:
            warnings.warn(
                f"the analyzer language is {given!r} but {detection.share:.0%} of the "
                f"{detection.texts} documents sampled are in {found!r}; pass --language "
                f"{found} (or auto) to analyse them as such",
                LanguageMismatchWarning,
                stacklevel=2,
            )
        return LanguageChoice(language, given, detection)
    if found is None:
        leading = ", ".join(f"{code} {n}" for code, n in detection.votes[:3]) or "no text"
        warnings.warn(
            f"no dominant language in the {detection.texts} documents sampled ({leading}): "
            "using the generic analyzer; pass --language to choose one",
            UnsupportedLanguageWarning,
            stacklevel=2,
        )
        return LanguageChoice(GENERIC, given, detection)
    return LanguageChoice(_registered(found), given, detection)


def _registered_quietly(code: str) -> str:
    """The analyzer a detected code would get, without warning about it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnsupportedLanguageWarning)
        return _registered(code)


def resolve_language(
    config: CollectionConfig, docs: Sequence[Document]
) -> tuple[CollectionConfig, LanguageChoice]:
    """``config`` with its analyzer language chosen for ``docs`` (:func:`choose_language`)."""
    choice = choose_language(config.analyzer.language, detect_language(document_texts(docs)))
    analyzer = replace(config.analyzer, language=choice.language)
    return replace(config, analyzer=analyzer), choice
