"""Time parsing and time arithmetic of the columnar log (private).

Re-exported where public by :mod:`custrel.models`. Every parser names the
column, the value and its position in the caller's words (:class:`Voice`).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from custrel import _validate as v
from custrel._ids import missing_name
from custrel._voice import PLAIN, Voice, choice
from custrel.errors import InvalidInputError, InvalidTypeError

__all__: list[str] = []

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
TimeKind = Literal["datetime", "numeric"]
TimeZone = Literal["local", "utc"]

#: Lengths in days of the calendar units accepted where a duration is meant.
UNIT_DAYS: Mapping[str, float] = {
    "day": 1.0,
    "week": 7.0,
    "month": 365.25 / 12.0,
    "quarter": 365.25 / 4.0,
    "year": 365.25,
}
_SECONDS_PER_DAY = 86400.0
_DT = "datetime64[s]"
_ISO_DATE_LEN = len("2024-01-31")
#: Longest text that can be a time; longer values are refused before any copy.
MAX_TIME_TEXT = 64
_TIMEZONES: tuple[str, ...] = ("local", "utc")
#: A UTC offset at the end of an ISO 8601 time: Z, +01:00, +0100 or +01.
_OFFSET = re.compile(
    r"^(?P<base>.*\d)\s*(?:(?P<z>[zZ])|(?P<sign>[+-])(?P<h>\d{2}):?(?P<m>\d{2})?)$"
)
_FORMAT_EXAMPLE = "%Y%m%d"
_INT64 = np.iinfo(np.int64)
#: Seconds per unit of the fixed-length datetime64 units.
_UNIT_SECONDS = {"W": 604800, "D": 86400, "h": 3600, "m": 60, "s": 1}


def _time_kind(arr: npt.NDArray[Any]) -> TimeKind:
    return "datetime" if np.issubdtype(arr.dtype, np.datetime64) else "numeric"


def _format_example(value: Any) -> str:
    """A strptime format that fits a non-ISO date such as ``31/12/2024``."""
    text = str(value).strip()
    if re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", text):
        return "%d/%m/%Y"
    if re.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{4}", text):
        return "%d.%m.%Y"
    if re.fullmatch(r"\d{1,2}-\d{1,2}-\d{4}", text):
        return "%d-%m-%Y"
    if re.fullmatch(r"\d{4}/\d{1,2}/\d{1,2}", text):
        return "%Y/%m/%d"
    return _FORMAT_EXAMPLE


def _format_hint(voice: Voice, value: Any = None) -> str:
    example = _format_example(value)
    tail = " ('%m/%d/%Y' for US dates)" if example == "%d/%m/%Y" else ""
    return f"{voice.pass_('date_format', example)}{tail} for non-ISO dates"


def parse_times(
    values: Any,
    name: str = "time",
    *,
    date_format: str | None = None,
    timezone: TimeZone = "local",
    voice: Voice = PLAIN,
) -> npt.NDArray[Any]:
    """Convert ``values`` to a ``datetime64[s]`` or a float64 array.

    Accepts numbers, ``datetime64`` values (any unit), :class:`datetime.date`
    / :class:`datetime.datetime` objects and strings: ISO 8601 by default, or
    any :func:`~datetime.datetime.strptime` ``date_format``. One kind per
    array: mixing numbers and dates is an error, as is a missing or
    unparseable value or a date outside the ``datetime64[s]`` range, named
    with its position.

    A time with a UTC offset (``2024-03-01T23:30:00+01:00``, ``...Z``, or an
    aware :class:`datetime.datetime`) keeps its local wall-clock time with
    ``timezone="local"`` (the offset is dropped, so the purchase stays on the
    calendar day it was made); ``timezone="utc"`` converts it to UTC.
    """
    choice(timezone, "timezone", _TIMEZONES, voice)
    if date_format is not None:
        return _parse_with_format(values, name, date_format, timezone, voice)
    arr = values if isinstance(values, np.ndarray) else _as_time_array(values)
    if arr.ndim == 0:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise InvalidInputError(f"{name} must be 1-D, got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.datetime64):
        return datetime64_seconds(arr, name, voice)
    if arr.dtype.kind in "iuf":
        out = arr.astype(np.float64)
        _check_finite(out, name, voice)
        return out
    if arr.dtype.kind == "b":
        raise InvalidTypeError(f"{name} must be dates or numbers, got booleans")
    if arr.dtype.kind == "m":
        raise InvalidTypeError(
            f"{name} must be dates or numbers, got durations (timedelta64); "
            "add them to a start date or convert them to numbers"
        )
    if arr.dtype.kind == "S":
        raise InvalidTypeError(f"{name} must be dates or numbers, got bytes; decode them to text")
    if arr.dtype.kind == "U":
        return _parse_iso(arr, name, timezone, voice)
    # object arrays: dates, datetimes, strings, numbers, None
    return _parse_objects(arr, name, timezone, voice)


def _check_finite(arr: FloatArray, name: str, voice: Voice) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            f"{name} must be finite, got {float(arr[row])!r} at {voice.at(row)}"
        )


def _as_time_array(values: Any) -> npt.NDArray[Any]:
    """A sequence of times as an array: typed when uniform (fast), else objects."""
    try:
        items = list(values)
    except TypeError:
        raise InvalidTypeError(
            f"time must be a sequence of dates or numbers, got {type(values).__name__}"
        ) from None
    out = np.empty(len(items), dtype=object)
    out[:] = items
    kinds = set(map(type, items))
    if kinds == {str}:
        longest = max(map(len, items), default=0)
        if longest <= MAX_TIME_TEXT:
            return np.asarray(items, dtype=f"U{max(longest, 1)}")
    return out


def datetime64_seconds(arr: npt.NDArray[Any], name: str, voice: Voice = PLAIN) -> npt.NDArray[Any]:
    """``datetime64`` of any unit as ``datetime64[s]``: NaT and out-of-range dates refused.

    Finer units are floored to whole seconds; a coarser value that does not
    fit in 64-bit seconds (beyond about ±2.9e11 years) is refused, never wrapped.
    """
    nat = np.isnat(arr)
    if nat.any():
        row = int(np.flatnonzero(nat)[0])
        raise InvalidInputError(f"{name} is missing (NaT) at {voice.at(row)}")
    unit, count = np.datetime_data(arr.dtype)
    if unit in ("Y", "M") or _UNIT_SECONDS.get(unit, 0) * count > 1:
        ints = arr.view(np.int64)
        if unit in ("Y", "M"):
            limit = 292_000_000_000 * (12 if unit == "M" else 1) // count
            bad = np.abs(ints) >= limit
        else:
            step = _UNIT_SECONDS[unit] * count
            bad = (ints <= _INT64.min // step + 1) | (ints > _INT64.max // step)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InvalidInputError(
                f"{name} has a date {str(arr[row])!r} at {voice.at(row)} outside the range of "
                "datetime64[s] (about 2.9e11 years either side of 1970); check the value"
            )
    return arr.astype(_DT)


def _split_offset(text: str) -> tuple[str, int] | None:
    """``(local part, offset seconds)`` of an ISO time with a UTC offset, else None."""
    stripped = text.strip()
    if len(stripped) <= _ISO_DATE_LEN:
        return None
    match = _OFFSET.match(stripped)
    has_time = "T" in stripped[: _ISO_DATE_LEN + 1].upper() or " " in stripped
    if match is None or not has_time:
        return None
    if match.group("z"):
        return match.group("base"), 0
    base = match.group("base")
    if len(base) < _ISO_DATE_LEN + 3:  # "2024-03-01T10" at least: the sign is not the date's
        return None
    minutes = int(match.group("h")) * 60 + int(match.group("m") or 0)
    return base, (-1 if match.group("sign") == "-" else 1) * minutes * 60


def _strip_offsets(
    arr: npt.NDArray[Any], timezone: str
) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64] | None]:
    """Remove UTC offsets from ISO strings; per element the seconds to subtract for UTC."""
    if arr.dtype.itemsize // 4 <= _ISO_DATE_LEN + 2 or len(arr) == 0:
        return arr, None  # too short to carry an offset
    width = arr.dtype.itemsize // 4
    points = np.ascontiguousarray(arr).view(np.uint32).reshape(len(arr), width)
    tail = np.ascontiguousarray(points[:, _ISO_DATE_LEN + 3 :])  # after "YYYY-MM-DDTHH"
    marks = (tail == ord("+")) | (tail == ord("-")) | (tail == ord("Z")) | (tail == ord("z"))
    has = np.count_nonzero(marks, axis=1) > 0
    if not has.any():
        return arr, None
    rows = np.flatnonzero(has)
    distinct, inverse = np.unique(arr[rows], return_inverse=True)
    bases: list[str] = []
    offsets: list[int] = []
    for text in distinct.tolist():
        split = _split_offset(text)
        bases.append(text if split is None else split[0])
        offsets.append(0 if split is None else split[1])
    out = arr.copy()
    out[rows] = np.asarray(bases)[inverse.reshape(-1)]
    if timezone == "local":
        return out, None
    shift = np.zeros(len(arr), dtype=np.int64)
    shift[rows] = np.asarray(offsets, dtype=np.int64)[inverse.reshape(-1)]
    return out, shift


def _parse_iso(
    arr: npt.NDArray[Any], name: str, timezone: str = "local", voice: Voice = PLAIN
) -> npt.NDArray[Any]:
    too_long = arr.dtype.itemsize // 4 > MAX_TIME_TEXT
    if too_long:
        lengths = np.char.str_len(arr)
        row = int(np.argmax(lengths))
        raise InvalidInputError(
            f"{name} has a value of {int(lengths[row]):,} characters at {voice.at(row)}, not a date"
        )
    local, shift = _strip_offsets(arr, timezone)
    try:
        out = local.astype(_DT)
    except (ValueError, OverflowError):
        for row, s in enumerate(local.tolist()):
            try:
                np.datetime64(s, "s")
            except (ValueError, OverflowError):
                raw = arr[row].item()
                if _is_number(raw):
                    raise InvalidInputError(_mixed_message(name, raw, row, voice)) from None
                raise InvalidInputError(
                    f"{name} has an unparseable date {raw!r} at {voice.at(row)}; "
                    f"{_format_hint(voice, raw)}"
                ) from None
        raise  # pragma: no cover - astype failed but each element parsed
    nat = np.isnat(out)
    if nat.any():
        row = int(np.flatnonzero(nat)[0])
        raise InvalidInputError(f"{name} is missing at {voice.at(row)} (got {arr[row].item()!r})")
    # numpy reads "17" as the year 17 and "2024-05" as 1 May: accept only full dates
    partial = np.char.str_len(np.char.strip(local)) < _ISO_DATE_LEN
    if partial.any():
        row = int(np.flatnonzero(partial)[0])
        raise InvalidInputError(_partial_date_message(name, arr[row].item(), row, voice))
    if shift is not None:
        out = out - shift.astype("timedelta64[s]")
    return out


def _slice(s: npt.NDArray[Any], start: int, stop: int | None = None) -> npt.NDArray[Any]:
    """Slice numpy strings without a Python loop (numpy >= 2.2 has np.strings.slice)."""
    strings = getattr(np, "strings", None)
    if strings is not None and hasattr(strings, "slice"):
        return strings.slice(s, start, stop)  # type: ignore[no-any-return]
    return np.array([x[start:stop] for x in s.tolist()])  # pragma: no cover - numpy < 2.2


def _mid(s: npt.NDArray[np.str_], start: int, stop: int) -> npt.NDArray[np.str_]:
    return _slice(s, start, stop)


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _mixed_message(name: str, value: Any, row: int, voice: Voice = PLAIN) -> str:
    return (
        f"{name} mixes dates and numbers ({voice.at(row)} is {value!r}); "
        "a log holds one kind of time"
    )


def _partial_date_message(name: str, value: Any, row: int, voice: Voice = PLAIN) -> str:
    if _is_number(value):
        return _mixed_message(name, value, row, voice)
    return (
        f"{name} has an unparseable date {value!r} at {voice.at(row)}; dates must be full "
        f"ISO 8601 dates (YYYY-MM-DD, optionally with a time); {voice.pass_('date_format')} "
        "for other forms"
    )


def _naive(item: _dt.datetime, timezone: str) -> _dt.datetime:
    """A timezone-aware datetime as naive local wall-clock time or naive UTC."""
    if item.tzinfo is None or item.utcoffset() is None:
        return item
    if timezone == "utc":
        item = item.astimezone(_dt.UTC)
    return item.replace(tzinfo=None)


def _parse_objects(
    arr: npt.NDArray[Any], name: str, timezone: str = "local", voice: Voice = PLAIN
) -> npt.NDArray[Any]:
    items = arr.tolist()
    kinds: set[str] = set()
    out_dt: list[Any] = []
    for row, item in enumerate(items):
        missing = missing_name(item)
        if missing is not None:
            raise InvalidInputError(f"{name} is missing ({missing}) at {voice.at(row)}")
        if isinstance(item, _dt.datetime | _dt.date | np.datetime64):
            kinds.add("datetime")
            here = voice.with_at(_Fixed(voice.at(row)))
            if isinstance(item, _dt.datetime):
                naive = _naive(item, timezone)
                out_dt.append(np.datetime64(naive.replace(microsecond=0).isoformat(), "s"))
            else:
                one_date: Any = np.datetime64(item)
                out_dt.append(datetime64_seconds(np.asarray([one_date]), name, here)[0])
        elif isinstance(item, str):
            kinds.add("datetime")
            if len(item) > MAX_TIME_TEXT:
                raise InvalidInputError(
                    f"{name} has a value of {len(item):,} characters at {voice.at(row)}, not a date"
                )
            one = _parse_iso(
                np.asarray([item]), name, timezone, voice.with_at(_Fixed(voice.at(row)))
            )
            out_dt.append(one[0])
        elif isinstance(item, int | float | np.integer | np.floating) and not isinstance(
            item, bool
        ):
            kinds.add("numeric")
            out_dt.append(item)
        else:
            raise InvalidTypeError(
                f"{name} must be dates or numbers, got {type(item).__name__} {item!r} "
                f"at {voice.at(row)}"
            )
        if len(kinds) > 1:
            raise InvalidInputError(_mixed_message(name, item, row, voice))
    if not kinds:
        return np.empty(0, dtype=np.float64)
    if kinds == {"numeric"}:
        try:
            out = np.asarray(out_dt, dtype=np.float64)
        except OverflowError:
            row = next(i for i, x in enumerate(out_dt) if abs(x) > 1.7e308)
            raise InvalidInputError(
                f"{name} must be finite, got {out_dt[row]!r} at {voice.at(row)}"
            ) from None
        _check_finite(out, name, voice)
        return out
    return np.asarray(out_dt, dtype=_DT)


def _parse_with_format(
    values: Any, name: str, date_format: str, timezone: str, voice: Voice
) -> npt.NDArray[Any]:
    arr = values if isinstance(values, np.ndarray) else _as_time_array(values)
    if arr.ndim != 1:
        raise InvalidInputError(f"{name} must be 1-D, got shape {arr.shape}")
    if date_format in ("%Y%m%d", "%Y-%m-%d") and arr.dtype.kind in "iuU":
        # Vectorised fast path for the two commonest formats.
        s = arr.astype("U")
        if date_format == "%Y%m%d":
            ok = np.char.str_len(s) == 8
            if ok.all():
                iso = np.char.add(
                    np.char.add(np.char.add(s.astype("U4"), "-"), np.char.add(_mid(s, 4, 6), "-")),
                    _mid(s, 6, 8),
                )
                try:
                    return _parse_iso(iso, name, timezone, voice)
                except InvalidInputError:
                    pass  # fall through to the row-by-row path for a precise message
        else:
            try:
                return _parse_iso(s, name, timezone, voice)
            except InvalidInputError:
                pass
    out = np.empty(len(arr), dtype=_DT)
    for row, item in enumerate(arr.tolist()):
        missing = missing_name(item)
        if missing is not None or item == "":
            raise InvalidInputError(f"{name} is missing ({missing or 'empty'}) at {voice.at(row)}")
        text = str(item)
        if len(text) > MAX_TIME_TEXT:
            raise InvalidInputError(
                f"{name} has a value of {len(text):,} characters at {voice.at(row)}, not a date"
            )
        try:
            parsed = _dt.datetime.strptime(text.strip(), date_format)
        except ValueError:
            raise InvalidInputError(
                f"{name} has a date {item!r} at {voice.at(row)} that does not match "
                f"{voice.arg('date_format')} {date_format!r}"
            ) from None
        out[row] = np.datetime64(_naive(parsed, timezone).isoformat(), "s")
    return out


def time_to_float(value: Any, kind: TimeKind, name: str = "time") -> float:
    """Convert one time of a log's kind to the float the log computes with.

    Calendar times become seconds since the Unix epoch; numbers stay numbers.
    """
    if kind == "numeric":
        if isinstance(value, _dt.date | np.datetime64 | str):
            raise InvalidInputError(
                f"{name} must be a number for a log with numeric times, got {value!r}"
            )
        return v.scalar(value, name)
    one = _OneValue()
    parsed = parse_times(np.asarray([value], dtype=object), name, voice=Voice(at=one))
    if not np.issubdtype(parsed.dtype, np.datetime64):
        raise InvalidInputError(
            f"{name} must be a date for a log with calendar times, got {value!r}"
        )
    return float(parsed.astype(np.int64)[0])


class _Fixed:
    """Position text that is the same for every index (one value parsed alone)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __call__(self, index: int) -> str:
        return self.text


class _OneValue:
    """Position text for a single value: none (``at row 0`` would mislead)."""

    def __call__(self, index: int) -> str:
        return "the value given"


def _unit_seconds(unit: str | float, kind: TimeKind, name: str = "unit") -> float:
    """Length of ``unit`` in the log's own float time (seconds for calendar logs)."""
    if isinstance(unit, str):
        if kind == "numeric":
            raise InvalidInputError(
                f"{name} must be a number (the period length) for a log with numeric times, "
                f"got {unit!r}"
            )
        v.choice(unit, name, tuple(UNIT_DAYS))
        return UNIT_DAYS[unit] * _SECONDS_PER_DAY
    length = v.scalar(unit, name, low=0.0, low_inclusive=False)
    return length * _SECONDS_PER_DAY if kind == "datetime" else length
