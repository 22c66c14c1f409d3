"""Trained models kept inside a collection: ``models/<kind>-<digest>/`` with ``meta.json``.

A model folder is written under a temporary name, synced, then renamed, and never changed
afterwards, so a reader never sees half a model; the name carries a digest of the content,
so retraining writes a new folder and the collection's config picks which one is live.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, ClassVar, Protocol

from hybridir._atomic import fsync_dir, fsync_tree, make_temp_dir
from hybridir.config import check_model_name
from hybridir.errors import IndexFormatError, NotFoundError

META = "meta.json"
TMP_PREFIX = ".tmp-"
"""Folders being written by :func:`save_model` (a killed writer leaves one behind)."""


class StoredModel(Protocol):
    """What a storable model provides."""

    kind: ClassVar[str]

    def meta(self) -> dict[str, Any]:
        """JSON-ready description (features, parameters, training summary)."""
        ...

    def write(self, directory: Path) -> None:
        """Write the model's own files (``meta.json`` is written by :func:`save_model`)."""
        ...

    @classmethod
    def read(cls, directory: Path, meta: dict[str, Any]) -> StoredModel: ...


def save_model(models_dir: Path, model: StoredModel) -> str:
    """Store ``model`` under ``models_dir`` and return its name."""
    tmp = make_temp_dir(models_dir, TMP_PREFIX)
    try:
        model.write(tmp)
        meta = {"kind": model.kind, **model.meta()}
        (tmp / META).write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
        digest = hashlib.sha256()
        for path in sorted(tmp.iterdir()):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
        name = f"{model.kind}-{digest.hexdigest()[:12]}"
        target = models_dir / name
        fsync_tree(tmp)
        if target.exists():  # identical content already stored
            return name
        os.replace(tmp, target)
        fsync_dir(models_dir)  # the rename survives a crash before a manifest names it
        fsync_dir(models_dir.parent)
        return name
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def read_meta(models_dir: Path, name: str) -> tuple[Path, dict[str, Any]]:
    """The folder and ``meta.json`` of stored model ``name`` (its class is chosen by
    ``meta["kind"]``: :data:`hybridir.learn.models.KINDS`)."""
    check_model_name(name)
    directory = models_dir / name
    if not (directory / META).is_file():
        raise NotFoundError(f"no trained model {name!r} in {models_dir}")
    try:
        meta = json.loads((directory / META).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise IndexFormatError(f"model {directory} is unreadable: {exc}") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("kind"), str):
        raise IndexFormatError(f"model {directory} is unreadable: meta.json names no kind")
    return directory, meta
