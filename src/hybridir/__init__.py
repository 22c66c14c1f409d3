"""hybridir: hybrid sparse + dense retrieval with exact BM25 and trec_eval-exact evaluation."""

from hybridir._version import __version__
from hybridir.collection import Collection
from hybridir.config import (
    AnalyzerConfig,
    BM25Config,
    ChunkConfig,
    CollectionConfig,
    DenseConfig,
    DiversifyConfig,
    FusionConfig,
    SpladeConfig,
)
from hybridir.errors import (
    ConfigError,
    HybridirError,
    IndexFormatError,
    InvalidInputError,
    MissingDependencyError,
    NotFoundError,
    ShardUnavailableError,
    UnavailableError,
    WriterBusyError,
)
from hybridir.search import Searcher
from hybridir.text.analyzer import Analyzer
from hybridir.types import Document, Hit, ListContribution, Qrels, Query, Run, SearchResult

__all__ = [
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
