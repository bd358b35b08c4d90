"""Shared argument checks (private).

Every public function validates at its boundary with these helpers, before any
numeric work, so that all messages read alike: they name the argument, the
offending value and where it was found (``row 17`` for 1-D data, ``[3, 5]``
(row, column) for 2-D data).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from custrel._ids import normalize_ids
from custrel._numeric import bincount as _bincount
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


def _writable_memory(arr: npt.NDArray[Any]) -> bool:
    """Whether anything in ``arr``'s chain of bases could still be written to."""
    obj: Any = arr
    while obj is not None:
        if isinstance(obj, np.ndarray):
            if obj.flags.writeable:
                return True
            obj = obj.base
        elif isinstance(obj, memoryview):
            if not obj.readonly:
                return True
            obj = obj.obj
        else:  # bytes cannot change; a foreign buffer (arrow, mmap) is assumed to
            return not isinstance(obj, bytes)
    return False


def detach(arr: npt.NDArray[Any], source: Any) -> npt.NDArray[Any]:
    """Return ``arr`` converted from the caller's ``source`` sharing no memory the caller can write.

    ``numpy.asarray`` hands back the caller's own array (or a view of a
    pandas column) when no conversion was needed; a result built on it would
    change when the caller edits their data. This copies in that case and
    keeps a fresh conversion (or a read-only view of read-only memory) as it is.
    """
    if isinstance(source, list | tuple | int | float | complex | str | bytes) or source is None:
        return arr  # numpy allocated it for this conversion
    if arr is not source:
        try:
            origin = np.asarray(source)
        except Exception:  # an odd object: copy to be safe
            return arr.copy()
        if origin.dtype.kind == "O" or not np.may_share_memory(arr, origin):
            return arr
    if not _writable_memory(arr):
        return arr
    return arr.copy()


class FrozenMap(Mapping[Any, Any]):
    """A read-only mapping that, unlike ``types.MappingProxyType``, pickles and copies.

    Results hold their mappings (cut points, per-method details, parameters)
    as one of these, so a result can be saved, sent to a worker process or
    deep-copied like every other frozen value.
    """

    __slots__ = ("_data",)
    _data: dict[Any, Any]

    def __init__(self, data: Mapping[Any, Any]) -> None:
        object.__setattr__(self, "_data", dict(data))

    def __getitem__(self, key: Any) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return repr(self._data)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("FrozenMap is read-only")

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenMap, (self._data,))


def freeze(value: Any) -> Any:
    """Make a result's field immutable (the attrs converter every result uses).

    Arrays become read-only views, mappings read-only mappings of frozen
    values, lists and plain tuples tuples of frozen values; anything else is
    returned as it is. Arrays must be
    the function's own (inputs go through :func:`detach` or
    :func:`as_float_array` first), so a frozen result never shares writable
    memory with its caller.
    """
    if isinstance(value, np.ndarray):
        return readonly(value)
    if isinstance(value, FrozenMap):
        return value
    if isinstance(value, Mapping):
        return FrozenMap({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list) or type(value) is tuple:  # a plain tuple may hold arrays
        return tuple(freeze(v) for v in value)
    return value


# Budgets: every size a caller can choose is checked before allocating or looping.
# ---------------------------------------------------------------------------


def _env_budget(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        val = int(raw)
    except ValueError:
        raise InvalidInputError(
            f"environment variable {name} must be a positive integer, got {raw!r}"
        ) from None
    if val < 1:
        raise InvalidInputError(
            f"environment variable {name} must be a positive integer, got {raw!r}"
        )
    return val


#: Most cells (customers x periods, rows x columns) one intermediate table may hold: 5e8
#: float64 cells are 4 GB. Raise it with the environment variable ``CUSTREL_MAX_CELLS``.
DEFAULT_MAX_CELLS = 500_000_000
#: Most periods a panel, horizon or simulation may span (CUSTREL_MAX_PERIODS).
DEFAULT_MAX_PERIODS = 1_000_000


def max_cells() -> int:
    """The cell budget in force (``CUSTREL_MAX_CELLS`` or :data:`DEFAULT_MAX_CELLS`)."""
    return _env_budget("CUSTREL_MAX_CELLS", DEFAULT_MAX_CELLS)


def max_periods() -> int:
    """The period budget in force (``CUSTREL_MAX_PERIODS`` or :data:`DEFAULT_MAX_PERIODS`)."""
    return _env_budget("CUSTREL_MAX_PERIODS", DEFAULT_MAX_PERIODS)


def check_budget(
    size: float,
    what: str,
    *,
    budget: int,
    culprit: str,
    env: str = "",
    hint: str = "",
) -> None:
    """Refuse work whose size exceeds ``budget``, before anything is allocated.

    ``size`` is the count the work would need (cells, periods, iterations),
    computed in float so that it cannot overflow; ``what`` says what it counts
    (``"the customer x period panel"``); ``culprit`` names the value that made
    it so (``"the latest time 9999-01-01 at row 17"``).
    """
    try:
        size = float(size)
    except OverflowError:  # a Python int beyond the float range
        size = float("inf")
    if size <= budget:  # False for nan as well
        return
    shown = f"{size:,.0f}" if np.isfinite(size) and size < 1e18 else f"{size:.3g}"
    raise_env = f" (set {env} to raise the budget)" if env else ""
    tail = f"; {hint}" if hint else ""
    raise InvalidInputError(
        f"{what} would need {shown}, more than the budget of {budget:,}{raise_env}: {culprit}{tail}"
    )


def _peek(value: Any) -> Any:
    """A cheap look at ``value``'s element type (complex detection) without converting twice."""
    if isinstance(value, complex):
        return value
    if hasattr(value, "dtype"):
        return np.empty(0, dtype=value.dtype) if isinstance(value.dtype, np.dtype) else 0.0
    if isinstance(value, list | tuple) and value:
        flat: Any = value
        while isinstance(flat, list | tuple) and flat:
            flat = flat[0]
        return flat if isinstance(flat, complex | np.complexfloating) else 0.0
    return 0.0


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
    if np.iscomplexobj(_peek(value)):
        raise InvalidTypeError(
            f"{name} must be real numbers, got complex values; pass the real part explicitly"
        )
    try:
        arr = detach(np.asarray(value, dtype=np.float64), value)
    except (TypeError, ValueError, OverflowError) as exc:
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
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool) and rng < 0:
        raise InvalidInputError(f"rng must be a non-negative integer seed, got {int(rng)}")
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


def _ids_1d(values: Any, name: str, n: int | None, what: str, word: str) -> None:
    """Refuse a scalar, a nested sequence or a wrong length before the ids are normalised."""
    if isinstance(values, str | bytes) or np.ndim(values) == 0:
        raise InvalidTypeError(
            f"{name} must be a sequence of {word}s, one per row, got "
            f"{type(values).__name__} {values!r:.60}"
        )
    if not isinstance(values, np.ndarray) or values.dtype.kind == "O":
        for row, item in enumerate(values.tolist() if isinstance(values, np.ndarray) else values):
            if isinstance(item, list | tuple | set | dict | np.ndarray):
                raise InvalidInputError(
                    f"{name} must be 1-D (one {word} per row), got a "
                    f"{type(item).__name__} at row {row}"
                )
    if n is not None and len(values) != n:
        raise InvalidInputError(
            f"{name} has {len(values)} values but {what} has {n}; give one {word} per row"
        )


def id_array(
    values: Any, name: str, n: int | None = None, *, what: str = "values"
) -> npt.NDArray[Any]:
    r"""Per-entity ids (customers, candidates, states): present, distinct, typed, read-only.

    The same rules as the log builders' ids (:func:`custrel._ids.normalize_ids`,
    the one id normaliser): each id keeps its type (``1`` and ``"1"`` are two
    ids), a missing id (None, NaN, NaT, ``pandas.NA``, an empty string) is
    refused naming the row, bytes, booleans and NUL characters are refused;
    here a repeated id is refused too. ``n`` checks the length against
    ``what`` (the data's name). The ids come back in the caller's order,
    sharing no memory with ``values``.
    """
    _ids_1d(values, name, n, what, "id")
    codes, labels, _ = normalize_ids(values, name, skippable=False)
    if len(labels) < len(codes):
        counts = _bincount(codes, minlength=len(labels))
        rows = np.flatnonzero(counts[codes] > 1)
        again = int(rows[np.flatnonzero(codes[rows] == codes[rows[0]])[1]])
        first = int(rows[0])
        raise InvalidInputError(
            f"{name} must be distinct, got {_fmt(labels[codes[again]])} at rows {first} and {again}"
        )
    return readonly(np.take(labels, codes))


# Period panels of a log, group labels, sums that leave the float range
# (added by the clv/lifecycle helper: value_panel, period_profit_from_log, ...).
# ---------------------------------------------------------------------------

_CALENDAR_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def _time_text(log: Any, t: float) -> str:
    """One time of ``log`` as the user wrote it: a date (and time unless midnight) or a number."""
    if log.time_kind == "datetime":
        text = str(np.datetime64(int(t), "s"))
        return text[:-9] if text.endswith("T00:00:00") else text
    return f"{t:.12g}"


def _period_number(log: Any, t: float, t0: float, period: str | float, length: float) -> float:
    """Float twin of ``log.period_index``: the period (from 0) of time ``t`` counted from ``t0``."""
    if log.time_kind == "datetime" and period in _CALENDAR_MONTHS:
        step = _CALENDAR_MONTHS[str(period)]

        def month(x: float) -> float:
            return float(np.datetime64(int(x), "s").astype("datetime64[M]").astype(np.int64))

        return float(np.floor(month(t) / step) - np.floor(month(t0) / step))
    if log.time_kind == "datetime" and period == "day":
        return float(np.floor(t / 86400.0) - np.floor(t0 / 86400.0))
    return float(np.floor((t - t0) / length))


def log_periods(
    log: Any,
    period: str | float,
    *,
    name: str = "period",
    end: float | None = None,
    end_name: str = "observation_end",
    customers: int = 0,
    what: str = "the customer x period panel",
) -> int:
    """The number of periods a per-period table of ``log`` spans, checked against the budgets.

    Counts the periods from the one holding the log's earliest time to the one
    holding ``end`` (a time on the log's float scale, default the latest time)
    exactly as :meth:`TransactionLog.period_index` numbers them, and refuses
    more than :func:`max_periods` periods or, with ``customers``, more than
    :func:`max_cells` customers x periods cells, naming the time that made
    the span (the latest or the earliest one, whichever lies further from the
    median time, with its 0-based row, or ``end_name``). One pass over the
    times (O(rows)), before anything is allocated. ``period`` is validated
    under ``name``.
    """
    length = log.unit_length(period, name)
    t = log.numeric_time()
    lo_row, hi_row = int(np.argmin(t)), int(np.argmax(t))
    t0 = float(t[lo_row])
    t1 = float(t[hi_row]) if end is None else float(end)
    with np.errstate(over="ignore", invalid="ignore"):
        n = _period_number(log, t1, t0, period, length) + 1.0 if np.isfinite(t1 - t0) else np.inf
    if n <= max_periods() and n * max(customers, 0) <= max_cells():
        return int(n)
    mid = float(np.median(t))
    if end is not None and (t1 > float(t[hi_row]) or t1 - mid >= mid - t0):
        culprit = f"{end_name} {_time_text(log, t1)}"
    elif t1 - mid >= mid - t0:
        culprit = f"the latest time {_time_text(log, t1)} at row {hi_row}"
    else:
        culprit = f"the earliest time {_time_text(log, t0)} at row {lo_row}"
    unit = f"{period}s" if isinstance(period, str) else f"periods of {period:g}"
    count = f"{n:,.0f}" if n < 1e18 else f"{n:.3g}"
    culprit = f"{culprit} makes it span {count} {unit}"
    if log.time_kind == "numeric" and max(abs(t0), abs(float(t[hi_row]))) > 1e8 and length < 1e4:
        hint = (
            "the times look like epoch seconds: pass a period in seconds (86400.0 is a day) "
            "or build the log with calendar times"
        )
    else:
        hint = (
            "a mistyped date? fix or drop that row (log.between(start=..., end=...)), "
            f"pass {end_name}, or use a coarser {name}"
        )
    check_budget(
        n, f"the periods of {what}", budget=max_periods(), culprit=culprit,
        env="CUSTREL_MAX_PERIODS", hint=hint,
    )  # fmt: skip
    check_budget(
        n * customers, f"the cells of {what} ({customers:,} customers x periods)",
        budget=max_cells(), culprit=culprit, env="CUSTREL_MAX_CELLS", hint=hint,
    )  # fmt: skip
    return int(n)  # pragma: no cover - one of the budgets above refused


def group_codes(
    values: Any, name: str, n: int, *, what: str = "values"
) -> tuple[npt.NDArray[Any], IntArray]:
    """Sorted distinct group labels and each row's code, refusing a missing label.

    The one id normaliser (:func:`custrel._ids.normalize_ids`) with repeats
    allowed: labels keep their type (``1`` and ``"1"`` are two groups); a
    missing one (None, NaN, NaT, ``pandas.NA``, an empty string) is refused
    naming its row, never made a group of its own. The labels never share
    memory with ``values``.
    """
    _ids_1d(values, name, n, what, "label")
    codes, labels, _ = normalize_ids(values, name, skippable=False)
    return readonly(detach(labels, values)), codes


def check_sums_finite(
    sums: npt.NDArray[Any], name: str, *, labels: Any = None, label: str = "customer"
) -> None:
    """Refuse sums of finite values that left the float64 range (two amounts of 1e308).

    ``sums`` is 1-D (one per entity) or 2-D (entity x period); the message
    names the entity (from ``labels``) and, for 2-D sums, the period (from 1).
    """
    bad = ~np.isfinite(sums)
    if not bad.any():
        return
    idx = first_bad(bad)
    who = idx[0] if labels is None else _fmt(labels[idx[0]])
    at = f" in period {idx[1] + 1}" if len(idx) > 1 else ""
    raise InvalidInputError(
        f"{name} of {label} {who}{at} adds up to {_fmt(sums[idx])}: the values are finite but "
        f"their sum is beyond the float64 range (about 1.8e308); check that row's units"
    )


def one_label(value: Any, name: str) -> Any:
    """Validate a single label used to look something up (a state, a group, an offering).

    A 0-d array gives its item; an array, list, set, dict or dataframe column
    (several labels where one is wanted) is refused with
    :class:`InvalidTypeError` naming ``name``, as is anything unhashable.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    several = isinstance(value, list | set | dict | np.ndarray) or (
        not isinstance(value, str | bytes | np.generic) and hasattr(value, "__array__")
    )
    if several:
        raise InvalidTypeError(
            f"{name} must be one label, got {type(value).__name__}; look labels up one at a time"
        )
    try:
        hash(value)
    except TypeError:
        raise InvalidTypeError(
            f"{name} must be one label (a string or number), got {type(value).__name__}"
        ) from None
    return value
