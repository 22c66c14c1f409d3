"""Entry for uvicorn workers: the app built from the settings ``hybridir serve`` exported."""

from __future__ import annotations

import json
import os
from pathlib import Path

from fastapi import FastAPI

from hybridir.server.app import create_app
from hybridir.server.config import ServerConfig

ENV = "HYBRIDIR_SERVER_CONFIG"
FACTORY = "hybridir.server.main:app_from_env"
"""What uvicorn imports in each worker process (``--workers`` > 1)."""


def export_config(config: ServerConfig, api_key_file: Path | None) -> None:
    """Put ``config`` in ``$HYBRIDIR_SERVER_CONFIG`` for the workers to read (the keys by
    their file's path, so no key is copied into the environment)."""
    os.environ[ENV] = json.dumps(
        {
            "dirs": [str(p) for p in config.collections.values()],
            "keys": str(api_key_file) if api_key_file else None,
            "keys_for_reads": config.keys_for_reads,
            "cors": list(config.cors_origins),
            "ray_address": config.ray_address,
            "header_timeout": config.header_timeout,
            "body_timeout": config.body_timeout,
            "write_wait": config.write_wait,
        }
    )


def app_from_env() -> FastAPI:
    """``create_app`` for the settings in ``$HYBRIDIR_SERVER_CONFIG`` (set by the CLI)."""
    settings = json.loads(os.environ[ENV])
    config = ServerConfig.from_dirs(
        settings["dirs"],
        settings["keys"],
        keys_for_reads=settings["keys_for_reads"],
        cors_origins=tuple(settings["cors"]),
        ray_address=settings.get("ray_address"),
        header_timeout=settings["header_timeout"],
        body_timeout=settings["body_timeout"],
        write_wait=settings["write_wait"],
    )
    return create_app(config)
