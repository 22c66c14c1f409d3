"""Fusion learned from relevance judgments: tuning, learned rescoring, adaptive weights.

- :mod:`~hybridir.learn.tune`: cross-validated grid search over the fixed fusion methods;
- :mod:`~hybridir.learn.rescore`: a LambdaRank model over per-list and query features
  (PIRB's hybrid step), served as fusion method ``"rescore"``;
- :mod:`~hybridir.learn.adaptive`: α predicted per query (HyPA-RAG), method ``"adaptive"``;
- :mod:`~hybridir.learn.store`: trained models saved in, and loaded from, a collection.

Nothing heavy is imported here: the config module reads :data:`LEARNED_METHODS`.
"""

LEARNED_METHODS = ("rescore", "adaptive")
"""Fusion methods that apply a model trained with ``hybridir train``."""
