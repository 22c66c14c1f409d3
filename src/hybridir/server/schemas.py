"""Request bodies of the HTTP API (pydantic models; their names are the OpenAPI schemas)."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

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


class FusionOverrides(BaseModel):
    """Fusion settings that override the collection's for one search."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    method: str | None = None
    norm: str | None = None
    alpha: float | None = Field(None, ge=0.0, le=1.0)
    rrf_k: float | None = Field(None, ge=0.0)


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


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    title: str = ""
    text: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)


class DocumentsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    documents: list[DocumentIn] = Field(min_length=1)
    upsert: bool = False
