"""Per-token query weights for inference-free learned sparse search, distilled from the
SPLADE query encoder.

Inference-free learned sparse retrievers score a query by looking its tokens up in a weight
table instead of running a model (Geng et al., "Towards Competitive Search Relevance For
Inference-Free Learned Sparse Retrievers", 2024; LightRetriever, Ma et al., 2025, learns
one weight per vocabulary token). Here the table is fitted to the full encoder: a token's
weight is the mean weight the SPLADE query encoder gives that token in the training queries
that contain it (0 for tokens it ignores, such as stopwords). Tokens never seen in training
get ``a + b · idf`` from a least-squares line fitted on the seen tokens, so unseen rare
words still count more than frequent ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from hybridir.errors import ConfigError, IndexFormatError

if TYPE_CHECKING:
    from hybridir.sparse.encoders import SparseEncoder


class TokenWeights:
    """A query weight for every vocabulary id of a sparse encoder."""

    kind: ClassVar[str] = "token-weights"

    def __init__(self, weights: NDArray[np.float32], info: Mapping[str, Any]) -> None:
        self.weights = np.ascontiguousarray(weights, dtype=np.float32)
        self.info = dict(info)

    def meta(self) -> dict[str, Any]:
        return {"vocab_size": int(self.weights.shape[0]), **self.info}

    def write(self, directory: Path) -> None:
        np.save(directory / "weights.npy", self.weights)

    @classmethod
    def read(cls, directory: Path, meta: dict[str, Any]) -> TokenWeights:
        try:
            weights = np.load(directory / "weights.npy")
        except (OSError, ValueError) as exc:
            raise IndexFormatError(f"cannot read {directory / 'weights.npy'}: {exc}") from exc
        if weights.shape != (meta["vocab_size"],):
            raise IndexFormatError(f"{directory}: weights do not match the vocabulary size")
        return cls(weights, {k: v for k, v in meta.items() if k not in ("kind", "vocab_size")})


def fit_token_weights(
    encoder: SparseEncoder, queries: Sequence[str], idf: Mapping[str, float]
) -> TokenWeights:
    """Fit the table on ``queries`` (texts only; no judgements needed).

    Args:
        encoder: the SPLADE encoder whose query weights are distilled.
        queries: training query texts.
        idf: IDF of each term in the collection (for tokens unseen in training).
    """
    if not queries:
        raise ConfigError("token weights need at least one training query")
    vocab = encoder.vocab
    total = np.zeros(len(vocab))
    count = np.zeros(len(vocab))
    for tokens, vector in zip(
        encoder.tokenize(queries), encoder.encode_queries(queries), strict=True
    ):
        weight_of = dict(zip(vector.ids.tolist(), vector.weights.tolist(), strict=True))
        for t in set(tokens):
            total[t] += weight_of.get(t, 0.0)
            count[t] += 1
    seen = count > 0
    table = np.zeros(len(vocab), dtype=np.float64)
    table[seen] = total[seen] / count[seen]
    idf_of = np.asarray([idf.get(term, 0.0) for term in vocab])
    fit_rows = seen & (idf_of > 0)
    slope, intercept = 0.0, float(table[seen].mean())
    if int(fit_rows.sum()) >= 2 and np.ptp(idf_of[fit_rows]) > 0:
        slope, intercept = (float(x) for x in np.polyfit(idf_of[fit_rows], table[fit_rows], 1))
    unseen = ~seen & (idf_of > 0)
    table[unseen] = np.maximum(intercept + slope * idf_of[unseen], 0.0)
    info = {
        "encoder": encoder.name,
        "n_queries": len(queries),
        "tokens_seen": int(seen.sum()),
        "fallback": {"intercept": intercept, "slope": slope},
    }
    return TokenWeights(table.astype(np.float32), info)
