"""The package metadata and README as a package index and a pip user see them.

``make smoke`` installs the built wheel and uses it; these are the cheap static rules around
it: ranges (not pins) in the metadata, every pin in ``constraints.txt``, an ``all`` extra, one
Python floor everywhere, and a README that reads without the checkout.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
NOT_IN_ALL = {"dev", "docs", "all"}
"""Extras for working on hybridir itself, not features a user installs."""


def _pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def _requirements(project: dict[str, Any]) -> list[Requirement]:
    extras = project["optional-dependencies"]
    lines = [*project["dependencies"], *(r for reqs in extras.values() for r in reqs)]
    return [Requirement(line) for line in lines]


def _constraints() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version
    return pins


def test_metadata_states_ranges_and_constraints_pin_them() -> None:
    project = _pyproject()["project"]
    requirements = [r for r in _requirements(project) if canonicalize_name(r.name) != "hybridir"]
    pinned = [str(r) for r in requirements if any(s.operator == "==" for s in r.specifier)]
    assert pinned == []
    pins = _constraints()
    assert pins["torch"] == "2.13.0"
    for req in requirements:  # every dependency is pinned, to a version its range admits
        name = canonicalize_name(req.name)
        assert name in pins, f"{name} is not in constraints.txt (make constraints)"
        assert req.specifier.contains(Version(pins[name]), prereleases=True), (req, pins[name])


def test_all_extra_is_every_user_facing_extra() -> None:
    extras = _pyproject()["project"]["optional-dependencies"]
    (line,) = extras["all"]
    req = Requirement(line)
    assert canonicalize_name(req.name) == "hybridir"
    assert req.extras == set(extras) - NOT_IN_ALL


def test_one_python_floor_everywhere() -> None:
    config = _pyproject()
    floor = re.fullmatch(r">=3\.(\d+)", config["project"]["requires-python"])
    assert floor is not None
    minor = int(floor.group(1))
    assert config["tool"]["ruff"]["target-version"] == f"py3{minor}"
    assert config["tool"]["mypy"]["python_version"] == f"3.{minor}"
    classifier = f"Programming Language :: Python :: 3.{minor}"
    assert classifier in config["project"]["classifiers"]


def test_license_is_spdx_with_the_full_text() -> None:
    project = _pyproject()["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_readme_starts_with_make_and_reads_without_the_checkout() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = re.search(r"```\w*\n(.*?)```", readme, re.S)
    assert first_block is not None
    lines = first_block.group(1).splitlines()
    assert [line.split()[:2] for line in lines] == [["make", "demo"], ["make", "test"]]
    links = re.findall(r"\]\(([^)]+)\)", readme)
    assert links, "the README links to the documentation"
    relative = [link for link in links if not link.startswith("https://")]
    assert relative == [], "PyPI shows the README without the repository: use absolute URLs"
    assert "pip install hybridir" in readme
    assert ".venv/bin/hybridir" not in readme  # plain commands; one sentence covers checkouts
