"""Transformer-free dense queries: a per-token embedding table distilled from the dense
encoder, so that a query costs one tokenizer call and a mean of table rows.

LightRetriever (Ma et al., "LightRetriever: A LLM-based Hybrid Retrieval Architecture with
1000x Faster Query Inference", 2025) keeps the full encoder for documents and reduces the
dense query encoder to an embedding lookup: every vocabulary token is encoded alone once,
and a query's vector is the average of its tokens' vectors. Static embedding models do the
same on both sides: model2vec (Tulkens & van Dongen, 2024) distils a sentence encoder by
encoding each vocabulary token alone, and sentence-transformers' "Static Embeddings" (Aarsen,
2025) train the token table directly. LightRetriever trains its encoder for this use; here
the encoder (and so every stored document vector) is fixed, so the table is fitted to it:

* **Pooling**: the mean of the rows of a text's tokens (the tokenizer's content tokens, in
  the encoder's window), then L2 normalisation. A learned per-token weight times a row
  would add nothing: after normalisation only a row's direction and its length relative to
  the other rows count, so each row's length *is* its token's weight.
* **Initial rows** (:data:`INITS`): each token's own encoder vector (``"tokens"``, the
  LightRetriever / model2vec table), or the model's input token embeddings mapped by a
  least-squares linear projection onto the targets (``"input"``).
* **Fitting** (:func:`fit_rows`): minibatch Adam on the training texts' pooled vectors
  against the encoder's query vectors of the same texts (distillation; no judgements),
  with the loss of :data:`LOSSES`: ``"cosine"`` (``1 - cos``), or ``"scores"``, the
  expected squared error of the query's scores against the collection's documents after
  removing the per-query constant, ``(p - t)ᵀ Σ (p - t)`` with ``Σ`` the covariance of the
  document vectors (the quadratic form of LightRetriever's score-alignment loss).
* **Texts** (:func:`training_texts`): the collection's titles and whole documents (their
  vectors are in the embedding cache already), sentences and random 3–20-word spans of its
  documents (query-sized pieces of its own vocabulary and topics), and any training queries.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from hybridir.dense.cache import encode_documents_cached
from hybridir.dense.encoders import SentenceTransformerEncoder, resolve_model
from hybridir.errors import ConfigError, IndexFormatError, missing_dependency
from hybridir.ingest.sentences import sentence_spans
from hybridir.types import Document

if TYPE_CHECKING:
    import torch

    from hybridir.dense.encoders import Encoder

logger = logging.getLogger(__name__)

Vectors = NDArray[np.float32]
TokenIds = NDArray[np.int64]

TABLE = "table.npy"
EMPTY = "empty.npy"
TOKENIZER = "tokenizer.json"
SOURCES = ("titles", "documents", "sentences", "spans", "queries")
"""Where training texts come from (:func:`training_texts`)."""


# -- the model -----------------------------------------------------------------------------


def pool(table: Vectors, token_ids: Sequence[TokenIds], empty: Vectors) -> Vectors:
    """Each text's L2-normalised mean of its tokens' rows of ``table`` (``empty`` for a
    text without tokens).

    Example:
        >>> t = np.array([[1, 0], [0, 1], [3, 4]], dtype=np.float32)
        >>> pool(t, [np.array([0, 1]), np.array([2])], np.zeros(2, np.float32)).round(3)
        array([[0.707, 0.707],
               [0.6  , 0.8  ]], dtype=float32)
    """
    out = np.empty((len(token_ids), table.shape[1]), dtype=np.float32)
    for i, ids in enumerate(token_ids):
        out[i] = table[ids].mean(axis=0) if len(ids) else empty
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


class DenseTable:
    """A query vector for every text from a per-token table and the encoder's tokenizer.

    Args:
        table: one row per vocabulary id (``vocab_size × dim``).
        empty: the encoder's vector of a text without tokens.
        tokenizer: the encoder's fast tokenizer, as ``tokenizer.json`` text.
        info: what it was distilled from (``encoder``, ``max_tokens``) and how.
    """

    kind: ClassVar[str] = "dense-table"

    def __init__(
        self, table: Vectors, empty: Vectors, tokenizer: str, info: Mapping[str, Any]
    ) -> None:
        self.table = table
        self.empty = np.asarray(empty, dtype=np.float32)
        self.tokenizer_json = tokenizer
        self.info = dict(info)
        self.encoder = str(self.info["encoder"])
        self.max_tokens = int(self.info["max_tokens"])
        self._tokenizer = _tokenizer(tokenizer)

    @property
    def dim(self) -> int:
        return int(self.table.shape[1])

    def meta(self) -> dict[str, Any]:
        return {"vocab_size": int(self.table.shape[0]), "dim": self.dim, **self.info}

    def write(self, directory: Path) -> None:
        np.save(directory / TABLE, np.ascontiguousarray(self.table, dtype=np.float32))
        np.save(directory / EMPTY, self.empty)
        (directory / TOKENIZER).write_text(self.tokenizer_json, encoding="utf-8")

    @classmethod
    def read(cls, directory: Path, meta: dict[str, Any]) -> DenseTable:
        try:  # memory-mapped: processes serving one collection share the pages
            table = np.load(directory / TABLE, mmap_mode="r")
            empty = np.load(directory / EMPTY)
            tokenizer = (directory / TOKENIZER).read_text(encoding="utf-8")
        except (OSError, ValueError) as exc:
            raise IndexFormatError(f"cannot read dense table {directory}: {exc}") from exc
        shape = (meta.get("vocab_size"), meta.get("dim"))
        if table.dtype != np.float32 or table.shape != shape or empty.shape != shape[1:]:
            raise IndexFormatError(f"{directory}: table is not float32 {shape}")
        info = {k: v for k, v in meta.items() if k not in ("kind", "vocab_size", "dim")}
        return cls(table, empty, tokenizer, info)

    def token_ids(self, texts: Sequence[str]) -> list[TokenIds]:
        """Each text's content token ids, cut to the encoder's window."""
        encode = self._tokenizer.encode
        return [
            np.asarray(encode(t, add_special_tokens=False).ids[: self.max_tokens], np.int64)
            for t in texts
        ]

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        """Query vectors (unit length), one row per text."""
        return pool(self.table, self.token_ids(texts), self.empty)


def _tokenizer(tokenizer_json: str) -> Any:
    try:
        from tokenizers import Tokenizer  # type: ignore[import-untyped]
    except ImportError as exc:
        raise missing_dependency("tokenizers", "dense") from exc
    tokenizer = Tokenizer.from_str(tokenizer_json)
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


# -- training texts --------------------------------------------------------------------------


def random_spans(
    words: Sequence[Sequence[str]],
    n: int,
    rng: np.random.Generator,
    shortest: int = 3,
    longest: int = 20,
) -> list[str]:
    """``n`` random spans of ``shortest``–``longest`` consecutive words, from texts drawn
    uniformly among those with at least ``shortest`` words. Drawn one after the other, so
    a smaller ``n`` gives a prefix of a larger one (whose targets are then cached)."""
    candidates = [w for w in words if len(w) >= shortest]
    out = []
    for _ in range(n if candidates else 0):
        text = candidates[int(rng.integers(len(candidates)))]
        size = min(int(rng.integers(shortest, longest + 1)), len(text))
        start = int(rng.integers(len(text) - size + 1))
        out.append(" ".join(text[start : start + size]))
    return out


def sample(texts: list[str], n: int, rng: np.random.Generator) -> list[str]:
    """At most ``n`` of ``texts``, in their order: a prefix of one random permutation, so a
    smaller ``n`` gives a subset of a larger one."""
    if len(texts) <= n:
        return texts
    return [texts[i] for i in np.sort(rng.permutation(len(texts))[:n])]


def training_texts(
    documents: Iterable[Document],
    queries: Sequence[str] = (),
    *,
    budget: int = 20_000,
    seed: int = 0,
) -> dict[str, list[str]]:
    """The texts a table is fitted on, by source (:data:`SOURCES`).

    Titles, whole documents (``title text``, the text the collection encoded) and
    ``queries`` are taken up to ``budget`` each; sentences (3–60 words) and random
    3–20-word spans share ``budget``, half each (spans fill what sentences leave).
    Documents are taken in doc id order, so the same documents give the same texts however
    they are stored or sharded, and a smaller budget gives a subset of a larger one's.
    """
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)]
    titles: list[str] = []
    whole: list[str] = []
    sentences: list[str] = []
    words: list[list[str]] = []
    for doc in sorted(documents, key=lambda d: d.doc_id):
        if doc.title.strip():
            titles.append(doc.title.strip())
        whole.append(f"{doc.title} {doc.text}".strip())
        for a, b in sentence_spans(doc.text):
            if 3 <= len(doc.text[a:b].split()) <= 60:
                sentences.append(doc.text[a:b])
        words.append(doc.text.split())
    sentences = sample(sentences, budget // 2, rngs[0])
    texts = {
        "titles": sample(titles, budget, rngs[1]),
        "documents": sample(whole, budget, rngs[2]),
        "sentences": sentences,
        "spans": random_spans(words, budget - len(sentences), rngs[3]),
        "queries": sample([q for q in queries if q.strip()], budget, rngs[4]),
    }
    return {name: list(dict.fromkeys(found)) for name, found in texts.items()}


# -- fitting ---------------------------------------------------------------------------------


def encode_targets(encoder: Encoder, texts: Sequence[str], show_progress: bool = False) -> Vectors:
    """The encoder's unit query vectors of ``texts``. When queries and documents are
    encoded alike (no prompt, or the same one) they come through the embedding cache, so
    refitting (and the collection's own documents) costs no encoding."""
    cached = getattr(encoder, "query_prompt", None) == getattr(encoder, "document_prompt", None)
    parts = [np.zeros((0, encoder.dim), np.float32)]
    # In slices: each is cached as soon as it is encoded (an interrupted fit resumes), and
    # the encoder's query cache would evict a larger batch as it goes.
    for start in range(0, len(texts), 2048):
        chunk = texts[start : start + 2048]
        if cached:
            parts.append(encode_documents_cached(encoder, chunk, show_progress=show_progress))
        else:
            parts.append(encoder.encode_queries(chunk))
    vectors = np.concatenate(parts)
    return pool(vectors, [np.array([i]) for i in range(len(texts))], np.zeros(0, np.float32))


def token_rows(model: Any, vocab_size: int, batch_size: int = 512) -> Vectors:
    """Each vocabulary token's own vector: the sentence-transformers ``model`` run on the
    one-token text (special tokens around it, as for any text), LightRetriever's cached
    token vectors and model2vec's distilled ones."""
    import torch

    tokenizer = model.tokenizer
    rows: Vectors | None = None
    with torch.inference_mode():
        for start in range(0, vocab_size, batch_size):
            stop = min(start + batch_size, vocab_size)
            ids = torch.tensor(
                [tokenizer.build_inputs_with_special_tokens([i]) for i in range(start, stop)]
            )
            features = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
            if "token_type_ids" in tokenizer.model_input_names:
                features["token_type_ids"] = torch.zeros_like(ids)
            found = model(features)["sentence_embedding"].float().numpy()
            if rows is None:
                rows = np.empty((vocab_size, found.shape[1]), np.float32)
            rows[start:stop] = found
    if rows is None:
        raise ConfigError("the encoder's tokenizer has an empty vocabulary")
    return pool(rows, [np.array([i]) for i in range(vocab_size)], np.zeros(0, np.float32))


def _init_tokens(model: Any, token_ids: Sequence[TokenIds], targets: Vectors) -> Vectors:
    return token_rows(model, _vocab_size(model))


def _init_input(model: Any, token_ids: Sequence[TokenIds], targets: Vectors) -> Vectors:
    """The model's input token embeddings times the ridge-regression map from the training
    texts' pooled input embeddings to their targets (the ridge, 1% of the mean eigenvalue,
    keeps the map from cancelling huge rows against each other when texts are few)."""
    weight = model[0].auto_model.get_input_embeddings().weight
    embeddings = weight.detach().double().numpy()[: _vocab_size(model)]
    pooled = pool(
        embeddings.astype(np.float32), token_ids, np.zeros(embeddings.shape[1], np.float32)
    )
    gram = pooled.T.astype(np.float64) @ pooled
    ridge = 0.01 * np.trace(gram) / len(gram) * np.eye(len(gram))
    projection = np.linalg.solve(gram + ridge, pooled.T.astype(np.float64) @ targets)
    return np.ascontiguousarray(embeddings @ projection, dtype=np.float32)


INITS: dict[str, Callable[[Any, Sequence[TokenIds], Vectors], Vectors]] = {
    "tokens": _init_tokens,
    "input": _init_input,
}
"""How the rows start, by :attr:`TableFit.init`."""


def _cosine_metric(documents: Vectors) -> NDArray[np.float64]:
    """``½ I``: the loss is ``½‖p − t‖² = 1 − cos(p, t)`` for unit vectors."""
    return np.eye(documents.shape[1]) / 2


def _scores_metric(documents: Vectors) -> NDArray[np.float64]:
    """``Σ``, the documents' covariance, scaled to trace ``dim / 2`` (the cosine loss's):
    ``(p − t)ᵀ Σ (p − t)`` is the mean squared error of the query's scores over the
    documents once the per-query constant (which no ranking sees) is removed."""
    cov = np.cov(documents.astype(np.float64), rowvar=False)
    scaled: NDArray[np.float64] = cov * (documents.shape[1] / 2 / np.trace(cov))
    return scaled


LOSSES: dict[str, Callable[[Vectors], NDArray[np.float64]]] = {
    "cosine": _cosine_metric,
    "scores": _scores_metric,
}
"""The distillation loss, as the metric ``M`` of ``(p − t)ᵀ M (p − t)``, by
:attr:`TableFit.loss`, built from the collection's document vectors."""


@dataclass(frozen=True)
class TableFit:
    """How a :class:`DenseTable` is fitted (:func:`fit_dense_table`).

    Args:
        budget: sentences + random spans encoded as training texts (besides titles, whole
            documents and queries, each also capped at ``budget``).
        init: an :data:`INITS` name.
        loss: a :data:`LOSSES` name.
        epochs: passes of minibatch Adam over the texts (0: the initial rows as they are).
        batch_size: texts per step.
        lr: Adam's learning rate.
        seed: text sampling and minibatch order.
    """

    budget: int = 20_000
    init: str = "tokens"
    loss: str = "cosine"
    epochs: int = 8
    batch_size: int = 256
    lr: float = 0.005
    seed: int = 0
    sources: tuple[str, ...] = field(default=SOURCES)

    def __post_init__(self) -> None:
        for kind, name, registry in (("init", self.init, INITS), ("loss", self.loss, LOSSES)):
            if name not in registry:
                raise ConfigError(f"unknown dense table {kind} {name!r}; valid: {sorted(registry)}")
        unknown = sorted(set(self.sources) - set(SOURCES))
        if unknown or not self.sources:
            raise ConfigError(f"dense table sources must be among {list(SOURCES)}, got {unknown}")
        if self.budget < 0 or self.epochs < 0 or self.batch_size < 1 or not self.lr > 0:
            raise ConfigError(
                "need budget >= 0, epochs >= 0, batch_size >= 1 and lr > 0, got "
                f"{self.budget}, {self.epochs}, {self.batch_size} and {self.lr}"
            )


def _loss(
    rows: torch.Tensor,
    flat: torch.Tensor,
    offsets: torch.Tensor,
    targets: torch.Tensor,
    metric: torch.Tensor,
) -> torch.Tensor:
    import torch.nn.functional as F  # noqa: N812

    pooled = F.normalize(F.embedding_bag(flat, rows, offsets, mode="mean"), dim=1)
    error = pooled - targets
    return ((error @ metric) * error).sum(dim=1).mean()


def _batch(token_ids: Sequence[TokenIds], picked: Sequence[int]) -> tuple[Any, Any]:
    import torch

    parts = [token_ids[i] for i in picked]
    offsets = np.cumsum([0] + [len(p) for p in parts[:-1]])
    return torch.from_numpy(np.concatenate(parts)), torch.from_numpy(offsets)


def fit_rows(
    rows: Vectors,
    token_ids: Sequence[TokenIds],
    targets: Vectors,
    metric: NDArray[np.float64],
    settings: TableFit,
) -> tuple[Vectors, list[float]]:
    """Rows fitted by minibatch Adam so each text's pooled rows approach its target under
    ``metric``; only the rows of tokens in ``token_ids`` (every one non-empty) move.

    Returns:
        The new rows, and the mean loss before fitting and after each epoch.
    """
    import torch

    used, local = np.unique(np.concatenate(token_ids), return_inverse=True)
    bounds = np.cumsum([0] + [len(t) for t in token_ids])
    compact = [local[a:b] for a, b in itertools.pairwise(bounds)]
    weight = torch.nn.Parameter(torch.from_numpy(np.array(rows[used], dtype=np.float32)))
    goal = torch.from_numpy(np.asarray(targets, dtype=np.float32))
    quad = torch.from_numpy(metric.astype(np.float32))
    optimizer = torch.optim.Adam([weight], lr=settings.lr)
    generator = torch.Generator().manual_seed(settings.seed)
    everything = list(range(len(compact)))

    def mean_loss() -> float:
        with torch.no_grad():
            chunks = [everything[i : i + 4096] for i in range(0, len(everything), 4096)]
            total = sum(
                float(_loss(weight, *_batch(compact, c), goal[c], quad)) * len(c) for c in chunks
            )
        return total / len(everything)

    history = [mean_loss()]
    for _ in range(settings.epochs):
        order = torch.randperm(len(compact), generator=generator).tolist()
        for start in range(0, len(order), settings.batch_size):
            chosen = order[start : start + settings.batch_size]
            loss = _loss(weight, *_batch(compact, chosen), goal[chosen], quad)
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
        history.append(mean_loss())
    fitted = np.array(rows, dtype=np.float32)
    fitted[used] = weight.detach().numpy()
    return fitted, history


def _vocab_size(model: Any) -> int:
    return int(model.tokenizer.backend_tokenizer.get_vocab_size(with_added_tokens=True))


def _sentence_transformer(name: str) -> Any:
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise missing_dependency("sentence-transformers", "dense") from exc
    model = SentenceTransformer(resolve_model(name), device="cpu")
    if not getattr(model.tokenizer, "is_fast", False):
        raise ConfigError(f"a dense table needs a fast tokenizer; {name!r} has none")
    return model


def fit_dense_table(
    encoder: Encoder,
    documents: Iterable[Document],
    queries: Sequence[str] = (),
    settings: TableFit = TableFit(),
    *,
    show_progress: bool = False,
) -> DenseTable:
    """Distil ``encoder``'s query vectors into a :class:`DenseTable` on the collection's
    ``documents`` (and training ``queries``, texts only), as the module docstring says.

    Raises:
        ConfigError: ``encoder`` is not a sentence-transformers model with a fast tokenizer,
            or nothing to train on.

    Example:
        >>> table = fit_dense_table(collection.encoder, collection, queries)  # doctest: +SKIP
        >>> table.encode_queries(["a query"]).shape  # doctest: +SKIP
        (1, 384)
    """
    if not isinstance(encoder, SentenceTransformerEncoder):
        raise ConfigError(
            f"a dense table distils a sentence-transformers model, not {encoder.name!r}"
        )
    model = _sentence_transformer(encoder.name)
    tokenizer = model.tokenizer
    found = training_texts(documents, queries, budget=settings.budget, seed=settings.seed)
    chosen = {name: found[name] for name in settings.sources}
    texts = list(dict.fromkeys(t for name in SOURCES if name in chosen for t in chosen[name]))
    info: dict[str, Any] = {
        "encoder": encoder.name,
        "max_tokens": int(model.max_seq_length - tokenizer.num_special_tokens_to_add(pair=False)),
    }
    vocab, dim = _vocab_size(model), encoder.dim
    empty = encode_targets(encoder, [""])[0]
    shell = DenseTable(
        np.zeros((vocab, dim), np.float32), empty, tokenizer.backend_tokenizer.to_str(), info
    )
    token_ids = shell.token_ids(texts)
    nonempty = [i for i, ids in enumerate(token_ids) if len(ids)]
    if not nonempty:
        raise ConfigError("a dense table needs training texts with tokens; the collection has none")
    targets = encode_targets(encoder, [texts[i] for i in nonempty], show_progress)
    token_ids = [token_ids[i] for i in nonempty]
    rows = INITS[settings.init](model, token_ids, targets)
    # One scale for every init, so one learning rate suits each: the median row has unit
    # length (a common factor never changes a normalised mean).
    rows /= max(float(np.median(np.linalg.norm(rows, axis=1))), 1e-12)
    documents_done = set(chosen.get("documents", ()))
    in_docs = [i for i, j in enumerate(nonempty) if texts[j] in documents_done]
    metric = LOSSES[settings.loss](targets[in_docs] if len(in_docs) > 1 else targets)
    fitted, history = fit_rows(rows, token_ids, targets, metric, settings)
    info |= {
        "settings": {**asdict(settings), "sources": list(settings.sources)},
        "texts": {name: len(chosen[name]) for name in chosen},
        "tokens_fitted": len(np.unique(np.concatenate(token_ids))),
        "loss": [round(x, 6) for x in history],
    }
    logger.info("dense table fitted on %d texts; loss %s", len(token_ids), info["loss"])
    return DenseTable(fitted, empty, shell.tokenizer_json, info)
