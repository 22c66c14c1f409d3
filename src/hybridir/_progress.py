"""One progress bar for every long step (reading, chunking, analyzing, encoding, calibrating,
searching): a rich bar with the count done, the rate, the time spent and the time left.

A step takes ``show`` (:data:`ShowProgress`): ``False`` draws nothing, ``True`` draws on
stderr, a rich ``Console`` draws on that console; in each case only when the console is a
terminal, so a pipe, a log file or a test's captured stderr get no control codes. The CLI
passes its stderr console, or ``False`` under ``--json``.

rich is imported when a bar is drawn, never at import.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeAlias, TypeVar

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, ProgressColumn, TaskID

ShowProgress: TypeAlias = "bool | Console"
"""Whether and where a step draws its bar: ``False``, ``True`` (stderr) or a console."""

T = TypeVar("T")

CHUNK_BATCHES = 8
"""Batches an encoder encodes in one call, between two advances of the progress bar
(sentence-transformers and SPLADE: longer calls waste less, shorter ones redraw more)."""


def _console(show: ShowProgress) -> Console | None:
    """The console a bar is drawn on, or ``None`` when none is (not asked, not a terminal)."""
    if show is False:
        return None
    if show is True:
        from rich.console import Console

        show = Console(stderr=True)
    return show if show.is_terminal else None


def _columns() -> list[ProgressColumn]:
    """Label, bar, done/total, rate, time spent, time left."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(_rate(task.speed))

    return [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
    ]


def _rate(speed: float | None) -> str:
    """Items per second as the bar shows it (blank until rich has measured a speed)."""
    if speed is None:
        return ""
    return f"{speed:,.1f}/s" if speed < 100 else f"{speed:,.0f}/s"


class Bar:
    """A drawn bar, or none (every method then does nothing): what :func:`progress_bar`
    yields."""

    def __init__(self, progress: Progress | None = None, task: TaskID | None = None) -> None:
        self._progress = progress
        self._task = task

    def advance(self, n: int) -> None:
        """``n`` more items done (redrawn at once: a chunk is slow, a redraw cheap)."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=n, refresh=True)

    def update(self, done: int, total: int | None = None, label: str | None = None) -> None:
        """``done`` items done in all; ``total`` and ``label`` when they become known."""
        if self._progress is not None and self._task is not None:
            self._progress.update(
                self._task, completed=done, total=total, description=label, refresh=True
            )


@contextmanager
def progress_bar(label: str, total: int | None, show: ShowProgress) -> Iterator[Bar]:
    """A bar for a step done in chunks (:class:`Bar`: advanced after each chunk).

    Args:
        label: what the step does ("Encoding (dense)").
        total: items the step will do (``None``: not known yet; no time left shown).
        show: whether and where to draw (:data:`ShowProgress`).

    Example:
        >>> with progress_bar("Encoding", 3, False) as bar:
        ...     bar.advance(3)
    """
    console = _console(show)
    if console is None:
        yield Bar()
        return
    from rich.progress import Progress

    with Progress(*_columns(), console=console, transient=True) as progress:
        yield Bar(progress, progress.add_task(label, total=total))


def track(items: Iterable[T], label: str, total: int | None, show: ShowProgress) -> Iterator[T]:
    """``items`` with a bar advanced per item (redrawn by rich's timer, ten times a second,
    so a step of many quick items is not slowed by drawing).

    Args:
        items: what the step goes through.
        label: what the step does ("Analyzing").
        total: how many ``items`` there are (``None``: unknown).
        show: whether and where to draw (:data:`ShowProgress`).

    Example:
        >>> list(track([1, 2], "Reading", 2, False))
        [1, 2]
    """
    console = _console(show)
    if console is None:
        yield from items
        return
    from rich.progress import Progress

    with Progress(*_columns(), console=console, transient=True) as progress:
        task = progress.add_task(label, total=total)
        for done, item in enumerate(items, start=1):
            yield item
            progress.update(task, completed=done)


def chunks(rows: Sequence[int], size: int, label: str, show: ShowProgress) -> Iterator[list[int]]:
    """``rows`` (indices of the texts to encode, in the order to encode them) cut into
    chunks of ``size``, with a bar advanced once each chunk has been used: what every
    encoder does to show progress while one library call encodes a chunk.

    Example:
        >>> list(chunks(range(5), 2, "Encoding", False))
        [[0, 1], [2, 3], [4]]
    """
    with progress_bar(label, len(rows), show) as bar:
        for start in range(0, len(rows), size):
            chunk = list(rows[start : start + size])
            yield chunk
            bar.advance(len(chunk))
