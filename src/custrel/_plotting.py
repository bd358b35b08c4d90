"""Shared matplotlib access for the plot package (private)."""

from __future__ import annotations

import importlib
from typing import Any

from custrel.errors import MissingDependencyError

__all__: list[str] = []


def pyplot() -> Any:
    """Import matplotlib with a non-interactive backend, or say how to install it."""
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError:
        raise MissingDependencyError(
            "figures need the 'plot' extra; pip install 'custrel[plot]'"
        ) from None
    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo"):
        matplotlib.use("Agg", force=False)
    return importlib.import_module("matplotlib.pyplot")


#: Characters of a figure's label at most (longer ones end in an ellipsis).
_MAX_LABEL = 80


def label(value: Any) -> str:
    """``str(value)`` for a figure's text, control characters (NUL, tab, ...) escaped, at most 80 characters.

    A font has no glyph for them: matplotlib warned ("Glyph 0 missing from
    font") and drew nothing, so ids that differ only there looked alike.
    """
    text = str(value)
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
    if len(text) > _MAX_LABEL:  # a page-long label froze the layout for seconds
        text = text[: _MAX_LABEL - 1] + "\u2026"
    return text


def tight(fig: Any) -> None:
    """``fig.tight_layout()`` without its warning when long labels leave no room (cosmetic)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Tight layout not applied", category=UserWarning)
        fig.tight_layout()


def subplots(figsize: tuple[float, float]) -> tuple[Any, Any]:
    """A new figure with one axes, not attached to pyplot.

    Such a figure needs no closing and is safe to draw in any thread (pyplot's
    figure manager is global state); save it with ``fig.savefig``.
    """
    pyplot()  # checks that matplotlib is installed and selects a file backend
    figure_mod = importlib.import_module("matplotlib.figure")
    fig = figure_mod.Figure(figsize=figsize)
    ax = fig.subplots()
    return fig, ax
