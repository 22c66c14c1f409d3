"""Option groups in a command's signature: :func:`with_options`.

typer builds a command from ``inspect.signature`` of its function. :func:`with_options`
gives a function the signature in which each parameter it names is replaced by the
options of an option group, and passes the object the group builds in that parameter's
place (the pattern of FastAPI's ``Depends``)::

    @app.command()
    @with_options(analyzer=analyzer_options)
    def index(source: str, *, analyzer: AnalyzerConfig) -> None: ...

``hybridir index --help`` then lists ``--language`` and ``--stemmer`` where ``analyzer``
stands, and ``index`` receives ``AnalyzerConfig(language=…, stemmer=…)``. A group may
itself take a group (:func:`hybridir.cli.options.fusion_depth_options`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

R = TypeVar("R")


def with_options(
    **groups: Callable[..., object],
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Replace each named parameter of the decorated function by its option group's options.

    typer builds a command from ``inspect.signature``; the decorated function's signature
    lists, where each named parameter stood, the options of its group (all parameters
    become keyword-only: typer passes them by name). A call builds each group's object from
    its options and passes it as the named parameter.

    Args:
        groups: parameter name → option group (a function of typer-annotated keyword
            parameters returning the object the parameter receives).

    Returns:
        The decorator.

    Raises:
        TypeError: at decoration, when a named parameter does not exist or two options
            would share a name (a programming error, not a user's).
    """

    def decorate(function: Callable[..., R]) -> Callable[..., R]:
        signature = inspect.signature(function, eval_str=True)
        unknown = sorted(set(groups) - set(signature.parameters))
        if unknown:
            raise TypeError(f"{function.__name__} has no parameter(s) {unknown}")
        options = {
            name: inspect.signature(group, eval_str=True).parameters
            for name, group in groups.items()
        }
        parameters: list[inspect.Parameter] = []
        for parameter in signature.parameters.values():
            parameters.extend(options.get(parameter.name, {parameter.name: parameter}).values())
        names = [p.name for p in parameters]
        if len(set(names)) < len(names):
            clashes = sorted({n for n in names if names.count(n) > 1})
            raise TypeError(f"{function.__name__}: options {clashes} declared twice")
        grouped = {option for group in options.values() for option in group}

        @functools.wraps(function)
        def command(**given: Any) -> R:
            built = {
                name: group(**{option: given[option] for option in options[name]})
                for name, group in groups.items()
            }
            rest = {name: value for name, value in given.items() if name not in grouped}
            return function(**rest, **built)

        keyword_only = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in parameters]
        command.__signature__ = signature.replace(parameters=keyword_only)  # type: ignore[attr-defined]
        # typer also reads get_type_hints(); give it the annotations the signature shows.
        command.__annotations__ = {p.name: p.annotation for p in keyword_only}
        command.__annotations__["return"] = signature.return_annotation
        return command

    return decorate
