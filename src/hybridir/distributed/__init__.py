"""Scale-out on Ray: sharded collections with global statistics, distributed encoding and
indexing, fault-tolerant serving (``pip install 'hybridir[ray]'``).

A sharded collection is a folder of ordinary collections (``shard-000/`` …) on storage every
node can read, plus ``sharded.json``. Documents go to the shard a stable hash of their id
names (:func:`~hybridir.distributed.routing.shard_of`). Each shard is served by a Ray actor
(:mod:`~hybridir.distributed.worker`); a coordinator
(:class:`~hybridir.distributed.cluster.ShardedCollection`) analyses and encodes each query
once, asks every shard for its top hits scored with the *global* statistics (N, document
frequencies, average length summed over shards), merges them by (score desc, doc id asc) and
fuses once, so results equal those of one collection holding every document.

Nothing here imports Ray at import time.
"""
