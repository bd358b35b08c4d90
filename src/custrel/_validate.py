"""Shared argument checks (private).

Every public function validates at its boundary with these helpers, before any
numeric work, so that all messages read alike: they name the argument, the
offending value and where it was found (``row 17`` for 1-D data, ``[3, 5]``
(row, column) for 2-D data).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from custrel.errors import EmptyInputError, InvalidInputError, InvalidTypeError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

__all__: list[str] = []


def where(index: tuple[int, ...] | int, *, label: str = "row") -> str:
    """Render the position of a bad value: ``row 3`` or ``[3, 5]``."""
    if isinstance(index, tuple):
        if len(index) == 1:
            return f"{label} {index[0]}"
        return "[" + ", ".join(str(i) for i in index) + "]"
    return f"{label} {index}"


def first_bad(mask: npt.NDArray[np.bool_]) -> tuple[int, ...]:
    """Return the index of the first True in ``mask`` (row-major)."""
    flat = int(np.flatnonzero(mask.ravel())[0])
    return tuple(int(i) for i in np.unravel_index(flat, mask.shape))


def _fmt(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return repr(float(value))
    return repr(value.item() if isinstance(value, np.generic) else value)


def readonly(arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Return ``arr`` (or a view of it) flagged read-only."""
    view = arr.view()
    view.flags.writeable = False
    return view


def readonly_or_none(arr: npt.NDArray[Any] | None) -> Any:
    """:func:`readonly` for optional arrays: ``None`` stays ``None`` (an attrs converter)."""
    return None if arr is None else readonly(arr)


def as_float_array(
    value: Any,
    name: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
    allow_empty: bool = False,
    finite: bool = True,
    label: str = "row",
) -> FloatArray:
    """Convert ``value`` to a float64 array and check it.

    The result is always a new array (or a read-only view), never the caller's
    own object, so callers may not mutate what they were given.

    Raises
    ------
    InvalidTypeError
        If the value cannot be read as numbers.
    InvalidInputError
        If the dimensionality is wrong, the array is empty (unless allowed)
        or, with ``finite``, a value is NaN or infinite.
    """
    if isinstance(value, str | bytes):
        raise InvalidTypeError(f"{name} must be numeric, got the string {value!r}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidTypeError(
            f"{name} must be numeric, got {type(value).__name__}: {exc}"
        ) from None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in allowed:
            shape_word = " or ".join(f"{d}-D" for d in allowed)
            raise InvalidInputError(f"{name} must be {shape_word}, got shape {arr.shape}")
    if arr.size == 0 and not allow_empty:
        raise EmptyInputError(f"{name} is empty; at least one value is needed")
    if finite:
        check_finite(arr, name, label=label)
    return arr


def check_finite(arr: FloatArray, name: str, *, label: str = "row") -> None:
    """Raise if any value is NaN or infinite, naming the first one."""
    bad = ~np.isfinite(arr)
    if arr.ndim == 0:
        if bool(bad):
            raise InvalidInputError(f"{name} must be finite, got {_fmt(arr.item())}")
        return
    if bad.any():
        idx = first_bad(bad)
        raise InvalidInputError(
            f"{name} must be finite, got {_fmt(arr[idx])} at {where(idx, label=label)}"
        )


def check_range(
    arr: FloatArray,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    label: str = "row",
    hint: str = "",
) -> None:
    """Raise if any value lies outside the interval, naming the first one."""
    bad = np.zeros(arr.shape, dtype=bool)
    if low is not None:
        bad |= (arr < low) if low_inclusive else (arr <= low)
    if high is not None:
        bad |= (arr > high) if high_inclusive else (arr >= high)
    if not bad.any():
        return
    lo = "" if low is None else ("[" if low_inclusive else "(") + f"{low:g}"
    hi = "" if high is None else f"{high:g}" + ("]" if high_inclusive else ")")
    if low is None:
        interval = f"<= {high:g}" if high_inclusive else f"< {high:g}"
    elif high is None:
        interval = f">= {low:g}" if low_inclusive else f"> {low:g}"
    else:
        interval = f"in {lo}, {hi}"
    tail = f"; {hint}" if hint else ""
    if arr.ndim == 0:
        raise InvalidInputError(f"{name} must be {interval}, got {_fmt(arr.item())}{tail}")
    idx = first_bad(bad)
    raise InvalidInputError(
        f"{name} must be {interval}, got {_fmt(arr[idx])} at {where(idx, label=label)}{tail}"
    )


def check_probability(arr: FloatArray, name: str, *, label: str = "row") -> None:
    """Raise unless every value lies in [0, 1]."""
    check_range(arr, name, low=0.0, high=1.0, label=label)


def check_integer_valued(arr: FloatArray, name: str, *, label: str = "row") -> None:
    """Raise unless every value is a whole number."""
    bad = arr != np.round(arr)
    if arr.ndim == 0:
        if bool(bad):
            raise InvalidInputError(f"{name} must be a whole number, got {_fmt(arr.item())}")
        return
    if bad.any():
        idx = first_bad(bad)
        raise InvalidInputError(
            f"{name} must be whole numbers, got {_fmt(arr[idx])} at {where(idx, label=label)}"
        )


def check_same_length(**arrays: npt.NDArray[Any] | Sequence[Any] | None) -> int:
    """Raise unless all given (non-None) arrays share their first dimension.

    Returns the common length.
    """
    lengths = {k: len(v) for k, v in arrays.items() if v is not None}
    if not lengths:
        return 0
    values = set(lengths.values())
    if len(values) > 1:
        detail = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        raise InvalidInputError(f"inconsistent lengths: {detail}; all must have the same length")
    return values.pop()


def scalar(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    hint: str = "",
) -> float:
    """Validate a finite real scalar in an optional interval and return it as float."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidTypeError(
            f"{name} must be a real number, got {type(value).__name__} {value!r}"
        )
    arr = np.asarray(float(value))
    check_finite(arr, name)
    check_range(
        arr,
        name,
        low=low,
        high=high,
        low_inclusive=low_inclusive,
        high_inclusive=high_inclusive,
        hint=hint,
    )
    return float(value)


def positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """Validate an integer >= ``minimum`` and return it."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidTypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise InvalidInputError(f"{name} must be >= {minimum}, got {int(value)}")
    return int(value)


def discount_rate(value: Any, name: str = "discount_rate") -> float:
    """Validate a per-period discount rate: finite and > -1 (0 means no discounting)."""
    return scalar(value, name, low=-1.0, low_inclusive=False)


def choice(value: Any, name: str, options: Sequence[str]) -> str:
    """Validate that ``value`` is one of ``options``."""
    if not isinstance(value, str) or value not in options:
        opts = ", ".join(repr(o) for o in options)
        raise InvalidInputError(f"{name} must be one of {opts}, got {value!r}")
    return value


def as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """Turn the ``rng`` argument into a Generator (int seeds and None allowed)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, int | np.integer) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise InvalidTypeError(
        f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}"
    )


def weights_array(weights: Any, n: int, name: str = "weights") -> FloatArray:
    """Validate per-row weights: finite, > 0, one per row. ``None`` gives ones."""
    if weights is None:
        return np.ones(n, dtype=np.float64)
    w = as_float_array(weights, name, ndim=1)
    if len(w) != n:
        raise InvalidInputError(f"{name} has {len(w)} values but the data has {n} rows")
    check_range(w, name, low=0.0, low_inclusive=False, hint="drop rows instead of weighting them 0")
    return w
