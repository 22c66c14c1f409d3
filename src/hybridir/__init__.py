"""hybridir: hybrid sparse + dense retrieval with exact BM25 and trec_eval-exact evaluation."""

from hybridir.collection import Collection
from hybridir.config import AnalyzerConfig, BM25Config, CollectionConfig
from hybridir.errors import (
    ConfigError,
    HybridirError,
    IndexFormatError,
    InvalidInputError,
    MissingDependencyError,
    NotFoundError,
    WriterBusyError,
)
from hybridir.search import Searcher
from hybridir.text.analyzer import Analyzer
from hybridir.types import Document, Hit, ListContribution, Qrels, Query, Run, SearchResult

__version__ = "0.1.0"

__all__ = [
    "Analyzer",
    "AnalyzerConfig",
    "BM25Config",
    "Collection",
    "CollectionConfig",
    "ConfigError",
    "Document",
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
    "WriterBusyError",
    "__version__",
]
