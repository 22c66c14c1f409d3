"""Fusion learned from relevance judgments: tuning, learned rescoring, adaptive weights.

- :mod:`~hybridir.learn.tune`: cross-validated grid search over the fixed fusion methods;
- :mod:`~hybridir.learn.rescore`: a LambdaRank model over per-list and query features
  (PIRB's hybrid step), served as fusion method ``"rescore"``;
- :mod:`~hybridir.learn.adaptive`: α predicted per query (HyPA-RAG), method ``"adaptive"``;
- :mod:`~hybridir.learn.store`: trained models saved in, and loaded from, a collection.

The names of the learned fusion methods live in :data:`hybridir.config.LEARNED_METHODS`.
"""
