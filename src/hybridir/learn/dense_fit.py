"""Fitting a :class:`~hybridir.learn.dense_table.DenseTable` to a collection's dense encoder
(distillation), and storing and activating it (:func:`train_dense_table`).

LightRetriever (Ma et al., 2025) encodes every vocabulary token alone once and trains its
encoder so that the mean of a query's token vectors works as its query vector. Here the
encoder, and so every stored document vector, is fixed, so the table is fitted to it:

* **Initial rows** (:data:`INITS`): the model's input token embeddings mapped by a
  ridge-regression projection onto the targets (``"input"``, the default), or each token's
  own encoder vector (``"tokens"``: the LightRetriever / model2vec table; MiniLM, not
  trained for it, scores SciFact nDCG@10 0.06 with it unfitted).
* **Pooling**: attention pooling (:func:`hybridir.learn.dense_table.attend`) with
  :attr:`TableFit.heads` heads, its query map fitted with the rows from zero (the plain
  mean), or the plain mean (``heads=0``).
* **Fitting** (:func:`fit_rows`): minibatch Adam on the training texts' pooled vectors
  against the encoder's query vectors of the same texts (distillation: no judgements), with
  a loss of :data:`LOSSES`: ``"cosine"`` (``1 − cos``, the default), ``"kl"`` (cosine
  plus LightRetriever's alignment of the score distributions over the collection's
  documents) or ``"contrastive"`` (cosine plus an inverse-cloze retrieval loss: a sentence
  or title should find its own document among the collection's stored vectors).
* **Texts** (:func:`hybridir.learn.dense_texts.drawn_texts`): the collection's titles,
  whole documents, sentences and random 3–20-word spans, and any training queries.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from hybridir.dense.cache import encode_documents_cached
from hybridir.dense.encoders import SentenceTransformerEncoder, resolve_model
from hybridir.errors import ConfigError, missing_dependency
from hybridir.learn.dense_table import DenseTable, TokenIds, Vectors, pool
from hybridir.learn.dense_texts import SOURCES, drawn_texts
from hybridir.learn.store import save_model
from hybridir.types import Document

if TYPE_CHECKING:
    import torch

    from hybridir.dense.encoders import Encoder

logger = logging.getLogger(__name__)


def unit(vectors: Vectors) -> Vectors:
    """``vectors`` scaled to unit length (a zero vector stays zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    out = np.zeros_like(vectors)
    np.divide(vectors, norms, out=out, where=norms > 0)
    return out


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
    return unit(np.concatenate(parts))


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
    return unit(rows)


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


Loss = Callable[["torch.Tensor", "torch.Tensor", "torch.Tensor"], "torch.Tensor"]
"""A distillation loss of a batch: (pooled unit vectors, target unit vectors, each text's
source document as a row of the loss's document vectors or -1) → mean loss."""

KL_DOCUMENTS = 4096
"""Documents whose score distribution the ``"kl"`` loss compares (sampled when more)."""
KL_TEMPERATURE = 0.05
"""Softmax temperature of the ``"kl"`` loss on cosine scores (MiniLM's in [-1, 1])."""


def _cosine_loss(documents: Vectors, seed: int) -> Loss:
    """``½‖p − t‖² = 1 − cos(p, t)`` for unit vectors."""

    def loss(pooled: torch.Tensor, targets: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
        return ((pooled - targets) ** 2).sum(dim=1).mean() / 2

    return loss


def _kl_loss(documents: Vectors, seed: int) -> Loss:
    """The cosine loss plus ``KL(softmax(t·D/τ) ‖ softmax(p·D/τ))`` over (a sample of
    :data:`KL_DOCUMENTS` of) the collection's document vectors ``D``: the encoder's ranking
    of the collection, not just its vector, is what the table should keep (LightRetriever
    aligns its lookup encoder's similarity scores with the full encoder's by a KL loss)."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    rng = np.random.default_rng(seed)
    keep = rng.permutation(len(documents))[:KL_DOCUMENTS]
    docs = torch.from_numpy(np.ascontiguousarray(documents[np.sort(keep)], dtype=np.float32))
    cosine = _cosine_loss(documents, seed)

    def loss(pooled: torch.Tensor, targets: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
        teacher = F.log_softmax(targets @ docs.T / KL_TEMPERATURE, dim=1)
        student = F.log_softmax(pooled @ docs.T / KL_TEMPERATURE, dim=1)
        kl = F.kl_div(student, teacher, log_target=True, reduction="batchmean")
        return cosine(pooled, targets, positives) + kl

    return loss


CONTRASTIVE_WEIGHT = 0.1
"""Weight of the retrieval term of the ``"contrastive"`` loss (cosine's is 1)."""
CONTRASTIVE_TEMPERATURE = 0.05
"""Softmax temperature of the ``"contrastive"`` loss on cosine scores."""


def _contrastive_loss(documents: Vectors, seed: int) -> Loss:
    """The cosine loss plus :data:`CONTRASTIVE_WEIGHT` × the cross-entropy of each text's
    source document among *all* the collection's document vectors ``D`` (softmax of
    ``p·D/τ``), for the texts that have one (titles and sentences): the inverse cloze task
    (Lee, Chang & Toutanova, ACL 2019; Chang et al., ICLR 2020), with the document side
    fixed to the index's vectors, as LightRetriever trains its lookup query encoder
    contrastively against the full document encoder. It adds a retrieval signal that
    distillation alone lacks (on SciFact: dense nDCG@10 +0.01 to +0.02 on both splits)."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    docs = torch.from_numpy(np.ascontiguousarray(documents, dtype=np.float32))
    cosine = _cosine_loss(documents, seed)

    def loss(pooled: torch.Tensor, targets: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
        value = cosine(pooled, targets, positives)
        known = positives >= 0
        if bool(known.any()):
            logits = pooled[known] @ docs.T / CONTRASTIVE_TEMPERATURE
            value = value + CONTRASTIVE_WEIGHT * F.cross_entropy(logits, positives[known])
        return value

    return loss


LOSSES: dict[str, Callable[[Vectors, int], Loss]] = {
    "cosine": _cosine_loss,
    "kl": _kl_loss,
    "contrastive": _contrastive_loss,
}
"""Distillation losses by :attr:`TableFit.loss`, each built from the collection's document
vectors (and a seed)."""


@dataclass(frozen=True)
class TableFit:
    """How a :class:`DenseTable` is fitted (:func:`fit_dense_table`).

    The defaults were chosen on SciFact's *train* queries (docs/benchmarks.md): the two
    inits and the three losses tie within ±0.005 nDCG@10 there; ``"input"`` needs no pass
    over the vocabulary; 4 epochs beat 2, 8 and 16 (more overfit the texts), and 20,000
    texts did no better than 10,000 (whose encoding costs half). Attention pooling with 4
    heads lifts the hybrid there to 0.7315 on average over two text samples × two orders,
    against 0.7291 for the plain mean (five runs); 1 head with 6 epochs ties it (0.7317),
    1 head with 4 epochs gains less (0.7299). It fits about 5× slower than the mean (70 s
    on SciFact's 25,000 texts, one thread).

    Args:
        budget: sentences + random spans encoded as training texts (besides titles, whole
            documents and queries, each also capped at ``budget``).
        init: an :data:`INITS` name.
        loss: a :data:`LOSSES` name.
        epochs: passes of minibatch Adam over the texts (0: the initial rows as they are).
        batch_size: texts per step.
        lr: Adam's learning rate.
        seed: text sampling and minibatch order.
        heads: attention heads of the pooling (0: the plain mean; see
            :func:`~hybridir.learn.dense_table.attend`); must divide the encoder's dimension.
        map_lr: Adam's learning rate for the attention's query map.
    """

    budget: int = 10_000
    init: str = "input"
    loss: str = "cosine"
    epochs: int = 4
    batch_size: int = 256
    lr: float = 0.005
    seed: int = 0
    sources: tuple[str, ...] = field(default=SOURCES)
    heads: int = 4
    map_lr: float = 0.001

    def __post_init__(self) -> None:
        for kind, name, registry in (("init", self.init, INITS), ("loss", self.loss, LOSSES)):
            if name not in registry:
                raise ConfigError(f"unknown dense table {kind} {name!r}; valid: {sorted(registry)}")
        unknown = sorted(set(self.sources) - set(SOURCES))
        if unknown or not self.sources:
            raise ConfigError(f"dense table sources must be among {list(SOURCES)}, got {unknown}")
        if (
            min(self.budget, self.epochs, self.batch_size - 1, self.heads) < 0
            or min(self.lr, self.map_lr) <= 0
        ):
            raise ConfigError(
                "need budget >= 0, epochs >= 0, batch_size >= 1, heads >= 0, lr > 0 and "
                f"map_lr > 0, got {self.budget}, {self.epochs}, {self.batch_size}, "
                f"{self.heads}, {self.lr} and {self.map_lr}"
            )


def _pooled(rows: torch.Tensor, flat: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """:func:`pool` in torch, for a batch (``flat`` ids, each text's first at ``offsets``)."""
    import torch.nn.functional as F  # noqa: N812

    return F.normalize(F.embedding_bag(flat, rows, offsets, mode="mean"), dim=1)


LENGTH_BUCKETS = (16, 32, 64, 128)
"""A batch's texts are padded together by length (up to each bound, then the longest), so
the short titles, sentences and spans do not pay for the whole documents' padding."""


def _attended(rows: torch.Tensor, parts: Sequence[TokenIds], query_map: torch.Tensor) -> Any:
    """:func:`~hybridir.learn.dense_table.attend` in torch, for a batch of texts' (non-empty)
    ``parts`` of row ids: each length bucket padded to one tensor, the results back in order."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    dim = rows.shape[1]
    heads = query_map.shape[1] // dim
    lengths = np.array([len(p) for p in parts])
    out = torch.empty(len(parts), dim)
    bucket = np.searchsorted(np.array(LENGTH_BUCKETS), lengths)
    for b in np.unique(bucket):
        members = np.flatnonzero(bucket == b)
        width = int(lengths[members].max())
        ids = np.zeros((len(members), width), np.int64)
        for r, m in enumerate(members.tolist()):
            ids[r, : lengths[m]] = parts[m]
        mask = torch.from_numpy(np.arange(width)[None, :] < lengths[members][:, None])
        padded = rows[torch.from_numpy(ids)] * mask[:, :, None]  # texts × tokens × dim
        mean = F.normalize(padded.sum(dim=1), dim=1)
        seeds = (mean @ query_map).view(len(members), heads, dim)
        logits = torch.einsum("btd,bhd->bth", padded, seeds)
        weights = torch.softmax(logits.masked_fill(~mask[:, :, None], float("-inf")), dim=1)
        sliced = padded.view(len(members), width, heads, dim // heads)
        pooled = torch.einsum("bth,bthw->bhw", weights, sliced).reshape(len(members), dim)
        out[torch.from_numpy(members)] = pooled
    return F.normalize(out, dim=1)


def _batch(token_ids: Sequence[TokenIds], picked: Sequence[int]) -> tuple[Any, Any]:
    import torch

    parts = [token_ids[i] for i in picked]
    offsets = np.cumsum([0] + [len(p) for p in parts[:-1]])
    return torch.from_numpy(np.concatenate(parts)), torch.from_numpy(offsets)


def fit_rows(
    rows: Vectors,
    token_ids: Sequence[TokenIds],
    targets: Vectors,
    loss: Loss,
    settings: TableFit,
    positives: NDArray[np.int64] | None = None,
) -> tuple[Vectors, Vectors | None, list[float]]:
    """Rows (and, with ``settings.heads``, the attention pooling's query map, from zero: the
    plain mean) fitted by minibatch Adam so each text's pooled rows approach its target
    under ``loss``; only the rows of tokens in ``token_ids`` (every one non-empty) move.
    ``positives``: each text's source document for ``loss`` (-1, the default: none).

    Returns:
        The new rows, the query map (``None`` without heads), and the mean loss before
        fitting and after each epoch.
    """
    import torch

    used, local = np.unique(np.concatenate(token_ids), return_inverse=True)
    bounds = np.cumsum([0] + [len(t) for t in token_ids])
    compact = [local[a:b] for a, b in itertools.pairwise(bounds)]
    weight = torch.nn.Parameter(torch.from_numpy(np.array(rows[used], dtype=np.float32)))
    dim = rows.shape[1]
    query_map = torch.nn.Parameter(torch.zeros(dim, settings.heads * dim))
    goal = torch.from_numpy(np.asarray(targets, dtype=np.float32))
    sources = torch.from_numpy(
        np.full(len(compact), -1, np.int64) if positives is None else np.asarray(positives)
    )
    groups: list[dict[str, Any]] = [{"params": [weight], "lr": settings.lr}]
    if settings.heads:
        groups.append({"params": [query_map], "lr": settings.map_lr})
    optimizer = torch.optim.Adam(groups)
    generator = torch.Generator().manual_seed(settings.seed)
    everything = list(range(len(compact)))

    def pooled(picked: Sequence[int]) -> torch.Tensor:
        if settings.heads:
            attended: torch.Tensor = _attended(weight, [compact[i] for i in picked], query_map)
            return attended
        return _pooled(weight, *_batch(compact, picked))

    def mean_loss() -> float:
        with torch.no_grad():
            chunks = [everything[i : i + 4096] for i in range(0, len(everything), 4096)]
            total = sum(float(loss(pooled(c), goal[c], sources[c])) * len(c) for c in chunks)
        return total / len(everything)

    history = [mean_loss()]
    for _ in range(settings.epochs):
        order = torch.randperm(len(compact), generator=generator).tolist()
        for start in range(0, len(order), settings.batch_size):
            chosen = order[start : start + settings.batch_size]
            value = loss(pooled(chosen), goal[chosen], sources[chosen])
            optimizer.zero_grad()
            value.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
        history.append(mean_loss())
    fitted = np.array(rows, dtype=np.float32)
    fitted[used] = weight.detach().numpy()
    fitted_map = query_map.detach().numpy().copy() if settings.heads else None
    return fitted, fitted_map, history


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
    found, origins = drawn_texts(documents, queries, budget=settings.budget, seed=settings.seed)
    chosen = {name: found[name] for name in settings.sources}
    texts = list(dict.fromkeys(t for name in SOURCES if name in chosen for t in chosen[name]))
    info: dict[str, Any] = {
        "encoder": encoder.name,
        "max_tokens": int(model.max_seq_length - tokenizer.num_special_tokens_to_add(pair=False)),
    }
    vocab, dim = _vocab_size(model), encoder.dim
    if dim % max(settings.heads, 1):
        raise ConfigError(f"{settings.heads} attention heads do not divide the encoder's {dim}")
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
    loss = LOSSES[settings.loss](targets[in_docs] if len(in_docs) > 1 else targets, settings.seed)
    # Each title's and sentence's source document, as a row of the loss's documents.
    row_of = {texts[nonempty[i]]: row for row, i in enumerate(in_docs)} if len(in_docs) > 1 else {}
    positives = np.array(
        [row_of.get(origins.get(texts[j], ""), -1) for j in nonempty], dtype=np.int64
    )
    fitted, query_map, history = fit_rows(rows, token_ids, targets, loss, settings, positives)
    info |= {
        "settings": {**asdict(settings), "sources": list(settings.sources)},
        "texts": {name: len(chosen[name]) for name in chosen},
        "tokens_fitted": len(np.unique(np.concatenate(token_ids))),
        "loss": [round(x, 6) for x in history],
    }
    logger.info("dense table fitted on %d texts; loss %s", len(token_ids), info["loss"])
    return DenseTable(fitted, empty, shell.tokenizer_json, info, query_map)


class DenseQueryConfigurable(Protocol):
    """A collection whose dense query encoder can be set (one collection, or a sharded one)."""

    @property
    def models_dir(self) -> Path: ...

    @property
    def encoder(self) -> Encoder: ...

    def set_dense_query(self, mode: str, model: str | None = None) -> None: ...


def train_dense_table(
    collection: DenseQueryConfigurable,
    documents: Iterable[Document],
    queries: Sequence[str] = (),
    *,
    settings: TableFit | None = None,
    activate: bool = True,
    show_progress: bool = False,
) -> str:
    """Distil ``collection``'s dense query encoder into a table fitted on its ``documents``
    (and training ``queries``, texts only), store it, and with ``activate`` make it how the
    collection's dense queries are encoded (``DenseConfig(query_mode="table")``).

    Returns:
        The stored model's name (``dense-table-<digest>``).

    Example:
        >>> name = train_dense_table(collection, collection.snapshot())  # doctest: +SKIP
        >>> collection.config.dense.query_mode  # doctest: +SKIP
        'table'
    """
    table = fit_dense_table(
        collection.encoder, documents, queries, settings or TableFit(), show_progress=show_progress
    )
    name = save_model(collection.models_dir, table)
    if activate:
        collection.set_dense_query("table", name)
    return name
