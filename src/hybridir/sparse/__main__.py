"""``python -m hybridir.sparse [LOCK]``: compile the BM25 kernels into the kernel cache, leave
the ready marker and remove ``LOCK`` (:func:`hybridir.sparse.warmup.main`; what a process
that found the kernels uncached starts in the background)."""

import sys

from hybridir.sparse.warmup import main

sys.exit(main())
