"""ONNX Runtime export of a sentence-transformers model, kept in the hybridir cache.

sentence-transformers exports a model to ONNX through optimum when asked for
``backend="onnx"``; doing it once and saving the result avoids a slow export per process.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from hybridir._cache import cache_root

ONNX_FILE = "onnx/model.onnx"
INT8_SUFFIX = "qint8_avx2"
INT8_FILE = f"onnx/model_{INT8_SUFFIX}.onnx"


def _slug(path: str) -> str:
    digest = hashlib.sha1(str(Path(path).resolve() if Path(path).exists() else path).encode())
    return f"{Path(path).name}-{digest.hexdigest()[:10]}"


def onnx_model_dir(path: str, *, quantize: bool) -> tuple[Path, str]:
    """Folder of the exported model for ``path`` and the ONNX file to load from it.

    Exports (and with ``quantize``, dynamically quantizes to int8 for AVX2) on first use.
    """
    from sentence_transformers import SentenceTransformer

    target = cache_root("onnx") / _slug(path)
    if not (target / ONNX_FILE).is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".export-"))
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache may be shared
        try:
            SentenceTransformer(path, device="cpu", backend="onnx").save_pretrained(str(tmp))
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if quantize and not (target / INT8_FILE).is_file():
        from sentence_transformers import export_dynamic_quantized_onnx_model

        model = SentenceTransformer(
            str(target), device="cpu", backend="onnx", model_kwargs={"file_name": ONNX_FILE}
        )
        # The suffix is explicit: the default name differs across sentence-transformers versions.
        export_dynamic_quantized_onnx_model(model, "avx2", str(target), file_suffix=INT8_SUFFIX)
    return target, INT8_FILE if quantize else ONNX_FILE
