"""Griffe extension: hybridir's docstrings, read the way the API reference renders them.

Two habits of the source docstrings that Griffe's Google-style parser does not know:

- doctests are headed ``Example:`` (singular); Griffe knows only ``Examples:`` as a section
  and would render the doctest lines as prose (and read ``c["a"]["b"]`` as a Markdown link);
- cross-references are Sphinx roles (``:func:`~hybridir.fusion.fuse```), which Markdown
  shows verbatim; each becomes inline code of the name (its last part, with ``~``).

Both are rewritten before a docstring is parsed; the source is left as it is.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_SINGULAR = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)
_ROLE = re.compile(r":(?:py:)?(?:func|meth|class|data|attr|mod|exc|obj|const):`(~?)([^`]+)`")


def _role_as_code(match: re.Match[str]) -> str:
    """``:func:`~a.b.c``` → ```c```; ``:mod:`a.b``` → ```a.b```."""
    short, target = match.group(1), match.group(2).strip()
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


def markdown_docstring(text: str) -> str:
    """``text`` with ``Example:`` headers as ``Examples:`` and Sphinx roles as inline code."""
    return _ROLE.sub(_role_as_code, _SINGULAR.sub(r"\1Examples:", text))


class HouseDocstrings(griffe.Extension):
    """Applies :func:`markdown_docstring` to every loaded docstring."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite the docstring as each object is created, before it is parsed."""
        if obj.docstring is not None:
            obj.docstring.value = markdown_docstring(obj.docstring.value)
