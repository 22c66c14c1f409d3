"""LightGBM, imported on demand with the extra's install hint."""

from __future__ import annotations

from typing import Any

from hybridir.errors import missing_dependency


def lightgbm() -> Any:
    try:
        import lightgbm
    except ImportError as exc:
        raise missing_dependency("lightgbm", "learn") from exc
    return lightgbm


def booster_from_string(text: str) -> Any:
    return lightgbm().Booster(model_str=text)
