"""Collecting training material: every list of a collection retrieved once, through the
one query path, for each judged query (:class:`~hybridir.learn.dataset.TrainingSet`)."""

from __future__ import annotations

from collections.abc import Mapping

from hybridir.config import FusionConfig
from hybridir.errors import InvalidInputError
from hybridir.learn.dataset import TrainingSet
from hybridir.learn.features import QueryContext
from hybridir.search import HYBRID, Searcher
from hybridir.types import Qrels


def collect(
    searcher: Searcher,
    queries: Mapping[str, str],
    qrels: Qrels,
    depths: Mapping[str, int],
) -> TrainingSet:
    """Retrieve every list of ``searcher``'s collection for the judged ``queries``.

    Raises:
        InvalidInputError: no query of ``queries`` has a relevant document in ``qrels``.
    """
    judged = [q for q in queries if any(g > 0 for g in qrels.get(q, {}).values())]
    if not judged:
        raise InvalidInputError("no query has a relevant document in the qrels")
    texts = {q: queries[q] for q in judged}
    config = FusionConfig(depths=dict(depths))
    lists = searcher.retrieve_lists(texts, max(depths.values()), HYBRID, config)
    analyzer = searcher.collection.snapshot().analyzer
    contexts = [QueryContext(texts[q], tuple(analyzer.analyze(texts[q]))) for q in judged]
    return TrainingSet(
        judged,
        contexts,
        {name: [per_query[q] for q in judged] for name, per_query in lists.items()},
        {q: qrels[q] for q in judged},
    )
