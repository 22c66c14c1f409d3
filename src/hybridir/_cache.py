"""Where hybridir keeps derived files (downloads, exported models, embeddings)."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "HYBRIDIR_CACHE"


def cache_root(kind: str) -> Path:
    """``$HYBRIDIR_CACHE/<kind>``, else ``~/.cache/hybridir/<kind>`` (not created here)."""
    env = os.environ.get(CACHE_ENV)
    base = Path(env) if env else Path.home() / ".cache" / "hybridir"
    return base / kind
