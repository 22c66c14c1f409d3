"""Shared fixtures: the folder of offline test collections."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared datasets folder: ``$HYBRIDIR_DATA`` or ``<checkout>/../shared/datasets``."""
    env = os.environ.get("HYBRIDIR_DATA")
    path = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
    if not path.is_dir():
        pytest.skip(f"shared datasets folder not found at {path}; set HYBRIDIR_DATA")
    return path
