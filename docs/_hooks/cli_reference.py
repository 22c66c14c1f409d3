"""MkDocs hook: the command-line reference, generated from the typer app at build time.

A page holding the marker ``<!-- hybridir-cli-reference -->`` gets, in its place, one section
per command of ``hybridir`` (walked through click, so a command added to the app later
appears without editing the docs): its help text, its ``Example:`` line as a code block,
its usage line and a table of its arguments and options per help panel, as ``--help``
groups them. Help records come from click's own ``get_help_record`` (typer's formatting,
defaults included).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

MARKER = "<!-- hybridir-cli-reference -->"
PROG = "hybridir"
_CODE_SPAN = re.compile(r"(`[^`\n]*`)")
_EXAMPLE = re.compile(r"^Example:\s*(.+)$")


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Replace the marker with the generated reference (MkDocs ``on_page_markdown`` event)."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, cli_reference())


def cli_reference() -> str:
    """Markdown for every command of the ``hybridir`` typer app, in ``--help`` order."""
    import typer.main

    from hybridir.cli import app

    group = typer.main.get_command(app)
    ctx = typer.Context(group, info_name=PROG)
    return "\n".join(_command_docs(group, ctx, level=2))


def _command_docs(command: Any, ctx: Any, level: int) -> Iterator[str]:
    """Sections for ``command`` (the root group is not given a heading of its own)."""
    import typer

    path = ctx.command_path
    if ctx.parent is not None:
        yield f"{'#' * level} {path} {{ #{_anchor(path)} }}\n"
    yield from _help_text(command.help or "")
    pieces = " ".join(command.collect_usage_pieces(ctx))
    yield f"```text\nUsage: {path} {pieces}\n```\n"
    yield from _param_tables(command, ctx)
    if hasattr(command, "list_commands"):  # a group (typer vendors its own click)
        names = [n for n in command.list_commands(ctx) if not command.get_command(ctx, n).hidden]
        if ctx.parent is None:
            yield "| Command | What it does |\n|---|---|"
            for name in names:
                short = command.get_command(ctx, name).get_short_help_str(limit=300)
                yield f"| [`{name}`](#{_anchor(f'{path} {name}')}) | {_cell(short)} |"
            yield ""
        for name in names:
            sub = command.get_command(ctx, name)
            sub_level = level if ctx.parent is None else level + 1
            yield from _command_docs(sub, typer.Context(sub, info_name=name, parent=ctx), sub_level)


def _anchor(path: str) -> str:
    """Stable heading id of a command path: ``hybridir copy-model`` → ``hybridir-copy-model``."""
    return re.sub(r"[^a-z0-9-]+", "-", path.lower()).strip("-")


def _help_text(text: str) -> Iterator[str]:
    """A command's help as Markdown paragraphs; ``Example:`` lines become shell blocks."""
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        lines = paragraph.strip().splitlines()
        examples = [m.group(1) for m in map(_EXAMPLE.match, lines) if m]
        prose = [line for line in lines if not _EXAMPLE.match(line)]
        if prose:
            yield _escape(" ".join(line.strip() for line in prose)) + "\n"
        if examples:
            yield "Example:\n\n```bash\n" + "\n".join(examples) + "\n```\n"


def _param_tables(command: Any, ctx: Any) -> Iterator[str]:
    """One table per help panel (typer's ``rich_help_panel``), in the order ``--help`` shows:
    arguments, options, then the named panels as their first option appears."""
    panels: dict[str, list[tuple[str, str]]] = {"Arguments": [], "Options": []}
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        default = "Arguments" if param.param_type_name == "argument" else "Options"
        panel = getattr(param, "rich_help_panel", None) or default
        panels.setdefault(panel, []).append(record)
    for panel, records in panels.items():
        if not records:
            continue
        yield f"**{_escape(panel)}**\n\n| Name | Description |\n|---|---|"
        for names, help_text in records:
            yield f"| <code>{html.escape(names)}</code> | {_cell(help_text)} |"
        yield ""


def _cell(text: str) -> str:
    """Text fit for one Markdown table cell."""
    return _escape(" ".join(text.split())).replace("|", "&#124;")


def _escape(text: str) -> str:
    """HTML-escape ``text`` outside its backtick code spans (help is Markdown, as the app's
    ``rich_markup_mode`` says, but ``<algorithm>`` is text, not a tag)."""
    parts = _CODE_SPAN.split(text)
    for i in range(0, len(parts), 2):
        parts[i] = html.escape(parts[i], quote=False)
    return "".join(parts)
