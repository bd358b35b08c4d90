"""Scoring functions (private): raw attributes to scores on a scale."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from custrel import _validate as _val
from custrel.channels._common import (
    _DIRECTIONS,
    _SAFE_MAGNITUDE,
    FloatArray,
)
from custrel.errors import (
    InvalidInputError,
)

__all__: list[str] = []


def score_linear(
    values: Any,
    low: float,
    high: float,
    *,
    direction: str = "benefit",
    scale: tuple[float, float] = (0.0, 10.0),
    saturate: bool = True,
) -> FloatArray:
    """Map a raw attribute linearly onto a score scale.

    ``low`` maps to the bottom of ``scale`` and ``high`` to the top (the
    other way round for ``direction="cost"``).

    Parameters
    ----------
    values : array_like
        Raw values (sales, coverage %, delivery days, ...).
    low, high : float
        The raw values that earn the worst and the best score (``low < high``).
    direction : {"benefit", "cost"}, default "benefit"
        For cost attributes ``low`` earns the best score.
    scale : tuple of float, default (0, 10)
        The score range.
    saturate : bool, default True
        Values beyond ``[low, high]`` get the end score (a value function
        that saturates). With False they raise instead.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    InvalidInputError
        For NaN values, ``low >= high``, or out-of-range values when
        ``saturate`` is False.

    Examples
    --------
    >>> score_linear([50, 100, 175, 300], 100, 200).tolist()
    [0.0, 0.0, 7.5, 10.0]
    >>> score_linear([2, 5], 1, 9, direction="cost").tolist()
    [8.75, 5.0]
    """
    x = _val.as_float_array(values, "values", ndim=(0, 1, 2))
    lo = _val.scalar(low, "low")
    hi = _val.scalar(high, "high")
    if not lo < hi:
        raise InvalidInputError(f"low must be < high, got low={lo:g}, high={hi:g}")
    _val.choice(direction, "direction", _DIRECTIONS)
    s0, s1 = _scale_pair(scale)
    if not saturate:
        _val.check_range(x, "values", low=lo, high=hi, hint="pass saturate=True to cap at the ends")
    with np.errstate(over="ignore"):
        if _SAFE_MAGNITUDE[0] <= max(abs(lo), abs(hi)) <= _SAFE_MAGNITUDE[1]:
            t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
        else:  # values divided by max(|lo|, |hi|): the width stays finite and nonzero
            mag = max(abs(lo), abs(hi))
            t = np.clip((x / mag - lo / mag) / (hi / mag - lo / mag), 0.0, 1.0)
    if direction == "cost":
        t = 1.0 - t
    return _on_scale(t, s0, s1)


def _on_scale(t: FloatArray, s0: float, s1: float) -> FloatArray:
    """``s0 + t (s1 - s0)`` for t in [0, 1], as a convex combination when the width overflows."""
    if math.isfinite(s1 - s0):
        out: FloatArray = s0 + t * (s1 - s0)
    else:
        out = s0 * (1.0 - t) + s1 * t
    return out


def _scale_pair(scale: Any) -> tuple[float, float]:
    if isinstance(scale, np.ndarray) and scale.ndim == 1:  # an array pair reads as its values
        scale = tuple(scale.tolist())
    if not isinstance(scale, Sequence) or len(scale) != 2:
        raise InvalidInputError(f"scale must be a (low, high) pair, got {scale!r}")
    s0 = _val.scalar(scale[0], "scale low")
    s1 = _val.scalar(scale[1], "scale high")
    if not s0 < s1:
        raise InvalidInputError(f"scale must have low < high, got ({s0:g}, {s1:g})")
    return s0, s1


def score_bands(values: Any, edges: Any, scores: Any) -> FloatArray:
    """Step scoring: the score of the band each value falls in.

    A value ``x`` with ``edges[k-1] <= x < edges[k]`` gets ``scores[k]``;
    below ``edges[0]`` it gets ``scores[0]`` and from ``edges[-1]`` on the
    last score.

    Parameters
    ----------
    values : array_like
        Raw values.
    edges : array_like
        Strictly increasing band edges.
    scores : array_like
        ``len(edges) + 1`` scores.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    InvalidInputError
        For NaN values, non-increasing edges or a wrong number of scores.

    Examples
    --------
    >>> score_bands([0.5e6, 1e6, 3e6, 9e6], [1e6, 5e6], [1, 3, 5]).tolist()
    [1.0, 3.0, 3.0, 5.0]
    """
    x = _val.as_float_array(values, "values", ndim=(0, 1, 2))
    e = _val.as_float_array(edges, "edges", ndim=1)
    s = _val.as_float_array(scores, "scores", ndim=1)
    if (e[1:] <= e[:-1]).any():
        i = int(np.flatnonzero(e[1:] <= e[:-1])[0]) + 1
        raise InvalidInputError(
            f"edges must be strictly increasing, got {e[i]:g} after {e[i - 1]:g} at row {i}"
        )
    if len(s) != len(e) + 1:
        raise InvalidInputError(
            f"scores must have len(edges) + 1 = {len(e) + 1} values, got {len(s)}"
        )
    return s[np.searchsorted(e, x, side="right")]


def score_likert(
    responses: Any, *, levels: int = 5, scale: tuple[float, float] = (0.0, 10.0)
) -> FloatArray:
    """Map Likert ratings 1 … ``levels`` linearly onto a score scale.

    A 2-D input (candidates × raters or items) is averaged over its columns.

    Parameters
    ----------
    responses : array_like of int
        Ratings in 1 … ``levels``.
    levels : int, default 5
        Number of answer levels.
    scale : tuple of float, default (0, 10)
        Score of rating 1 and of rating ``levels``.

    Returns
    -------
    numpy.ndarray
        One score per row (or per value for 1-D input).

    Raises
    ------
    InvalidInputError
        For ratings that are not whole numbers in 1 … ``levels``.

    Examples
    --------
    >>> np.round(score_likert([[5, 4, 4], [2, 3, 1]]), 3).tolist()
    [8.333, 2.5]
    """
    x = _val.as_float_array(responses, "responses", ndim=(1, 2))
    k = _val.positive_int(levels, "levels", minimum=2)
    _val.check_integer_valued(x, "responses")
    _val.check_range(x, "responses", low=1.0, high=float(k))
    s0, s1 = _scale_pair(scale)
    mean = x.mean(axis=1) if x.ndim == 2 else x
    return _on_scale((mean - 1.0) / (k - 1), s0, s1)
