"""Request bodies of the HTTP API (pydantic models; their names are the OpenAPI schemas)."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field, model_validator

from hybridir.content import FieldName, check_fields
from hybridir.errors import ConfigError
from hybridir.grouping import GroupBy

__all__ = ["DocumentIn", "DocumentsRequest", "FusionOverrides", "SearchRequest"]


def _finite(value: Any) -> Any:
    """``value`` if every number in it is finite. Why: filters and boosts are free-form
    JSON, so no field type refuses the ``NaN``/``Infinity`` a client may send; a NaN
    condition matches nothing without saying so, and an infinite boost makes scores that
    JSON cannot carry."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"numbers must be finite, got {item}")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return value


def _one_per_attribute(fields: list[str] | None) -> list[str] | None:
    """``fields`` if no two of them fill the same part of a hit (``text`` and ``snippet``)."""
    if fields is not None:
        try:
            check_fields(fields)
        except ConfigError as exc:
            raise ValueError(str(exc)) from exc
    return fields


class FusionOverrides(BaseModel):
    """Fusion settings that override the collection's for one search."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    method: str | None = None
    norm: str | None = None
    alpha: float | None = Field(None, ge=0.0, le=1.0)
    rrf_k: float | None = Field(None, ge=0.0)


class DiversifyIn(BaseModel):
    """Diversification of one search (:class:`hybridir.config.DiversifyConfig`)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    method: Literal["mmr", "clusters"] = "mmr"
    lambda_: float = Field(0.7, ge=0.0, le=1.0, alias="lambda")
    depth: int = Field(50, ge=1, le=1000)


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    query: str = Field(min_length=1)
    k: int = Field(10, ge=1)
    retriever: Literal["bm25", "splade", "dense", "hybrid"] | None = None
    fusion: FusionOverrides | None = None
    filter: Annotated[dict[str, Any] | None, AfterValidator(_finite)] = None
    boosts: Annotated[list[dict[str, Any]], AfterValidator(_finite)] = Field(default_factory=list)
    explain: bool = True
    rerank: bool | None = None
    allow_partial: bool = False
    fields: Annotated[list[FieldName] | None, AfterValidator(_one_per_attribute)] = Field(
        None,
        description="Content each hit carries: `title`, `text` or `snippet` (an HTML "
        "fragment: the text escaped, matched query terms in `<mark>`), `metadata`; "
        "default `title`, `text`, `metadata`; `[]` for bare hits.",
    )
    group_by: GroupBy = Field(
        "passage",
        description="`document`: every hit is a parent document scored by its best passage "
        "(MaxP; `passage_id` names it) and `k` counts documents.",
    )
    diversify: DiversifyIn | bool | None = Field(
        None,
        description="Reorder the top hits for a RAG context: `true` (MMR, lambda 0.7), "
        '`{"method": "mmr"|"clusters", "lambda": 0.7, "depth": 50}`, `false` (off); '
        "default: the collection's setting. Needs a dense list.",
    )


ID_NAMES = ("id", "_id", "docid")
"""What a document's id may be called in a request (as in corpus files: BEIR ``_id``,
Pyserini ``id``, MS MARCO ``docid``)."""
TEXT_NAMES = ("text", "contents", "body")
"""What a document's text may be called in a request."""


def _once(data: Any, names: tuple[str, ...], what: str) -> None:
    """Refuse a raw document that names ``what`` more than once among ``names``."""
    if isinstance(data, dict):
        given = [n for n in names if n in data]
        if len(given) > 1:
            raise ValueError(f"give the {what} once, as one of {list(names)} (got {given})")


class DocumentIn(BaseModel):
    """A document to write. Its id may be called ``id``, ``_id`` or ``docid`` and its text
    ``text``, ``contents`` or ``body`` (each exactly once), as in corpus files."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(
        min_length=1,
        validation_alias=AliasChoices(*ID_NAMES),
        description="The document id; also accepted as `_id` or `docid` (exactly one of them).",
    )
    title: str = ""
    text: str = Field(
        "",
        validation_alias=AliasChoices(*TEXT_NAMES),
        description="The body text; also accepted as `contents` or `body` (at most one).",
    )
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _named_once(cls, data: Any) -> Any:
        _once(data, ID_NAMES, "id")
        _once(data, TEXT_NAMES, "text")
        return data


class DocumentsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    documents: list[DocumentIn] = Field(min_length=1)
    upsert: bool = False
