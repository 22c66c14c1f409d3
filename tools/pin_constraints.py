"""Write ``constraints.txt``: the exact versions CI installs, read from an installed environment.

The package metadata (``pyproject.toml``) states ranges so hybridir installs beside other
stacks; CI installs with ``pip install -c constraints.txt`` so every run gets the versions that
were tested. This walks the requirement graph of ``hybridir`` as installed in the running
interpreter, with every extra it declares (markers evaluated for it, extras followed), and pins
each package reached to its installed version. Local version labels are dropped
(``torch 2.13.0+cpu`` pins ``torch==2.13.0``), so the constraint also matches the build that
pip picks for the machine.

Usage (from the checkout, after ``make install``; ``make constraints`` runs it)::

    .venv/bin/python tools/pin_constraints.py > constraints.txt
"""

from __future__ import annotations

import sys
from collections import deque
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = "hybridir"
HEADER = (
    "# Exact versions CI installs (pip install -c constraints.txt ...); pyproject.toml states\n"
    "# ranges. Regenerate after an upgrade: make constraints\n"
)


def _public(version: str) -> str:
    """The version without its local label (``2.13.0+cpu`` -> ``2.13.0``)."""
    return Version(version).public


def _requirements(dist: metadata.Distribution, extras: frozenset[str]) -> list[Requirement]:
    """The requirements of ``dist`` that apply here with ``extras`` requested."""
    reqs = [Requirement(line) for line in dist.requires or []]
    envs = [{"extra": extra} for extra in extras or {""}]
    return [r for r in reqs if r.marker is None or any(r.marker.evaluate(e) for e in envs)]


def pins(root: str = ROOT) -> dict[str, str]:
    """``{canonical name: installed public version}`` for every package ``root[every extra]``
    reaches (the Makefile installs them all: dev, docs and the user-facing ones).

    Raises:
        metadata.PackageNotFoundError: ``root`` or a required package is not installed.
    """
    found: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    extras = frozenset(metadata.metadata(root).get_all("Provides-Extra") or [])
    queue = deque([(root, extras)])
    while queue:
        name, wanted = queue.popleft()
        if (name, wanted) in seen:
            continue
        seen.add((name, wanted))
        dist = metadata.distribution(name)
        if name != root:
            found[name] = _public(dist.version)
        for req in _requirements(dist, wanted):
            queue.append((canonicalize_name(req.name), frozenset(req.extras)))
    return found


def main() -> int:
    """Print the constraints file to stdout."""
    lines = [f"{name}=={version}\n" for name, version in sorted(pins().items())]
    sys.stdout.write(HEADER + "".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
