"""The options commands share, each declared once, and the one way a command opens a collection.

An *option group* is a function whose keyword parameters are the options (typer
``Annotated`` declarations with their help text, defaults and help panel) and whose return
value is the config object they stand for; :func:`~hybridir.cli.signature.with_options`
adds a group's options to the commands that take it. Options a single command takes are
declared on the command.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from hybridir.cli.app import OPENED
from hybridir.cli.signature import with_options
from hybridir.config import (
    AUTO,
    AnalyzerConfig,
    BM25Config,
    DenseConfig,
    FusionConfig,
    SpladeConfig,
)

if TYPE_CHECKING:
    from hybridir.distributed.opening import AnyCollection
    from hybridir.rerank import Reranker

T = TypeVar("T")


WaitOpt = Annotated[
    float,
    typer.Option(
        "--wait", help="Seconds to wait for another process's write to finish (0: fail at once)."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object last.")]
SplitOpt = Annotated[str, typer.Option(help="Qrels split.")]


def analyzer_options(
    language: Annotated[
        str,
        typer.Option(
            help="ISO 639-1 analyzer language (en, pl, de, zh, …), or auto: the dominant "
            "language of the documents.",
            rich_help_panel="Analyzer",
        ),
    ] = AUTO,
    stemmer: Annotated[
        str,
        typer.Option(
            help="'default', 'none', 'porter', 'stempel', 'morfeusz' or 'snowball:ALGORITHM'.",
            rich_help_panel="Analyzer",
        ),
    ] = "default",
) -> AnalyzerConfig:
    """``--language`` and ``--stemmer``."""
    return AnalyzerConfig(language=language, stemmer=stemmer)


def bm25_options(
    k1: Annotated[float, typer.Option(help="BM25 k1.", rich_help_panel="BM25")] = 1.2,
    b: Annotated[float, typer.Option(help="BM25 b.", rich_help_panel="BM25")] = 0.75,
    variant: Annotated[
        str,
        typer.Option(
            help="BM25 variant: lucene, robertson, atire, bm25l, bm25+.", rich_help_panel="BM25"
        ),
    ] = "lucene",
    title_weight: Annotated[
        int,
        typer.Option(
            help="Times each title term counts (0 ignores titles).", rich_help_panel="BM25"
        ),
    ] = 1,
) -> BM25Config:
    """``--k1``, ``--b``, ``--variant`` and ``--title-weight``."""
    return BM25Config(variant=variant, k1=k1, b=b, title_weight=title_weight)


_DENSE = "Dense retrieval"
BackendOpt = Annotated[
    str, typer.Option(help="Encoder backend: torch, onnx, onnx-int8.", rich_help_panel=_DENSE)
]
VectorIndexOpt = Annotated[
    str, typer.Option(help="FAISS factory string (Flat = exact).", rich_help_panel=_DENSE)
]


def dense_options(
    dense: Annotated[
        str,
        typer.Option(
            help="Also embed with this sentence-transformers model; auto: all-MiniLM-L6-v2 "
            "for English, multilingual USE for the languages it covers, none for others; "
            "none: BM25 only.",
            rich_help_panel=_DENSE,
        ),
    ] = AUTO,
    dense_backend: BackendOpt = "torch",
    vector_index: VectorIndexOpt = "Flat",
    dense_languages: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated languages the dense model covers (ISO 639-1), for a model "
            "hybridir does not know; a collection in another language leaves its list out "
            "of the default fusion.",
            rich_help_panel=_DENSE,
        ),
    ] = None,
) -> DenseConfig | None:
    """``--dense MODEL`` (none: no dense list; auto: ``model="auto"``, chosen for the
    language by :func:`hybridir.cli.index.choose_dense`), ``--dense-backend``,
    ``--vector-index`` and ``--dense-languages``."""
    if dense.lower() == "none":
        return None
    languages = None
    if dense_languages is not None:
        languages = tuple(x.strip() for x in dense_languages.split(",") if x.strip())
    return DenseConfig(model=dense, backend=dense_backend, index=vector_index, languages=languages)


def encoder_options(
    dense_model: Annotated[
        str,
        typer.Option(
            help="Encoder for the dense and hybrid retrievers (auto: all-MiniLM-L6-v2 for "
            "English, multilingual USE for the languages it covers).",
            rich_help_panel=_DENSE,
        ),
    ] = AUTO,
    dense_backend: BackendOpt = "torch",
    vector_index: VectorIndexOpt = "Flat",
) -> DenseConfig:
    """``--dense-model`` (with a default), ``--dense-backend`` and ``--vector-index``."""
    return DenseConfig(model=dense_model, backend=dense_backend, index=vector_index)


_SPLADE = "Learned sparse (SPLADE)"


def splade_options(
    splade: Annotated[
        str | None,
        typer.Option(
            help="Also index learned sparse weights of this SPLADE model (splade-tiny).",
            rich_help_panel=_SPLADE,
        ),
    ] = None,
    splade_query: Annotated[
        str,
        typer.Option(
            help="SPLADE query weighting: encoder, idf (inference-free).", rich_help_panel=_SPLADE
        ),
    ] = "encoder",
    splade_max_terms: Annotated[
        int | None,
        typer.Option(help="Keep each document's top-N SPLADE terms.", rich_help_panel=_SPLADE),
    ] = None,
) -> SpladeConfig | None:
    """``--splade MODEL`` (none: no learned sparse list), ``--splade-query`` and
    ``--splade-max-terms``."""
    if splade is None:
        return None
    return SpladeConfig(model=splade, query_mode=splade_query, max_terms=splade_max_terms)


@dataclass(frozen=True)
class FusionOptions:
    """The fusion settings given on the command line; ``None`` (or an absent depth) keeps
    the base configuration's."""

    method: str | None = None
    norm: str | None = None
    alpha: float | None = None
    rrf_k: float | None = None
    missing: str | None = None
    depths: Mapping[str, int] = field(default_factory=dict)

    def over(self, base: FusionConfig) -> FusionConfig:
        """``base`` with the given settings in place of its own (depths per list).

        Raises:
            ConfigError: a given value is not valid (:class:`FusionConfig` checks them).
        """
        return replace(
            base,
            method=_given(self.method, base.method),
            norm=_given(self.norm, base.norm),
            alpha=_given(self.alpha, base.alpha),
            rrf_k=_given(self.rrf_k, base.rrf_k),
            missing=_given(self.missing, base.missing),
            depths={**base.depths, **self.depths},
        )


def _given(value: T | None, default: T) -> T:
    return default if value is None else value


_FUSION = "Fusion"


def fusion_options(
    fusion: Annotated[
        str | None,
        typer.Option(
            "--fusion", help="rrf, convex, combsum, combmnz, dbsf, tmm, …", rich_help_panel=_FUSION
        ),
    ] = None,
    norm: Annotated[
        str | None,
        typer.Option(help="minmax, zscore, l2, dbsf, tmm, arctan, rank.", rich_help_panel=_FUSION),
    ] = None,
    alpha: Annotated[
        float | None,
        typer.Option(help="Weight of the dense list (convex).", rich_help_panel=_FUSION),
    ] = None,
    rrf_k: Annotated[
        float | None, typer.Option("--rrf-k", help="RRF rank constant.", rich_help_panel=_FUSION)
    ] = None,
    missing: Annotated[
        str | None,
        typer.Option(help="Absent-document rule: zero, min, skip.", rich_help_panel=_FUSION),
    ] = None,
) -> FusionOptions:
    """``--fusion``, ``--norm``, ``--alpha``, ``--rrf-k`` and ``--missing``."""
    return FusionOptions(method=fusion, norm=norm, alpha=alpha, rrf_k=rrf_k, missing=missing)


@with_options(fusion=fusion_options)
def fusion_depth_options(
    *,
    fusion: FusionOptions,
    sparse_depth: Annotated[
        int | None, typer.Option(help="BM25 candidates fused.", rich_help_panel=_FUSION)
    ] = None,
    dense_depth: Annotated[
        int | None, typer.Option(help="Dense candidates fused.", rich_help_panel=_FUSION)
    ] = None,
) -> FusionOptions:
    """:func:`fusion_options` plus ``--sparse-depth`` and ``--dense-depth``."""
    given = (("bm25", sparse_depth), ("dense", dense_depth))
    return replace(fusion, depths={name: depth for name, depth in given if depth is not None})


@dataclass(frozen=True)
class RerankOptions:
    """``--rerank SPEC`` and ``--no-rerank``."""

    spec: str | None = None
    skip: bool = False

    @property
    def flag(self) -> bool | None:
        """The ``rerank`` argument of ``Searcher.search`` / ``run``: ``False`` skips the
        collection's default reranker, ``None`` applies it."""
        return False if self.skip else None

    def reranker(self, collection: AnyCollection) -> Reranker | None:
        """The reranker ``--rerank`` names (``None``: the collection's default)."""
        if self.spec is None:
            return None
        from hybridir.rerank import reranker_from_spec

        return reranker_from_spec(collection.snapshot(), self.spec)


def rerank_options(
    rerank: Annotated[
        str | None,
        typer.Option(
            help="Reranker: cross-encoder:MODEL, bi-encoder[:MODEL] or collaborative:NAME "
            "(default: the collection's).",
            rich_help_panel="Reranking",
        ),
    ] = None,
    no_rerank: Annotated[
        bool,
        typer.Option(
            "--no-rerank",
            help="Skip the collection's default reranker.",
            rich_help_panel="Reranking",
        ),
    ] = False,
) -> RerankOptions:
    """``--rerank`` and ``--no-rerank``."""
    return RerankOptions(spec=rerank, skip=no_rerank)


def open_collection(path: Path, wait: float = 0.0) -> AnyCollection:
    """Open the existing collection at ``path``, one or sharded (a sharded one on the Ray
    cluster ``$RAY_ADDRESS``, else a local Ray instance): every command that reads or
    writes one opens it here.

    Args:
        path: the collection's folder.
        wait: seconds a write waits for another process's write to finish (``--wait``).

    Raises:
        IndexFormatError: ``path`` is not a collection, or its manifest is damaged or of
            an unknown format version.
    """
    from hybridir.distributed.opening import open_collection as open_any

    collection = open_any(path, wait=wait)
    OPENED.append(collection)
    return collection


def names_a_file(source: str) -> bool:
    """Whether a run, qrels or topics argument names a file (an existing one, or a path
    with a file suffix, so that a mistyped file name is reported as a missing file) rather
    than a dataset folder or name."""
    path = Path(source)
    return path.is_file() or bool(path.suffix and not path.is_dir())
