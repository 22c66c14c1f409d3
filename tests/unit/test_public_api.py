"""The curated public namespace: what ``import hybridir`` offers, and nothing heavy at import."""

from __future__ import annotations

import subprocess
import sys

import hybridir


def test_exported_members_are_the_documented_ones() -> None:
    assert sorted(hybridir.__all__) == sorted(
        [
            "Analyzer",
            "AnalyzerConfig",
            "BM25Config",
            "ChunkConfig",
            "Collection",
            "CollectionConfig",
            "ConfigError",
            "DenseConfig",
            "DiversifyConfig",
            "Document",
            "FusionConfig",
            "Hit",
            "HybridirError",
            "IndexFormatError",
            "InvalidInputError",
            "ListContribution",
            "MissingDependencyError",
            "NotFoundError",
            "Qrels",
            "Query",
            "Run",
            "SearchResult",
            "Searcher",
            "ShardUnavailableError",
            "SpladeConfig",
            "UnavailableError",
            "WriterBusyError",
            "__version__",
        ]
    )
    for name in hybridir.__all__:
        assert getattr(hybridir, name) is not None


def test_errors_share_one_base() -> None:
    for name in (
        "ConfigError",
        "IndexFormatError",
        "InvalidInputError",
        "MissingDependencyError",
        "NotFoundError",
        "ShardUnavailableError",
        "UnavailableError",
        "WriterBusyError",
    ):
        assert issubclass(getattr(hybridir, name), hybridir.HybridirError)


def test_import_has_no_side_effects() -> None:
    # No logging handlers, no compiled kernels, no optional stacks pulled in at import.
    code = (
        "import logging, sys; import hybridir; "
        "assert not logging.getLogger().handlers; "
        "heavy = [m for m in ('torch', 'pystempel', 'morfeusz2', 'pytrec_eval', 'typer') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
