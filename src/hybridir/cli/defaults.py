"""Defaults that fit the data: a new collection's language and dense model, chosen from its
documents (``--language auto``, ``--dense auto``), printed and stored in its config.

The language is the documents' dominant one (:mod:`hybridir.collection.language`); the dense
model follows it (:func:`hybridir.dense.coverage.default_model`: MiniLM for English,
multilingual USE for the languages it covers, none for others). A model whose extra is not
installed leaves the collection BM25-only, with a warning that names the extra.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

from hybridir.cli.app import err
from hybridir.config import AUTO, CollectionConfig, DenseConfig

if TYPE_CHECKING:
    from hybridir._progress import ShowProgress
    from hybridir.cli.reading import SourceOptions
    from hybridir.collection.sources import IngestReport
    from hybridir.types import Document


@contextmanager
def printed_warnings() -> Iterator[None]:
    """Print each distinct Python warning raised in the block as one ``warning: …`` line
    on stderr (instead of Python's file-and-line format)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for message in dict.fromkeys(str(w.message) for w in caught):
                err.print(f"warning: {message}", markup=False, highlight=False, soft_wrap=True)


def choose_dense(dense: DenseConfig | None, language: str, *, required: bool) -> DenseConfig | None:
    """``dense`` with a model ``"auto"`` replaced by the model for ``language``.

    Args:
        dense: the dense options given (``None``: no dense list).
        language: the collection's analyzer language.
        required: a dense list is needed (``evaluate --retriever dense``): fall back to
            MiniLM for a language no known model covers, and keep a model whose extra is
            missing (loading it then fails with the install hint).
    """
    from hybridir.dense.coverage import MINILM, default_model, missing_extra

    if dense is None or dense.model != AUTO:
        return dense
    model = default_model(language)
    if model is None:
        if required:
            return replace(dense, model=MINILM)
        err.print(
            f"dense: none (no known model covers {language!r}; give one with --dense MODEL)",
            markup=False,
            highlight=False,
        )
        return None
    hint = missing_extra(model)
    if hint is not None and not required:
        err.print(
            f"warning: indexing BM25 only: the dense model {model} needs {hint}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return None
    err.print(f"dense: {model} (for {language})", markup=False, highlight=False)
    return replace(dense, model=model)


def choose_defaults(
    config: CollectionConfig, docs: list[Document], *, dense_required: bool = False
) -> CollectionConfig:
    """``config`` with its language (detected, or checked against ``docs``) and its dense
    model chosen, each said on stderr."""
    from hybridir.collection.language import resolve_language

    config, choice = resolve_language(config, docs)
    err.print(choice.describe(), markup=False, highlight=False)
    dense = choose_dense(config.dense, config.analyzer.language, required=dense_required)
    return replace(config, dense=dense)


def read_with_defaults(
    config: CollectionConfig,
    source: str,
    reading: SourceOptions,
    show: ShowProgress,
    *,
    dense_required: bool = False,
) -> tuple[CollectionConfig, list[Document], IngestReport]:
    """The documents of ``source`` and the config chosen for them (:func:`choose_defaults`).

    The source is read and parsed once. A dense model still to be chosen cannot measure
    passages yet, so the records are first cut with words as the measure, and cut again
    when the model chosen measures in its own tokens (a chunked source with a
    sentence-transformers model)."""
    from hybridir.collection.sources import chunk_loaded, count_truncated, load_units
    from hybridir.dense.encoders import is_use_multilingual

    loaded, report, name = load_units(source, show, **reading.kwargs())
    auto_dense = config.dense is not None and config.dense.model == AUTO
    provisional = replace(config, dense=None) if auto_dense else config
    docs, report = chunk_loaded(provisional, loaded, report, name, show)
    chosen = choose_defaults(config, docs, dense_required=dense_required)
    if auto_dense and chosen.dense is not None:
        if chosen.chunking is not None and not is_use_multilingual(chosen.dense.model):
            docs, report = chunk_loaded(chosen, loaded, report, name, show)
        else:
            report.truncated = count_truncated(chosen, docs)
    return chosen, docs, report
