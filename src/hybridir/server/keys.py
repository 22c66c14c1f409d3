"""API keys, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["Keys"]


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


class Keys:
    """API-key checks in constant time (every key compared, fixed-length digests)."""

    def __init__(self, keys: frozenset[str]) -> None:
        self._digests = [_digest(k) for k in sorted(keys)]

    def __bool__(self) -> bool:
        return bool(self._digests)

    def valid(self, given: str | None) -> bool:
        if given is None:
            return False
        probe = _digest(given)
        ok = False
        for digest in self._digests:
            ok |= hmac.compare_digest(probe, digest)
        return ok
