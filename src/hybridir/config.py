"""Frozen configuration records, one per component, that round-trip through JSON.

Each config's fields are the keyword arguments of the component it configures, so a
collection manifest can rebuild every component with ``cls(**config.to_dict())``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hybridir.errors import ConfigError

C = TypeVar("C", bound="_JsonConfig")


class _JsonConfig:
    """Mixin: ``to_dict`` / ``from_dict`` with unknown-key checking."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict of the fields (nested configs become dicts)."""
        return dataclasses.asdict(self)  # type: ignore[call-overload,no-any-return]

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        """Rebuild from :meth:`to_dict` output; unknown keys raise :class:`ConfigError`."""
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(
                f"unknown {cls.__name__} field(s) {unknown}; valid fields: {sorted(names)}"
            )
        return cls(**data)


@dataclass(frozen=True)
class AnalyzerConfig(_JsonConfig):
    """How text becomes index terms.

    Args:
        language: ISO 639-1 code from :func:`hybridir.text.languages` (``"en"``, ``"pl"``, …).
        stemmer: ``"default"`` (the language's registered stemmer), ``"none"``, or a stemmer name
            from the stemmer registry (``"porter"``, ``"stempel"``, ``"morfeusz"``,
            ``"snowball:<algorithm>"``).
        stopwords: ``"default"`` (the language's registered choice), ``"none"``, ``"iso"``
            (stopwords-iso) or ``"lucene"`` (Lucene's list; English only).
        lowercase: lowercase tokens.
        fold_accents: strip diacritics after lowercasing (``"café"`` → ``"cafe"``).
        min_token_length: drop shorter tokens.
        max_token_length: drop longer tokens (Lucene's StandardTokenizer caps at 255).
    """

    language: str = "en"
    stemmer: str = "default"
    stopwords: str = "default"
    lowercase: bool = True
    fold_accents: bool = False
    min_token_length: int = 1
    max_token_length: int = 255

    def __post_init__(self) -> None:
        if self.min_token_length < 1 or self.max_token_length < self.min_token_length:
            raise ConfigError(
                "need 1 <= min_token_length <= max_token_length, got "
                f"{self.min_token_length} and {self.max_token_length}"
            )
        from hybridir.text.languages import STOPWORD_SOURCES

        valid = ["default", *STOPWORD_SOURCES]
        if self.stopwords not in valid:
            raise ConfigError(f"stopwords must be one of {valid}, got {self.stopwords!r}")


@dataclass(frozen=True)
class BM25Config(_JsonConfig):
    """BM25 scoring parameters.

    Args:
        variant: one of :data:`hybridir.sparse.bm25.VARIANTS` (``"lucene"``, ``"robertson"``,
            ``"atire"``, ``"bm25l"``, ``"bm25+"``).
        k1: term-frequency saturation (>= 0).
        b: length normalisation in [0, 1].
        delta: lower-bound shift used by BM25L and BM25+.
        title_weight: times a title token is counted (1 = plain title + text concatenation).
    """

    variant: str = "lucene"
    k1: float = 0.9
    b: float = 0.4
    delta: float = 0.5
    title_weight: int = 1

    def __post_init__(self) -> None:
        if self.k1 < 0:
            raise ConfigError(f"k1 must be >= 0, got {self.k1}")
        if not 0.0 <= self.b <= 1.0:
            raise ConfigError(f"b must be in [0, 1], got {self.b}")
        if self.delta < 0:
            raise ConfigError(f"delta must be >= 0, got {self.delta}")
        if self.title_weight < 0:
            raise ConfigError(f"title_weight must be >= 0, got {self.title_weight}")
        # Imported here so config stays importable without the scoring stack.
        from hybridir.sparse.bm25 import VARIANTS

        if self.variant not in VARIANTS:
            raise ConfigError(f"unknown BM25 variant {self.variant!r}; valid: {sorted(VARIANTS)}")


@dataclass(frozen=True)
class CollectionConfig(_JsonConfig):
    """Everything a collection needs to rebuild its components."""

    analyzer: AnalyzerConfig = field(default_factory=AnalyzerConfig)
    bm25: BM25Config = field(default_factory=BM25Config)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CollectionConfig:
        """Rebuild from :meth:`to_dict` output."""
        unknown = sorted(set(data) - {"analyzer", "bm25"})
        if unknown:
            raise ConfigError(f"unknown CollectionConfig field(s) {unknown}")
        return cls(
            analyzer=AnalyzerConfig.from_dict(dict(data.get("analyzer", {}))),
            bm25=BM25Config.from_dict(dict(data.get("bm25", {}))),
        )
