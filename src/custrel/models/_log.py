"""The columnar log, its intake from arrays, records, frames and files, and its summary (private).

Re-exported by :mod:`custrel.models`.
"""

from __future__ import annotations

import contextlib
import csv
import importlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _numeric, _parallel
from custrel import _validate as v
from custrel._ids import IdType, Missing, as_id_array, factorize_by_sort, normalize_ids
from custrel._tabular import Tabular, native_frame
from custrel._voice import PLAIN, Voice, choice
from custrel.errors import (
    EmptyInputError,
    InvalidInputError,
    InvalidTypeError,
    MissingDependencyError,
)
from custrel.models import _csv
from custrel.models._domain import COST_FIELDS, OPTIONAL_FIELDS, Transaction
from custrel.models._times import (
    _SECONDS_PER_DAY,
    UNIT_DAYS,
    TimeKind,
    TimeZone,
    _check_finite,
    _time_kind,
    _unit_seconds,
    parse_times,
    time_to_float,
)

if TYPE_CHECKING:
    from pathlib import Path

__all__: list[str] = []

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_MISSING_POLICIES: tuple[str, ...] = ("error", "skip")
_TIMEZONES: tuple[str, ...] = ("local", "utc")
#: Fields that add up when the lines of one order are grouped into one row.
_ADDITIVE = ("volume", *COST_FIELDS, "indirect_benefit")


@attrs.frozen
class IntakeSummary:
    """What intake did to the rows it read: counts a report can show.

    Attributes
    ----------
    rows_read : int
        Data rows (or array rows) read, before anything was skipped or grouped.
    orders_grouped : int
        Rows merged away by grouping order lines into one row per
        (customer, order): ``rows_read - skipped_missing_customer - n_rows``.
    skipped_missing_customer : int
        Rows left out because their customer id was missing
        (``missing_customer="skip"``).
    skipped_amount : float
        The sum of the amounts of those rows (0.0 for a log without amounts).

    Examples
    --------
    >>> from custrel import TransactionLog
    >>> log = TransactionLog.from_arrays(customer_id=["a", None, "a"], time=[1.0, 2.0, 3.0],
    ...                                  amount=[5.0, 7.5, 1.0], missing_customer="skip")
    >>> log.intake
    IntakeSummary(rows_read=3, orders_grouped=0, skipped_missing_customer=1, skipped_amount=7.5)
    """

    rows_read: int
    orders_grouped: int
    skipped_missing_customer: int
    skipped_amount: float


def _add_intakes(parts: Sequence[IntakeSummary | None]) -> IntakeSummary | None:
    known = [p for p in parts if p is not None]
    if not known:
        return None
    return IntakeSummary(
        rows_read=sum(p.rows_read for p in known),
        orders_grouped=sum(p.orders_grouped for p in known),
        skipped_missing_customer=sum(p.skipped_missing_customer for p in known),
        skipped_amount=float(sum(p.skipped_amount for p in known)),
    )


def _optional_column(value: Any, name: str, n: int, voice: Voice = PLAIN) -> FloatArray | None:
    if value is None:
        return None
    col = v.as_float_array(value, name, ndim=1, allow_empty=True, finite=False)
    if len(col) != n:
        raise InvalidInputError(f"{name} has {len(col)} values but the log has {n} rows")
    _check_finite(col, name, voice)
    if name == "volume":
        bad = col < 0
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InvalidInputError(
                f"volume must be >= 0, got {float(col[row])!r} at {voice.at(row)}; "
                "record a return as a negative amount instead"
            )
    return col


def _money(
    amount: FloatArray | None,
    quantity: FloatArray | None,
    price: FloatArray | None,
    names: Mapping[str, str],
    voice: Voice,
) -> FloatArray | None:
    """The amount column, or quantity × price (both checked, the product too)."""
    if quantity is None and price is None:
        if amount is not None:
            _check_finite(amount, names["amount"], voice)
        return amount
    if quantity is None or price is None:
        given = "quantity" if quantity is not None else "price"
        other = "price" if given == "quantity" else "quantity"
        raise InvalidInputError(
            f"{voice.arg(names['arg_' + given])} computes the amount together with "
            f"{voice.arg(names['arg_' + other])}; give both (or neither)"
        )
    _check_finite(quantity, names["quantity"], voice)
    _check_finite(price, names["price"], voice)
    with np.errstate(over="ignore", invalid="ignore"):
        product = quantity * price
    bad = ~np.isfinite(product)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            f"amount = {names['quantity']} x {names['price']} overflows at {voice.at(row)} "
            f"({float(quantity[row])!r} x {float(price[row])!r}); rescale the values"
        )
    return product


class _Orders:
    """Order ids per row, as codes, with the text of each distinct id."""

    def __init__(self, codes: IntArray, labels: npt.NDArray[Any]) -> None:
        self.codes, self.labels = codes, labels

    def cancelled(self, prefix: str) -> BoolArray:
        """Rows whose order id starts with ``prefix``."""
        text = [str(x) for x in self.labels.tolist()]
        marked = np.fromiter((s.startswith(prefix) for s in text), dtype=bool, count=len(text))
        return marked[self.codes]


def _group_orders(
    codes: IntArray,
    times: npt.NDArray[Any],
    amount: FloatArray | None,
    optional: dict[str, FloatArray | None],
    orders: IntArray,
    voice: Voice,
) -> tuple[IntArray, npt.NDArray[Any], FloatArray | None, dict[str, FloatArray | None]]:
    """One row per (customer, order): amounts and additive columns summed, earliest time.

    Rows keep the order of each order's first line.
    """
    n = len(codes)
    n_orders = int(orders.max()) + 1 if n else 0
    key = codes.astype(np.int64) * max(n_orders, 1) + orders
    group, _ = factorize_by_sort(key)
    size = int(group.max()) + 1 if n else 0
    first = np.full(size, n, dtype=np.int64)
    np.minimum.at(first, group, np.arange(n, dtype=np.int64))
    order = np.argsort(first, kind="stable")
    rank = np.empty(size, dtype=np.int64)
    rank[order] = np.arange(size, dtype=np.int64)
    group = rank[group]
    first = first[order]
    if np.issubdtype(times.dtype, np.datetime64):
        earliest = np.full(size, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(earliest, group, times.view(np.int64))
        new_times: npt.NDArray[Any] = earliest.view("datetime64[s]")
    else:
        early = np.full(size, np.inf)
        np.minimum.at(early, group, times)
        new_times = early

    def total(col: FloatArray, name: str) -> FloatArray:
        out: FloatArray = _numeric.bincount(group, weights=col, minlength=size).astype(np.float64)
        bad = ~np.isfinite(out)
        if bad.any():
            g = int(np.flatnonzero(bad)[0])
            raise InvalidInputError(
                f"{name} of the order starting at {voice.at(int(first[g]))} sums beyond the "
                "largest float (about 1.8e308); rescale the values"
            )
        return out

    new_amount = None if amount is None else total(amount, "amount")
    grouped: dict[str, FloatArray | None] = {}
    for name, col in optional.items():
        if col is None:
            grouped[name] = None
        elif name in _ADDITIVE:
            grouped[name] = total(col, name)
        elif name == "unit_price" and optional.get("volume") is not None:
            vol = optional["volume"]
            assert vol is not None
            spent = total(vol * col, "volume x unit_price")
            units = _numeric.bincount(group, weights=vol, minlength=size)
            mean = _numeric.bincount(group, weights=col, minlength=size) / _numeric.bincount(
                group, minlength=size
            )
            with np.errstate(invalid="ignore", divide="ignore"):
                grouped[name] = np.where(units > 0, spent / np.where(units > 0, units, 1), mean)
        else:  # a price without volumes: the mean of the lines' prices
            grouped[name] = _numeric.bincount(
                group, weights=col, minlength=size
            ) / _numeric.bincount(group, minlength=size)
    return codes[first], new_times, new_amount, grouped


def _finish(
    cls: type[TransactionLog],
    *,
    codes: IntArray,
    labels: npt.NDArray[Any],
    gone: BoolArray | None,
    times: npt.NDArray[Any],
    amount: FloatArray | None,
    optional: dict[str, FloatArray | None],
    orders: _Orders | None,
    cancel_prefix: str | None,
    voice: Voice,
    report: bool,
    cancelled: BoolArray | None = None,
) -> TransactionLog:
    """Every builder's last steps: cancellations, skipping, order grouping, the log."""
    n = len(codes)
    if cancel_prefix is not None and amount is not None and orders is not None:
        marked = orders.cancelled(cancel_prefix)
        if marked.any():
            amount = np.where(marked, -np.abs(amount), amount)
    if cancelled is not None and amount is not None and cancelled.any():
        amount = np.where(cancelled, -np.abs(amount), amount)
    skipped = 0
    skipped_amount = 0.0
    if gone is not None:
        keep = ~gone
        skipped = int(np.count_nonzero(gone))
        if amount is not None:
            skipped_amount = float(np.sum(amount[gone]))
            amount = amount[keep]
        codes, times = codes[keep], times[keep]
        optional = {k: None if c is None else c[keep] for k, c in optional.items()}
        if orders is not None:
            orders = _Orders(orders.codes[keep], orders.labels)
        used = np.zeros(len(labels), dtype=bool)
        used[codes] = True
        if not used.all():  # pragma: no cover - a skipped row has no customer to lose
            remap = np.cumsum(used) - 1
            codes, labels = remap[codes], labels[used]
    n_kept = len(codes)
    if orders is not None:
        codes, times, amount, optional = _group_orders(
            codes, times, amount, optional, orders.codes, voice
        )
    intake = None
    if report or gone is not None or orders is not None:
        intake = IntakeSummary(
            rows_read=n,
            orders_grouped=n_kept - len(codes),
            skipped_missing_customer=skipped,
            skipped_amount=skipped_amount,
        )
    return cls(codes, labels, times, amount, **optional, intake=intake)


def _order_codes(values: Any, name: str, voice: Voice) -> _Orders:
    codes, labels, _ = normalize_ids(values, name, voice=voice, missing="error", skippable=False)
    return _Orders(codes, labels)


def _check_prefix(cancel_prefix: str | None, has_orders: bool, voice: Voice) -> None:
    if cancel_prefix is None:
        return
    if not isinstance(cancel_prefix, str) or not cancel_prefix:
        raise InvalidInputError(
            f"{voice.arg('cancel_prefix')} must be a non-empty string, got {cancel_prefix!r}"
        )
    if not has_orders:
        raise InvalidInputError(
            f"{voice.arg('cancel_prefix')} marks cancellations by their order id; "
            f"give {voice.arg('order_col')} too"
        )


def _check_separators(delimiter: str, decimal: str, thousands: str | None, voice: Voice) -> None:
    for arg, value in (("delimiter", delimiter), ("decimal", decimal)):
        if not isinstance(value, str) or len(value) != 1:
            raise InvalidInputError(f"{voice.arg(arg)} must be one character, got {value!r}")
    if thousands is not None and (not isinstance(thousands, str) or len(thousands) != 1):
        raise InvalidInputError(
            f"{voice.arg('thousands')} must be one character, got {thousands!r}"
        )
    if decimal == delimiter:
        other = ";" if delimiter == "," else ","
        raise InvalidInputError(
            f"{voice.arg('decimal')} {decimal!r} is also the {voice.arg('delimiter')}; files with "
            f"decimal commas separate fields with another character: "
            f"{voice.pass_('delimiter', other)}"
        )
    if thousands is not None and thousands in (decimal, delimiter):
        raise InvalidInputError(
            f"{voice.arg('thousands')} {thousands!r} must differ from "
            f"{voice.arg('decimal')} {decimal!r} and {voice.arg('delimiter')} {delimiter!r}"
        )


@attrs.frozen(eq=False, repr=False)
class TransactionLog:
    """Transactions of many customers as read-only columns (the columnar form).

    Build one with :meth:`from_arrays`, :meth:`from_records`,
    :meth:`from_csv` or :meth:`from_frame`; do not call the constructor
    directly. Customer ids are factorised to integer codes
    (:attr:`customer_code`) into the sorted unique ids
    (:attr:`customer_labels`); distinct ids stay distinct and keep their type
    (``1`` and ``"1"`` are two customers). Times are one kind per log:
    calendar times (``datetime64[s]``) or plain numbers (``float64``). Rows
    keep the order they were given in. Convert back with :meth:`to_arrays`,
    :meth:`to_records`, :meth:`to_csv` and :meth:`to_frame`;
    :meth:`summarize` gives the per-customer summary.

    **Purchases and returns.** A row whose amount is negative is a return or
    a cancellation; every other row (amount >= 0, or every row of a log
    without amounts) is a purchase. :attr:`is_purchase` is that mask; other
    modules may equally test ``amount < 0``. Returns count toward a
    customer's value (net revenue), never toward purchase counts, frequency,
    recency, first-purchase time or T.

    **Logs without money.** A log built with ``amount=None`` (or
    ``amount_col=None``) has :attr:`has_amount` False; reading :attr:`amount`
    then raises :class:`~custrel.InvalidInputError`. Frequency-only work
    (purchase counts, BG/NBD) works on such logs.

    Attributes
    ----------
    customer_code : numpy.ndarray of int64
        Per row, the index of its customer in :attr:`customer_labels`.
    customer_labels : numpy.ndarray
        The distinct customer ids, sorted (integers before floats before text
        when one log mixes them).
    time : numpy.ndarray of datetime64[s] or float64
        Per row, when it happened.
    amount : numpy.ndarray of float64
        Per row, money received (negative for returns); raises when the log
        has no amounts.
    volume, unit_price, product_cost, service_cost, marketing_cost, transaction_cost, indirect_benefit : numpy.ndarray or None
        Optional per-row columns of domain notes §2.1.
    intake : IntakeSummary or None
        What intake did (rows read, order lines grouped, rows skipped for a
        missing customer); set for logs read from a file and for logs whose
        builder skipped or grouped rows, else ``None``. Not part of equality.

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
    _amount: FloatArray | None = attrs.field(converter=v.readonly_or_none)
    volume: FloatArray | None = attrs.field(default=None, converter=v.readonly_or_none)
    unit_price: FloatArray | None = attrs.field(default=None, converter=v.readonly_or_none)
    product_cost: FloatArray | None = attrs.field(default=None, converter=v.readonly_or_none)
    service_cost: FloatArray | None = attrs.field(default=None, converter=v.readonly_or_none)
    marketing_cost: FloatArray | None = attrs.field(default=None, converter=v.readonly_or_none)
    transaction_cost: FloatArray | None = attrs.field(default=None, converter=v.readonly_or_none)
    indirect_benefit: FloatArray | None = attrs.field(default=None, converter=v.readonly_or_none)
    intake: IntakeSummary | None = attrs.field(default=None, kw_only=True)

    # -- money ----------------------------------------------------------------

    @property
    def has_amount(self) -> bool:
        """Whether the log carries money (an amount per row)."""
        return self._amount is not None

    @property
    def amount(self) -> FloatArray:
        """Per row, money received (negative for returns and cancellations).

        Raises
        ------
        InvalidInputError
            If the log was built without amounts (:attr:`has_amount` is False).
        """
        if self._amount is None:
            raise InvalidInputError(
                "this log has no amount column; build it with an amount (pass amount_col=... "
                "to from_csv / from_frame, amount=... to from_arrays) for money figures"
            )
        return self._amount

    @property
    def is_purchase(self) -> BoolArray:
        """Per row, True for a purchase (amount >= 0, or every row of a log without money).

        A read-only boolean mask; returns and cancellations (negative amounts)
        are False. Computed on each access (one comparison per row).
        """
        mask = np.ones(self.n_rows, dtype=bool) if self._amount is None else self._amount >= 0
        return v.readonly(mask)

    # -- construction -------------------------------------------------------

    @classmethod
    def from_arrays(
        cls,
        *,
        customer_id: Any,
        time: Any,
        amount: Any = None,
        volume: Any = None,
        unit_price: Any = None,
        product_cost: Any = None,
        service_cost: Any = None,
        marketing_cost: Any = None,
        transaction_cost: Any = None,
        indirect_benefit: Any = None,
        date_format: str | None = None,
        quantity: Any = None,
        price: Any = None,
        order_id: Any = None,
        cancel_prefix: str | None = None,
        id_type: Literal["keep", "str", "int"] = "keep",
        missing_customer: Literal["error", "skip"] = "error",
        timezone: Literal["local", "utc"] = "local",
    ) -> TransactionLog:
        """Build a log from one array (or sequence) per column.

        Parameters
        ----------
        customer_id : array_like
            Customer ids: integers or text. Distinct ids stay distinct and
            keep their type: ``1`` and ``"1"`` are two customers (see
            ``id_type``). Bytes, booleans, ids containing a NUL character and
            missing ids (``None``, NaN, ``pd.NA``, ``NaT``, ``""``) are
            refused, naming the row (see ``missing_customer``).
        time : array_like
            Dates (``datetime64`` of any unit, :class:`datetime.date`, ISO
            strings) or numbers; one kind for the whole log. A date outside
            the ``datetime64[s]`` range is refused, never wrapped.
        amount : array_like of float, optional
            Money per transaction; negative for returns and cancellations.
            ``None`` (the default, unless ``quantity`` and ``price`` are given)
            builds a log without money (:attr:`has_amount` False).
        volume, unit_price, product_cost, service_cost, marketing_cost, transaction_cost, indirect_benefit : array_like, optional
            Optional columns (domain notes §2.1). ``volume`` must be >= 0.
        date_format : str, optional
            A :func:`~datetime.datetime.strptime` format for string dates that
            are not ISO 8601 (``"%Y%m%d"`` for CDNOW).
        quantity, price : array_like of float, optional
            Give both instead of ``amount``: the amount is quantity x price.
        order_id : array_like, optional
            Per row, the order (invoice) it belongs to: the lines of one order
            of one customer become one row (amounts, volumes, costs and
            indirect benefit summed, the earliest line's time, a unit price
            weighted by volume), in the order of each order's first line.
        cancel_prefix : str, optional
            With ``order_id``: rows whose order id starts with this text (for
            example ``"C"`` in the Online Retail data set) are cancellations;
            their amount is made negative if it is not already.
        id_type : {"keep", "str", "int"}
            ``"keep"`` keeps each id's type; ``"str"`` turns every id into its
            text (so ``1`` and ``"1"`` become one customer) and ``"int"`` into
            an integer (so ``"007"`` and ``7`` become one; a non-integer id is
            an error): an explicit request to merge ids that print alike.
        missing_customer : {"error", "skip"}
            ``"error"`` refuses a missing customer id, naming its row;
            ``"skip"`` leaves such rows out and counts them (and their amount)
            in :attr:`intake`.
        timezone : {"local", "utc"}
            For times carrying a UTC offset (``2024-03-01T23:30:00+01:00``,
            aware datetimes): ``"local"`` keeps the local wall-clock time and
            drops the offset, so a purchase stays on its local calendar day;
            ``"utc"`` converts to UTC.

        Returns
        -------
        TransactionLog

        Raises
        ------
        EmptyInputError
            If there are no rows.
        InvalidInputError
            On inconsistent lengths, NaN or infinite values, missing ids,
            missing or unparseable times, mixed time kinds or negative
            volumes; the message names the column, the value and the 0-based
            row.
        InvalidTypeError
            On ids or times of a type a log cannot hold (bytes, booleans).

        Examples
        --------
        >>> log = TransactionLog.from_arrays(customer_id=[1, 1, 2], time=[0, 3.5, 1], amount=[5, 6, 7])
        >>> log.time_kind, log.n_customers
        ('numeric', 2)
        >>> TransactionLog.from_arrays(customer_id=[1, "1"], time=[0, 1], amount=[1, 1]).n_customers
        2
        >>> lines = TransactionLog.from_arrays(customer_id=["a", "a", "a"], time=[2.0, 1.0, 5.0],
        ...     quantity=[2, 1, -1], price=[3.0, 4.0, 4.0], order_id=["o1", "o1", "C9"],
        ...     cancel_prefix="C")
        >>> lines.amount.tolist(), lines.time.tolist(), lines.intake.orders_grouped
        ([10.0, -4.0], [1.0, 5.0], 1)
        """
        voice = PLAIN
        _check_options(id_type, ("keep", "str", "int"), missing_customer, timezone, voice)
        _check_prefix(cancel_prefix, order_id is not None, Voice({"order_col": "order_id"}))
        ids = as_id_array(customer_id)
        if len(ids) == 0:
            raise EmptyInputError("the log is empty: customer_id has no rows")
        n = len(ids)
        columns = {"time": time, "amount": amount, "quantity": quantity, "price": price}
        columns |= {"order_id": order_id}
        for name, col in columns.items():
            if col is not None and not hasattr(col, "__len__"):
                raise InvalidTypeError(
                    f"{name} must be a sequence (a list, array or column), got {type(col).__name__}"
                )
        lengths = {"customer_id": ids, **{k: c for k, c in columns.items() if c is not None}}
        v.check_same_length(**lengths)
        codes, labels, gone = normalize_ids(
            ids, "customer_id", id_type=id_type, missing=missing_customer, voice=voice
        )
        times = parse_times(time, "time", date_format=date_format, timezone=timezone)
        names = {"amount": "amount", "quantity": "quantity", "price": "price"}
        names |= {"arg_quantity": "quantity", "arg_price": "price"}
        money = _money(
            _floats(amount, "amount"), _floats(quantity, "quantity"), _floats(price, "price"),
            names, voice,
        )  # fmt: skip
        optional = {
            "volume": volume,
            "unit_price": unit_price,
            "product_cost": product_cost,
            "service_cost": service_cost,
            "marketing_cost": marketing_cost,
            "transaction_cost": transaction_cost,
            "indirect_benefit": indirect_benefit,
        }
        cols = {k: _optional_column(c, k, n, voice) for k, c in optional.items()}
        orders = None if order_id is None else _order_codes(order_id, "order_id", voice)
        return _finish(
            cls,
            codes=codes,
            labels=labels,
            gone=gone,
            times=times,
            amount=money,
            optional=cols,
            orders=orders,
            cancel_prefix=cancel_prefix,
            voice=voice,
            report=False,
        )

    @classmethod
    def from_records(
        cls,
        records: Iterable[Transaction | Mapping[str, Any]],
        *,
        missing_customer: Literal["error", "skip"] = "error",
    ) -> TransactionLog:
        """Build a log from :class:`Transaction` values or mappings with the same keys.

        A field that is ``None`` in every record becomes a missing column
        (``amount`` included: a log without money); a field given for some
        records but not others is an error, since a column cannot be partly
        missing. Ids go through the same rules as :meth:`from_arrays`.

        Examples
        --------
        >>> from custrel import Transaction
        >>> log = TransactionLog.from_records([Transaction("a", 1.0, 9.5), {"customer_id": "b", "time": 2.0, "amount": 3}])
        >>> log.amount.tolist()
        [9.5, 3.0]
        """
        choice(missing_customer, "missing_customer", _MISSING_POLICIES)
        if isinstance(records, str | bytes | Mapping | Transaction):
            raise InvalidTypeError(
                f"records must be an iterable of Transaction values or mappings, got "
                f"{type(records).__name__}"
            )
        fields = ("customer_id", "time", "amount", *OPTIONAL_FIELDS)
        columns: dict[str, list[Any]] = {f: [] for f in fields}
        try:
            iterator = iter(records)
        except TypeError:
            raise InvalidTypeError(
                f"records must be an iterable of Transaction values or mappings, got "
                f"{type(records).__name__}"
            ) from None
        for row, rec in enumerate(iterator):
            get = (
                rec.get if isinstance(rec, Mapping) else (lambda k, d=None, r=rec: getattr(r, k, d))
            )
            if isinstance(rec, Mapping):
                unknown = set(rec) - set(fields)
                if unknown:
                    raise InvalidInputError(
                        f"record at row {row} has unknown field(s) {sorted(unknown, key=str)!r}; "
                        f"known fields are {fields!r}"
                    )
            elif not isinstance(rec, Transaction):
                raise InvalidTypeError(
                    f"records must be Transaction values or mappings, got "
                    f"{type(rec).__name__} at row {row}"
                )
            if get("time") is None:
                raise InvalidInputError(f"record at row {row} is missing 'time'")
            if isinstance(rec, Mapping) and "customer_id" not in rec:
                raise InvalidInputError(f"record at row {row} is missing 'customer_id'")
            for f in fields:
                columns[f].append(get(f))
        if not columns["customer_id"]:
            raise EmptyInputError("the log is empty: no records were given")
        optional: dict[str, Any] = {}
        for f in ("amount", *OPTIONAL_FIELDS):
            col = columns[f]
            present = [x is not None for x in col]
            if all(present):
                optional[f] = col
            elif any(present):
                row = present.index(False)
                if f == "amount":
                    raise InvalidInputError(
                        f"record at row {row} is missing 'amount'; give an amount for every "
                        "record or for none (a log without money)"
                    )
                raise InvalidInputError(
                    f"{f} is given for some records but missing at row {row}; "
                    "give it for every record or for none"
                )
        times = np.empty(len(columns["time"]), dtype=object)
        times[:] = columns["time"]
        return cls.from_arrays(
            customer_id=columns["customer_id"],
            time=times,
            missing_customer=missing_customer,
            **optional,
        )

    @classmethod
    def from_csv(
        cls,
        path: str | os.PathLike[str] | Path,
        *,
        customer_col: str = "customer_id",
        time_col: str = "time",
        amount_col: str | None = "amount",
        columns: Mapping[str, str] | None = None,
        date_format: str | None = None,
        delimiter: str = ",",
        engine: Literal["auto", "python", "pyarrow", "polars"] = "auto",
        id_type: Literal["auto", "str", "int"] = "auto",
        encoding: str = "utf-8",
        decimal: str = ".",
        thousands: str | None = None,
        order_col: str | None = None,
        quantity_col: str | None = None,
        price_col: str | None = None,
        cancel_prefix: str | None = None,
        cancel_col: str | None = None,
        missing_customer: Literal["error", "skip"] = "error",
        timezone: Literal["local", "utc"] = "local",
        vocabulary: Mapping[str, str] | None = None,
    ) -> TransactionLog:
        r"""Read a log from a delimited text file with a header row.

        Parameters
        ----------
        path : path-like
            The file.
        customer_col, time_col : str
            Header names of the customer id and time columns.
        amount_col : str or None
            Header name of the amount column; ``None`` reads a log without
            money (:attr:`has_amount` False). Not read when ``quantity_col``
            and ``price_col`` are given (leave it at its default then).
        columns : mapping, optional
            Optional columns: custrel field name (``"volume"``,
            ``"product_cost"``, ...) to header name.
        date_format : str, optional
            :func:`~datetime.datetime.strptime` format of the dates when they
            are not ISO 8601. Without it, a time column of plain numbers makes
            a numeric log.
        delimiter : str
            Field separator (one character). When the header reads as one
            column that contains ``;``, a tab or ``|``, the message says so.
        engine : {"auto", "python", "pyarrow", "polars"}
            ``"python"`` uses the standard library and always works;
            ``"auto"`` takes pyarrow or polars when installed (faster on large
            files). Every engine gives the same log and the same message: the
            engines only split the text into fields, custrel types the values
            the same way for all of them, and a fast engine hands anything
            unusual (ragged rows, blank lines, a bad value) to the standard
            library engine.
        id_type : {"auto", "str", "int"}
            ``"auto"`` reads customer ids as integers when every id is an
            integer written plainly (``17``, not ``017``), else as text;
            ``"str"`` always keeps the text; ``"int"`` requires integers (and
            merges ``007`` with ``7``).
        encoding : str
            The file's text encoding; the default reads UTF-8 with or without
            a byte-order mark. A file that does not decode is refused in one
            message naming the byte offset and line and suggesting
            ``encoding`` (``"cp1252"`` or ``"latin-1"`` for many Windows
            exports, ``"utf-16"``); a binary file (one with NUL bytes, such as
            a spreadsheet) is refused too.
        decimal, thousands : str
            The decimal mark (``"."`` by default) and the thousands separator
            (none by default) of every numeric column: ``decimal=","`` and
            ``thousands="."`` read European exports such as ``22,6`` and
            ``1.191,50`` (with ``delimiter=";"``). A value that does not fit
            the stated form (``22.6`` or ``1.19,5`` there) is refused rather
            than guessed.
        order_col : str, optional
            Header name of the order (invoice) id. The lines of one order of
            one customer become one row at intake: amounts, volumes, costs and
            indirect benefit summed, the earliest line's time, the unit price
            weighted by volume. :attr:`intake` counts the lines merged away.
        quantity_col, price_col : str, optional
            Header names of the quantity and unit price: give both to compute
            the amount as quantity x price (negative quantities are returns).
        cancel_prefix : str, optional
            With ``order_col``: orders whose id starts with this text are
            cancellations (``"C"`` in the Online Retail data set), their amount
            made negative if it is not already.
        cancel_col : str, optional
            Header name of a flag column that marks cancellations or returns
            (exports that keep amounts positive and flag the row instead).
            ``1``, ``true``, ``yes``, ``y``, ``t`` and ``x`` (any case) mark a
            cancellation, whose amount is made negative if it is not already;
            ``0``, ``false``, ``no``, ``n``, ``f`` and an empty field do not;
            any other value is an error naming its line.
        missing_customer : {"error", "skip"}
            A row with an empty customer id is an error naming its line
            (``"error"``), or is left out and counted, with its amount, in
            :attr:`intake` (``"skip"``; guest checkouts in Online Retail).
        timezone : {"local", "utc"}
            For times with a UTC offset (``2024-03-01T23:30:00+01:00``):
            ``"local"`` keeps the local wall-clock time (the offset is
            dropped, so each purchase stays on its local calendar day);
            ``"utc"`` converts to UTC.
        vocabulary : mapping, optional
            Argument name to the word messages should use for it, for a
            program that wraps this function (the command line passes
            ``{"date_format": "--date-format", ...}``): then a message says
            ``pass --date-format '%Y%m%d'`` instead of
            ``pass date_format='%Y%m%d'``.

        Returns
        -------
        TransactionLog
            With :attr:`intake` set.

        Raises
        ------
        EmptyInputError
            If the file is empty or has a header and no rows.
        InvalidInputError
            If a named column is missing, the file does not decode or is
            binary, or a value is bad. Positions are the file's lines, the
            header being line 1 (``line 18``).

        Examples
        --------
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "retail.csv")
        >>> with open(path, "w") as fh:
        ...     _ = fh.write("InvoiceNo;Quantity;InvoiceDate;UnitPrice;CustomerID\n"
        ...                  "536365;6;2010-12-01T08:26;2,55;17850\n"
        ...                  "536365;2;2010-12-01T08:26;1.191,50;17850\n"
        ...                  "C536379;-1;2010-12-01T09:41;2,55;17850\n"
        ...                  "536370;3;2010-12-01T08:45;3,75;\n")
        >>> log = TransactionLog.from_csv(path, customer_col="CustomerID", time_col="InvoiceDate",
        ...     order_col="InvoiceNo", quantity_col="Quantity", price_col="UnitPrice",
        ...     cancel_prefix="C", missing_customer="skip", delimiter=";", decimal=",",
        ...     thousands=".")
        >>> log.amount.tolist(), log.is_purchase.tolist()
        ([2398.3, -2.55], [True, False])
        >>> log.intake
        IntakeSummary(rows_read=4, orders_grouped=1, skipped_missing_customer=1, skipped_amount=11.25)
        """
        voice = Voice(vocabulary)
        choice(engine, "engine", ("auto", "python", "pyarrow", "polars"), voice)
        _check_options(id_type, ("auto", "str", "int"), missing_customer, timezone, voice)
        _check_separators(delimiter, decimal, thousands, voice)
        if (quantity_col is None) != (price_col is None):
            given = "quantity_col" if quantity_col is not None else "price_col"
            other = "price_col" if given == "quantity_col" else "quantity_col"
            raise InvalidInputError(
                f"{voice.arg(given)} computes the amount together with {voice.arg(other)}; "
                "give both (or neither)"
            )
        if quantity_col is not None:
            if amount_col not in (None, "amount"):
                raise InvalidInputError(
                    f"give {voice.arg('amount_col')} or {voice.arg('quantity_col')} and "
                    f"{voice.arg('price_col')}, not both"
                )
            amount_col = None
        extra = dict(columns or {})
        for key in extra:
            if key not in OPTIONAL_FIELDS:
                raise InvalidInputError(
                    f"columns has an unknown field {key!r}; known fields are {OPTIONAL_FIELDS!r}"
                )
        wanted = {"customer_col": customer_col, "time_col": time_col}
        named = {"amount_col": amount_col, "quantity_col": quantity_col, "price_col": price_col}
        named |= {"order_col": order_col, "cancel_col": cancel_col}
        wanted |= {k: c for k, c in named.items() if c is not None}
        wanted |= {f"columns[{k!r}]": c for k, c in extra.items()}
        for arg, col in wanted.items():
            if not isinstance(col, str) or not col:
                raise InvalidInputError(f"{voice.arg(arg)} must be a column name, got {col!r}")
        if len(set(wanted.values())) != len(wanted):
            raise InvalidInputError(f"each field needs its own column, got {wanted!r}")
        _check_prefix(cancel_prefix, order_col is not None, voice)
        p = _csv.file_path(path, voice)
        codec = _csv.text_encoding(encoding, voice)
        _csv.check_text(p, codec, voice)
        header = _csv.read_header(p, codec, delimiter)
        _csv.check_header(p, header, wanted, delimiter, voice)
        chosen = _csv.pick_engine(engine)
        plan = _CsvPlan(
            path=p,
            codec=codec,
            delimiter=delimiter,
            wanted=wanted,
            extra=extra,
            date_format=date_format,
            id_type=id_type,
            decimal=decimal,
            thousands=thousands,
            cancel_prefix=cancel_prefix,
            missing_customer=missing_customer,
            timezone=timezone,
            voice=voice,
            last=header[-1] if header.count(header[-1]) == 1 else None,
        )
        if chosen != "python":
            try:
                return _read_log(cls, plan, chosen)
            except Exception:  # any surprise of a fast engine, its own errors included:
                pass  # the standard-library engine decides, with its message
        try:
            return _read_log(cls, plan, "python")
        except _csv.EngineFallback:  # pragma: no cover - the python engine never falls back
            raise InvalidInputError(f"{p!r} cannot be read as CSV") from None

    @classmethod
    def from_frame(
        cls,
        df: Any,
        *,
        customer_col: str = "customer_id",
        time_col: str = "time",
        amount_col: str | None = "amount",
        columns: Mapping[str, str] | None = None,
        date_format: str | None = None,
        quantity_col: str | None = None,
        price_col: str | None = None,
        order_col: str | None = None,
        cancel_prefix: str | None = None,
        id_type: Literal["keep", "str", "int"] = "keep",
        missing_customer: Literal["error", "skip"] = "error",
        timezone: Literal["local", "utc"] = "local",
        vocabulary: Mapping[str, str] | None = None,
    ) -> TransactionLog:
        """Build a log from any dataframe narwhals understands (``frames`` extra).

        pandas, polars (eager or lazy), pyarrow tables, dask, duckdb and
        others. The caller's frame is only read. Date and datetime columns
        become calendar times (whole seconds); time-zone-aware columns keep
        their local wall-clock time (``timezone="local"``) or are converted
        to UTC (``timezone="utc"``). Text columns are parsed as in
        :meth:`from_arrays`; the options mean what they mean in
        :meth:`from_csv` (``amount_col=None`` for a log without money), and
        positions are 0-based rows.

        Raises
        ------
        MissingDependencyError
            If narwhals is not installed.
        InvalidTypeError
            If ``df`` is not a dataframe.
        InvalidInputError
            If a named column is missing or appears twice, or a value is bad.

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"customer_id": ["a", None], "time": ["2024-01-01", "2024-01-02"],
        ...                    "amount": [3.0, 4.0]})
        >>> TransactionLog.from_frame(df, missing_customer="skip").intake.skipped_amount
        4.0
        """
        voice = Voice(vocabulary)
        _check_options(id_type, ("keep", "str", "int"), missing_customer, timezone, voice)
        _check_prefix(cancel_prefix, order_col is not None, voice)
        named_cols = {"customer_col": customer_col, "time_col": time_col, "amount_col": amount_col}
        named_cols |= {"quantity_col": quantity_col, "price_col": price_col, "order_col": order_col}
        named_cols |= {f"columns[{k!r}]": c for k, c in dict(columns or {}).items()}
        for arg, col in named_cols.items():
            if col is not None and not isinstance(col, str):
                raise InvalidTypeError(
                    f"{voice.arg(arg)} must be a column name (a string), got {type(col).__name__}"
                )
        nw = _narwhals()
        native_cols = getattr(df, "column_names", None)  # pyarrow
        if native_cols is None and type(df).__module__.startswith("pandas"):
            native_cols = df.columns  # pandas allows duplicate names; polars and others do not
        if native_cols is not None and not callable(native_cols):
            try:
                listed = list(native_cols)
            except TypeError:  # pragma: no cover - columns that do not list
                listed = []
            dupes = sorted({str(c) for c in listed if listed.count(c) > 1})
            if dupes:
                raise InvalidInputError(
                    f"the frame has duplicate column names {dupes!r}; rename them so that each "
                    "is unique"
                )
        try:
            frame = nw.from_native(df)
        except TypeError:
            raise InvalidTypeError(
                f"df must be a dataframe (pandas, polars, pyarrow, ...), got {type(df).__name__}"
            ) from None
        if not hasattr(frame, "columns") or hasattr(frame, "name"):
            raise InvalidTypeError(f"df must be a dataframe, got {type(df).__name__}")
        if hasattr(frame, "collect"):
            frame = frame.collect()
        if (quantity_col is None) != (price_col is None):
            raise InvalidInputError(
                f"{voice.arg('quantity_col')} and {voice.arg('price_col')} compute the amount "
                "together; give both (or neither)"
            )
        if quantity_col is not None:
            amount_col = None
        extra = dict(columns or {})
        wanted = {"customer_id": customer_col, "time": time_col}
        named = {"amount": amount_col, "quantity": quantity_col, "price": price_col}
        wanted |= {k: c for k, c in (named | {"order_id": order_col}).items() if c is not None}
        wanted |= extra
        present = list(frame.columns)
        for field, col in wanted.items():
            if col not in present:
                raise InvalidInputError(
                    f"{field} column {col!r} is not in the frame; its columns are {present!r}"
                )
        data: dict[str, Any] = {}
        for field, col in wanted.items():
            series = frame[col]
            if field == "time":
                series = _naive_times(nw, series, timezone)
            nulls = series.null_count() > 0
            if field == "customer_id":
                data[field] = _frame_ids(series, nulls)
                continue
            if nulls:
                mask = series.is_null().to_numpy()
                row = int(np.flatnonzero(mask)[0])
                raise InvalidInputError(f"column {col!r} is missing a value at row {row}")
            data[field] = series.to_numpy()
        t = data.pop("time")
        if t.dtype.kind == "O" and all(isinstance(x, str) for x in t.tolist()):
            times = _parse_time_texts(t.tolist(), date_format, timezone, "time", voice)
        else:
            times = parse_times(t, "time", date_format=date_format, timezone=timezone, voice=voice)
        ids = data.pop("customer_id")
        order = data.pop("order_id", None)
        return cls.from_arrays(
            customer_id=ids,
            time=times,
            order_id=order,
            cancel_prefix=cancel_prefix,
            id_type=id_type,
            missing_customer=missing_customer,
            **data,
        )

    @classmethod
    def concat(cls, logs: Sequence[TransactionLog]) -> TransactionLog:
        """Join several logs (of the same time kind) row-wise.

        Optional columns are kept when every log has them; their
        :attr:`intake` counts add up. Ids go through the same rules as
        :meth:`from_arrays`: logs with integer and text ids cannot be joined
        (read them with one ``id_type``).

        Raises
        ------
        InvalidTypeError
            If ``logs`` is not a sequence of :class:`TransactionLog` values.
        InvalidInputError
            If the logs mix calendar and numeric times, integer and text ids,
            or logs with and without amounts.
        """
        if isinstance(logs, TransactionLog | str | bytes) or not isinstance(logs, Iterable):
            raise InvalidTypeError(
                f"logs must be a sequence of TransactionLog values, got {type(logs).__name__}"
            )
        logs = list(logs)
        for i, log in enumerate(logs):
            if not isinstance(log, TransactionLog):
                raise InvalidTypeError(
                    f"logs must hold TransactionLog values, got {type(log).__name__} at "
                    f"position {i}"
                )
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
        if len({log.has_amount for log in logs}) > 1:
            raise InvalidInputError(
                "logs mix logs with and without amounts; build them all with or all without"
            )
        parts = [log.customer_labels[log.customer_code] for log in logs]
        if len({p.dtype.kind for p in parts}) > 1:
            parts = [p.astype(object) for p in parts]
        ids = np.concatenate(parts)
        optional = {
            f: np.concatenate([getattr(log, f) for log in logs])
            for f in OPTIONAL_FIELDS
            if all(getattr(log, f) is not None for log in logs)
        }
        codes, labels, _ = normalize_ids(ids)
        amount = np.concatenate([log.amount for log in logs]) if logs[0].has_amount else None
        return cls(
            codes,
            labels,
            np.concatenate([log.time for log in logs]),
            amount,
            **optional,
            intake=_add_intakes([log.intake for log in logs]),
        )

    # -- basic properties ---------------------------------------------------

    @property
    def n_rows(self) -> int:
        """Number of transactions."""
        return len(self.customer_code)

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
            and self.has_amount == other.has_amount
            and (not self.has_amount or np.array_equal(self.amount, other.amount))
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
        """Return the columns as a dict of (writable copies of) numpy arrays.

        ``amount`` is left out for a log without money.
        """
        out: dict[str, npt.NDArray[Any]] = {
            "customer_id": self.customer_labels[self.customer_code],
            "time": self.time.copy(),
        }
        if self._amount is not None:
            out["amount"] = self._amount.copy()
        for f in self.optional_columns:
            out[f] = getattr(self, f).copy()
        return out

    def to_records(self) -> list[Transaction]:
        """Return one :class:`Transaction` per row, in row order."""
        cols = self.to_arrays()
        times = cols["time"].tolist() if self.time_kind == "numeric" else list(cols["time"])
        names = list(cols)
        lists = [times if k == "time" else cols[k].tolist() for k in names]
        base = {} if self.has_amount else {"amount": None}
        return [
            Transaction(**base, **dict(zip(names, row, strict=True)))
            for row in zip(*lists, strict=True)
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
        money = [amount_col] if self.has_amount else []
        header = [customer_col, time_col, *money, *self.optional_columns]
        if self.time_kind == "datetime":
            whole_days = not bool(np.any(self.time.astype(np.int64) % int(_SECONDS_PER_DAY)))
            times: list[Any] = np.datetime_as_string(
                self.time, unit="D" if whole_days else "s"
            ).tolist()
        else:
            times = cols["time"].tolist()
        lists = [cols["customer_id"].tolist(), times]
        lists += [cols["amount"].tolist()] if self.has_amount else []
        lists += [cols[f].tolist() for f in self.optional_columns]
        with open(os.fspath(path), "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(zip(*lists, strict=True))

    def to_frame(self, backend: Literal["pandas", "polars", "pyarrow"] = "pandas") -> Any:
        """Return the log as a dataframe of ``backend`` (needs that library)."""
        return native_frame(self.to_arrays(), backend)

    # -- row selection ------------------------------------------------------

    def take(self, rows: Any) -> TransactionLog:
        """Return a new log of the selected rows (a boolean mask or indices).

        Customers left without rows disappear from :attr:`customer_labels`.
        """
        if isinstance(rows, str | bytes) or np.ndim(rows) != 1:
            raise InvalidInputError(
                f"rows must be a 1-D boolean mask or a list of integer indices, got {rows!r:.60}"
            )
        idx = np.asarray(rows)
        if idx.dtype == bool:
            if idx.shape != (self.n_rows,):
                raise InvalidInputError(
                    f"rows mask has shape {idx.shape}, expected ({self.n_rows},)"
                )
        elif len(idx) == 0:
            raise EmptyInputError("the selection leaves no rows")
        elif idx.dtype.kind not in "iu":
            raise InvalidTypeError(
                f"rows must be a boolean mask or integer indices, got {idx.dtype}"
            )
        else:
            out = (idx >= self.n_rows) | (idx < -self.n_rows)
            if out.any():
                bad = int(idx[np.flatnonzero(out)[0]])
                raise InvalidInputError(
                    f"rows has the index {bad}, outside the log's {self.n_rows} rows"
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
            None if self._amount is None else self._amount[idx],
            **optional,
            intake=self.intake,
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
        _check_unit_type(unit, "unit")
        t = self.numeric_time()
        origin = float(t.min()) if since is None else self.to_time_float(since, "since")
        with np.errstate(over="ignore", invalid="ignore"):
            out: FloatArray = (t - origin) / self.unit_length(unit)
        _check_span(out, unit, "unit")
        return out

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
        _check_unit_type(freq, "freq")
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
        with np.errstate(over="ignore", invalid="ignore"):
            ratio = np.floor((t - origin_f) / self.unit_length(freq, "freq"))
        _check_span(ratio, freq, "freq")
        idx: IntArray = ratio.astype(np.int64)
        return idx

    # -- values of domain notes §2.1 --------------------------------------------

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
        """P = TV − (C1 + C2 + C3 + C4) + IB per row (domain notes §2.1)."""
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
        threads: int | None = None,
    ) -> CustomerSummary:
        """Per-customer first and last purchase, counts and amounts (returns rule).

        Purchases are the rows with amount >= 0 (every row of a log without
        money); a negative amount is a return or cancellation. Returns count
        toward :attr:`CustomerSummary.total_amount` (net revenue) and
        :attr:`CustomerSummary.n_returns`, never toward ``n_purchases``,
        ``n_periods``, ``first`` or ``last``. A customer with only returns in
        the window is left out of the summary and counted in
        :attr:`CustomerSummary.n_return_only_customers` (their net amount in
        :attr:`CustomerSummary.return_only_amount`).

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
        threads : int, optional
            How many cores to use (threads, or worker processes on
            Linux). By default the environment variable
            ``CUSTREL_THREADS`` (an integer >= 1), else every core this
            process may use; 1 runs on one thread. Logs under 200,000 rows
            always run on one thread. The result does not depend on it.

        Returns
        -------
        CustomerSummary
            One row per customer with a purchase in the window, in the order
            of :attr:`customer_labels`.

        Raises
        ------
        InvalidInputError
            If ``observation_end`` is before the first row of the log,
            ``period`` is not a valid period for the log's kind of time, or a
            customer's amounts (or profits) sum beyond the largest float
            (about 1.8e308); the message names the customer; or if
            ``threads`` is below 1 or ``CUSTREL_THREADS`` is not an integer
            >= 1.
        InvalidTypeError
            If ``threads`` is not an integer.

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

        With several threads, each worker reduces the rows of one contiguous
        range of customers (ranges of about equal rows), taken in row order,
        into its slice of the per-customer results: every customer's sum
        adds the same values in the same order as on one thread, so the
        summary is identical to the single-threaded one, to the last bit.
        On Linux, from 4 workers and 4,000,000 rows, the workers are
        processes forked from this one (they read the columns
        copy-on-write and write their slices into shared memory, copied out
        before returning: ``bincount`` and ``ufunc.at`` hold the GIL, so
        threads gain little on them); otherwise threads (on 2 cores
        processes were no faster: their page faults and the copy out cost
        what they gained). The selected rows add one copy of the columns,
        split among the workers.

        Examples
        --------
        >>> log = TransactionLog.from_arrays(customer_id=[1, 1, 1, 2],
        ...     time=["2024-01-01T09:00", "2024-01-01T17:00", "2024-01-03", "2024-01-02"],
        ...     amount=[10.0, 5.0, -2.0, 7.0])
        >>> s = log.summarize()
        >>> s.n_purchases.tolist(), s.n_returns.tolist(), s.total_amount.tolist()
        ([2, 1], [1, 0], [13.0, 7.0])
        >>> s.first[0], s.last[0]
        (np.datetime64('2024-01-01T09:00:00'), np.datetime64('2024-01-01T17:00:00'))
        >>> s2 = log.summarize(observation_end="2024-01-02")
        >>> s2.n_purchases.tolist(), s2.n_rows_after_end
        ([2, 1], 1)
        """
        datetime_kind = self.time_kind == "datetime"
        if period is None:
            period = "day" if datetime_kind else 1.0
        _check_period(period, self.time_kind)
        n_threads = _parallel.resolve_threads(threads)
        codes = self.customer_code
        amount = self._amount
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
                t, codes = t[keep], codes[keep]
                amount = None if amount is None else amount[keep]
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
            threads=n_threads,
        )

    def _format_time(self, value: float) -> str:
        if self.time_kind == "datetime":
            return str(np.datetime64(int(value), "s"))
        return repr(value)


@attrs.frozen(eq=False)
class CustomerSummary(Tabular):
    """Per-customer summary of a :class:`TransactionLog` over an observation window.

    Rows are the customers with at least one purchase in the window, in the
    order of their (sorted) ids. The returns rule holds: a row with a negative
    amount is a return or cancellation, which counts toward the customer's net
    value and :attr:`n_returns`, never toward :attr:`n_purchases`,
    :attr:`n_periods`, :attr:`first` or :attr:`last`. A customer who buys
    once and returns it has 1 purchase and a total of 0.

    Attributes
    ----------
    customer_id : numpy.ndarray
        The customer ids.
    first, last : numpy.ndarray
        First and last purchase time (``datetime64[s]`` or float, as the log).
    n_purchases : numpy.ndarray of int64
        Number of purchase rows (amount >= 0) in the window.
    n_periods : numpy.ndarray of int64
        Number of distinct periods (by default days) with a purchase.
    total_amount, mean_amount : numpy.ndarray of float64 or None
        Net amount (purchases minus returns) and net amount per purchase;
        ``None`` for a log without amounts.
    observation_end : datetime64 or float
        The window's end.
    period : str or float
        The period of :attr:`n_periods`.
    n_rows_after_end : int
        Rows of the log after ``observation_end`` that the window left out.
    total_profit : numpy.ndarray of float64 or None
        Sum of the per-transaction profit P = V·p − (C1 + C2 + C3 + C4) + IB
        (domain notes §2.1, :meth:`TransactionLog.profit`) when the log carries
        cost, indirect-benefit or volume-and-price columns; ``None`` otherwise
        (the profit would just repeat :attr:`total_amount`). Returns included.
    n_returns : numpy.ndarray of int64 or None
        Number of return rows (amount < 0) netted into each customer's value
        (``None`` only when built by hand without it).
    n_return_only_customers : int
        Customers whose rows in the window are all returns: left out of the
        summary (they made no purchase there).
    return_only_amount : float
        The net amount of those customers (0.0 when there are none).
    """

    customer_id: npt.NDArray[Any] = attrs.field(converter=v.readonly)
    first: npt.NDArray[Any] = attrs.field(converter=v.readonly)
    last: npt.NDArray[Any] = attrs.field(converter=v.readonly)
    n_purchases: IntArray = attrs.field(converter=v.readonly)
    n_periods: IntArray = attrs.field(converter=v.readonly)
    total_amount: FloatArray | None = attrs.field(converter=v.readonly_or_none)
    mean_amount: FloatArray | None = attrs.field(converter=v.readonly_or_none)
    observation_end: Any
    period: str | float = "day"
    n_rows_after_end: int = 0
    total_profit: FloatArray | None = attrs.field(default=None, converter=v.readonly_or_none)
    n_returns: IntArray | None = attrs.field(default=None, converter=v.readonly_or_none)
    n_return_only_customers: int = 0
    return_only_amount: float = 0.0

    def __len__(self) -> int:
        return len(self.customer_id)

    @property
    def n_customers(self) -> int:
        """Number of customers in the summary."""
        return len(self.customer_id)

    @property
    def has_amount(self) -> bool:
        """Whether the summary carries money (its log had amounts)."""
        return self.total_amount is not None

    def totals(self) -> dict[str, float]:
        """Whole-base totals: customers, purchases, returns, amount, means.

        The amounts are ``nan`` for a log without amounts.
        """
        n = self.n_customers
        total = float("nan") if self.total_amount is None else float(self.total_amount.sum())
        purchases = int(self.n_purchases.sum())
        returns = 0 if self.n_returns is None else int(self.n_returns.sum())
        return {
            "customers": float(n),
            "purchases": float(purchases),
            "returns": float(returns),
            "total_amount": total,
            "amount_per_customer": total / n if n else float("nan"),
            "amount_per_purchase": total / purchases if purchases else float("nan"),
        }

    def to_arrays(self) -> dict[str, npt.NDArray[Any]]:
        """The columns as a dict of numpy arrays (copies); optional ones when present."""
        out: dict[str, npt.NDArray[Any]] = {
            "customer_id": self.customer_id.copy(),
            "first": self.first.copy(),
            "last": self.last.copy(),
            "n_purchases": self.n_purchases.copy(),
            "n_periods": self.n_periods.copy(),
        }
        if self.n_returns is not None:
            out["n_returns"] = self.n_returns.copy()
        if self.total_amount is not None and self.mean_amount is not None:
            out["total_amount"] = self.total_amount.copy()
            out["mean_amount"] = self.mean_amount.copy()
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
    first_last: tuple[npt.NDArray[Any], npt.NDArray[Any]] | None = None,
    exclude: npt.NDArray[np.bool_] | None = None,
) -> tuple[IntArray, bool]:
    """Per customer, the number of distinct periods with a row; and whether it filled ``first_last``.

    One in-place sort of the composite key ``code * span + period``, built
    chunk by chunk into a single uint32 (or int64) array; the number of key
    changes inside each customer's block of the sorted key is its count.
    ``counts`` are the rows per customer, those ``exclude``-d (returns) left
    out: their keys are set past every customer's, so they sort to the end,
    beyond the blocks, and are cut off.

    With ``first_last`` (the first and last time per customer, to be
    lowered and raised in place), the sorted key also gives each customer's
    first and last period, so ``minimum.at`` / ``maximum.at`` (which hold the
    GIL) run only on the rows in those periods, found with a copy of the
    unsorted key (GIL-free comparisons). Not done on the lexsort fallback.
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
    unsorted = key = None
    if key_range >= 2**62:  # very fine periods: sort (customer, period) pairs instead
        if exclude is not None:  # rare: the rows kept are taken apart
            keep = ~exclude
            codes, t, exclude = codes[keep], t[keep], None
            n = len(codes)
        per = _absolute_periods(t, kind, period)
        order = np.lexsort((per, codes))
        sorted_codes, sorted_per = codes[order], per[order]
        flags = np.empty(n, dtype=bool)
        flags[0] = True
        flags[1:] = (sorted_codes[1:] != sorted_codes[:-1]) | (sorted_per[1:] != sorted_per[:-1])
    else:
        key_dtype = np.uint32 if key_range < 2**32 else np.int64
        key = np.empty(n, dtype=key_dtype)
        # excluded rows' keys are overwritten below: where their times lie outside the
        # others' periods, their out-of-range arithmetic is of no account
        with np.errstate(all="ignore") if exclude is not None else contextlib.nullcontext():
            for i in range(0, n, _CHUNK):
                j = min(i + _CHUNK, n)
                part = _absolute_periods(t[i:j], kind, period)
                part -= lo
                part += codes[i:j] * span
                key[i:j] = part
        del part
        if exclude is not None:
            np.putmask(key, exclude, key_range)  # past every customer's keys
        if first_last is not None:
            unsorted = key.copy()
        key.sort()
        if exclude is not None:
            key = key[: int(counts.sum())]  # the excluded rows, sorted last, cut off
            n = len(key)
        flags = np.empty(n, dtype=bool)
        flags[0] = True
        np.not_equal(key[1:], key[:-1], out=flags[1:])
    present = counts > 0
    block_counts = counts[present]
    starts = np.cumsum(block_counts) - block_counts
    out = np.zeros(k, dtype=np.int64)
    out[present] = np.add.reduceat(flags.view(np.uint8), starts, dtype=np.int64)
    del flags
    if first_last is None or unsorted is None or key is None:
        return out, False
    # a customer's first (last) time lies in its first (last) period: the first (last)
    # key of its block; only the rows holding that key can give the minimum (maximum)
    for target, at, op in (
        (first_last[0], starts, np.minimum),
        (first_last[1], starts + block_counts - 1, np.maximum),
    ):
        bound = np.zeros(k, dtype=key.dtype)
        bound[present] = key[at]
        rows = np.flatnonzero(unsorted == bound[codes])
        op.at(target, codes[rows], t[rows])
    return out, True


def _check_sums(sums: FloatArray, labels: npt.NDArray[Any], column: str) -> None:
    """Refuse a per-customer sum that overflowed to inf, naming the customer and the column."""
    bad = ~np.isfinite(sums)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        label = labels[i]
        label = label.item() if isinstance(label, np.generic) else label
        raise InvalidInputError(
            f"the {column} of customer {label!r} "
            "sums beyond the largest float (about 1.8e308); rescale the values (for example to "
            "thousands) before building the log"
        )


@attrs.define
class _Columns:
    """Per-customer reductions of one range of customer codes (length = the range's size)."""

    total: FloatArray | None
    total_profit: FloatArray | None
    returns: IntArray
    count: IntArray
    first: npt.NDArray[Any]
    last: npt.NDArray[Any]
    n_periods: IntArray


def _period_error(
    t: npt.NDArray[Any], amount: FloatArray | None, period: str | float, kind: TimeKind
) -> InvalidInputError | None:
    """The error :func:`_distinct_periods` would raise for these rows, found once for all ranges.

    Only a numeric period can number a time beyond 64 bits; the times that
    count are the purchases' (the first and last purchase bound the key).
    """
    if isinstance(period, str) or not len(t):
        return None
    scale = float(period) * (_SECONDS_PER_DAY if kind == "datetime" else 1.0)
    if max(abs(float(t.min())), abs(float(t.max()))) / scale < 2.0**62:
        return None  # no row, purchase or return, reaches the limit
    tb = t if amount is None else t[amount >= 0]
    if not len(tb):
        return None
    largest = max(abs(float(tb.min())), abs(float(tb.max())))
    if largest / scale < 2.0**62:
        return None
    return InvalidInputError(
        f"period must be longer: period {period!r} splits times up to {largest!r} "
        "into more periods than a 64-bit integer can number"
    )


def _reduce_rows(
    codes: IntArray,
    t: npt.NDArray[Any],
    amount: FloatArray | None,
    profit: FloatArray | None,
    k: int,
    *,
    time_kind: TimeKind,
    period: str | float,
    periods: bool,
    periods_first: bool = False,
    from_key: bool = False,
) -> _Columns:
    """Sums, counts, first/last purchase and distinct periods of customers ``0..k-1``.

    ``ufunc.at`` holds the GIL (and ``bincount`` while it checks its
    codes), the period sort does not: ``periods_first`` counts the
    distinct periods before them so that two threads overlap, and
    ``from_key`` takes first and last from the sorted period key, so that
    ``ufunc.at`` runs on a customer's first and last period only.
    """
    # the returns rule: returns count toward value only. They stay in place: the count is
    # every row's less the returns', and first / last and the periods skip them by mask
    returns = np.zeros(k, dtype=np.int64)
    returned: npt.NDArray[np.bool_] | None = None
    count = _numeric.bincount(codes, minlength=k)
    if amount is not None and _numeric.any_negative(amount):
        returned = amount < 0
        returns = _numeric.bincount(codes[returned], minlength=k)
        count -= returns
    n_periods = np.zeros(k, dtype=np.int64)
    if time_kind == "datetime":
        info = np.iinfo(np.int64)
        first: npt.NDArray[Any] = np.full(k, info.max, dtype=np.int64)
        last: npt.NDArray[Any] = np.full(k, info.min, dtype=np.int64)
    else:
        first = np.full(k, np.inf)
        last = np.full(k, -np.inf)
    filled = counted = False

    def key_step(fill: bool) -> None:
        nonlocal n_periods, filled, counted
        counted = True
        if periods and bool(count.any()):
            if returned is None:
                t_min, t_max = t.min(), t.max()
            else:  # the purchases' (a return's time never widens the periods)
                bought = ~returned
                top, bottom = (
                    (np.iinfo(t.dtype).max, np.iinfo(t.dtype).min)
                    if t.dtype.kind == "i"
                    else (np.inf, -np.inf)
                )
                t_min = t.min(where=bought, initial=top)
                t_max = t.max(where=bought, initial=bottom)
                del bought
            n_periods, filled = _distinct_periods(
                codes,
                t,
                count,
                kind=time_kind,
                period=period,
                t_min=t_min,
                t_max=t_max,
                first_last=(first, last) if fill else None,
                exclude=returned,
            )

    if periods_first:
        key_step(from_key)
    total: FloatArray | None = None
    if amount is not None:
        total = _numeric.bincount(codes, weights=amount, minlength=k).astype(np.float64, copy=False)
    total_profit: FloatArray | None = None
    if profit is not None:
        total_profit = _numeric.bincount(codes, weights=profit, minlength=k).astype(
            np.float64, copy=False
        )
    if from_key and not counted:
        key_step(True)
    if len(codes) and not filled:
        _numeric.group_min_max(codes, t, first, last, exclude=returned)
        present = count > 0
        if periods and not counted and present.any():
            n_periods, _ = _distinct_periods(
                codes,
                t,
                count,
                kind=time_kind,
                period=period,
                t_min=first[present].min(),
                t_max=last[present].max(),
                exclude=returned,
            )
    return _Columns(total, total_profit, returns, count, first, last, n_periods)


def _reduce_by_ranges(
    codes: IntArray,
    t: npt.NDArray[Any],
    amount: FloatArray | None,
    profit: FloatArray | None,
    k: int,
    *,
    time_kind: TimeKind,
    period: str | float,
    periods: bool,
    threads: int,
) -> _Columns:
    """:func:`_reduce_rows` on ``threads`` workers, one contiguous range of customer codes each.

    Each range takes its rows in input order (``flatnonzero`` + ``take``),
    so every customer's sums add the same values in the same order as on one
    thread: the result is identical to the last bit. On Linux the ranges run
    in forked worker processes that write into shared memory
    (:func:`custrel._parallel.run`), elsewhere on threads. Extra memory: the
    selected rows, one copy of the columns in all.
    """
    how = _parallel.plan(len(codes), threads, reduction="summarize")
    ranges, how = _parallel.split_codes(codes, k, how)
    if how.parts <= 1:
        return _reduce_rows(
            codes, t, amount, profit, k, time_kind=time_kind, period=period, periods=periods
        )
    time_dtype = np.int64 if time_kind == "datetime" else np.float64
    fields: dict[str, tuple[Any, int]] = {
        "returns": (np.int64, k),
        "count": (np.int64, k),
        "first": (time_dtype, k),
        "last": (time_dtype, k),
        "n_periods": (np.int64, k),
    }
    if amount is not None:
        fields["total"] = (np.float64, k)
    if profit is not None:
        fields["total_profit"] = (np.float64, k)
    out = _parallel.Outputs(fields, shared=how.processes)
    # first / last from the sorted period key only on many threads, where the GIL held by
    # ufunc.at is what limits (16 cores: 4 threads 1.43x -> 2.06x); on 2 threads and in
    # processes the key's copy and the two passes over it cost more than ufunc.at on the
    # range's rows (2 cores, 10M rows, 2 threads: 0.393-0.402 s with it, 0.353-0.358 s
    # without and every other range counting its periods first; 2 processes: 0.444 s with
    # it, 0.400 s without)
    from_key = not how.processes and how.workers >= _parallel.MIN_GIL_BOUND_THREADS

    def task(i: int) -> None:
        lo, hi = ranges[i]
        sub_codes, sub_t, sub_amount, sub_profit = _parallel.take_range(
            codes, lo, hi, k, t, amount, profit
        )
        got = _reduce_rows(
            sub_codes,
            sub_t,
            sub_amount,
            sub_profit,
            hi - lo,
            time_kind=time_kind,
            period=period,
            periods=periods,
            periods_first=i % 2 == 1,
            from_key=from_key,
        )
        for name in fields:
            out[name][lo:hi] = getattr(got, name)

    _parallel.run(task, how)
    got = out.release(threads=how.workers)
    return _Columns(
        total=got.get("total"),
        total_profit=got.get("total_profit"),
        returns=got["returns"],
        count=got["count"],
        first=got["first"],
        last=got["last"],
        n_periods=got["n_periods"],
    )


def _summarize_arrays(
    codes: IntArray,
    labels: npt.NDArray[Any],
    t: npt.NDArray[Any],
    amount: FloatArray | None,
    *,
    end: Any,
    time_kind: TimeKind,
    n_after: int,
    period: str | float,
    profit: FloatArray | None = None,
    threads: int = 1,
) -> CustomerSummary:
    k = len(labels)
    period_error = _period_error(t, amount, period, time_kind)
    with np.errstate(over="ignore", invalid="ignore"):
        cols = _reduce_by_ranges(
            codes,
            t,
            amount,
            profit,
            k,
            time_kind=time_kind,
            period=period,
            periods=period_error is None,
            threads=threads,
        )
        total, total_profit = cols.total, cols.total_profit
        if total is not None:
            _check_sums(total, labels, "amount")
        if total_profit is not None:
            _check_sums(
                total_profit, labels, "profit (volume x unit_price - costs + indirect_benefit)"
            )
    if period_error is not None:
        raise period_error
    count, returns, n_periods = cols.count, cols.returns, cols.n_periods
    first, last = cols.first, cols.last
    present = count > 0
    mean = None
    if total is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / count
    only_returns = ~present & (returns > 0)
    n_only = int(np.count_nonzero(only_returns))
    only_amount = 0.0 if total is None or not n_only else float(total[only_returns].sum())
    if not present.all():
        total_profit = None if total_profit is None else total_profit[present]
        labels = labels[present]
        count, n_periods, returns = count[present], n_periods[present], returns[present]
        first, last = first[present], last[present]
        if total is not None and mean is not None:
            total, mean = total[present], mean[present]
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
        n_returns=returns.astype(np.int64, copy=False),
        n_return_only_customers=n_only,
        return_only_amount=only_amount,
    )


# ---------------------------------------------------------------------------
# intake helpers shared by the builders
# ---------------------------------------------------------------------------


def _check_unit_type(unit: Any, name: str) -> None:
    """A period unit is a name or one real number, never an array or a series."""
    if isinstance(unit, str):
        return
    if isinstance(unit, bool | np.bool_) or not isinstance(
        unit, int | float | np.integer | np.floating
    ):
        raise InvalidTypeError(
            f"{name} must be a unit name ('day', 'week', ...) or a number, "
            f"got {type(unit).__name__}"
        )


def _check_span(values: FloatArray, unit: Any, name: str) -> None:
    """Refuse a unit so short that the log's span does not fit in numbers of it."""
    bad = ~np.isfinite(values) | (np.abs(values) >= 2.0**62)
    if bad.any():
        raise InvalidInputError(
            f"{name} must be longer: {name} {unit!r} splits the log's time span into more "
            "periods than a 64-bit integer can number"
        )


def _check_options(
    id_type: str, id_types: tuple[str, ...], missing: str, timezone: str, voice: Voice
) -> None:
    choice(id_type, "id_type", id_types, voice)
    choice(missing, "missing_customer", _MISSING_POLICIES, voice)
    choice(timezone, "timezone", _TIMEZONES, voice)


def _floats(value: Any, name: str) -> FloatArray | None:
    if value is None:
        return None
    return v.as_float_array(value, name, ndim=1, allow_empty=True, finite=False)


def _parse_time_texts(
    values: list[str] | npt.NDArray[Any],
    date_format: str | None,
    timezone: TimeZone,
    name: str,
    voice: Voice,
) -> npt.NDArray[Any]:
    """Time texts as times: plain numbers make numeric times unless a format is given."""
    from custrel.models._times import _as_time_array

    arr = values if isinstance(values, np.ndarray) and values.dtype.kind == "U" else None
    if arr is None:
        arr = _as_time_array(list(values))
    if arr.dtype.kind == "U":
        empty = np.char.str_len(np.char.strip(arr)) == 0
        first_empty = int(np.flatnonzero(empty)[0]) if empty.any() else -1
    else:
        first_empty = next((i for i, s in enumerate(arr.tolist()) if not str(s).strip()), -1)
    if first_empty >= 0:
        raise InvalidInputError(f"{name} is missing a value at {voice.at(first_empty)}")
    if date_format is None and arr.dtype.kind == "U":
        try:
            numbers = arr.astype(np.float64)
        except (ValueError, OverflowError):
            pass
        else:
            return parse_times(numbers, name, voice=voice)
    return parse_times(arr, name, date_format=date_format, timezone=timezone, voice=voice)


def _auto_ints(values: npt.NDArray[Any]) -> Any:
    """Text ids as integers when every one is an integer written plainly, else the texts.

    Empty (missing) ids stay empty strings, for the missing-id policy to judge.
    """
    if not len(values):
        return values
    if values.dtype.kind == "U" and not bool(np.any(np.char.str_len(values) == 0)):
        try:
            ints = values.astype(np.int64)
        except (ValueError, OverflowError):
            return values
        # only canonical spellings ("12", "-3"; not "012", "+3" or "-0") become numbers
        return ints if np.array_equal(ints.astype(values.dtype), values) else values
    texts = [str(x) for x in values.tolist()]
    for s in texts:
        if not s:
            continue
        body = s[1:] if s[:1] == "-" else s
        if not (body.isascii() and body.isdigit()) or (len(body) > 1 and body[0] == "0"):
            return values
        if s == "-0":
            return values
    numbers = [int(s) if s else s for s in texts]
    if any(not isinstance(x, int) for x in numbers):
        out = np.empty(len(numbers), dtype=object)
        out[:] = numbers
        return out
    try:
        return np.asarray(numbers, dtype=np.int64)
    except OverflowError:
        return values


def _coded_ids(
    col: _csv.Column,
    name: str,
    *,
    id_type: str,
    missing: Missing,
    voice: Voice,
    skippable: bool = True,
) -> tuple[IntArray, npt.NDArray[Any], BoolArray | None]:
    """Ids of a CSV column through the one normaliser (distinct values once)."""
    if isinstance(col, np.ndarray):  # plain integers from a fast engine
        typed = col.astype(str) if id_type == "str" else col
        return normalize_ids(typed, name, missing=missing, voice=voice, skippable=skippable)
    if not isinstance(col, _csv.Coded):
        col = _csv.Coded.make(np.arange(len(col), dtype=np.int64), col)
    coded = col
    values: Any = coded.values
    kind: IdType = "keep"
    if id_type == "auto":
        values = _auto_ints(coded.values)
    elif id_type == "int":
        kind = "int"
    distinct = voice.with_at(lambda j: voice.at(coded.first_row(j)))
    if not isinstance(values, np.ndarray):
        obj = np.empty(len(values), dtype=object)
        obj[:] = values
        values = obj
    codes_d, labels, gone_d = normalize_ids(
        values, name, id_type=kind, missing=missing, voice=distinct, skippable=skippable
    )
    codes = np.take(codes_d, coded.codes)
    gone = None if gone_d is None else np.take(gone_d, coded.codes)
    return codes, labels, gone


def _csv_times(
    col: _csv.Column,
    date_format: str | None,
    timezone: TimeZone,
    name: str,
    voice: Voice,
) -> npt.NDArray[Any]:
    if isinstance(col, _csv.Coded):
        coded = col
        distinct = voice.with_at(lambda j: voice.at(coded.first_row(j)))
        parsed = _parse_time_texts(coded.values, date_format, timezone, name, distinct)
        return np.take(parsed, coded.codes)
    return _parse_time_texts(_csv.text_values(col), date_format, timezone, name, voice)


@attrs.frozen
class _CsvPlan:
    """The checked options of one from_csv call."""

    path: str
    codec: str
    delimiter: str
    wanted: dict[str, str]
    extra: dict[str, str]
    date_format: str | None
    id_type: str
    decimal: str
    thousands: str | None
    cancel_prefix: str | None
    missing_customer: Missing
    timezone: TimeZone
    voice: Voice
    last: str | None = None


def _read_log(cls: type[TransactionLog], plan: _CsvPlan, engine: str) -> TransactionLog:
    """Read and type the file with one engine."""
    w = plan.wanted
    localised = plan.decimal != "." or plan.thousands is not None
    money_cols = [w[k] for k in ("amount_col", "quantity_col", "price_col") if k in w]
    numeric = set() if localised else {*money_cols, *plan.extra.values()}
    coded = {w["customer_col"], w["time_col"]} | {
        w[k] for k in ("order_col", "cancel_col") if k in w
    }
    read = _csv.read_columns(
        plan.path,
        list(w.values()),
        coded=coded,
        int_col=w["customer_col"] if plan.id_type in ("auto", "int") else None,
        numeric=numeric,
        codec=plan.codec,
        delimiter=plan.delimiter,
        engine=engine,
        last=plan.last,
    )
    if read.n_rows == 0:
        raise EmptyInputError(f"{plan.path!r} is empty: it has a header and no rows")
    voice = plan.voice.with_at(_csv.LineMap(plan.path, plan.codec, plan.delimiter))
    cols = read.columns
    codes, labels, gone = _coded_ids(
        cols[w["customer_col"]],
        f"column {w['customer_col']!r}",
        id_type=plan.id_type,
        missing=plan.missing_customer,
        voice=voice,
    )
    times = _csv_times(
        cols[w["time_col"]], plan.date_format, plan.timezone, f"column {w['time_col']!r}", voice
    )

    def number(header: str) -> FloatArray:
        return _csv.parse_numbers(
            cols[header],
            f"column {header!r}",
            voice,
            decimal=plan.decimal,
            thousands=plan.thousands,
        )

    names = {
        "amount": f"column {w.get('amount_col')!r}",
        "quantity": f"column {w.get('quantity_col')!r}",
        "price": f"column {w.get('price_col')!r}",
        "arg_quantity": "quantity_col",
        "arg_price": "price_col",
    }
    amount = _money(
        number(w["amount_col"]) if "amount_col" in w else None,
        number(w["quantity_col"]) if "quantity_col" in w else None,
        number(w["price_col"]) if "price_col" in w else None,
        names,
        voice,
    )
    optional = {
        field: _optional_column(number(header), field, read.n_rows, voice)
        for field, header in plan.extra.items()
    }
    orders = None
    if "order_col" in w:
        order_codes, order_labels, _ = _coded_ids(
            cols[w["order_col"]],
            f"column {w['order_col']!r}",
            id_type="str",
            missing="error",
            voice=voice,
            skippable=False,
        )
        orders = _Orders(order_codes, order_labels)
    return _finish(
        cls,
        codes=codes,
        labels=labels,
        gone=gone,
        times=times,
        amount=amount,
        optional={f: optional.get(f) for f in OPTIONAL_FIELDS},
        orders=orders,
        cancel_prefix=plan.cancel_prefix,
        voice=voice,
        report=True,
        cancelled=(
            _cancel_flags(cols[w["cancel_col"]], f"column {w['cancel_col']!r}", voice)
            if "cancel_col" in w
            else None
        ),
    )


_TRUE_FLAGS = frozenset({"1", "true", "yes", "y", "t", "x"})
_FALSE_FLAGS = frozenset({"0", "false", "no", "n", "f", ""})


def _cancel_flags(col: Any, name: str, voice: Voice) -> BoolArray:
    """A cancellation flag column as booleans; a value that is neither yes nor no is named."""
    coded = col if isinstance(col, _csv.Coded) else None
    values = [str(x) for x in coded.values.tolist()] if coded is not None else _csv.text_values(col)
    truth = np.empty(len(values), dtype=bool)
    for i, text in enumerate(values):
        word = text.strip().lower()
        if word in _TRUE_FLAGS:
            truth[i] = True
        elif word in _FALSE_FLAGS:
            truth[i] = False
        else:
            row = i if coded is None else int(np.flatnonzero(coded.codes == i)[0])
            raise InvalidInputError(
                f"{name} has {text!r} at {voice.at(row)}, which is not a yes/no flag; "
                "use 1/0, true/false, yes/no, y/n, t/f or x and an empty field"
            )
    out: BoolArray = truth[coded.codes] if coded is not None else truth
    return out


def _frame_ids(series: Any, nulls: bool) -> npt.NDArray[Any]:
    """A frame's id column as numpy, its nulls as None (so integer ids stay integers)."""
    if not nulls:
        out: npt.NDArray[Any] = series.to_numpy()
        return out
    mask = series.is_null().to_numpy()
    try:
        filled = series.fill_null(strategy="forward").fill_null(strategy="backward").to_numpy()
    except Exception:  # a backend without fill strategies: plain objects
        filled = series.to_numpy()
    out = np.empty(len(mask), dtype=object)
    out[:] = filled.tolist()
    out[mask] = None
    return out


def _naive_times(nw: Any, series: Any, timezone: str) -> Any:
    """A time-zone-aware datetime column as naive local wall-clock time or naive UTC."""
    dtype = series.dtype
    zone = getattr(dtype, "time_zone", None)
    if not zone:
        return series
    if timezone == "utc":
        series = series.dt.convert_time_zone("UTC")
    return series.dt.replace_time_zone(None)


def _narwhals() -> Any:
    try:
        return importlib.import_module("narwhals")
    except ImportError:
        raise MissingDependencyError(
            "dataframe intake needs the 'frames' extra; pip install 'custrel[frames]'"
        ) from None
