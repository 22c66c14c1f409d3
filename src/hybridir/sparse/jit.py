"""Compiled kernels: numba's ``njit`` with its on-disk cache in hybridir's cache folder.

numba compiles a kernel on its first call (seconds) and, with ``cache=True``, keeps the
machine code next to the source (``__pycache__``) or, where that is not writable (a system
install), in a per-user folder. :func:`kernel` instead keeps it in :func:`kernel_cache_dir`
(``$HYBRIDIR_CACHE/numba``, else ``~/.cache/hybridir/numba``), one place a user can find
and clear, unless the user chose numba's own (``NUMBA_CACHE_DIR``). Nothing is set for other
libraries' kernels: no environment variable or numba setting changes.

numba validates a cached kernel against the hash of its own source file only, so a kernel
that inlines helpers from another file would load stale code after that file changed. The
stamp here hashes every kernel module together (:data:`KERNEL_MODULES`).

Everything here uses numba's caching classes (``numba.core.caching``), which are internal:
if they are missing or change shape, :func:`kernel` falls back to plain ``cache=True``.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from numba import config as numba_config
from numba import njit

from hybridir._cache import cache_root

logger = logging.getLogger(__name__)

KERNEL_MODULES = ("kernels.py", "topk.py", "lexicon.py")
"""The modules (in this folder) whose functions are compiled kernels; their sources
together stamp every cached kernel."""

PACKAGE_KERNEL_MODULES = ("text/scan.py",)
"""Kernel modules in other folders of the package (paths under ``hybridir/``), always
read from this install; they stamp every cached kernel too."""


def kernel_cache_dir() -> Path:
    """Where compiled kernels are cached: numba's ``NUMBA_CACHE_DIR`` when the user set it,
    else ``$HYBRIDIR_CACHE/numba`` (``~/.cache/hybridir/numba`` without the variable)."""
    chosen = str(getattr(numba_config, "CACHE_DIR", "") or "")
    return Path(chosen) if chosen else cache_root("numba")


def source_stamp(folder: Path | None = None) -> str:
    """SHA-256 over the sources of :data:`KERNEL_MODULES` (in ``folder``, by default this
    one) and :data:`PACKAGE_KERNEL_MODULES` (the cache's freshness key)."""
    here = Path(__file__).resolve().parent
    folder = folder or here
    package = here.parent
    files = tuple(folder / name for name in KERNEL_MODULES) + tuple(
        package / name for name in PACKAGE_KERNEL_MODULES
    )
    return _stamp(files, tuple((st.st_mtime_ns, st.st_size) for st in map(os.stat, files)))


@functools.lru_cache(maxsize=8)
def _stamp(files: tuple[Path, ...], stats: tuple[tuple[int, int], ...]) -> str:
    """:func:`source_stamp`, hashed once per version of the files (every kernel asks)."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _caching_classes() -> tuple[Any, Any] | None:
    """numba's cache and locator base classes, or ``None`` where this numba lacks them."""
    try:
        from numba.core import caching
    except ImportError:  # pragma: no cover - numba always ships it so far
        return None
    names = ("FunctionCache", "CompileResultCacheImpl", "_CacheLocator")
    if not all(hasattr(caching, n) for n in names):  # pragma: no cover
        return None
    cache: Any = caching.FunctionCache
    impl: Any = caching.CompileResultCacheImpl
    base: Any = caching._CacheLocator

    class KernelLocator(base):  # type: ignore[misc]
        """Puts a kernel's cache under :func:`kernel_cache_dir`, one folder per install."""

        def __init__(self, py_func: Callable[..., Any], py_file: str) -> None:
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            root = kernel_cache_dir()
            self._cache_path = str(root / self.get_suitable_cache_subpath(py_file))

        def get_cache_path(self) -> str:
            return self._cache_path

        def get_source_stamp(self) -> str:
            folder = Path(self._py_file).parent
            # Kernels outside this folder (PACKAGE_KERNEL_MODULES) share the default stamp.
            return source_stamp(folder if (folder / KERNEL_MODULES[0]).exists() else None)

        def get_disambiguator(self) -> str:
            return str(self._lineno)

        @classmethod
        def from_function(cls, py_func: Callable[..., Any], py_file: str) -> Any:
            if not os.path.exists(py_file):
                return None
            locator = cls(py_func, py_file)
            try:
                locator.ensure_cache_path()
            except OSError:
                logger.debug("kernel cache %s is not writable", locator.get_cache_path())
                return None  # numba's own locators take over
            return locator

    class KernelCacheImpl(impl):  # type: ignore[misc]
        _locator_classes: ClassVar[list[type]] = [KernelLocator, *impl._locator_classes]

    class KernelCache(cache):  # type: ignore[misc]
        _impl_class = KernelCacheImpl

    return KernelCache, KernelLocator


_CLASSES = _caching_classes()


def kernel(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    """``numba.njit(**options)`` cached in :func:`kernel_cache_dir` (a numba dispatcher,
    typed ``Any`` as numba's own decorators are).

    Example:
        >>> @kernel(nogil=True)
        ... def add(a, b):
        ...     return a + b
    """

    def decorate(fn: Callable[..., Any]) -> Any:
        if _CLASSES is None:  # pragma: no cover - see the module docstring
            return njit(cache=True, **options)(fn)
        dispatcher = njit(cache=False, **options)(fn)
        try:
            dispatcher._cache = _CLASSES[0](fn)
        except (OSError, RuntimeError, AttributeError, TypeError):  # pragma: no cover
            dispatcher.enable_caching()  # numba's own folders
        return dispatcher

    return decorate


# -- readiness: may this process call a kernel without compiling it? ----------------------

WARMUP_MODULE = "hybridir.sparse"
"""Run as ``python -m`` to compile the kernels into the cache (see :class:`Readiness`)."""

WARMUP_TIMEOUT_S = 600.0
"""A warm-up lock older than this is taken to belong to a warm-up that died."""


def cache_key() -> str:
    """What a cached kernel depends on: the kernel sources, numba, Python and the CPU
    (numba compiles for the host CPU's name and features)."""
    import platform

    import llvmlite.binding as llvm  # type: ignore[import-untyped]  # numba's LLVM binding
    import numba

    cpu = getattr(numba_config, "CPU_NAME", None) or llvm.get_host_cpu_name()
    features = getattr(numba_config, "CPU_FEATURES", None) or llvm.get_host_cpu_features()
    if hasattr(features, "flatten"):
        features = features.flatten()
    parts = (source_stamp(), numba.__version__, sys.version, platform.machine(), cpu, features)
    text = "\n".join(str(p) for p in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def ready_marker() -> Path:
    """The file a finished warm-up leaves in the cache (its name is :func:`cache_key`)."""
    return kernel_cache_dir() / f"ready-{cache_key()}"


def _writable(folder: Path) -> bool:
    """Whether kernels can be cached in ``folder`` (created when missing)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError:
        return False
    return True


def start_warmup(folder: Path) -> subprocess.Popen[bytes] | None:
    """Start ``python -m hybridir.sparse`` (detached: it outlives this process, so
    the next process finds the kernels cached), unless another process's warm-up holds the
    lock in ``folder``; returns it, or ``None`` when another one runs.

    Raises:
        OSError: no warm-up can start here (no interpreter path, no process, no lock file).
    """
    lock = folder / "warmup.lock"
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        try:
            if time.time() - lock.stat().st_mtime < WARMUP_TIMEOUT_S:
                return None
            lock.unlink()  # left by a warm-up that died
        except FileNotFoundError:
            pass
        return None  # the next call takes the lock
    os.close(fd)
    if not sys.executable:
        lock.unlink(missing_ok=True)
        raise OSError("no Python executable to run the kernel warm-up with")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", WARMUP_MODULE, str(lock)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        lock.unlink(missing_ok=True)
        raise


class Readiness:
    """Whether this process may call the compiled kernels without waiting for numba.

    Ready once a kernel is compiled in this process, or when a warm-up left its marker in
    the cache (:func:`ready_marker`; the kernels then load in milliseconds). Otherwise the
    first call starts one warm-up process (:func:`start_warmup`) and answers "not ready":
    the caller answers from the numpy fallback (:mod:`hybridir.sparse.fallback`) until the
    marker appears. Where the cache cannot be written, or the warm-up cannot start or ends
    without its marker, it answers "ready" and numba compiles in this process.
    """

    def __init__(self) -> None:
        self._ready = False
        self._marker: Path | None = None
        self._warmer: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def __call__(self, dispatcher: Any) -> bool:
        """Whether ``dispatcher`` may be called now (cheap once it is)."""
        if self._ready:
            return True
        with self._lock:
            if not self._ready:
                self._ready = self._check(dispatcher)
            return self._ready

    def force(self) -> None:
        """Compile in this process from now on (a warm-up, a benchmark)."""
        self._ready = True

    def _check(self, dispatcher: Any) -> bool:
        if getattr(dispatcher, "signatures", True):  # compiled here (or numba is disabled)
            return True
        if self._marker is None:
            try:
                folder = kernel_cache_dir()
                if not _writable(folder):
                    return True
                self._marker = folder / f"ready-{cache_key()}"
            except OSError:
                return True
        if self._marker.exists():
            return True
        if self._warmer is not None:
            return self._warmer.poll() is not None  # ended without its marker: failed
        try:
            self._warmer = start_warmup(self._marker.parent)
        except OSError:
            logger.debug("kernel warm-up could not start; compiling in this process")
            return True
        return False


READINESS = Readiness()
"""This process's :class:`Readiness` (one per process, like numba's compiled kernels)."""
