"""The domain vocabulary: customer classifications, records and the columnar log.

This module holds what every other module shares:

* the enums of the customer classification axes (relation to the firm, value
  class, loyalty, state), the pyramid tiers and the lifecycle stage models;
* the one-record values :class:`Customer` and :class:`Transaction`, for
  ergonomics;
* :class:`TransactionLog`, the columnar form every algorithm consumes, and its
  per-customer summary :class:`CustomerSummary`.

Values that only one algorithm module uses (a decision matrix, a fitted
model) live in that module, so that this module stays the small shared core
the import direction requires.
"""

from __future__ import annotations

import csv
import datetime as _dt
import enum
import importlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _validate as v
from custrel.errors import (
    CustrelError,
    EmptyInputError,
    InvalidInputError,
    InvalidTypeError,
    MissingDependencyError,
)

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "COST_FIELDS",
    "DWYER_SCHURR_OH",
    "FORD",
    "FOUR_STAGE",
    "IACOBUCCI_ZERRILLO",
    "JAP_GANESAN",
    "OPTIONAL_FIELDS",
    "SIX_STAGE",
    "STAGE_MODELS",
    "Customer",
    "CustomerState",
    "CustomerSummary",
    "EquityDriver",
    "LifecyclePattern",
    "Loyalty",
    "RelationType",
    "RelationshipDimension",
    "StageModel",
    "Tier",
    "Transaction",
    "TransactionLog",
    "ValueClass",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
TimeKind = Literal["datetime", "numeric"]

# ---------------------------------------------------------------------------
# Enumerations (DOMAIN.md §1, §3, §4)
# ---------------------------------------------------------------------------


class RelationType(enum.Enum):
    """A customer's relation to the firm (DOMAIN.md §1)."""

    CONSUMER = "consumer"
    INTERMEDIARY = "intermediary"  #: distributor or dealer
    INTERNAL = "internal"
    PUBLIC_INTEREST = "public_interest"


class ValueClass(enum.Enum):
    """A customer's value to the firm (DOMAIN.md §1)."""

    KEY = "key"  #: VIP / key customer
    IMPORTANT = "important"
    ORDINARY = "ordinary"
    SMALL = "small"


class Loyalty(enum.Enum):
    """A customer's loyalty class (DOMAIN.md §1)."""

    LOYAL = "loyal"
    REPEAT = "repeat"  #: an "old" customer who has bought again
    NEW = "new"
    POTENTIAL = "potential"


class CustomerState(enum.Enum):
    """A customer's state in the relationship (DOMAIN.md §1)."""

    NON_CUSTOMER = "non_customer"
    POTENTIAL = "potential"
    TARGET = "target"
    CURRENT = "current"
    LOST = "lost"


class RelationshipDimension(enum.Enum):
    """The three measurable dimensions of a relationship (DOMAIN.md §1)."""

    LENGTH = "length"  #: duration: the lifecycle
    DEPTH = "depth"  #: quality: repeat, cross-sell, up-sell revenue and referrals
    BREADTH = "breadth"  #: number: acquired, retained, won back


class EquityDriver(enum.Enum):
    """The three drivers of customer equity (DOMAIN.md §1)."""

    VALUE = "value"
    BRAND = "brand"
    RETENTION = "retention"


class Tier(enum.IntEnum):
    """Customer pyramid tiers, ordered from the most to the least valuable.

    Platinum and gold together are the key accounts (DOMAIN.md §3). The integer
    values order the tiers: ``Tier.PLATINUM < Tier.LEAD``.
    """

    PLATINUM = 1
    GOLD = 2
    IRON = 3
    LEAD = 4


class LifecyclePattern(enum.Enum):
    """Lifecycle patterns of ended relationships, by the stage they ended in (DOMAIN.md §4)."""

    EARLY_ABORTION = "I"  #: ended in exploration
    MIDWAY = "II"  #: ended in formation
    PREMATURE = "III"  #: ended early in stability
    LONG_LASTING = "IV"  #: ended late in stability


def _str_tuple(values: Iterable[Any]) -> tuple[str, ...]:
    return tuple(str(x) for x in values)


@attrs.frozen
class StageModel:
    """An ordered set of named relationship-lifecycle stages.

    Parameters
    ----------
    name : str
        A short identifier, for example ``"four_stage"``.
    stages : tuple of str
        The stage names in lifecycle order.
    source : str
        Where the model comes from.

    Attributes
    ----------
    name, stages, source
        As given.

    Examples
    --------
    >>> from custrel.models import FOUR_STAGE
    >>> FOUR_STAGE.stages
    ('exploration', 'formation', 'stability', 'decline')
    >>> FOUR_STAGE.index("stability")
    2
    """

    name: str
    stages: tuple[str, ...] = attrs.field(converter=_str_tuple)
    source: str = ""

    def __attrs_post_init__(self) -> None:
        if len(self.stages) < 2:
            raise InvalidInputError(
                f"stages must name at least 2 stages, got {len(self.stages)} for {self.name!r}"
            )
        if len(set(self.stages)) != len(self.stages):
            raise InvalidInputError(f"stages must be distinct, got {self.stages!r}")

    def __len__(self) -> int:
        return len(self.stages)

    def index(self, stage: str) -> int:
        """Return the position (0-based) of ``stage`` in the lifecycle order."""
        try:
            return self.stages.index(stage)
        except ValueError:
            raise InvalidInputError(
                f"stage must be one of {self.stages!r} for stage model {self.name!r}, got {stage!r}"
            ) from None


#: The four stage stage model (DOMAIN.md §4).
FOUR_STAGE = StageModel(
    "four_stage", ("exploration", "formation", "stability", "decline"), "the CRM textbook (default)"
)
#: The six stage stage model (DOMAIN.md §4).
SIX_STAGE = StageModel(
    "six_stage",
    ("potential", "development", "growth", "maturity", "decline", "termination"),
    "the CRM textbook",
)
#: The dwyer schurr oh stage model (DOMAIN.md §4).
DWYER_SCHURR_OH = StageModel(
    "dwyer_schurr_oh",
    ("awareness", "exploration", "expansion", "commitment", "dissolution"),
    "Dwyer, Schurr & Oh (1987)",
)
#: The ford stage model (DOMAIN.md §4).
FORD = StageModel(
    "ford", ("pre_relationship", "early", "development", "long_term", "final"), "Ford (1980)"
)
#: The jap ganesan stage model (DOMAIN.md §4).
JAP_GANESAN = StageModel(
    "jap_ganesan",
    ("exploration", "build_up", "maturity", "decline", "deterioration"),
    "Jap & Ganesan (2000)",
)
#: The iacobucci zerrillo stage model (DOMAIN.md §4).
IACOBUCCI_ZERRILLO = StageModel(
    "iacobucci_zerrillo", ("beginning", "middle", "end"), "Iacobucci & Zerrillo (1996)"
)
#: Every predefined stage model, by name.
STAGE_MODELS: Mapping[str, StageModel] = {
    m.name: m
    for m in (FOUR_STAGE, SIX_STAGE, DWYER_SCHURR_OH, FORD, JAP_GANESAN, IACOBUCCI_ZERRILLO)
}

# ---------------------------------------------------------------------------
# One-record values
# ---------------------------------------------------------------------------

#: The four cost components of DOMAIN.md §2.1 (C1..C4).
COST_FIELDS: tuple[str, ...] = (
    "product_cost",
    "service_cost",
    "marketing_cost",
    "transaction_cost",
)
#: Optional per-transaction columns of a :class:`TransactionLog`.
OPTIONAL_FIELDS: tuple[str, ...] = ("volume", "unit_price", *COST_FIELDS, "indirect_benefit")


@attrs.frozen
class Customer:
    """A customer and its classification along the axes of DOMAIN.md §1.

    Parameters
    ----------
    customer_id : Hashable
        The customer's identifier.
    relation, value_class, loyalty, state : enum or None
        The classification axes; ``None`` where unknown.
    attributes : Mapping
        Any further attributes (region, segment, ...).

    Attributes
    ----------
    customer_id, relation, value_class, loyalty, state, attributes
        As given.

    Examples
    --------
    >>> from custrel import Customer, RelationType, ValueClass
    >>> c = Customer("C-17", relation=RelationType.INTERMEDIARY, value_class=ValueClass.KEY)
    >>> c.relation.value
    'intermediary'
    """

    customer_id: Any
    relation: RelationType | None = None
    value_class: ValueClass | None = None
    loyalty: Loyalty | None = None
    state: CustomerState | None = None
    attributes: Mapping[str, Any] = attrs.field(factory=dict)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


@attrs.frozen
class Transaction:
    """One purchase (or return) by one customer.

    Parameters
    ----------
    customer_id : Hashable
        Who bought.
    time : datetime.date, datetime.datetime, numpy.datetime64 or float
        When. A log holds either calendar times or plain numbers, not both.
    amount : float
        Money received; negative for a return.
    volume, unit_price : float, optional
        Quantity and price paid (DOMAIN.md §2.1: TV = V·p).
    product_cost, service_cost, marketing_cost, transaction_cost : float, optional
        The costs C1..C4 the customer consumed with this transaction.
    indirect_benefit : float, optional
        IB: the value of referrals and word of mouth (negative for bad word of mouth).

    Attributes
    ----------
    customer_id, time, amount, volume, unit_price, product_cost, service_cost,
    marketing_cost, transaction_cost, indirect_benefit
        As given.

    Examples
    --------
    >>> from custrel import Transaction
    >>> t = Transaction("A", 3.0, 0.0, volume=10, unit_price=5.0, product_cost=20.0)
    >>> t.transaction_value, t.profit
    (50.0, 30.0)
    """

    customer_id: Any
    time: Any
    amount: float = attrs.field(converter=float)
    volume: float | None = attrs.field(default=None, converter=_opt_float)
    unit_price: float | None = attrs.field(default=None, converter=_opt_float)
    product_cost: float | None = attrs.field(default=None, converter=_opt_float)
    service_cost: float | None = attrs.field(default=None, converter=_opt_float)
    marketing_cost: float | None = attrs.field(default=None, converter=_opt_float)
    transaction_cost: float | None = attrs.field(default=None, converter=_opt_float)
    indirect_benefit: float | None = attrs.field(default=None, converter=_opt_float)

    @property
    def transaction_value(self) -> float:
        """TV = V·p when volume and unit price are known, else the amount."""
        if self.volume is not None and self.unit_price is not None:
            return self.volume * self.unit_price
        return self.amount

    @property
    def total_cost(self) -> float:
        """C1 + C2 + C3 + C4 (missing components count as 0)."""
        return sum(getattr(self, f) or 0.0 for f in COST_FIELDS)

    @property
    def profit(self) -> float:
        """P = TV − (C1 + C2 + C3 + C4) + IB (DOMAIN.md §2.1)."""
        return self.transaction_value - self.total_cost + (self.indirect_benefit or 0.0)


# ---------------------------------------------------------------------------
# Time handling
# ---------------------------------------------------------------------------

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


def _time_kind(arr: npt.NDArray[Any]) -> TimeKind:
    return "datetime" if np.issubdtype(arr.dtype, np.datetime64) else "numeric"


def parse_times(
    values: Any, name: str = "time", *, date_format: str | None = None
) -> npt.NDArray[Any]:
    """Convert ``values`` to a ``datetime64[s]`` or a float64 array.

    Accepts numbers, ``datetime64`` values, :class:`datetime.date` /
    :class:`datetime.datetime` objects and strings: ISO 8601 by default, or
    any :func:`~datetime.datetime.strptime` ``date_format``. One kind per
    array: mixing numbers and dates is an error, as is a missing or
    unparseable value, named with its row.
    """
    if date_format is not None:
        return _parse_with_format(values, name, date_format)
    arr = np.asarray(values)
    if arr.ndim != 1:
        arr = arr.reshape(-1) if arr.ndim == 0 else arr
        if arr.ndim != 1:
            raise InvalidInputError(f"{name} must be 1-D, got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.datetime64):
        if np.isnat(arr).any():
            row = int(np.flatnonzero(np.isnat(arr))[0])
            raise InvalidInputError(f"{name} is missing (NaT) at row {row}")
        return arr.astype(_DT)
    if arr.dtype.kind in "iuf":
        out = arr.astype(np.float64)
        v.check_finite(out, name)
        return out
    if arr.dtype.kind == "b":
        raise InvalidTypeError(f"{name} must be dates or numbers, got booleans")
    if arr.dtype.kind in "US":
        return _parse_iso(arr, name)
    # object arrays: dates, datetimes, strings, numbers, None
    return _parse_objects(arr, name)


def _as_time_array(values: Any) -> npt.NDArray[Any]:
    """A sequence of times as an array: typed when uniform (fast), else objects."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iufUSM" and arr.ndim == 1:
        return arr
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def _parse_iso(arr: npt.NDArray[Any], name: str) -> npt.NDArray[Any]:
    try:
        out = arr.astype(_DT)
    except ValueError:
        for row, s in enumerate(arr.tolist()):
            try:
                np.datetime64(s, "s")
            except ValueError:
                if _is_number(s):
                    raise InvalidInputError(_mixed_message(name, s, row)) from None
                hint = "; pass date_format (e.g. '%Y%m%d') for non-ISO dates"
                raise InvalidInputError(
                    f"{name} has an unparseable date {s!r} at row {row}{hint}"
                ) from None
        raise  # pragma: no cover - astype failed but each element parsed
    nat = np.isnat(out)
    if nat.any():
        row = int(np.flatnonzero(nat)[0])
        raise InvalidInputError(f"{name} is missing at row {row} (got {arr[row]!r})")
    # numpy reads "17" as the year 17 and "2024-05" as 1 May: accept only full dates
    partial = np.char.str_len(np.char.strip(arr)) < _ISO_DATE_LEN
    if partial.any():
        row = int(np.flatnonzero(partial)[0])
        raise InvalidInputError(_partial_date_message(name, arr[row].item(), row))
    return out


_ISO_DATE_LEN = len("2024-01-31")


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _mixed_message(name: str, value: Any, row: int) -> str:
    return f"{name} mixes dates and numbers (row {row} is {value!r}); a log holds one kind of time"


def _partial_date_message(name: str, value: Any, row: int) -> str:
    if _is_number(value):
        return _mixed_message(name, value, row)
    return (
        f"{name} has an unparseable date {value!r} at row {row}; dates must be full "
        "ISO 8601 dates (YYYY-MM-DD, optionally with a time); pass date_format for other forms"
    )


def _parse_objects(arr: npt.NDArray[Any], name: str) -> npt.NDArray[Any]:
    items = arr.tolist()
    kinds: set[str] = set()
    out_dt: list[Any] = []
    for row, item in enumerate(items):
        if item is None or (isinstance(item, float) and np.isnan(item)):
            raise InvalidInputError(f"{name} is missing at row {row}")
        if isinstance(item, _dt.datetime | _dt.date | np.datetime64):
            kinds.add("datetime")
            out_dt.append(np.datetime64(item).astype(_DT))
        elif isinstance(item, str):
            kinds.add("datetime")
            try:
                out_dt.append(np.datetime64(item, "s"))
            except ValueError:
                hint = "; pass date_format (e.g. '%Y%m%d') for non-ISO dates"
                raise InvalidInputError(
                    f"{name} has an unparseable date {item!r} at row {row}{hint}"
                ) from None
            if np.isnat(out_dt[-1]):
                raise InvalidInputError(f"{name} is missing at row {row} (got {item!r})")
            if len(item.strip()) < _ISO_DATE_LEN:
                raise InvalidInputError(_partial_date_message(name, item, row))
        elif isinstance(item, int | float | np.integer | np.floating) and not isinstance(
            item, bool
        ):
            kinds.add("numeric")
            out_dt.append(item)
        else:
            raise InvalidTypeError(
                f"{name} must be dates or numbers, got {type(item).__name__} {item!r} at row {row}"
            )
        if len(kinds) > 1:
            raise InvalidInputError(
                f"{name} mixes dates and numbers (row {row} is {item!r}); "
                "a log holds one kind of time"
            )
    if not kinds:
        return np.empty(0, dtype=np.float64)
    if kinds == {"numeric"}:
        out = np.asarray(out_dt, dtype=np.float64)
        v.check_finite(out, name)
        return out
    return np.asarray(out_dt, dtype=_DT)


def _parse_with_format(values: Any, name: str, date_format: str) -> npt.NDArray[Any]:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InvalidInputError(f"{name} must be 1-D, got shape {arr.shape}")
    if date_format in ("%Y%m%d", "%Y-%m-%d") and arr.dtype.kind in "iuUS":
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
                    return _parse_iso(iso, name)
                except InvalidInputError:
                    pass  # fall through to the row-by-row path for a precise message
        else:
            try:
                return _parse_iso(s, name)
            except InvalidInputError:
                pass
    out = np.empty(len(arr), dtype=_DT)
    for row, item in enumerate(arr.tolist()):
        if item is None or (isinstance(item, float) and np.isnan(item)) or item == "":
            raise InvalidInputError(f"{name} is missing at row {row}")
        try:
            out[row] = np.datetime64(_dt.datetime.strptime(str(item), date_format), "s")
        except ValueError:
            raise InvalidInputError(
                f"{name} has a date {item!r} at row {row} that does not match "
                f"date_format {date_format!r}"
            ) from None
    return out


def _mid(s: npt.NDArray[np.str_], start: int, stop: int) -> npt.NDArray[np.str_]:
    # numpy string slicing without a Python loop (numpy >= 2 has np.strings.slice).
    strings = getattr(np, "strings", None)
    if strings is not None and hasattr(strings, "slice"):
        return strings.slice(s, start, stop)  # type: ignore[no-any-return]
    return np.array([x[start:stop] for x in s.tolist()])  # pragma: no cover - numpy < 2.2


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
    parsed = parse_times(np.asarray([value], dtype=object), name)
    if not np.issubdtype(parsed.dtype, np.datetime64):
        raise InvalidInputError(
            f"{name} must be a date for a log with calendar times, got {value!r}"
        )
    return float(parsed.astype(np.int64)[0])


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


# ---------------------------------------------------------------------------
# The columnar log
# ---------------------------------------------------------------------------


def _factorize(values: Any, name: str = "customer_id") -> tuple[IntArray, npt.NDArray[Any]]:
    """Integer codes and sorted unique labels, with a fast path for integer ids."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InvalidInputError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.dtype.kind in "iu":
        if len(arr) == 0:
            return np.empty(0, dtype=np.int64), arr.astype(np.int64)
        lo, hi = int(arr.min()), int(arr.max())
        span = hi - lo + 1
        if span <= 4 * len(arr) + 1024:
            # dense ids: a presence table instead of a sort
            idx = arr.astype(np.int64) if lo == 0 else np.subtract(arr, lo, dtype=np.int64)
            present = np.zeros(span, dtype=bool)
            present[idx] = True
            if present.all():  # ids lo..hi all used: the shifted ids are the codes
                return idx, np.arange(lo, hi + 1, dtype=np.int64)
            codes_of = np.cumsum(present, dtype=np.int64) - 1
            return np.take(codes_of, idx), np.flatnonzero(present).astype(np.int64) + lo
        return _factorize_by_sort(arr.astype(np.int64, copy=False))
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InvalidInputError(
                f"{name} is missing or not finite (got {float(arr[row])!r}) at row {row}"
            )
    if arr.dtype.kind == "O":
        for row, item in enumerate(arr.tolist()):
            if item is None or (isinstance(item, float) and np.isnan(item)):
                raise InvalidInputError(f"{name} is missing at row {row}")
        try:
            labels, codes = np.unique(arr, return_inverse=True)
        except TypeError:
            arr = arr.astype(str)
            labels, codes = np.unique(arr, return_inverse=True)
        return codes.astype(np.int64), labels
    if arr.dtype.kind in "US":
        empty = arr == arr.dtype.type("")
        if empty.any():
            row = int(np.flatnonzero(empty)[0])
            raise InvalidInputError(f"{name} is missing (empty) at row {row}")
    labels, codes = np.unique(arr, return_inverse=True)
    return codes.astype(np.int64).reshape(-1), labels


def _factorize_by_sort(arr: npt.NDArray[Any]) -> tuple[IntArray, npt.NDArray[Any]]:
    """Codes into the sorted unique values by one argsort (no hashing, no searchsorted)."""
    order = np.argsort(arr, kind="stable")
    ordered = arr[order]
    new = np.empty(len(arr), dtype=bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    labels = ordered[new]
    codes = np.empty(len(arr), dtype=np.int64)
    codes[order] = np.cumsum(new, dtype=np.int64) - 1
    return codes, labels


def _optional_column(value: Any, name: str, n: int) -> FloatArray | None:
    if value is None:
        return None
    col = v.as_float_array(value, name, ndim=1, allow_empty=True)
    if len(col) != n:
        raise InvalidInputError(f"{name} has {len(col)} values but the log has {n} rows")
    if name == "volume":
        v.check_range(col, name, low=0.0, hint="record a return as a negative amount instead")
    return col


@attrs.frozen(eq=False, repr=False)
class TransactionLog:
    """Transactions of many customers as read-only columns (the columnar form).

    Build one with :meth:`from_arrays`, :meth:`from_records`,
    :meth:`from_csv` or :meth:`from_frame`; do not call the constructor
    directly. Customer ids are factorised to integer codes
    (:attr:`customer_code`) into the sorted unique ids
    (:attr:`customer_labels`). Times are one kind per log: calendar times
    (``datetime64[s]``) or plain numbers (``float64``). Rows keep the order
    they were given in. Negative amounts (returns, refunds) are allowed.
    Convert back with :meth:`to_arrays`, :meth:`to_records`, :meth:`to_csv`
    and :meth:`to_frame`; :meth:`summarize` gives the per-customer summary.

    Attributes
    ----------
    customer_code : numpy.ndarray of int64
        Per row, the index of its customer in :attr:`customer_labels`.
    customer_labels : numpy.ndarray
        The distinct customer ids, sorted.
    time : numpy.ndarray of datetime64[s] or float64
        Per row, when it happened.
    amount : numpy.ndarray of float64
        Per row, money received (negative for returns).
    volume, unit_price, product_cost, service_cost, marketing_cost, transaction_cost, indirect_benefit : numpy.ndarray or None
        Optional per-row columns of DOMAIN.md §2.1.

    Examples
    --------
    >>> from custrel import TransactionLog
    >>> log = TransactionLog.from_arrays(
    ...     customer_id=["b", "a", "b"],
    ...     time=["2024-01-05", "2024-01-07", "2024-02-01"],
    ...     amount=[10.0, 25.0, 5.0],
    ... )
    >>> log.n_rows, log.n_customers, log.time_kind
    (3, 2, 'datetime')
    >>> log.customer_labels.tolist()
    ['a', 'b']
    >>> s = log.summarize()
    >>> s.n_purchases.tolist(), s.total_amount.tolist()
    ([1, 2], [25.0, 15.0])
    """

    customer_code: IntArray = attrs.field(converter=v.readonly)
    customer_labels: npt.NDArray[Any] = attrs.field(converter=v.readonly)
    time: npt.NDArray[Any] = attrs.field(converter=v.readonly)
    amount: FloatArray = attrs.field(converter=v.readonly)
    volume: FloatArray | None = attrs.field(default=None, converter=v.readonly_or_none)
    unit_price: FloatArray | None = attrs.field(default=None, converter=v.readonly_or_none)
    product_cost: FloatArray | None = attrs.field(default=None, converter=v.readonly_or_none)
    service_cost: FloatArray | None = attrs.field(default=None, converter=v.readonly_or_none)
    marketing_cost: FloatArray | None = attrs.field(default=None, converter=v.readonly_or_none)
    transaction_cost: FloatArray | None = attrs.field(default=None, converter=v.readonly_or_none)
    indirect_benefit: FloatArray | None = attrs.field(default=None, converter=v.readonly_or_none)

    # -- construction -------------------------------------------------------

    @classmethod
    def from_arrays(
        cls,
        *,
        customer_id: Any,
        time: Any,
        amount: Any,
        volume: Any = None,
        unit_price: Any = None,
        product_cost: Any = None,
        service_cost: Any = None,
        marketing_cost: Any = None,
        transaction_cost: Any = None,
        indirect_benefit: Any = None,
        date_format: str | None = None,
    ) -> TransactionLog:
        """Build a log from one array (or sequence) per column.

        Parameters
        ----------
        customer_id : array_like
            Customer ids: integers or strings (any hashable, sortable values).
        time : array_like
            Dates (``datetime64``, :class:`datetime.date`, ISO strings) or
            numbers; one kind for the whole log.
        amount : array_like of float
            Money per transaction; negative for returns.
        volume, unit_price, product_cost, service_cost, marketing_cost, transaction_cost, indirect_benefit : array_like, optional
            Optional columns (DOMAIN.md §2.1). ``volume`` must be >= 0.
        date_format : str, optional
            A :func:`~datetime.datetime.strptime` format for string dates that
            are not ISO 8601 (``"%Y%m%d"`` for CDNOW).

        Returns
        -------
        TransactionLog

        Raises
        ------
        EmptyInputError
            If there are no rows.
        InvalidInputError
            On inconsistent lengths, NaN or infinite values, missing or
            unparseable times, mixed time kinds or negative volumes; the
            message names the column, the value and the row.

        Examples
        --------
        >>> log = TransactionLog.from_arrays(customer_id=[1, 1, 2], time=[0, 3.5, 1], amount=[5, 6, 7])
        >>> log.time_kind, log.n_customers
        ('numeric', 2)
        """
        ids = np.asarray(customer_id)
        n = len(ids) if ids.ndim == 1 else -1
        if ids.ndim != 1:
            raise InvalidInputError(f"customer_id must be 1-D, got shape {ids.shape}")
        if n == 0:
            raise EmptyInputError("the log is empty: customer_id has no rows")
        amt = v.as_float_array(amount, "amount", ndim=1, allow_empty=True, finite=False)
        times_raw = time if isinstance(time, np.ndarray) else _as_time_array(time)
        v.check_same_length(customer_id=ids, time=times_raw, amount=amt)
        v.check_finite(amt, "amount")
        times = parse_times(times_raw, "time", date_format=date_format)
        codes, labels = _factorize(ids)
        optional = {
            "volume": volume,
            "unit_price": unit_price,
            "product_cost": product_cost,
            "service_cost": service_cost,
            "marketing_cost": marketing_cost,
            "transaction_cost": transaction_cost,
            "indirect_benefit": indirect_benefit,
        }
        return cls._assemble(codes, labels, times, amt.copy() if amt is amount else amt, optional)

    @classmethod
    def _assemble(
        cls,
        codes: IntArray,
        labels: npt.NDArray[Any],
        times: npt.NDArray[Any],
        amount: FloatArray,
        optional: Mapping[str, Any],
    ) -> TransactionLog:
        """Check the optional columns and build the log from validated parts."""
        n = len(codes)
        cols = {k: _optional_column(optional.get(k), k, n) for k in OPTIONAL_FIELDS}
        return cls(codes, labels, times, amount, **cols)

    @classmethod
    def from_records(cls, records: Iterable[Transaction | Mapping[str, Any]]) -> TransactionLog:
        """Build a log from :class:`Transaction` values or mappings with the same keys.

        A field that is ``None`` in every record becomes a missing column; a
        field given for some records but not others is an error, since a
        column cannot be partly missing.

        Examples
        --------
        >>> from custrel import Transaction
        >>> log = TransactionLog.from_records([Transaction("a", 1.0, 9.5), {"customer_id": "b", "time": 2.0, "amount": 3}])
        >>> log.amount.tolist()
        [9.5, 3.0]
        """
        fields = ("customer_id", "time", "amount", *OPTIONAL_FIELDS)
        columns: dict[str, list[Any]] = {f: [] for f in fields}
        for row, rec in enumerate(records):
            get = (
                rec.get if isinstance(rec, Mapping) else (lambda k, d=None, r=rec: getattr(r, k, d))
            )
            if isinstance(rec, Mapping):
                unknown = set(rec) - set(fields)
                if unknown:
                    raise InvalidInputError(
                        f"record at row {row} has unknown field(s) {sorted(unknown)!r}; "
                        f"known fields are {fields!r}"
                    )
            elif not isinstance(rec, Transaction):
                raise InvalidTypeError(
                    f"records must be Transaction values or mappings, got "
                    f"{type(rec).__name__} at row {row}"
                )
            for f in fields[:3]:
                val = get(f)
                if val is None:
                    raise InvalidInputError(f"record at row {row} is missing {f!r}")
                columns[f].append(val)
            for f in OPTIONAL_FIELDS:
                columns[f].append(get(f))
        if not columns["customer_id"]:
            raise EmptyInputError("the log is empty: no records were given")
        optional: dict[str, Any] = {}
        for f in OPTIONAL_FIELDS:
            col = columns[f]
            present = [x is not None for x in col]
            if all(present):
                optional[f] = col
            elif any(present):
                row = present.index(False)
                raise InvalidInputError(
                    f"{f} is given for some records but missing at row {row}; "
                    "give it for every record or for none"
                )
        ids = np.empty(len(columns["customer_id"]), dtype=object)
        ids[:] = columns["customer_id"]
        if all(isinstance(x, int | np.integer) for x in columns["customer_id"]):
            ids = np.asarray(columns["customer_id"], dtype=np.int64)
        elif all(isinstance(x, str) for x in columns["customer_id"]):
            ids = np.asarray(columns["customer_id"], dtype=str)
        times = np.empty(len(columns["time"]), dtype=object)
        times[:] = columns["time"]
        return cls.from_arrays(customer_id=ids, time=times, amount=columns["amount"], **optional)

    @classmethod
    def from_csv(
        cls,
        path: str | os.PathLike[str] | Path,
        *,
        customer_col: str = "customer_id",
        time_col: str = "time",
        amount_col: str = "amount",
        columns: Mapping[str, str] | None = None,
        date_format: str | None = None,
        delimiter: str = ",",
        engine: Literal["auto", "python", "pyarrow", "polars"] = "auto",
        id_type: Literal["auto", "str"] = "auto",
    ) -> TransactionLog:
        """Read a log from a delimited text file with a header row.

        Parameters
        ----------
        path : path-like
            The file.
        customer_col, time_col, amount_col : str
            Header names of the customer id, time and amount columns.
        columns : mapping, optional
            Optional columns: custrel field name (``"volume"``,
            ``"product_cost"``, ...) to header name.
        date_format : str, optional
            :func:`~datetime.datetime.strptime` format of the dates when they
            are not ISO 8601. Without it, a time column of plain numbers makes
            a numeric log.
        delimiter : str
            Field separator.
        engine : {"auto", "python", "pyarrow", "polars"}
            ``"python"`` uses the standard library and always works;
            ``"auto"`` takes pyarrow or polars when installed (faster on large
            files) and falls back to the standard library. Every engine gives
            the same log: the engines only split the text into fields, and
            custrel types the values the same way for all of them.
        id_type : {"auto", "str"}
            ``"auto"`` reads customer ids as integers when every id is an
            integer written plainly (``17``, not ``017``), else as text;
            ``"str"`` always keeps the text.

        Returns
        -------
        TransactionLog

        Raises
        ------
        EmptyInputError
            If the file has a header and no rows.
        InvalidInputError
            If a named column is missing or a value is bad (row numbers count
            data rows from 0, not the header).
        """
        v.choice(engine, "engine", ("auto", "python", "pyarrow", "polars"))
        v.choice(id_type, "id_type", ("auto", "str"))
        p = os.fspath(path)
        if not os.path.isfile(p):
            raise InvalidInputError(f"path {p!r} does not exist or is not a file")
        extra = dict(columns or {})
        for key in extra:
            if key not in OPTIONAL_FIELDS:
                raise InvalidInputError(
                    f"columns has an unknown field {key!r}; known fields are {OPTIONAL_FIELDS!r}"
                )
        wanted = {"customer_id": customer_col, "time": time_col, "amount": amount_col, **extra}
        if len(set(wanted.values())) != len(wanted):
            raise InvalidInputError(f"each field needs its own column, got {wanted!r}")
        raw = _read_csv_columns(p, list(wanted.values()), customer_col, time_col, delimiter, engine)
        data = {field: raw[col] for field, col in wanted.items()}
        ids = data.pop("customer_id")
        n_rows = len(ids.codes) if isinstance(ids, _Coded) else len(ids)
        if n_rows == 0:
            raise EmptyInputError(f"{p!r} is empty: it has a header and no rows")
        times = _csv_times(data.pop("time"), date_format, time_col, p)
        codes, labels = _csv_customers(ids, id_type, customer_col, p)
        numbers = {k: _to_float_column(col, wanted[k]) for k, col in data.items()}
        amount = numbers.pop("amount")
        v.check_finite(amount, "amount")
        return cls._assemble(codes, labels, times, amount, numbers)

    @classmethod
    def from_frame(
        cls,
        df: Any,
        *,
        customer_col: str = "customer_id",
        time_col: str = "time",
        amount_col: str = "amount",
        columns: Mapping[str, str] | None = None,
        date_format: str | None = None,
    ) -> TransactionLog:
        """Build a log from any dataframe narwhals understands (``frames`` extra).

        pandas, polars (eager or lazy), pyarrow tables, dask, duckdb and
        others. The caller's frame is only read. Date and datetime columns
        become calendar times (whole seconds; time-zone-aware values in UTC),
        text columns are parsed as in :meth:`from_arrays`.

        Raises
        ------
        MissingDependencyError
            If narwhals is not installed.
        InvalidInputError
            If a named column is missing or a value is bad.
        """
        nw = _narwhals()
        frame = nw.from_native(df)
        if hasattr(frame, "collect"):
            frame = frame.collect()
        extra = dict(columns or {})
        wanted = {"customer_id": customer_col, "time": time_col, "amount": amount_col, **extra}
        present = list(frame.columns)
        for field, col in wanted.items():
            if col not in present:
                raise InvalidInputError(
                    f"{field} column {col!r} is not in the frame; its columns are {present!r}"
                )
        data: dict[str, Any] = {}
        for field, col in wanted.items():
            series = frame[col]
            if field != "customer_id" and field != "time" and series.null_count() > 0:
                mask = series.is_null().to_numpy()
                row = int(np.flatnonzero(mask)[0])
                raise InvalidInputError(f"{field} column {col!r} is missing a value at row {row}")
            data[field] = series.to_numpy()
        ids = data.pop("customer_id")
        if ids.dtype.kind == "O" and all(isinstance(x, str) for x in ids.tolist()):
            ids = ids.astype(str)
        t = data.pop("time")
        if np.issubdtype(t.dtype, np.datetime64) and np.isnat(t).any():
            row = int(np.flatnonzero(np.isnat(t))[0])
            raise InvalidInputError(f"time column {time_col!r} is missing a value at row {row}")
        if t.dtype.kind == "O":
            t = _coerce_time_strings(t, date_format)
        return cls.from_arrays(customer_id=ids, time=t, date_format=date_format, **data)

    @classmethod
    def concat(cls, logs: Sequence[TransactionLog]) -> TransactionLog:
        """Join several logs (of the same time kind) row-wise.

        Optional columns are kept when every log has them.
        """
        if not logs:
            raise EmptyInputError("logs is empty; give at least one TransactionLog")
        kinds = {log.time_kind for log in logs}
        if len(kinds) > 1:
            raise InvalidInputError("logs mix calendar and numeric times; a log holds one kind")
        id_kinds = {"number" if log.customer_labels.dtype.kind in "iuf" else "text" for log in logs}
        if len(id_kinds) > 1:
            raise InvalidInputError(
                "logs mix numeric and text customer ids; convert them to one kind first "
                "(for example with id_type='str' when reading CSV files)"
            )
        ids = np.concatenate([log.customer_labels[log.customer_code] for log in logs])
        optional = {
            f: np.concatenate([getattr(log, f) for log in logs])
            for f in OPTIONAL_FIELDS
            if all(getattr(log, f) is not None for log in logs)
        }
        codes, labels = _factorize(ids)
        return cls(
            codes,
            labels,
            np.concatenate([log.time for log in logs]),
            np.concatenate([log.amount for log in logs]),
            **optional,
        )

    # -- basic properties ---------------------------------------------------

    @property
    def n_rows(self) -> int:
        """Number of transactions."""
        return len(self.amount)

    def __len__(self) -> int:
        return self.n_rows

    @property
    def n_customers(self) -> int:
        """Number of distinct customers."""
        return len(self.customer_labels)

    @property
    def time_kind(self) -> TimeKind:
        """``"datetime"`` for calendar times, ``"numeric"`` for plain numbers."""
        return _time_kind(self.time)

    @property
    def customer_id(self) -> npt.NDArray[Any]:
        """Per row, the original customer id (materialised from the codes)."""
        return v.readonly(self.customer_labels[self.customer_code])

    @property
    def has_profit_columns(self) -> bool:
        """Whether :meth:`profit` differs from the amount in principle.

        True when the log carries a cost or indirect-benefit column, or both
        volume and unit price.
        """
        if self.volume is not None and self.unit_price is not None:
            return True
        return any(getattr(self, f) is not None for f in (*COST_FIELDS, "indirect_benefit"))

    @property
    def optional_columns(self) -> tuple[str, ...]:
        """Names of the optional columns this log carries."""
        return tuple(f for f in OPTIONAL_FIELDS if getattr(self, f) is not None)

    def __repr__(self) -> str:
        lo, hi = self.time.min(), self.time.max()
        extra = f", columns={list(self.optional_columns)}" if self.optional_columns else ""
        return (
            f"TransactionLog(n_rows={self.n_rows}, n_customers={self.n_customers}, "
            f"time={lo}..{hi}{extra})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TransactionLog):
            return NotImplemented
        same = (
            self.time.dtype == other.time.dtype
            and np.array_equal(self.customer_code, other.customer_code)
            and np.array_equal(self.customer_labels, other.customer_labels)
            and np.array_equal(self.time, other.time)
            and np.array_equal(self.amount, other.amount)
        )
        for f in OPTIONAL_FIELDS:
            a, b = getattr(self, f), getattr(other, f)
            same = same and (
                (a is None and b is None)
                or (a is not None and b is not None and np.array_equal(a, b))
            )
        return bool(same)

    __hash__ = None  # type: ignore[assignment]

    # -- conversions --------------------------------------------------------

    def to_arrays(self) -> dict[str, npt.NDArray[Any]]:
        """Return the columns as a dict of (writable copies of) numpy arrays."""
        out: dict[str, npt.NDArray[Any]] = {
            "customer_id": self.customer_labels[self.customer_code],
            "time": self.time.copy(),
            "amount": self.amount.copy(),
        }
        for f in self.optional_columns:
            out[f] = getattr(self, f).copy()
        return out

    def to_records(self) -> list[Transaction]:
        """Return one :class:`Transaction` per row, in row order."""
        cols = self.to_arrays()
        times = cols["time"].tolist() if self.time_kind == "numeric" else list(cols["time"])
        names = list(cols)
        lists = [times if k == "time" else cols[k].tolist() for k in names]
        return [
            Transaction(**dict(zip(names, row, strict=True))) for row in zip(*lists, strict=True)
        ]

    def to_csv(
        self,
        path: str | os.PathLike[str] | Path,
        *,
        customer_col: str = "customer_id",
        time_col: str = "time",
        amount_col: str = "amount",
        delimiter: str = ",",
    ) -> None:
        """Write the log as a delimited text file with a header row.

        The optional columns keep their field names. Calendar times are
        written as ISO 8601 (``2024-01-05`` when every time is midnight,
        else ``2024-01-05T10:30:00``); numbers with :func:`repr`, so
        :meth:`from_csv` reads back an equal log (with ``columns`` naming the
        optional columns).

        Parameters
        ----------
        path : path-like
            The file to write (overwritten).
        customer_col, time_col, amount_col : str
            Header names of the three required columns.
        delimiter : str
            Field separator.

        Examples
        --------
        >>> import os, tempfile
        >>> log = TransactionLog.from_arrays(customer_id=["a", "b"], time=["2024-01-05", "2024-01-06"], amount=[1.5, 2])
        >>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
        >>> log.to_csv(path)
        >>> with open(path) as fh:
        ...     print(fh.read().strip())
        customer_id,time,amount
        a,2024-01-05,1.5
        b,2024-01-06,2.0
        >>> TransactionLog.from_csv(path) == log
        True
        """
        cols = self.to_arrays()
        header = [customer_col, time_col, amount_col, *self.optional_columns]
        if self.time_kind == "datetime":
            whole_days = not bool(np.any(self.time.astype(np.int64) % int(_SECONDS_PER_DAY)))
            times: list[Any] = np.datetime_as_string(
                self.time, unit="D" if whole_days else "s"
            ).tolist()
        else:
            times = cols["time"].tolist()
        lists = [cols["customer_id"].tolist(), times, cols["amount"].tolist()]
        lists += [cols[f].tolist() for f in self.optional_columns]
        with open(os.fspath(path), "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(zip(*lists, strict=True))

    def to_frame(self, backend: Literal["pandas", "polars", "pyarrow"] = "pandas") -> Any:
        """Return the log as a dataframe of ``backend`` (needs that library)."""
        v.choice(backend, "backend", ("pandas", "polars", "pyarrow"))
        try:
            module = importlib.import_module(backend)
        except ImportError:
            raise MissingDependencyError(
                f"backend {backend!r} is not installed; pip install {backend}"
            ) from None
        cols = self.to_arrays()
        if backend == "polars" and self.time_kind == "datetime":
            cols["time"] = cols["time"].astype("datetime64[us]")  # polars has no seconds unit
        if backend == "pyarrow":
            return module.table(cols)
        return module.DataFrame(cols)

    # -- row selection ------------------------------------------------------

    def take(self, rows: Any) -> TransactionLog:
        """Return a new log of the selected rows (a boolean mask or indices).

        Customers left without rows disappear from :attr:`customer_labels`.
        """
        idx = np.asarray(rows)
        if idx.dtype == bool:
            if idx.shape != (self.n_rows,):
                raise InvalidInputError(
                    f"rows mask has shape {idx.shape}, expected ({self.n_rows},)"
                )
        elif idx.dtype.kind not in "iu":
            raise InvalidTypeError(
                f"rows must be a boolean mask or integer indices, got {idx.dtype}"
            )
        codes = self.customer_code[idx]
        if codes.size == 0:
            raise EmptyInputError("the selection leaves no rows")
        used = np.zeros(self.n_customers, dtype=bool)
        used[codes] = True
        remap = np.cumsum(used) - 1
        optional = {f: getattr(self, f)[idx] for f in self.optional_columns}
        return TransactionLog(
            remap[codes].astype(np.int64),
            self.customer_labels[used],
            self.time[idx],
            self.amount[idx],
            **optional,
        )

    def between(self, start: Any = None, end: Any = None) -> TransactionLog:
        """Rows with ``start <= time <= end`` (either bound may be None)."""
        t = self.numeric_time()
        mask = np.ones(self.n_rows, dtype=bool)
        if start is not None:
            mask &= t >= time_to_float(start, self.time_kind, "start")
        if end is not None:
            mask &= t <= time_to_float(end, self.time_kind, "end")
        return self.take(mask)

    # -- time arithmetic ----------------------------------------------------

    def numeric_time(self) -> FloatArray:
        """Times as float64: seconds since the epoch for calendar logs, else as given."""
        if self.time_kind == "numeric":
            return self.time  # already float64 and read-only
        return self.time.view(np.int64).astype(np.float64)  # a view: no int64 copy

    def to_time_float(self, value: Any, name: str = "time") -> float:
        """Convert one time of this log's kind to the log's float scale (see :meth:`numeric_time`)."""
        return time_to_float(value, self.time_kind, name)

    def unit_length(self, unit: str | float, name: str = "unit") -> float:
        """The length of ``unit`` on the log's float time scale.

        ``unit`` is ``"day"``, ``"week"``, ``"month"`` (365.25/12 days),
        ``"quarter"`` or ``"year"`` (365.25 days) for calendar logs, or a number of
        days; for numeric logs, a positive number in the log's own time.
        """
        return _unit_seconds(unit, self.time_kind, name)

    def elapsed(self, unit: str | float | None = None, *, since: Any = None) -> FloatArray:
        """Per row, the time elapsed since ``since`` (default: the first row's time) in ``unit``.

        ``unit`` defaults to ``"day"`` for calendar logs and 1.0 for numeric logs.
        """
        if unit is None:
            unit = "day" if self.time_kind == "datetime" else 1.0
        t = self.numeric_time()
        origin = float(t.min()) if since is None else self.to_time_float(since, "since")
        return (t - origin) / self.unit_length(unit)

    def period_index(self, freq: str | float = "day", *, origin: Any = None) -> IntArray:
        """Per row, the number (from 0) of the period it falls in.

        Calendar units (``"day"``, ``"week"``, ``"month"``, ``"quarter"``,
        ``"year"``) follow the calendar: days start at midnight, months,
        quarters (January–March, ...) and years are calendar ones, counted
        from the one ``origin`` falls in; weeks are 7-day blocks counted
        from ``origin``. A number is a period length
        (days for calendar logs). ``origin`` defaults to the first row's
        time; rows before it get negative numbers.
        """
        if self.time_kind == "datetime" and freq in ("month", "quarter", "year"):
            months = self.time.astype("datetime64[M]").astype(np.int64)
            start = (
                int(months.min())
                if origin is None
                else int(
                    np.datetime64(int(self.to_time_float(origin, "origin")), "s")
                    .astype("datetime64[M]")
                    .astype(np.int64)
                )
            )
            # Months count from 1970-01, the start of a calendar quarter and year, so
            # integer division by 3 or 12 gives calendar quarters and years.
            per = {"month": 1, "quarter": 3, "year": 12}[str(freq)]
            return (np.floor_divide(months, per) - start // per).astype(np.int64)
        t = self.numeric_time()
        origin_f = float(t.min()) if origin is None else self.to_time_float(origin, "origin")
        if self.time_kind == "datetime" and freq == "day":
            # calendar days: midnight boundaries, not 24 hours after the origin
            day_origin = np.floor(origin_f / _SECONDS_PER_DAY)
            days: IntArray = (np.floor(t / _SECONDS_PER_DAY) - day_origin).astype(np.int64)
            return days
        idx: IntArray = np.floor((t - origin_f) / self.unit_length(freq, "freq")).astype(np.int64)
        return idx

    # -- values of DOMAIN.md §2.1 --------------------------------------------

    def transaction_value(self) -> FloatArray:
        """TV = V·p per row when volume and unit price are present, else the amount."""
        if self.volume is not None and self.unit_price is not None:
            return self.volume * self.unit_price
        return self.amount.copy()

    def total_cost(self) -> FloatArray:
        """C1 + C2 + C3 + C4 per row (absent columns count as 0)."""
        out = np.zeros(self.n_rows)
        for f in COST_FIELDS:
            col = getattr(self, f)
            if col is not None:
                out += col
        return out

    def profit(self) -> FloatArray:
        """P = TV − (C1 + C2 + C3 + C4) + IB per row (DOMAIN.md §2.1)."""
        out = self.transaction_value() - self.total_cost()
        if self.indirect_benefit is not None:
            out += self.indirect_benefit
        return out

    # -- per-customer summary -------------------------------------------------

    def summarize(
        self,
        *,
        observation_end: Any = None,
        period: str | float | None = None,
    ) -> CustomerSummary:
        """Per-customer first and last purchase, counts and amounts.

        Parameters
        ----------
        observation_end : date or number, optional
            End of the observation window (inclusive). Rows after it are left
            out and counted in :attr:`CustomerSummary.n_rows_after_end`;
            customers whose first purchase is after it are not in the summary.
            Defaults to the last time in the log.
        period : str or float, optional
            The period used to count distinct purchase periods:
            ``"day"``, ``"week"`` (Monday to Sunday), ``"month"``,
            ``"quarter"``, ``"year"`` (calendar periods) or a number of days
            for calendar logs; a positive number for numeric logs, whose
            periods are ``[k * period, (k + 1) * period)``. By default
            ``"day"`` for calendar logs and 1.0 for numeric logs.

        Returns
        -------
        CustomerSummary
            One row per customer with a purchase in the window, in the order
            of :attr:`customer_labels`.

        Raises
        ------
        InvalidInputError
            If ``observation_end`` is before the first purchase in the log,
            or ``period`` is not a valid period for the log's kind of time.

        Notes
        -----
        Periods are aligned to the calendar (or to multiples of the period
        from 0), not to the log's first purchase, so a customer's count
        does not depend on which other customers share the log: the summary
        of a log split by customer and concatenated equals the summary of
        the whole.

        The work is vectorised over rows: :func:`numpy.bincount` for counts
        and sums, ``minimum.at`` / ``maximum.at`` for first and last times,
        and one in-place sort of a composite (customer, period) integer key,
        built in cache-sized chunks, for the distinct periods. Calendar times
        are used as integer seconds, without a float copy. Extra memory is
        one key array (4 or 8 bytes per row) plus one byte per row.

        Examples
        --------
        >>> log = TransactionLog.from_arrays(customer_id=[1, 1, 1, 2],
        ...     time=["2024-01-01T09:00", "2024-01-01T17:00", "2024-01-03", "2024-01-02"],
        ...     amount=[10.0, 5.0, -2.0, 7.0])
        >>> s = log.summarize()
        >>> s.n_purchases.tolist(), s.n_periods.tolist(), s.total_amount.tolist()
        ([3, 1], [2, 1], [13.0, 7.0])
        >>> s.first[0], s.last[0]
        (np.datetime64('2024-01-01T09:00:00'), np.datetime64('2024-01-03T00:00:00'))
        >>> s2 = log.summarize(observation_end="2024-01-02")
        >>> s2.n_purchases.tolist(), s2.n_rows_after_end
        ([2, 1], 1)
        """
        datetime_kind = self.time_kind == "datetime"
        if period is None:
            period = "day" if datetime_kind else 1.0
        _check_period(period, self.time_kind)
        codes = self.customer_code
        amount = self.amount
        profit = self.profit() if self.has_profit_columns else None
        # calendar times as int64 seconds (a view, no copy); numbers as they are
        t: npt.NDArray[Any] = self.time.view(np.int64) if datetime_kind else self.time
        n_after = 0
        if observation_end is None:
            end_value: Any = t.max()
        else:
            end_f = self.to_time_float(observation_end, "observation_end")
            first_value = t.min()
            if end_f < float(first_value):
                raise InvalidInputError(
                    f"observation_end {observation_end!r} is before the first purchase in the log "
                    f"({self._format_time(float(first_value))}); choose an end on or after it"
                )
            end_value = np.int64(np.floor(end_f)) if datetime_kind else end_f
            keep = t <= end_value
            n_after = int(self.n_rows - np.count_nonzero(keep))
            if n_after:
                t, codes, amount = t[keep], codes[keep], amount[keep]
                profit = None if profit is None else profit[keep]
            del keep
        return _summarize_arrays(
            codes,
            self.customer_labels,
            t,
            amount,
            end=end_value,
            time_kind=self.time_kind,
            n_after=n_after,
            period=period,
            profit=profit,
        )

    def _format_time(self, value: float) -> str:
        if self.time_kind == "datetime":
            return str(np.datetime64(int(value), "s"))
        return repr(value)


@attrs.frozen(eq=False)
class CustomerSummary:
    """Per-customer summary of a :class:`TransactionLog` over an observation window.

    Rows are customers, in the order of their (sorted) ids.

    Attributes
    ----------
    customer_id : numpy.ndarray
        The customer ids.
    first, last : numpy.ndarray
        First and last purchase time (``datetime64[s]`` or float, as the log).
    n_purchases : numpy.ndarray of int64
        Number of transactions (rows) in the window.
    n_periods : numpy.ndarray of int64
        Number of distinct periods (by default days) with a transaction.
    total_amount, mean_amount : numpy.ndarray of float64
        Sum and mean of the amounts (returns included).
    observation_end : datetime64 or float
        The window's end.
    period : str or float
        The period of :attr:`n_periods`.
    n_rows_after_end : int
        Rows of the log after ``observation_end`` that the window left out.
    total_profit : numpy.ndarray of float64 or None
        Sum of the per-transaction profit P = V·p − (C1 + C2 + C3 + C4) + IB
        (DOMAIN.md §2.1, :meth:`TransactionLog.profit`) when the log carries
        cost, indirect-benefit or volume-and-price columns; ``None`` otherwise
        (the profit would just repeat :attr:`total_amount`).
    """

    customer_id: npt.NDArray[Any] = attrs.field(converter=v.readonly)
    first: npt.NDArray[Any] = attrs.field(converter=v.readonly)
    last: npt.NDArray[Any] = attrs.field(converter=v.readonly)
    n_purchases: IntArray = attrs.field(converter=v.readonly)
    n_periods: IntArray = attrs.field(converter=v.readonly)
    total_amount: FloatArray = attrs.field(converter=v.readonly)
    mean_amount: FloatArray = attrs.field(converter=v.readonly)
    observation_end: Any
    period: str | float = "day"
    n_rows_after_end: int = 0
    total_profit: FloatArray | None = attrs.field(default=None, converter=v.readonly_or_none)

    def __len__(self) -> int:
        return len(self.customer_id)

    @property
    def n_customers(self) -> int:
        """Number of customers in the summary."""
        return len(self.customer_id)

    def totals(self) -> dict[str, float]:
        """Whole-base totals: customers, purchases, amount, mean amount per customer."""
        n = self.n_customers
        total = float(self.total_amount.sum())
        purchases = int(self.n_purchases.sum())
        return {
            "customers": float(n),
            "purchases": float(purchases),
            "total_amount": total,
            "amount_per_customer": total / n if n else float("nan"),
            "amount_per_purchase": total / purchases if purchases else float("nan"),
        }

    def to_arrays(self) -> dict[str, npt.NDArray[Any]]:
        """The columns as a dict of numpy arrays (copies); ``total_profit`` when present."""
        out: dict[str, npt.NDArray[Any]] = {
            "customer_id": self.customer_id.copy(),
            "first": self.first.copy(),
            "last": self.last.copy(),
            "n_purchases": self.n_purchases.copy(),
            "n_periods": self.n_periods.copy(),
            "total_amount": self.total_amount.copy(),
            "mean_amount": self.mean_amount.copy(),
        }
        if self.total_profit is not None:
            out["total_profit"] = self.total_profit.copy()
        return out

    def rows(self) -> Iterator[dict[str, Any]]:
        """Iterate over customers as dicts (for writing reports)."""
        cols = self.to_arrays()
        names = list(cols)
        for vals in zip(*(cols[k].tolist() for k in names), strict=True):
            yield dict(zip(names, vals, strict=True))


#: Rows per chunk when a per-row temporary is built in pieces (fits in cache).
_CHUNK = 1 << 18


def _check_period(period: str | float, kind: TimeKind) -> None:
    if isinstance(period, str):
        if kind == "numeric":
            raise InvalidInputError(
                f"period must be a positive number for a log with numeric times, got {period!r}"
            )
        v.choice(period, "period", tuple(UNIT_DAYS))
    else:
        v.scalar(period, "period", low=0.0, low_inclusive=False)


def _absolute_periods(t: npt.NDArray[Any], kind: TimeKind, period: str | float) -> IntArray:
    """Per value, the number of the calendar-aligned period it falls in.

    ``t`` holds int64 seconds since the epoch for calendar logs, floats for
    numeric logs. Days are calendar days, weeks run Monday to Sunday
    (1970-01-01 was a Thursday), months, quarters and years are calendar
    ones, a number of days counts from the epoch; numeric periods count
    from 0.
    """
    if kind == "numeric":
        return np.floor(t / float(period)).astype(np.int64)
    if period == "day":
        return t // 86400
    if period == "week":
        return (t // 86400 + 3) // 7
    if period in ("month", "quarter"):
        months = t.view("datetime64[s]").astype("datetime64[M]").view(np.int64)
        return months if period == "month" else months // 3
    if period == "year":
        return t.view("datetime64[s]").astype("datetime64[Y]").view(np.int64)
    seconds = float(period) * _SECONDS_PER_DAY
    if seconds == int(seconds):
        return t // int(seconds)
    return np.floor(t / seconds).astype(np.int64)


def _distinct_periods(
    codes: IntArray,
    t: npt.NDArray[Any],
    counts: IntArray,
    *,
    kind: TimeKind,
    period: str | float,
    t_min: Any,
    t_max: Any,
) -> IntArray:
    """Per customer, the number of distinct periods with a row.

    One in-place sort of the composite key ``code * span + period``, built
    chunk by chunk into a single uint32 (or int64) array; the number of key
    changes inside each customer's block of the sorted key is its count.
    """
    k = len(counts)
    n = len(codes)
    if not isinstance(period, str):
        scale = float(period) * (_SECONDS_PER_DAY if kind == "datetime" else 1.0)
        largest = max(abs(float(t_min)), abs(float(t_max)))
        if largest / scale >= 2.0**62:
            raise InvalidInputError(
                f"period must be longer: period {period!r} splits times up to {largest!r} "
                "into more periods than a 64-bit integer can number"
            )
    lo = int(_absolute_periods(np.asarray([t_min]), kind, period)[0])
    hi = int(_absolute_periods(np.asarray([t_max]), kind, period)[0])
    span = hi - lo + 1
    key_range = k * span
    if key_range >= 2**62:  # very fine periods: sort (customer, period) pairs instead
        per = _absolute_periods(t, kind, period)
        order = np.lexsort((per, codes))
        sorted_codes, sorted_per = codes[order], per[order]
        flags = np.empty(n, dtype=bool)
        flags[0] = True
        flags[1:] = (sorted_codes[1:] != sorted_codes[:-1]) | (sorted_per[1:] != sorted_per[:-1])
    else:
        key_dtype = np.uint32 if key_range < 2**32 else np.int64
        key = np.empty(n, dtype=key_dtype)
        for i in range(0, n, _CHUNK):
            j = min(i + _CHUNK, n)
            part = _absolute_periods(t[i:j], kind, period)
            part -= lo
            part += codes[i:j] * span
            key[i:j] = part
        del part
        key.sort()
        flags = np.empty(n, dtype=bool)
        flags[0] = True
        np.not_equal(key[1:], key[:-1], out=flags[1:])
        del key
    present = counts > 0
    block_counts = counts[present]
    starts = np.cumsum(block_counts) - block_counts
    out = np.zeros(k, dtype=np.int64)
    out[present] = np.add.reduceat(flags.view(np.uint8), starts, dtype=np.int64)
    return out


def _summarize_arrays(
    codes: IntArray,
    labels: npt.NDArray[Any],
    t: npt.NDArray[Any],
    amount: FloatArray,
    *,
    end: Any,
    time_kind: TimeKind,
    n_after: int,
    period: str | float,
    profit: FloatArray | None = None,
) -> CustomerSummary:
    k = len(labels)
    count = np.bincount(codes, minlength=k)
    total = np.bincount(codes, weights=amount, minlength=k)
    if time_kind == "datetime":
        info = np.iinfo(np.int64)
        first = np.full(k, info.max, dtype=np.int64)
        last = np.full(k, info.min, dtype=np.int64)
    else:
        first = np.full(k, np.inf)
        last = np.full(k, -np.inf)
    np.minimum.at(first, codes, t)
    np.maximum.at(last, codes, t)
    present = count > 0
    n_periods = _distinct_periods(
        codes,
        t,
        count,
        kind=time_kind,
        period=period,
        t_min=first[present].min(),
        t_max=last[present].max(),
    )
    total_profit = None if profit is None else np.bincount(codes, weights=profit, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    if not present.all():
        total_profit = None if total_profit is None else total_profit[present]
        labels = labels[present]
        count, n_periods = count[present], n_periods[present]
        total, first, last, mean = total[present], first[present], last[present], mean[present]
    if time_kind == "datetime":
        first_out: npt.NDArray[Any] = first.view("datetime64[s]")
        last_out: npt.NDArray[Any] = last.view("datetime64[s]")
        end_out: Any = np.datetime64(int(end), "s")
    else:
        first_out, last_out, end_out = first, last, float(end)
    return CustomerSummary(
        customer_id=labels,
        first=first_out,
        last=last_out,
        n_purchases=count.astype(np.int64, copy=False),
        n_periods=n_periods,
        total_amount=total,
        mean_amount=mean,
        observation_end=end_out,
        period=period,
        n_rows_after_end=n_after,
        total_profit=total_profit,
    )


# ---------------------------------------------------------------------------
# CSV reading (standard library always; pyarrow / polars when installed)
# ---------------------------------------------------------------------------


class _Coded(NamedTuple):
    """A text column as integer codes into its distinct values (from a fast engine)."""

    codes: IntArray
    values: npt.NDArray[Any]

    @classmethod
    def make(cls, codes: IntArray, raw: npt.NDArray[Any]) -> _Coded:
        """Strip the distinct values as the standard-library engine strips fields.

        Values that become equal (``"7"`` and ``" 7"``) are merged.
        """
        values = np.char.strip(raw)
        if not bool(np.any(values != raw)):
            return cls(codes, values)
        merged, inverse = np.unique(values, return_inverse=True)
        return cls(np.take(inverse.reshape(-1), codes), merged)

    def expand(self) -> npt.NDArray[Any]:
        return self.values[self.codes]


_Column = npt.NDArray[Any] | _Coded


def _read_csv_columns(
    path: str, names: list[str], id_col: str, time_col: str, delimiter: str, engine: str
) -> dict[str, _Column]:
    """Read the named columns as text arrays (or faster forms from a fast engine).

    A fast engine may return the id column as plain integers (when every id is
    one) or codes, the time column as codes, and the other columns as floats
    (when every value is a number); from_csv types all forms alike.
    """
    if engine in ("auto", "pyarrow"):
        try:
            return _read_csv_pyarrow(path, names, id_col, time_col, delimiter)
        except ImportError:
            if engine == "pyarrow":
                raise MissingDependencyError(
                    "engine 'pyarrow' needs pyarrow; pip install pyarrow"
                ) from None
    if engine in ("auto", "polars"):
        try:
            return _read_csv_polars(path, names, id_col, time_col, delimiter)
        except ImportError:
            if engine == "polars":
                raise MissingDependencyError(
                    "engine 'polars' needs polars; pip install polars"
                ) from None
    return _read_csv_python(path, names, id_col, time_col, delimiter)


def _check_header(path: str, header: Sequence[str], names: list[str]) -> None:
    for name in names:
        if name not in header:
            raise InvalidInputError(
                f"column {name!r} is not in the header of {path!r}; its columns are {list(header)!r}"
            )


def _read_header(path: str, names: list[str], delimiter: str) -> None:
    with open(path, encoding="utf-8-sig") as fh:
        first_line = fh.readline()
    if not first_line.strip():
        raise EmptyInputError(f"{path!r} is empty: it has no header and no rows")
    header = [h.strip() for h in next(csv.reader([first_line], delimiter=delimiter))]
    _check_header(path, header, names)


def _read_csv_python(
    path: str, names: list[str], id_col: str, time_col: str, delimiter: str
) -> dict[str, _Column]:
    # Stream the fields into one list per column (keeping every row's list alive
    # instead would make the cyclic garbage collector crawl). Ids and times are
    # coded on the fly, so each distinct one is stripped and parsed once, as with
    # the fast engines.
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise EmptyInputError(f"{path!r} is empty: it has no header and no rows") from None
        _check_header(path, header, names)
        width = len(header)
        cols: dict[str, list[Any]] = {n: [] for n in names}
        indexes: dict[str, dict[str, int]] = {id_col: {}, time_col: {}}
        plain = [(cols[n].append, header.index(n)) for n in names if n not in indexes]
        coded = [(cols[n].append, header.index(n), indexes[n]) for n in indexes]
        row_no = 0
        for row in reader:
            if not row:
                continue  # blank lines are not rows (as in pyarrow and polars)
            if len(row) != width:
                raise InvalidInputError(
                    f"{path!r} row {row_no} has {len(row)} fields, the header has {width}"
                )
            for append, i in plain:
                append(row[i])
            for append, i, index in coded:
                append(index.setdefault(row[i], len(index)))
            row_no += 1
    out: dict[str, _Column] = {}
    for n in names:
        if n in indexes:
            distinct = list(indexes[n])
            out[n] = _Coded.make(
                np.asarray(cols[n], dtype=np.int64),
                np.asarray(distinct, dtype=str) if distinct else np.empty(0, dtype=str),
            )
            _check_blank(out[n], n, path)
        else:
            raw = np.asarray(cols[n], dtype=str) if cols[n] else np.empty(0, dtype=str)
            out[n] = _text_column(raw, n, path)
    return out


def _text_column(raw: npt.NDArray[Any], header: str, path: str) -> npt.NDArray[Any]:
    """Strip the fields; a field that is empty (or blank) is a missing value."""
    arr = np.char.strip(raw)
    empty = arr == ""
    if empty.any():
        first = int(np.flatnonzero(empty)[0])
        raise InvalidInputError(f"column {header!r} is missing a value at row {first} of {path!r}")
    return arr


def _read_csv_pyarrow(
    path: str, names: list[str], id_col: str, time_col: str, delimiter: str
) -> dict[str, _Column]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    _read_header(path, names, delimiter)
    # Read every wanted column as text: typing happens in one place (from_csv /
    # from_arrays), so all engines produce identical logs and identical messages.
    try:
        table = pacsv.read_csv(
            path,
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(
                include_columns=names,
                column_types={n: pa.string() for n in names},
                strings_can_be_null=True,
                null_values=[""],  # only empty fields are missing; "nan" is a value to reject
            ),
        )
    except pa.ArrowInvalid as exc:
        raise InvalidInputError(f"{path!r} cannot be read as CSV: {exc}") from None
    out: dict[str, _Column] = {}
    for n in names:
        col = table.column(n).combine_chunks()
        if col.null_count:  # an empty field: refused below, at its row, with blank fields
            col = pc.fill_null(col, "")
        if n == id_col:
            ints = _arrow_plain_ints(col)
            if ints is not None:
                out[n] = ints
                continue
        if n in (id_col, time_col):
            enc = pc.dictionary_encode(col)
            out[n] = _Coded.make(
                enc.indices.to_numpy().astype(np.int64),
                np.asarray(enc.dictionary.to_pylist(), dtype=str),
            )
            _check_blank(out[n], n, path)
            continue
        try:
            out[n] = pc.cast(col, pa.float64()).to_numpy()
        except pa.ArrowInvalid:  # not all numbers: let from_csv name the bad value
            out[n] = _text_column(col.to_numpy(zero_copy_only=False).astype(str), n, path)
    return out


def _read_csv_polars(
    path: str, names: list[str], id_col: str, time_col: str, delimiter: str
) -> dict[str, _Column]:
    import polars as pl

    _read_header(path, names, delimiter)
    try:
        df = pl.read_csv(path, separator=delimiter, columns=names, infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise InvalidInputError(f"{path!r} cannot be read as CSV: {exc}") from None
    out: dict[str, _Column] = {}
    for n in names:
        s = df[n]
        if s.null_count():  # an empty field: refused below, at its row, with blank fields
            s = s.fill_null("")
        if n == id_col:
            ints = s.str.to_integer(strict=False)
            if ints.null_count() == 0 and bool((ints.cast(pl.String) == s).all()):
                out[n] = ints.to_numpy()
                continue
        if n in (id_col, time_col):
            values = s.unique().sort()
            codes = (s.rank("dense") - 1).to_numpy().astype(np.int64)
            out[n] = _Coded.make(codes, np.asarray(values.to_list(), dtype=str))
            _check_blank(out[n], n, path)
            continue
        try:
            out[n] = s.str.strip_chars().cast(pl.Float64, strict=True).to_numpy()
        except pl.exceptions.PolarsError:  # not all numbers: let from_csv name the bad value
            out[n] = _text_column(s.to_numpy().astype(str), n, path)
    return out


def _arrow_plain_ints(col: Any) -> IntArray | None:
    """The column as int64 when every value is an integer written plainly, else None."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        ints = pc.cast(col, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if not pc.all(pc.equal(pc.cast(ints, pa.string()), col)).as_py():
        return None  # "007" or "+7": the ids stay text
    out: IntArray = ints.to_numpy(zero_copy_only=False)
    return out


def _to_float_column(col: _Column, header: str) -> FloatArray:
    if isinstance(col, _Coded):  # pragma: no cover - numeric columns are never coded
        col = col.expand()
    if col.dtype.kind in "iuf":
        return col.astype(np.float64)
    try:
        return col.astype(np.float64)
    except ValueError:
        for row, s in enumerate(col.tolist()):
            try:
                float(s)
            except ValueError:
                raise InvalidInputError(
                    f"column {header!r} has a non-numeric value {s!r} at row {row}"
                ) from None
        raise  # pragma: no cover


def _typed_ids(values: npt.NDArray[Any], id_type: str) -> npt.NDArray[Any]:
    """Text ids as int64 when every one is a plain integer (``"auto"``), else as text."""
    if id_type == "str" or values.dtype.kind not in "US" or len(values) == 0:
        return values
    try:
        ints = values.astype(np.int64)
    except (ValueError, OverflowError):
        return values
    # only canonical spellings ("12", "-3"; not "012" or "+3") become numbers, so no
    # two distinct ids ever merge and the ids read back as written
    if not np.array_equal(ints.astype(values.dtype), values):
        return values
    return ints


def _csv_customers(
    col: _Column, id_type: str, header: str, path: str
) -> tuple[IntArray, npt.NDArray[Any]]:
    """Codes and sorted labels of a CSV customer column."""
    if not isinstance(col, _Coded):
        if col.dtype.kind in "iu" and id_type == "str":
            col = col.astype(str)  # a fast engine read plain integers: their text is the same
        return _factorize(_typed_ids(col, id_type))
    values = _typed_ids(col.values, id_type)
    order = np.argsort(values, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    return np.take(rank, col.codes), values[order]


def _check_blank(col: _Column, header: str, path: str) -> None:
    """Refuse a coded field of blanks only, as missing as an empty field.

    The fast engines only know empty fields as missing.
    """
    if isinstance(col, _Coded) and bool(np.any(col.values == "")):
        row = int(np.flatnonzero(col.values[col.codes] == "")[0])
        raise InvalidInputError(f"column {header!r} is missing a value at row {row} of {path!r}")


def _csv_times(col: _Column, date_format: str | None, header: str, path: str) -> npt.NDArray[Any]:
    """Parse a CSV time column; distinct values once when the engine coded them."""
    if isinstance(col, _Coded):
        try:
            parsed = parse_times(
                _coerce_time_strings(col.values, date_format), "time", date_format=date_format
            )
        except CustrelError:
            col = col.expand()  # parse again row by row for a message with the right row
        else:
            return np.take(parsed, col.codes)
    return parse_times(_coerce_time_strings(col, date_format), "time", date_format=date_format)


def _coerce_time_strings(col: npt.NDArray[Any], date_format: str | None) -> npt.NDArray[Any]:
    """Text time columns: numbers make a numeric log unless a date format is given."""
    if date_format is not None or col.dtype.kind not in "USO":
        return col
    try:
        return col.astype(np.float64)
    except (ValueError, TypeError):
        return col


def _narwhals() -> Any:
    try:
        return importlib.import_module("narwhals")
    except ImportError:
        raise MissingDependencyError(
            "dataframe intake needs the 'frames' extra; pip install 'custrel[frames]'"
        ) from None
