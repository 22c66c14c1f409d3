"""The house's structure: names a config may hold agree with the registries that use them."""

from __future__ import annotations

from hybridir import config
from hybridir.diversify import METHODS as DIVERSIFY
from hybridir.fusion import METHODS, MISSING, NORMALIZERS
from hybridir.query import DENSE_QUERY_MODES
from hybridir.sparse.bm25 import VARIANTS
from hybridir.sparse.impact import QUERY_MODES
from hybridir.text.languages import STOPWORD_SOURCES


def test_config_names_are_the_registries_keys() -> None:
    """config.py sits at the bottom and cannot import the registries, so it declares their
    names; each registry must be keyed by exactly those names."""
    assert set(config.BM25_VARIANTS) == set(VARIANTS)
    assert set(config.FIXED_METHODS) == set(METHODS)
    assert set(config.NORMALIZATIONS) == set(NORMALIZERS)
    assert set(config.MISSING_RULES) == set(MISSING)
    assert set(config.SPLADE_QUERY_MODES) == set(QUERY_MODES)
    assert set(config.DENSE_QUERY_MODES) == set(DENSE_QUERY_MODES)
    assert set(config.STOPWORD_SOURCES) == set(STOPWORD_SOURCES)
    assert set(config.DIVERSIFY_METHODS) == set(DIVERSIFY)
    assert not set(config.LEARNED_METHODS) & set(config.FIXED_METHODS)
