"""What reading a source did: documents read per format, what was skipped and why, and which
fields became metadata. Filled in as the documents are read, so it is complete once the
reading has gone to the end (:attr:`SourceReport.complete`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

SourceKind = Literal["beir", "table", "files"]
"""What a source is: a BEIR folder (or dataset name), a table file, or document files."""


@dataclass
class SourceReport:
    """The account of one pass over a source.

    Args:
        source: the source as given.
        kind: what it was read as (:data:`SourceKind`).
        loaded: documents read so far.
        formats: documents read per format (``"markdown"``, ``"pdf"``, ``"jsonl"``, ``"beir"``…).
        skipped: ``(where, reason)`` per document not read: a file's path relative to the
            folder (``"scans/page.pdf"``) or a table row (``"<file>:<line>"``), and why
            (``"encrypted PDF …"``, ``"empty file"``…).
        unsupported: files of a folder that no reader takes, counted by suffix
            (``{".png": 3}``; ``""`` for names without one). They are not errors.
        fields: for tables, the column each role was read from
            (``{"id": "_id", "text": "contents", "title": "title"}``).
        metadata_fields: fields that became metadata (for files: ``path``, ``modified``,
            ``sha256``, ``format``; for tables every other column, and the keys of a nested
            ``metadata`` object).
        dropped_fields: table columns left out because ``metadata_fields`` did not name them.
        complete: whether the source was read to its end.
    """

    source: str
    kind: SourceKind
    loaded: int = 0
    formats: dict[str, int] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    unsupported: dict[str, int] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)
    metadata_fields: set[str] = field(default_factory=set)
    dropped_fields: set[str] = field(default_factory=set)
    complete: bool = False

    def count(self, fmt: str) -> None:
        """Record one document read in format ``fmt``."""
        self.loaded += 1
        self.formats[fmt] = self.formats.get(fmt, 0) + 1

    def reset(self) -> None:
        """Forget a previous pass (a source can be read again)."""
        self.loaded = 0
        self.complete = False
        for table in (self.formats, self.unsupported, self.fields):
            table.clear()
        self.skipped.clear()
        self.metadata_fields.clear()
        self.dropped_fields.clear()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (sets as sorted lists, skips as ``{"where", "reason"}``)."""
        return {
            "source": self.source,
            "kind": self.kind,
            "loaded": self.loaded,
            "formats": dict(sorted(self.formats.items())),
            "skipped": [{"where": w, "reason": r} for w, r in self.skipped],
            "unsupported": dict(sorted(self.unsupported.items())),
            "fields": dict(self.fields),
            "metadata_fields": sorted(self.metadata_fields),
            "dropped_fields": sorted(self.dropped_fields),
            "complete": self.complete,
        }

    def summary(self) -> str:
        """One paragraph for people: what was read, skipped and left out.

        Example:
            >>> r = SourceReport("docs", "files", skipped=[("a.pdf", "encrypted PDF")])
            >>> r.count("markdown")
            >>> print(r.summary())
            read 1 document from docs (markdown 1); skipped 1: a.pdf: encrypted PDF
        """
        formats = ", ".join(f"{name} {n}" for name, n in sorted(self.formats.items()))
        noun = "document" if self.loaded == 1 else "documents"
        parts = [
            f"read {self.loaded} {noun} from {self.source}" + (f" ({formats})" * bool(formats))
        ]
        if self.skipped:
            reasons = "; ".join(f"{where}: {reason}" for where, reason in self.skipped)
            parts.append(f"skipped {len(self.skipped)}: {reasons}")
        if self.unsupported:
            total = sum(self.unsupported.values())
            kinds = ", ".join(
                f"{s or '(no suffix)'} {n}" for s, n in sorted(self.unsupported.items())
            )
            files = "file" if total == 1 else "files"
            parts.append(f"{total} {files} of unsupported types left out ({kinds})")
        if self.dropped_fields:
            parts.append(f"fields left out: {', '.join(sorted(self.dropped_fields))}")
        return "; ".join(parts)
