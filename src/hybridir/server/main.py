"""Entry for uvicorn workers: the app built from the settings ``hybridir serve`` exported."""

from __future__ import annotations

import json
import os

from fastapi import FastAPI

from hybridir.server.app import create_app
from hybridir.server.config import ServerConfig


def app_from_env() -> FastAPI:
    """``create_app`` for the settings in ``$HYBRIDIR_SERVER_CONFIG`` (set by the CLI)."""
    settings = json.loads(os.environ["HYBRIDIR_SERVER_CONFIG"])
    config = ServerConfig.from_dirs(
        settings["dirs"],
        settings["keys"],
        keys_for_reads=settings["keys_for_reads"],
        cors_origins=tuple(settings["cors"]),
        ray_address=settings.get("ray_address"),
    )
    return create_app(config)
