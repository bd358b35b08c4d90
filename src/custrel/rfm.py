"""RFM analysis: a mergeable per-customer summary, quantile scores and named segments.

RFM (recency, frequency, monetary value) is a standard measure of the value of
a relationship (domain notes §3). This module computes it in three steps:

1. :func:`summarize_rfm` reduces a :class:`~custrel.TransactionLog` to small
   per-customer statistics at a stated analysis date. The summary is
   *mergeable*: summaries of disjoint slices of a log combine with
   :meth:`RFMSummary.merge` / :meth:`RFMSummary.combine` into the summary of
   the whole log, so a log too large for one machine can be summarised per
   partition. :func:`rfm_table` turns it into recency, frequency and monetary
   value per customer (:class:`RFMTable`).
2. :func:`rfm_scores` gives each customer a score 1..k per dimension:
   quantile scores by default (recent = high), user thresholds, or nested
   (sequential) scoring, plus the combined cell (``"545"``) and score.
3. :func:`rfm_segments` maps the score triples to named segments with a rule
   table (:class:`SegmentTable`); the default, :data:`DEFAULT_SEGMENTS`, covers
   every one of the k³ score triples exactly once.

It avoids the weaknesses domain notes §3 lists for today's RFM tools: the
analysis date is an explicit argument (recency is never measured from the last
date in the data) and rows after it are refused or excluded and counted; the
monetary value is the sum by default, the mean on request, and the result says
which; duplicate rows are never dropped; tied values always share one score
and a score that uses fewer than k levels is reported; segment tables are
checked for gaps and overlaps, and customers in a gap are labelled ``"other"``
and counted.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _numeric, _parallel
from custrel import _validate as v
from custrel._ids import _factorize
from custrel._tabular import Tabular
from custrel.errors import EmptyInputError, InvalidInputError, InvalidTypeError, RFMCollapseWarning
from custrel.models import TransactionLog
from custrel.models._times import _unit_seconds, time_to_float

__all__ = [
    "DEFAULT_SEGMENTS",
    "DIMENSIONS",
    "RFMScores",
    "RFMSegments",
    "RFMSummary",
    "RFMTable",
    "SegmentCoverage",
    "SegmentRule",
    "SegmentTable",
    "rfm_scores",
    "rfm_segments",
    "rfm_table",
    "summarize_rfm",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
TimeKind = Literal["datetime", "numeric"]
FrequencyBasis = Literal["transactions", "days"]
MonetaryBasis = Literal["sum", "mean"]

#: The three RFM dimensions, in the order of a cell (``"545"`` is R=5, F=4, M=5).
DIMENSIONS: tuple[str, str, str] = ("recency", "frequency", "monetary_value")

_SECONDS_PER_DAY = 86400.0
_FREQUENCY_BASES = ("transactions", "days")
_MONETARY_BASES = ("sum", "mean")


def _to_float_times(arr: npt.NDArray[Any]) -> FloatArray:
    """Times as float seconds (or the log's numbers); NaT (no purchase) becomes nan."""
    if np.issubdtype(arr.dtype, np.datetime64):
        s = arr.astype("datetime64[s]", copy=False)
        out = s.view(np.int64).astype(np.float64)
        nat = np.isnat(s)
        if nat.any():
            out[nat] = np.nan
        return out
    return np.asarray(arr, dtype=np.float64)


def _from_float_times(arr: FloatArray, kind: TimeKind) -> npt.NDArray[Any]:
    """Back to the log's kind of time; ±inf and nan (no purchase) become NaT or nan."""
    none = ~np.isfinite(arr)
    if kind == "datetime":
        out = np.round(np.where(none, 0.0, arr)).astype(np.int64).astype("datetime64[s]")
        if none.any():
            out[none] = np.datetime64("NaT", "s")  # a unit: numpy 2.5 deprecates the generic NaT
        return out
    if none.any():
        return np.where(none, np.nan, arr)
    return arr


def _check_totals(total: FloatArray, labels: npt.NDArray[Any], what: str) -> None:
    """Refuse a per-customer total that overflowed float64 (finite amounts whose sum is not)."""
    bad = ~np.isfinite(total)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            f"the total amount of customer {_show(labels[i])} overflows float64 ({what} gives "
            f"{float(total[i])!r}, beyond ±{np.finfo(np.float64).max:.4g}); rescale amount "
            "(for example to thousands) before summarising"
        )


def _show(x: Any) -> str:
    return repr(x.item() if isinstance(x, np.generic) else x)


def _time_scalar(value: float, kind: TimeKind) -> Any:
    if kind == "datetime":
        return np.datetime64(round(value), "s")
    return float(value)


#: Numeric times beyond ±2**53 have no whole-unit resolution: their days cannot be counted.
_MAX_DAY_TIME = float(2**53)


def _day_numbers(t: FloatArray, kind: TimeKind) -> IntArray:
    """Absolute day numbers: UTC calendar days since 1970 or whole time units."""
    if kind == "datetime":
        if t.dtype.kind == "i":  # int64 seconds (exact)
            return np.floor_divide(t, int(_SECONDS_PER_DAY))
        return np.floor(t / _SECONDS_PER_DAY).astype(np.int64)
    far = np.abs(t) >= _MAX_DAY_TIME
    if far.any():
        row = int(np.flatnonzero(far)[0])
        raise InvalidInputError(
            f"time {float(t[row])!r} is beyond ±2**53, where whole time units cannot be told "
            "apart, so frequency_basis='days' cannot count distinct days; use "
            "frequency_basis='transactions' or rescale the times"
        )
    return np.floor(t).astype(np.int64)


def _unique_pairs(codes: IntArray, days: IntArray) -> tuple[IntArray, IntArray]:
    """The distinct (customer code, day) pairs, sorted, by one sort of a composite key."""
    if len(codes) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    dmin = int(days.min())
    span = int(days.max()) - dmin + 1
    if span * (int(codes.max()) + 1) >= 2**62:  # the composite key would overflow int64
        order = np.lexsort((days, codes))
        c_s, d_s = codes[order], days[order]
        new = np.empty(len(order), dtype=bool)
        new[0] = True
        new[1:] = (c_s[1:] != c_s[:-1]) | (d_s[1:] != d_s[:-1])
        return c_s[new].astype(np.int64), d_s[new].astype(np.int64)
    key = _numeric.sorted_unique(codes.astype(np.int64) * span + (days - dmin))
    return key // span, key % span + dmin


# ---------------------------------------------------------------------------
# The mergeable summary
# ---------------------------------------------------------------------------


@attrs.frozen(eq=False)
class RFMSummary(Tabular):
    """Mergeable per-customer RFM statistics of a log at an analysis date.

    Build one with :func:`summarize_rfm` (or
    :func:`custrel.frames.summarize_rfm_from_frame`); combine summaries of
    disjoint slices of one log with :meth:`merge` or :meth:`combine`; turn it
    into recency, frequency and monetary value with :meth:`to_table`.

    Attributes
    ----------
    customer_id : numpy.ndarray
        The customer ids, sorted.
    first, last : numpy.ndarray
        First and last purchase time per customer (``datetime64[s]`` or float,
        as the log); NaT (nan) for a customer with only returns in the slice.
    n_transactions : numpy.ndarray of int64
        Number of purchases per customer: rows with an amount >= 0. A row
        with a negative amount is a return or cancellation: it reduces
        :attr:`total_amount` but is not a purchase, so it never counts here,
        in :attr:`n_days`, or in :attr:`first` / :attr:`last`.
    total_amount : numpy.ndarray of float64 or None
        Net amount per customer: purchases minus returns (None for a log
        without amounts).
    n_days : numpy.ndarray of int64 or None
        Number of distinct purchase days per customer when
        ``frequency_basis="days"``, else None.
    day_customer, day_number : numpy.ndarray of int64 or None
        With ``frequency_basis="days"``: the distinct (customer, day) pairs,
        as positions in :attr:`customer_id` and absolute day numbers (UTC
        calendar days since 1970-01-01 for calendar logs, ``floor(time)`` for
        numeric logs). They make the distinct-day count mergeable. None when
        the basis is transactions, and None too for a days summary whose
        distinct days were counted by a dataframe engine
        (:func:`custrel.frames.summarize_rfm_from_frame` without
        ``mergeable=True``): such a summary is not :attr:`mergeable`.

    Customers whose rows in the slice are all returns stay in the summary
    (0 purchases, NaT first and last) so that summaries of slices merge
    exactly; :meth:`to_table` leaves them out and counts them.
    analysis_date : numpy.datetime64 or float
        The analysis date the summary was taken at.
    time_kind : {"datetime", "numeric"}
        The kind of time of the log.
    frequency_basis : {"transactions", "days"}
        What :meth:`to_table` counts as the frequency.
    n_rows_after : int
        Rows of the log after :attr:`analysis_date` that were excluded.

    Examples
    --------
    >>> from custrel import TransactionLog, summarize_rfm
    >>> log = TransactionLog.from_arrays(
    ...     customer_id=["a", "b", "a", "b"], time=[1.0, 2.0, 5.0, 9.0], amount=[10, 5, 30, 7]
    ... )
    >>> left = summarize_rfm(log.take([0, 1]), 10.0)
    >>> right = summarize_rfm(log.take([2, 3]), 10.0)
    >>> whole = left.merge(right)
    >>> whole.n_transactions.tolist(), whole.total_amount.tolist()
    ([2, 2], [40.0, 12.0])
    """

    customer_id: npt.NDArray[Any] = attrs.field(converter=v.freeze)
    first: npt.NDArray[Any] = attrs.field(converter=v.freeze)
    last: npt.NDArray[Any] = attrs.field(converter=v.freeze)
    n_transactions: IntArray = attrs.field(converter=v.freeze)
    total_amount: FloatArray = attrs.field(converter=v.freeze)
    n_days: IntArray | None = attrs.field(converter=v.freeze)
    day_customer: IntArray | None = attrs.field(converter=v.freeze)
    day_number: IntArray | None = attrs.field(converter=v.freeze)
    analysis_date: Any = attrs.field(converter=v.freeze)
    time_kind: TimeKind = attrs.field(converter=v.freeze)
    frequency_basis: FrequencyBasis = attrs.field(converter=v.freeze)
    n_rows_after: int = attrs.field(default=0, converter=v.freeze)

    def __attrs_post_init__(self) -> None:
        days = self.frequency_basis == "days"
        if (self.n_days is not None) != days:
            raise InvalidInputError(
                "n_days must be given exactly when frequency_basis='days', got "
                f"frequency_basis={self.frequency_basis!r} with n_days "
                f"{'None' if self.n_days is None else 'given'}"
            )
        pairs = (self.day_customer is not None, self.day_number is not None)
        if pairs[0] != pairs[1] or (pairs[0] and not days):
            raise InvalidInputError(
                "day_customer and day_number must be given together, and only when "
                f"frequency_basis='days', got frequency_basis={self.frequency_basis!r} with "
                f"day_customer {'given' if pairs[0] else 'None'} and day_number "
                f"{'given' if pairs[1] else 'None'}"
            )
        dc, dn = self.day_customer, self.day_number
        if dc is not None and dn is not None and len(dc) != len(dn):
            raise InvalidInputError(
                f"day_customer and day_number must have the same length, got {len(dc)} and {len(dn)}"
            )

    @property
    def mergeable(self) -> bool:
        """Whether :meth:`merge` and :meth:`combine` accept this summary.

        Always True with ``frequency_basis="transactions"``. With ``"days"``,
        True when the summary keeps the distinct (customer, day) pairs
        (:attr:`day_customer`, :attr:`day_number`), as
        :func:`summarize_rfm` and
        ``summarize_rfm_from_frame(..., mergeable=True)`` do; False when a
        dataframe engine counted the distinct days and kept only the counts,
        because two slices that share a customer's day would count it twice.
        """
        return self.frequency_basis != "days" or self.day_customer is not None

    def __len__(self) -> int:
        return len(self.customer_id)

    @property
    def n_customers(self) -> int:
        """Number of customers in the summary."""
        return len(self.customer_id)

    def __repr__(self) -> str:
        return (
            f"RFMSummary(n_customers={self.n_customers}, analysis_date={self.analysis_date}, "
            f"frequency_basis={self.frequency_basis!r}, n_rows_after={self.n_rows_after}"
            f"{'' if self.mergeable else ', mergeable=False'})"
        )

    def to_arrays(self) -> dict[str, npt.NDArray[Any]]:
        """The per-customer columns as a dict of numpy arrays (copies).

        ``customer_id``, ``first``, ``last``, ``n_transactions``,
        ``total_amount`` (when the log has amounts) and, with ``frequency_basis="days"``, ``n_days``.
        """
        out: dict[str, npt.NDArray[Any]] = {
            "customer_id": self.customer_id.copy(),
            "first": self.first.copy(),
            "last": self.last.copy(),
            "n_transactions": self.n_transactions.copy(),
        }
        if self.total_amount is not None:
            out["total_amount"] = self.total_amount.copy()
        if self.n_days is not None:
            out["n_days"] = self.n_days.copy()
        return out

    def merge(self, other: RFMSummary) -> RFMSummary:
        """Combine with the summary of a disjoint slice of the same log.

        Parameters
        ----------
        other : RFMSummary
            The summary of other rows, taken at the same analysis date with
            the same frequency basis. Rows may be split arbitrarily: by
            customer, by time or at random.

        Returns
        -------
        RFMSummary
            Equal to the summary of both slices together (sums may differ in
            the last bits of floating point).

        Raises
        ------
        InvalidInputError
            If the summaries differ in analysis date, time kind, frequency
            basis or customer id type, or if either is not :attr:`mergeable`
            (its distinct days were counted by a dataframe engine).
        """
        return RFMSummary.combine([self, other])

    @classmethod
    def combine(cls, summaries: Iterable[RFMSummary]) -> RFMSummary:
        """Combine the summaries of several disjoint slices of one log.

        Parameters
        ----------
        summaries : iterable of RFMSummary
            At least one; all taken at the same analysis date with the same
            frequency basis.

        Returns
        -------
        RFMSummary

        Raises
        ------
        EmptyInputError
            If no summary is given.
        InvalidTypeError
            If an item is not an :class:`RFMSummary`.
        InvalidInputError
            If the summaries differ in analysis date, time kind, frequency
            basis, customer id type or in having amounts, if a merged
            total amount overflows float64, or if one of several summaries
            is not :attr:`mergeable` (a days summary whose distinct days were
            counted by a dataframe engine: summarise the union of the slices
            in one call, or take each slice's summary with
            ``summarize_rfm_from_frame(..., mergeable=True)``).

        Notes
        -----
        Counts, sums and distinct-day pairs are unions; first and last are the
        minimum and maximum: all are associative and commutative, so the
        order of combination does not matter. One factorisation of the
        concatenated ids, ``numpy.bincount`` and ``minimum.at`` /
        ``maximum.at``; no Python loop over customers.

        Examples
        --------
        >>> from custrel import TransactionLog, RFMSummary, summarize_rfm
        >>> log = TransactionLog.from_arrays(customer_id=[1, 2, 1], time=[0.0, 1.0, 2.0], amount=[1, 2, 3])
        >>> parts = [summarize_rfm(log.take([i]), 2.0) for i in range(3)]
        >>> RFMSummary.combine(parts).n_transactions.tolist()
        [2, 1]
        """
        if not isinstance(summaries, Iterable):
            raise InvalidTypeError(
                f"summaries must be an iterable of RFMSummary, got {type(summaries).__name__}"
            )
        items = list(summaries)
        if not items:
            raise EmptyInputError("summaries is empty; give at least one RFMSummary")
        for i, s in enumerate(items):
            if not isinstance(s, RFMSummary):
                raise InvalidTypeError(
                    f"summaries must be RFMSummary values, got {type(s).__name__} at position {i}"
                )
        head = items[0]
        unmergeable = [i for i, s in enumerate(items) if not s.mergeable]
        if unmergeable and len(items) > 1:
            raise InvalidInputError(
                f"cannot merge the summary at position {unmergeable[0]}: it counted its "
                "distinct purchase days in the engine (frequency_basis='days' without the "
                "(customer, day) pairs), so a day two slices share would count twice; "
                "summarise the union of the slices in one call, or summarise each slice with "
                "custrel.frames.summarize_rfm_from_frame(..., mergeable=True) to keep the pairs"
            )
        for i, s in enumerate(items[1:], start=1):
            for attr in ("time_kind", "frequency_basis"):
                if getattr(s, attr) != getattr(head, attr):
                    raise InvalidInputError(
                        f"cannot merge summaries with different {attr}: "
                        f"{getattr(head, attr)!r} at position 0, {getattr(s, attr)!r} at position {i}"
                    )
            if s.analysis_date != head.analysis_date:
                raise InvalidInputError(
                    f"cannot merge summaries taken at different analysis dates: "
                    f"{head.analysis_date} at position 0, {s.analysis_date} at position {i}; "
                    "summarise every slice at the same analysis_date"
                )
            if (s.total_amount is None) != (head.total_amount is None):
                raise InvalidInputError(
                    "cannot merge a summary of a log with amounts and one without: "
                    f"position 0 {'has no' if head.total_amount is None else 'has'} amounts, "
                    f"position {i} {'has no' if s.total_amount is None else 'has'}"
                )
            numeric_ids = {x.customer_id.dtype.kind in "iu" for x in (head, s)}
            if len(numeric_ids) > 1:
                raise InvalidInputError(
                    f"cannot merge summaries whose customer ids differ in type: "
                    f"{head.customer_id.dtype} at position 0, {s.customer_id.dtype} at position {i}"
                )
        if len(items) == 1:
            return head
        labels = np.concatenate([s.customer_id for s in items])
        codes, out_labels = _factorize(labels)
        k = len(out_labels)
        first = np.full(k, np.inf)
        last = np.full(k, -np.inf)
        # a customer without purchases in a slice has nan times: neutral in min / max
        f_all = np.concatenate([_to_float_times(s.first) for s in items])
        l_all = np.concatenate([_to_float_times(s.last) for s in items])
        np.minimum.at(first, codes, np.where(np.isnan(f_all), np.inf, f_all))
        np.maximum.at(last, codes, np.where(np.isnan(l_all), -np.inf, l_all))
        n = _numeric.bincount(
            codes, weights=np.concatenate([s.n_transactions for s in items]), minlength=k
        )
        total = None
        if head.total_amount is not None:
            with np.errstate(over="ignore"):
                total = _numeric.bincount(
                    codes,
                    weights=np.concatenate([np.asarray(s.total_amount) for s in items]),
                    minlength=k,
                ).astype(np.float64, copy=False)
            _check_totals(total, out_labels, "merging the summaries")
        day_customer = day_number = n_days = None
        if head.frequency_basis == "days":
            offsets = np.cumsum([0] + [s.n_customers for s in items[:-1]])
            pair_codes = np.concatenate(
                [
                    codes[off + np.asarray(s.day_customer)]
                    for off, s in zip(offsets, items, strict=True)
                ]
            )
            pair_days = np.concatenate([np.asarray(s.day_number) for s in items])
            day_customer, day_number = _unique_pairs(pair_codes, pair_days)
            n_days = _numeric.bincount(day_customer, minlength=k).astype(np.int64)
        return RFMSummary(
            customer_id=out_labels,
            first=_from_float_times(first, head.time_kind),
            last=_from_float_times(last, head.time_kind),
            n_transactions=np.round(n).astype(np.int64),
            total_amount=total,
            n_days=n_days,
            day_customer=day_customer,
            day_number=day_number,
            analysis_date=head.analysis_date,
            time_kind=head.time_kind,
            frequency_basis=head.frequency_basis,
            n_rows_after=sum(s.n_rows_after for s in items),
        )

    def to_table(
        self, *, monetary_basis: MonetaryBasis = "sum", unit: str | float | None = None
    ) -> RFMTable:
        """Recency, frequency and monetary value per customer who bought.

        Customers with returns only (no purchase on or before the analysis
        date) have no recency or frequency: they are left out and counted
        in :attr:`RFMTable.n_returns_only`.

        Parameters
        ----------
        monetary_basis : {"sum", "mean"}
            ``"sum"`` (default): the customer's total amount; ``"mean"``: the
            total divided by the frequency (per transaction, or per purchase
            day with ``frequency_basis="days"``).
        unit : str or float, optional
            The unit of recency: ``"day"`` (default for calendar logs),
            ``"week"``, ``"month"``, ``"quarter"``, ``"year"`` or a number of
            days; for numeric logs a positive number in the log's time
            (default 1).

        Returns
        -------
        RFMTable
            With ``monetary_value`` None when the log has no amounts.

        Raises
        ------
        InvalidInputError
            On an unknown ``monetary_basis`` or ``unit``, or if a recency
            overflows float64.
        EmptyInputError
            If no customer bought on or before the analysis date (every row
            was after it, or a return).
        """
        v.choice(monetary_basis, "monetary_basis", _MONETARY_BASES)
        bought = np.asarray(self.n_transactions) > 0
        n_returns_only = int(self.n_customers - np.count_nonzero(bought))
        if not bought.any():
            only = f", {n_returns_only} customers have returns only" if n_returns_only else ""
            raise EmptyInputError(
                f"no customer bought on or before analysis_date {self.analysis_date} "
                f"({self.n_rows_after} rows are after it{only}); choose a later analysis_date"
            )
        unit_used: str | float = (
            unit if unit is not None else ("day" if self.time_kind == "datetime" else 1.0)
        )
        length = _unit_seconds(unit_used, self.time_kind, "unit")
        date_f = float(_to_float_times(np.asarray([self.analysis_date]))[0])
        ids = np.asarray(self.customer_id)
        last = _to_float_times(self.last)
        frequency = np.asarray(
            self.n_days if self.n_days is not None else self.n_transactions, dtype=np.int64
        )
        total = None if self.total_amount is None else np.asarray(self.total_amount, np.float64)
        if n_returns_only:
            ids, last, frequency = ids[bought], last[bought], frequency[bought]
            total = None if total is None else total[bought]
        with np.errstate(over="ignore"):
            recency = (date_f - last) / length
        if not np.isfinite(recency).all():
            i = int(np.flatnonzero(~np.isfinite(recency))[0])
            raise InvalidInputError(
                f"the recency of customer {_show(ids[i])} overflows float64 (analysis_date "
                f"{self.analysis_date} minus last purchase {_time_scalar(float(last[i]), self.time_kind)}); "
                "use a smaller time scale or a closer analysis_date"
            )
        monetary = None
        if total is not None:
            monetary = total / frequency if monetary_basis == "mean" else total.copy()
        return RFMTable(
            customer_id=ids.copy(),
            recency=recency,
            frequency=frequency.copy(),
            monetary_value=monetary,
            analysis_date=self.analysis_date,
            unit=unit_used,
            frequency_basis=self.frequency_basis,
            monetary_basis=monetary_basis if monetary is not None else None,
            n_rows_after=self.n_rows_after,
            n_returns_only=n_returns_only,
        )


def _check_log(log: Any) -> TransactionLog:
    if not isinstance(log, TransactionLog):
        raise InvalidTypeError(
            f"log must be a TransactionLog, got {type(log).__name__}; build one with "
            "TransactionLog.from_arrays / from_frame, or use custrel.frames.summarize_rfm_from_frame"
        )
    return log


def summarize_rfm(
    log: TransactionLog,
    analysis_date: Any,
    *,
    frequency_basis: FrequencyBasis = "transactions",
    after: Literal["raise", "exclude"] = "raise",
    threads: int | None = None,
) -> RFMSummary:
    """Summarise a log per customer at an analysis date (mergeable).

    Parameters
    ----------
    log : TransactionLog
        The transactions. Duplicate rows are not dropped. A row with a
        negative amount is a return or cancellation: it reduces the
        customer's total but is not a purchase (it never counts toward the
        frequency, nor sets the first or last purchase time). Zero amounts
        are purchases. A log without amounts (``has_amount`` False) gives
        frequency and recency only (``total_amount`` None), every row a
        purchase.
    analysis_date : date or number
        The date the analysis is made at, of the log's kind of time. Recency
        is measured from it, not from the last date in the data. Rows at
        exactly this time are included.
    frequency_basis : {"transactions", "days"}
        ``"transactions"`` (default): the frequency is the number of rows;
        ``"days"``: the number of distinct purchase days (UTC calendar days,
        or whole time units for numeric logs), so several rows on one day
        count once.
    after : {"raise", "exclude"}
        What to do with rows after ``analysis_date``: ``"raise"`` (default)
        refuses them; ``"exclude"`` leaves them out and counts them in
        :attr:`RFMSummary.n_rows_after`. Customers whose every row is after
        the date are not in the summary; when every row is after it, the
        summary is empty (no customers) but still counts the rows, so that it
        merges with the summaries of other slices.
    threads : int, optional
        How many cores to use (threads, or worker processes on
        Linux). By default the environment variable ``CUSTREL_THREADS``
        (an integer >= 1), else every core this process may use; 1 runs on
        one thread. Logs under 200,000 rows always run on one thread. The
        result does not depend on it.

    Returns
    -------
    RFMSummary

    Raises
    ------
    InvalidTypeError
        If ``log`` is not a :class:`~custrel.TransactionLog`.
    InvalidInputError
        If ``analysis_date`` is not of the log's kind of time, on an unknown
        option, if rows lie after ``analysis_date`` and ``after="raise"``,
        or if a customer's total amount overflows float64; if ``threads``
        is below 1 or ``CUSTREL_THREADS`` is not an integer >= 1.
        (``InvalidTypeError`` if ``threads`` is not an integer.)

    Notes
    -----
    One pass of ``numpy.bincount`` and ``minimum.at`` / ``maximum.at`` over
    the integer customer codes; with ``frequency_basis="days"`` one sort of a
    composite (customer, day) key. The summary is a monoid: see
    :meth:`RFMSummary.combine`.

    With several threads, each worker reduces the rows of one contiguous
    range of customers, taken in row order (its times converted and rows
    after ``analysis_date`` left out there, not in a pass over the whole
    log first), into its slice of the per-customer results: every
    customer's total adds the same amounts in the same order as on one
    thread, so the summary is identical to the single-threaded one, to the
    last bit. On Linux, from 4 workers and 4,000,000 rows, the workers
    are forked processes writing into shared memory: without distinct days
    the work is ``bincount`` and ``ufunc.at``, which hold the GIL, so
    threads gain little on it (measured 1.04x on 2 threads, 1.84x on 16);
    on threads (otherwise) it is split only from 4 threads on.

    Examples
    --------
    >>> from custrel import TransactionLog, summarize_rfm
    >>> log = TransactionLog.from_arrays(
    ...     customer_id=["a", "a", "b", "b"],
    ...     time=["2024-03-01", "2024-03-01", "2024-01-10", "2024-04-02"],
    ...     amount=[20.0, 20.0, 15.0, 99.0],
    ... )
    >>> s = summarize_rfm(log, "2024-03-31", frequency_basis="days", after="exclude")
    >>> s.n_transactions.tolist(), s.n_days.tolist(), s.n_rows_after
    ([2, 1], [1, 1], 1)

    A return is netted from the value but is not a purchase:

    >>> log = TransactionLog.from_arrays(customer_id=[1, 1], time=[1.0, 3.0], amount=[50.0, -50.0])
    >>> s = summarize_rfm(log, 5.0)
    >>> s.n_transactions.tolist(), s.total_amount.tolist(), s.last.tolist()
    ([1], [0.0], [1.0])
    """
    log = _check_log(log)
    v.choice(frequency_basis, "frequency_basis", _FREQUENCY_BASES)
    v.choice(after, "after", ("raise", "exclude"))
    n_threads = _parallel.resolve_threads(threads)
    kind: TimeKind = log.time_kind
    date_f = time_to_float(analysis_date, kind, "analysis_date")
    return _summary_from_rows(
        log.customer_code,
        log.customer_labels,
        log.time,
        log.amount if getattr(log, "has_amount", True) else None,
        kind=kind,
        analysis_date=date_f,
        frequency_basis=frequency_basis,
        after=after,
        threads=n_threads,
    )


def _float_times(times: npt.NDArray[Any], kind: TimeKind) -> FloatArray:
    """A log's time column as float64 (:meth:`TransactionLog.numeric_time` of these rows)."""
    if kind == "datetime":
        return times.view(np.int64).astype(np.float64)
    return np.asarray(times, dtype=np.float64)


def _reduce_times(times: npt.NDArray[Any], kind: TimeKind) -> npt.NDArray[Any]:
    """The times the summary reduces: int64 seconds for calendar times, else float64.

    Calendar times stay a view of the log's seconds (no copy, exact, and what
    float64 seconds would give, since seconds are below 2**53).
    """
    if kind == "datetime":
        return times.view(np.int64)
    return np.asarray(times, dtype=np.float64)


#: "No purchase" in the int64 first / last seconds of calendar times (NaT is int64 min).
_NO_FIRST, _NO_LAST = np.iinfo(np.int64).max, np.iinfo(np.int64).min


def _from_reduce_times(arr: npt.NDArray[Any], kind: TimeKind, empty: Any) -> npt.NDArray[Any]:
    """:func:`_reduce_times` results back to the log's kind (``empty`` marks no purchase)."""
    if kind != "datetime":
        return _from_float_times(arr, kind)
    out = arr.view("datetime64[s]")
    if empty != _NO_LAST:  # _NO_LAST already is NaT
        out = out.copy()
        out[arr == empty] = np.datetime64("NaT", "s")
    return out


def _far_day_row(t: FloatArray, amount: FloatArray | None) -> int:
    """The first purchase row whose time is too far to count its day (-1: none)."""
    if not len(t) or float(np.abs(t).max()) < _MAX_DAY_TIME:
        return -1
    far = np.abs(t) >= _MAX_DAY_TIME
    if amount is not None:
        far &= ~(amount < 0)
    return int(np.argmax(far)) if far.any() else -1


def _rfm_sums(
    codes: IntArray,
    amount: FloatArray | None,
    into: dict[str, npt.NDArray[Any]],
    *,
    returns: bool | None = None,
    returned: npt.NDArray[np.bool_] | None = None,
) -> None:
    """Total amount, purchase count and ``any_row`` of the customers ``0..k-1`` into ``into``.

    The returns rule: a negative amount counts in the total, never as a purchase.
    ``returns`` is :func:`custrel._numeric.any_negative` of ``amount`` (or
    of rows it was taken from) and ``returned`` the mask ``amount < 0``, when
    the caller has them.
    """
    k = len(into["count"])
    if amount is not None:
        with np.errstate(over="ignore"):
            into["total"][:] = _numeric.bincount(codes, weights=amount, minlength=k)
    rows = _numeric.bincount(codes, minlength=k)
    np.greater(rows, 0, out=into["any_row"])
    has = _numeric.any_negative(amount) if returns is None else returns
    if returned is None and amount is not None and has:
        returned = amount < 0
    if returned is not None:
        # purchases: every row less the returns (only the returns' codes are copied)
        rows -= _numeric.bincount(codes[returned], minlength=k)
    into["count"][:] = rows


def _reduce_rfm_rows(
    codes: IntArray,
    t: FloatArray,
    amount: FloatArray | None,
    into: dict[str, npt.NDArray[Any]],
    *,
    kind: TimeKind,
    days: bool,
    days_first: bool = False,
    sums: bool = True,
    returns: bool | None = None,
    upper: Any = None,
) -> tuple[IntArray, IntArray] | None:
    """Sums, counts, first/last purchase and distinct days of the customers ``0..k-1``.

    The per-customer results are written to ``into`` (arrays of length k:
    ``count``, ``first``, ``last``, ``any_row``, ``total`` and ``n_days``
    where present); the distinct (customer, day) pairs are returned when
    ``days``. ``days_first`` sorts before ``bincount`` and ``ufunc.at``
    (which hold the GIL) so that two threads overlap. ``sums=False`` leaves
    out :func:`_rfm_sums` (the caller ran it beside this). ``returns`` is
    :func:`custrel._numeric.any_negative` of ``amount`` and ``upper`` a time
    no earlier than any in ``t``, when the caller has them (each saves a pass
    over the rows).
    """
    k = len(into["count"])
    if returns is None:
        returns = _numeric.any_negative(amount)
    # the returns rule: negative amounts are not purchases (count, first, last, days); the
    # purchases' codes and times are taken apart for the days only (first / last skip the
    # returns in place)
    ret = amount < 0 if returns and amount is not None else None
    if ret is not None and days:
        codes_b, t_b = codes[~ret], t[~ret]
    else:
        codes_b, t_b = codes, t
    pairs: tuple[IntArray, IntArray] | None = None

    def count_days() -> tuple[IntArray, IntArray]:
        pc, pd = _unique_pairs(codes_b, _day_numbers(t_b, kind))
        into["n_days"][:] = _numeric.bincount(pc, minlength=k)
        return pc, pd

    if days and days_first:
        pairs = count_days()
    if sums:
        _rfm_sums(codes, amount, into, returns=returns, returned=ret)
    first, last = into["first"], into["last"]
    if first.dtype.kind == "i":
        first.fill(_NO_FIRST)
        last.fill(_NO_LAST)
    else:
        first.fill(np.inf)
        last.fill(-np.inf)
    _numeric.group_min_max(codes_b, t_b, first, last, upper=upper, exclude=None if days else ret)
    del ret
    if days and not days_first:
        pairs = count_days()
    return pairs


def _summary_from_rows(
    codes: IntArray,
    labels: npt.NDArray[Any],
    times: npt.NDArray[Any],
    amount: FloatArray | None,
    *,
    kind: TimeKind,
    analysis_date: float,
    frequency_basis: FrequencyBasis,
    after: str,
    threads: int = 1,
) -> RFMSummary:
    """The RFM summary of the rows (``times`` as the log stores them), on ``threads`` workers.

    The customer codes are split into contiguous ranges of about equal rows
    (:func:`custrel._parallel.plan`): each range takes its rows in input
    order, converts their times, leaves out (or counts) the rows after the
    analysis date and reduces them, so every customer's total adds the same
    amounts in the same order as on one thread (identical to the last bit);
    the ranges' distinct-day pairs, each sorted, join in code order into the
    sorted pairs of the whole. On Linux the ranges run in forked worker
    processes writing into shared memory (``bincount`` and ``ufunc.at`` hold
    the GIL, so threads gain little on them), elsewhere on threads.
    """
    k, n = len(labels), len(codes)
    days = frequency_basis == "days"
    how = _parallel.plan(
        n, threads, reduction="summarize_rfm_days" if days else "summarize_rfm", gil_bound=not days
    )
    ranges, how = _parallel.split_codes(codes, k, how)
    n_parts = len(ranges)
    fields: dict[str, tuple[Any, int]] = {
        "count": (np.int64, k),
        "first": (np.int64 if kind == "datetime" else np.float64, k),
        "last": (np.int64 if kind == "datetime" else np.float64, k),
        "any_row": (np.bool_, k),
        "n_late": (np.int64, n_parts),
        "late_row": (np.int64, n_parts),
        "far_row": (np.int64, n_parts),
    }
    if amount is not None:
        fields["total"] = (np.float64, k)
    if days:
        fields["n_days"] = (np.int64, k)
    shared_pairs = days and how.processes
    if shared_pairs:  # each range writes its pairs where its rows start: one slot per row
        fields.update(
            pair_codes=(np.int64, n),
            pair_days=(np.int64, n),
            pair_at=(np.int64, n_parts),
            pair_n=(np.int64, n_parts),
        )
    per_customer = [
        name for name in ("count", "first", "last", "any_row", "total", "n_days") if name in fields
    ]
    out = _parallel.Outputs(fields, shared=how.processes)
    local_pairs: list[tuple[IntArray, IntArray] | None] = [None] * n_parts

    # One range on several threads (the plain summary below MIN_GIL_BOUND_THREADS): the
    # sums (bincount, mostly without the GIL) start on a second thread first, so they run
    # while this one checks the times and reduces first/last (ufunc.at, with the GIL).
    side = n_parts == 1 and threads > 1 and n >= _parallel.MIN_PARALLEL_ROWS

    def task(i: int) -> None:
        if not side:
            reduce_range(i)
            return
        whole: dict[str, npt.NDArray[Any]] = {
            name: out[name] for name in ("count", "any_row", "total") if name in fields
        }
        returns = _numeric.any_negative(amount)  # once, for both threads
        aside: _parallel.Aside | None = _parallel.submit(
            lambda: _rfm_sums(codes, amount, whole, returns=returns)
        )
        try:
            reduce_range(i, aside, returns)
        finally:
            if aside is not None:
                aside.result()  # waited for even when this thread failed: it writes the outputs

    def reduce_range(
        i: int, aside: _parallel.Aside | None = None, returns: bool | None = None
    ) -> None:
        lo, hi = ranges[i]
        rows: npt.NDArray[np.intp] | None = None
        before = 0
        if n_parts == 1:
            c, tt, a = codes, times, amount
        else:
            rows, before = _parallel.select_range(codes, lo, hi, k)
            c = codes[rows]
            c -= lo
            tt = times[rows]
            a = None if amount is None else amount[rows]
        t = _reduce_times(tt, kind)
        del tt
        # usually no row is late: one max() instead of a mask of every row (and the max
        # bounds the times for first / last)
        t_max = t.max() if len(t) else None
        late = t > analysis_date if t_max is not None and t_max > analysis_date else None
        n_late = 0 if late is None else int(np.count_nonzero(late))
        out["n_late"][i] = n_late
        out["late_row"][i] = -1
        out["far_row"][i] = -1
        kept: npt.NDArray[np.intp] | None = None
        if late is not None and n_late:
            j = int(np.argmax(late))
            out["late_row"][i] = j if rows is None else int(rows[j])
            if after == "raise":
                return  # the caller raises; nothing else is needed
            if aside is not None:  # its sums include the late rows: reduced again below
                aside.result()
                aside = None
            kept = np.flatnonzero(~late)
            c, t = c[kept], t[kept]
            a = None if a is None else a[kept]
        del late
        far = _far_day_row(t, a) if days and kind == "numeric" else -1
        if far >= 0:
            j = far if kept is None else int(kept[far])
            out["far_row"][i] = j if rows is None else int(rows[j])
        del kept, rows
        into: dict[str, npt.NDArray[Any]] = {name: out[name][lo:hi] for name in per_customer}
        pairs = _reduce_rfm_rows(
            c,
            t,
            a,
            into,
            kind=kind,
            days=days and far < 0,
            days_first=i % 2 == 1,
            sums=aside is None,
            returns=returns,
            upper=t_max,
        )
        if pairs is None:
            return
        pc, pd = pairs
        pc += lo
        if shared_pairs:
            m = len(pc)
            out["pair_at"][i], out["pair_n"][i] = before, m
            out["pair_codes"][before : before + m] = pc
            out["pair_days"][before : before + m] = pd
        else:
            local_pairs[i] = (pc, pd)

    _parallel.run(task, how)
    day_customer = day_number = None
    if days:
        if shared_pairs:
            spans = [(int(a), int(m)) for a, m in zip(out["pair_at"], out["pair_n"], strict=True)]
            found = [(out["pair_codes"][a : a + m], out["pair_days"][a : a + m]) for a, m in spans]
        else:
            found = [p for p in local_pairs if p is not None]
        if len(found) == n_parts:
            day_customer = _parallel.concat([f[0] for f in found], how.workers)
            day_number = _parallel.concat([f[1] for f in found], how.workers)
        del found
    got = out.release(drop=("pair_codes", "pair_days"), threads=how.workers)
    n_after = int(got["n_late"].sum())
    if n_after and after == "raise":
        row = int(got["late_row"][got["n_late"] > 0].min())
        t_row = float(_float_times(times[row : row + 1], kind)[0])
        raise InvalidInputError(
            f"{n_after} rows are after analysis_date {_time_scalar(analysis_date, kind)} "
            f"(the first at row {row}, time {_time_scalar(t_row, kind)}); "
            "pass after='exclude' to leave them out, or choose a later analysis_date"
        )
    total, count, first, last = got.get("total"), got["count"], got["first"], got["last"]
    if total is not None:
        _check_totals(total, labels, "the sum of its amounts")
    far_rows = got["far_row"][got["far_row"] >= 0]
    if len(far_rows):
        row = int(far_rows.min())
        _day_numbers(_float_times(times[row : row + 1], kind), kind)  # raises: beyond 2**53
    present = got["any_row"]
    remap: IntArray | None = None
    n_days = got.get("n_days")
    if not present.all():
        remap = np.cumsum(present) - 1
        labels, count = labels[present], count[present]
        first, last = first[present], last[present]
        total = None if total is None else total[present]
        n_days = None if n_days is None else n_days[present]
    if day_customer is not None and remap is not None:
        day_customer = remap[day_customer]
    return RFMSummary(
        customer_id=labels,
        first=_from_reduce_times(first, kind, _NO_FIRST),
        last=_from_reduce_times(last, kind, _NO_LAST),
        n_transactions=count.astype(np.int64, copy=False),
        total_amount=total,
        n_days=n_days,
        day_customer=day_customer,
        day_number=day_number,
        analysis_date=_time_scalar(analysis_date, kind),
        time_kind=kind,
        frequency_basis=frequency_basis,
        n_rows_after=n_after,
    )


# ---------------------------------------------------------------------------
# The RFM table
# ---------------------------------------------------------------------------


@attrs.frozen(eq=False)
class RFMTable(Tabular):
    """Recency, frequency and monetary value per customer at an analysis date.

    Attributes
    ----------
    customer_id : numpy.ndarray
        The customer ids (sorted when built from a log).
    recency : numpy.ndarray of float64
        Time from the last purchase to :attr:`analysis_date`, in :attr:`unit`
        (0 for a purchase at the analysis date).
    frequency : numpy.ndarray of int64
        Number of purchases: rows or distinct days, see :attr:`frequency_basis`
        (returns, rows with a negative amount, are not purchases).
    monetary_value : numpy.ndarray of float64 or None
        Total amount (``monetary_basis="sum"``) or amount per purchase
        (``"mean"``), returns netted; None when the log has no amounts.
    analysis_date : numpy.datetime64, float or None
        The analysis date (None for a table built from arrays without one).
    unit : str or float
        The unit of :attr:`recency`.
    frequency_basis : {"transactions", "days"} or None
        What :attr:`frequency` counts.
    monetary_basis : {"sum", "mean"} or None
        What :attr:`monetary_value` is.
    n_rows_after : int
        Rows after the analysis date that were excluded.
    n_returns_only : int
        Customers left out because their rows up to the analysis date are
        all returns (no purchase, so no recency or frequency).

    Examples
    --------
    >>> from custrel import TransactionLog, rfm_table
    >>> log = TransactionLog.from_arrays(
    ...     customer_id=[1, 1, 2], time=["2024-01-01", "2024-01-21", "2024-01-11"], amount=[10, 30, 5]
    ... )
    >>> t = rfm_table(log, "2024-01-31")
    >>> t.recency.tolist(), t.frequency.tolist(), t.monetary_value.tolist()
    ([10.0, 20.0], [2, 1], [40.0, 5.0])
    >>> rfm_table(log, "2024-01-31", monetary_basis="mean").monetary_value.tolist()
    [20.0, 5.0]
    """

    customer_id: npt.NDArray[Any] = attrs.field(converter=v.freeze)
    recency: FloatArray = attrs.field(converter=v.freeze)
    frequency: IntArray = attrs.field(converter=v.freeze)
    monetary_value: FloatArray | None = attrs.field(converter=v.freeze)
    analysis_date: Any = attrs.field(default=None, converter=v.freeze)
    unit: str | float = attrs.field(default="day", converter=v.freeze)
    frequency_basis: FrequencyBasis | None = attrs.field(default=None, converter=v.freeze)
    monetary_basis: MonetaryBasis | None = attrs.field(default=None, converter=v.freeze)
    n_rows_after: int = attrs.field(default=0, converter=v.freeze)
    n_returns_only: int = attrs.field(default=0, converter=v.freeze)

    def __len__(self) -> int:
        return len(self.customer_id)

    @property
    def n_customers(self) -> int:
        """Number of customers."""
        return len(self.customer_id)

    def __repr__(self) -> str:
        return (
            f"RFMTable(n_customers={self.n_customers}, analysis_date={self.analysis_date}, "
            f"unit={self.unit!r}, frequency_basis={self.frequency_basis!r}, "
            f"monetary_basis={self.monetary_basis!r})"
        )

    @classmethod
    def from_arrays(
        cls,
        *,
        customer_id: Any,
        recency: Any,
        frequency: Any,
        monetary_value: Any,
        unit: str | float = "day",
    ) -> RFMTable:
        """Build a table from per-customer values computed elsewhere.

        Parameters
        ----------
        customer_id : array_like
            Distinct customer ids, none missing; each keeps its type (``1``
            and ``"1"`` are two customers).
        recency : array_like of float
            Time since the last purchase, >= 0.
        frequency : array_like of int
            Number of purchases, whole numbers >= 1.
        monetary_value : array_like of float
            Money per customer (negative values allowed).
        unit : str or float
            The unit of ``recency`` (for the record only): ``"day"``,
            ``"week"``, ``"month"``, ``"quarter"``, ``"year"`` or a positive
            number.

        Returns
        -------
        RFMTable

        Raises
        ------
        EmptyInputError
            If there are no customers.
        InvalidInputError
            On inconsistent lengths, non-finite values, negative recency,
            frequency below 1 or not whole, or a missing or repeated customer
            id (naming the row).

        Examples
        --------
        >>> t = RFMTable.from_arrays(customer_id=["x", "y"], recency=[3, 40], frequency=[5, 1], monetary_value=[90, 12])
        >>> t.frequency.dtype.name
        'int64'
        """
        ids = v.id_array(customer_id, "customer_id")
        if len(ids) == 0:
            raise EmptyInputError("customer_id is empty; at least one customer is needed")
        r = v.as_float_array(recency, "recency", ndim=1, allow_empty=True)
        f = v.as_float_array(frequency, "frequency", ndim=1, allow_empty=True)
        m = v.as_float_array(monetary_value, "monetary_value", ndim=1, allow_empty=True)
        v.check_same_length(customer_id=ids, recency=r, frequency=f, monetary_value=m)
        v.check_range(r, "recency", low=0.0, hint="recency is time since the last purchase")
        v.check_range(
            f, "frequency", low=1.0, hint="a customer in an RFM table bought once at least"
        )
        v.check_range(
            f, "frequency", high=float(2**53), hint="counts beyond 2**53 are not exact in float64"
        )
        v.check_integer_valued(f, "frequency")
        # the unit is for the record, but must be one recency could be measured in
        _unit_seconds(unit, "datetime" if isinstance(unit, str) else "numeric", "unit")
        return cls(
            customer_id=ids,
            recency=r,
            frequency=f.astype(np.int64),
            monetary_value=m,
            unit=unit,
        )

    def to_arrays(self) -> dict[str, npt.NDArray[Any]]:
        """The columns as a dict of numpy arrays (copies).

        Examples
        --------
        >>> t = RFMTable.from_arrays(customer_id=[7], recency=[1.5], frequency=[2], monetary_value=[9])
        >>> sorted(t.to_arrays())
        ['customer_id', 'frequency', 'monetary_value', 'recency']
        """
        out = {
            "customer_id": self.customer_id.copy(),
            "recency": self.recency.copy(),
            "frequency": self.frequency.copy(),
        }
        if self.monetary_value is not None:
            out["monetary_value"] = self.monetary_value.copy()
        return out

    def column(self, dimension: str) -> npt.NDArray[Any]:
        """The values of one dimension: ``"recency"``, ``"frequency"`` or ``"monetary_value"``.

        Raises
        ------
        InvalidInputError
            For an unknown dimension, or ``"monetary_value"`` of a table
            built from a log without amounts.
        """
        v.choice(dimension, "dimension", DIMENSIONS)
        out: npt.NDArray[Any] | None = getattr(self, dimension)
        if out is None:
            raise InvalidInputError(
                "this RFM table has no monetary_value: its log has no amount column; "
                "build the log with amounts (amount=... / amount_col=...) for monetary scores"
            )
        return out


def rfm_table(
    log: TransactionLog,
    analysis_date: Any,
    *,
    frequency_basis: FrequencyBasis = "transactions",
    monetary_basis: MonetaryBasis = "sum",
    unit: str | float | None = None,
    after: Literal["raise", "exclude"] = "raise",
) -> RFMTable:
    """Recency, frequency and monetary value per customer at an analysis date.

    Parameters
    ----------
    log : TransactionLog
        The transactions (duplicates are not dropped; negative amounts are
        returns, see Notes). A log without amounts gives recency and
        frequency with ``monetary_value`` None.
    analysis_date : date or number
        The analysis date, of the log's kind of time; recency is measured
        from it (never from the last date in the data).
    frequency_basis : {"transactions", "days"}
        Count rows (default) or distinct purchase days.
    monetary_basis : {"sum", "mean"}
        Total amount per customer (default) or amount per purchase
        (total / frequency).
    unit : str or float, optional
        Unit of recency; days by default for calendar logs, the log's own
        unit for numeric logs.
    after : {"raise", "exclude"}
        Refuse (default) or exclude and count rows after ``analysis_date``.

    Returns
    -------
    RFMTable

    Raises
    ------
    InvalidTypeError
        If ``log`` is not a TransactionLog.
    InvalidInputError
        On a bad option or analysis date, or rows after the analysis date with
        ``after="raise"``.
    EmptyInputError
        If no customer bought on or before the analysis date.

    Notes
    -----
    ``summarize_rfm(log, analysis_date, ...).to_table(...)``; see
    :func:`summarize_rfm` to summarise a log in parts.

    recency = (analysis_date − last purchase) / unit;
    frequency = number of rows or of distinct days;
    monetary_value = Σ amount (sum) or Σ amount / frequency (mean).

    Returns rule: rows with a negative amount are returns; they are netted in
    monetary_value but never counted in frequency nor used for recency.
    Customers with returns only are left out (:attr:`RFMTable.n_returns_only`).

    Examples
    --------
    >>> from custrel import TransactionLog, rfm_table
    >>> log = TransactionLog.from_arrays(customer_id=[1, 1, 2], time=[0.0, 4.0, 6.0], amount=[10, 30, 5])
    >>> t = rfm_table(log, 10.0)
    >>> t.recency.tolist(), t.frequency.tolist(), t.monetary_value.tolist()
    ([6.0, 4.0], [2, 1], [40.0, 5.0])
    """
    summary = summarize_rfm(log, analysis_date, frequency_basis=frequency_basis, after=after)
    return summary.to_table(monetary_basis=monetary_basis, unit=unit)


# ---------------------------------------------------------------------------
# Scores
# ---------------------------------------------------------------------------


def _quantile_edges(x: FloatArray, k: int) -> FloatArray:
    """The k−1 inner j/k quantiles, linear interpolation at an exactly computed position.

    The position (n − 1)·j/k is split in integer arithmetic into a whole part
    and a remainder, so a whole-number position gives exactly that order
    statistic (floating point could land an ulp below it).
    """
    n = len(x)
    num = (n - 1) * np.arange(1, k, dtype=np.int64)
    lo = num // k
    frac = (num % k) / k
    hi = np.minimum(lo + 1, n - 1)
    part = np.partition(x, np.unique(np.concatenate([lo, hi])))
    out: FloatArray = part[lo] + (part[hi] - part[lo]) * frac
    return out


def _bin(x: FloatArray, edges: FloatArray) -> IntArray:
    """1 + the number of edges strictly below x: right-closed bins (e_{j−1}, e_j]."""
    # at most 8 edges: one vectorised comparison per edge beats a binary search per value
    out: IntArray = np.ones(len(x), dtype=np.int64)
    for e in edges.tolist():
        out += x > e
    return out


def _check_thresholds(thresholds: Any, k: int) -> dict[str, FloatArray]:
    if thresholds is None:
        return {}
    if not isinstance(thresholds, Mapping):
        raise InvalidTypeError(
            f"thresholds must be a mapping from dimension to cut points, got "
            f"{type(thresholds).__name__}; e.g. {{'recency': [30, 90, 180, 365]}}"
        )
    out: dict[str, FloatArray] = {}
    for dim, cuts in thresholds.items():
        if dim not in DIMENSIONS:
            raise InvalidInputError(
                f"thresholds has an unknown dimension {dim!r}; use {', '.join(map(repr, DIMENSIONS))}"
            )
        arr = v.as_float_array(cuts, f"thresholds[{dim!r}]", ndim=1, label="position")
        if len(arr) != k - 1:
            raise InvalidInputError(
                f"thresholds[{dim!r}] must hold k - 1 = {k - 1} cut points, got {len(arr)}"
            )
        steps = np.diff(arr)
        if (steps <= 0).any():
            pos = int(np.flatnonzero(steps <= 0)[0]) + 1
            raise InvalidInputError(
                f"thresholds[{dim!r}] must be strictly increasing, got {float(arr[pos])!r} "
                f"after {float(arr[pos - 1])!r} at position {pos}"
            )
        out[dim] = arr
    return out


@attrs.frozen(eq=False)
class RFMScores(Tabular):
    """RFM scores 1..k per customer, their cell and combined score.

    Attributes
    ----------
    customer_id : numpy.ndarray
        The customer ids, in the order of :attr:`table`.
    recency_score, frequency_score, monetary_score : numpy.ndarray of int64
        Scores 1..k; high is good (recent, frequent, big spender).
    cell : numpy.ndarray of str
        The combined RFM cell, one digit per score, R then F then M
        (``"545"``).
    score : numpy.ndarray of int64
        The combined score R + F + M (3..3k); :meth:`weighted_score` weights it.
    k : int
        The number of score levels.
    cut_points : Mapping[str, tuple of float or None]
        Per dimension, the k − 1 cut points used (quantiles found in the data
        or the user's thresholds); None for nested quantile dimensions, whose
        cut points differ per group. Score j covers (c_{j−1}, c_j] (recency
        reversed); pass them as ``thresholds`` to score new data on the same
        scale.
    methods : Mapping[str, str]
        Per dimension, ``"quantile"``, ``"nested quantile"`` or ``"thresholds"``.
    nested : bool
        Whether quantile dimensions were scored sequentially.
    table : RFMTable
        The values that were scored.

    Examples
    --------
    >>> from custrel import RFMTable, rfm_scores
    >>> t = RFMTable.from_arrays(customer_id=[1, 2, 3, 4], recency=[2, 9, 30, 90],
    ...                          frequency=[8, 3, 3, 1], monetary_value=[400, 90, 60, 15])
    >>> s = rfm_scores(t, k=2)
    >>> s.cell.tolist(), s.score.tolist()
    (['222', '212', '111', '111'], [6, 5, 3, 3])
    >>> s.cut_points["recency"], s.methods["recency"]
    ((19.5,), 'quantile')
    """

    customer_id: npt.NDArray[Any] = attrs.field(converter=v.freeze)
    recency_score: IntArray = attrs.field(converter=v.freeze)
    frequency_score: IntArray = attrs.field(converter=v.freeze)
    monetary_score: IntArray = attrs.field(converter=v.freeze)
    cell: npt.NDArray[np.str_] = attrs.field(converter=v.freeze)
    score: IntArray = attrs.field(converter=v.freeze)
    k: int = attrs.field(converter=v.freeze)
    cut_points: Mapping[str, tuple[float, ...] | None] = attrs.field(converter=v.freeze)
    methods: Mapping[str, str] = attrs.field(converter=v.freeze)
    nested: bool = attrs.field(converter=v.freeze)
    table: RFMTable = attrs.field(converter=v.freeze)

    def __len__(self) -> int:
        return len(self.customer_id)

    def __repr__(self) -> str:
        levels = ", ".join(f"{d}={len(x)}/{self.k}" for d, x in self.levels_used().items())
        return f"RFMScores(n_customers={len(self)}, k={self.k}, levels_used: {levels})"

    def scores(self, dimension: str) -> IntArray:
        """The scores of one dimension (``"recency"``, ``"frequency"`` or ``"monetary_value"``)."""
        v.choice(dimension, "dimension", DIMENSIONS)
        return {
            "recency": self.recency_score,
            "frequency": self.frequency_score,
            "monetary_value": self.monetary_score,
        }[dimension]

    def levels_used(self) -> dict[str, tuple[int, ...]]:
        """Per dimension, the score levels given to at least one customer.

        Fewer than k levels means ties (or too few customers) made some
        scores impossible: ties are never split.
        """
        out = {}
        for d in DIMENSIONS:
            present = _numeric.bincount(self.scores(d), minlength=self.k + 1) > 0
            out[d] = tuple(int(x) for x in np.flatnonzero(present))
        return out

    def collapsed(self) -> tuple[str, ...]:
        """The dimensions whose scores use fewer than k levels."""
        return tuple(d for d, lv in self.levels_used().items() if len(lv) < self.k)

    def weighted_score(self, weights: Sequence[float] = (1.0, 1.0, 1.0)) -> FloatArray:
        """Σ w_d · score_d / Σ w_d: a combined score on the 1..k scale.

        Parameters
        ----------
        weights : sequence of 3 floats
            Weights of R, F and M, >= 0 and not all 0.

        Returns
        -------
        numpy.ndarray of float64
        """
        w = v.as_float_array(weights, "weights", ndim=1, label="position")
        if len(w) != 3:
            raise InvalidInputError(f"weights must hold 3 values (R, F, M), got {len(w)}")
        v.check_range(w, "weights", low=0.0, label="position")
        if w.max() == 0:
            raise InvalidInputError("weights must not all be 0")
        w = w / w.max()  # the weighted mean is invariant to a common factor; sums stay finite
        stacked = np.stack([self.recency_score, self.frequency_score, self.monetary_score])
        out: FloatArray = (w @ stacked) / w.sum()
        return out

    def to_arrays(self) -> dict[str, npt.NDArray[Any]]:
        """Table columns plus the scores, cell and score, as a dict of arrays (copies)."""
        out = self.table.to_arrays()
        out.update(
            recency_score=self.recency_score.copy(),
            frequency_score=self.frequency_score.copy(),
            monetary_score=self.monetary_score.copy(),
            rfm_cell=self.cell.copy(),
            rfm_score=self.score.copy(),
        )
        return out


def rfm_scores(
    table: RFMTable,
    *,
    k: int = 5,
    thresholds: Mapping[str, Sequence[float]] | None = None,
    nested: bool = False,
    on_collapse: Literal["warn", "ignore", "raise"] = "warn",
) -> RFMScores:
    """Score recency, frequency and monetary value 1..k (recent = high).

    Parameters
    ----------
    table : RFMTable
        From :func:`rfm_table` or :meth:`RFMTable.from_arrays`.
    k : int
        Number of levels, 2..9 (a cell writes one digit per score); default 5.
    thresholds : mapping, optional
        User cut points per dimension (``"recency"``, ``"frequency"``,
        ``"monetary_value"``): k − 1 strictly increasing values c_1 < ... <
        c_{k−1}. Value x gets level 1 + #{c_j < x}, so level j covers
        (c_{j−1}, c_j]; recency is reversed (score = k + 1 − level). Dimensions
        not given use quantiles.
    nested : bool
        Sequential scoring: recency quantiles over all customers, frequency
        quantiles within each recency score, monetary quantiles within each
        (recency, frequency) pair. Default False: independent scoring.
    on_collapse : {"warn", "ignore", "raise"}
        What to do when ties leave a dimension with fewer than k levels used
        (see Notes): warn with :class:`RFMCollapseWarning` (default), say
        nothing, or raise :class:`~custrel.InvalidInputError`. The levels are
        always in :meth:`RFMScores.levels_used`.

    Returns
    -------
    RFMScores

    Raises
    ------
    InvalidTypeError
        If ``table`` is not an RFMTable or ``thresholds`` not a mapping.
    InvalidInputError
        On ``k`` outside 2..9, bad thresholds, a table without
        monetary value (a log without amounts), or a collapse with
        ``on_collapse="raise"``.

    Notes
    -----
    Quantile scores use the k − 1 inner quantiles q_j = Q(j/k) of the values
    as cut points, with the linear interpolation of ``numpy.quantile`` and
    ``pandas.qcut``: q_j = x_(i) + f·(x_(i+1) − x_(i)) at the position
    (n − 1)·j/k = i + f of the sorted values, computed exactly in integers.
    level(x) = 1 + #{j : q_j < x}, i.e. the right-closed bins of
    ``pandas.qcut(x, k)``. Wherever ``pandas.qcut`` succeeds (its edges are
    distinct) the levels equal its labels, except that pandas computes the
    position in floating point: when it is a whole number pandas can land an
    ulp below the data value there and put that customer one level higher.

    Tie policy: the level depends only on the value, so equal values always
    get equal scores; ties are never split as equal-count binning
    (``qcut(x.rank(method="first"), k)``) does. On heavily tied data several
    quantiles coincide and some levels are never used: when 80 % of the
    customers bought once, q_1 … q_4 all equal 1, the one-time buyers all get
    frequency score 1 and every repeat buyer gets 5 (they are the top
    fifth). The scores keep their quantile meaning instead of being
    renumbered densely (``qcut(..., duplicates="drop")`` would call the repeat
    buyers 2). This is reported, never silent: see ``on_collapse`` and
    :meth:`RFMScores.levels_used`.

    Bins are right-closed on the raw scale of every dimension, as user
    thresholds read ("recency <= 30 days scores 5"): a value equal to a cut
    point belongs to the bin below it. For frequency and monetary value that
    is the lower score; for recency, reversed, the higher one.

    References
    ----------
    Hughes, A. M. (1994). *Strategic Database Marketing*. Probus.
    Miglautsch, J. (2000). Thoughts on RFM scoring. *Journal of Database
    Marketing* 8(1), 67-72 (independent vs sequential scoring).

    Examples
    --------
    >>> from custrel import RFMTable, rfm_scores
    >>> t = RFMTable.from_arrays(
    ...     customer_id=list("abcdef"),
    ...     recency=[1, 5, 30, 30, 90, 200],
    ...     frequency=[9, 4, 1, 1, 2, 1],
    ...     monetary_value=[500, 120, 20, 35, 60, 10],
    ... )
    >>> s = rfm_scores(t, k=3, on_collapse="ignore")
    >>> s.cell.tolist()
    ['333', '333', '211', '212', '122', '111']
    >>> s.levels_used()["frequency"]
    (1, 2, 3)
    """
    if not isinstance(table, RFMTable):
        raise InvalidTypeError(
            f"table must be an RFMTable, got {type(table).__name__}; build one with rfm_table "
            "or RFMTable.from_arrays"
        )
    if table.monetary_value is None:
        raise InvalidInputError(
            "table has no monetary_value (its log has no amount column), so RFM scores "
            "cannot be given; build the log with amounts (amount=... / amount_col=...), or "
            "use table.recency and table.frequency directly"
        )
    k = v.positive_int(k, "k", minimum=2)
    if k > 9:
        raise InvalidInputError(f"k must be <= 9 (a cell writes one digit per score), got {k}")
    if not isinstance(nested, bool):
        raise InvalidTypeError(f"nested must be True or False, got {nested!r}")
    v.choice(on_collapse, "on_collapse", ("warn", "ignore", "raise"))
    user = _check_thresholds(thresholds, k)
    values = {d: np.asarray(table.column(d), dtype=np.float64) for d in DIMENSIONS}
    levels: dict[str, IntArray] = {}
    cut_points: dict[str, tuple[float, ...] | None] = {}
    methods: dict[str, str] = {}
    group: IntArray = np.zeros(len(table), dtype=np.int64)
    for pos, dim in enumerate(DIMENSIONS):
        x = values[dim]
        if dim in user:
            edges = user[dim]
            lv = _bin(x, edges)
            cut_points[dim] = tuple(float(c) for c in edges)
            methods[dim] = "thresholds"
        elif not nested or pos == 0:
            edges = _quantile_edges(x, k)
            lv = _bin(x, edges)
            cut_points[dim] = tuple(float(c) for c in edges)
            methods[dim] = "quantile"
        else:
            lv = np.empty(len(x), dtype=np.int64)
            # one pass per group (at most k² groups), vectorised inside
            for g in np.unique(group):
                idx = np.flatnonzero(group == g)
                lv[idx] = _bin(x[idx], _quantile_edges(x[idx], k))
            cut_points[dim] = None
            methods[dim] = "nested quantile"
        score = (k + 1 - lv) if dim == "recency" else lv
        levels[dim] = score.astype(np.int64)
        group = group * k + (score - 1)
    r, f, m = levels["recency"], levels["frequency"], levels["monetary_value"]
    # the cell string "RFM" built from code points, viewed as <U3 (no per-row Python)
    points = np.empty((len(r), 3), dtype=np.uint32)
    for col, sc in enumerate((r, f, m)):
        points[:, col] = ord("0") + sc
    cell = points.view(np.dtype("U3")).reshape(-1)
    result = RFMScores(
        customer_id=table.customer_id,
        recency_score=r,
        frequency_score=f,
        monetary_score=m,
        cell=cell,
        score=r + f + m,
        k=k,
        cut_points=cut_points,
        methods=methods,
        nested=nested,
        table=table,
    )
    collapsed = result.collapsed()
    if collapsed and on_collapse != "ignore":
        used = result.levels_used()
        parts = []
        for d in collapsed:
            head = f"{d} uses {len(used[d])} of {k} levels {used[d]}"
            if len(table) < k:
                parts.append(f"{head} (only {len(table)} customers)")
                continue
            vals, counts = np.unique(values[d], return_counts=True)
            top = int(np.argmax(counts))
            parts.append(
                f"{head} ({counts[top] / len(table):.0%} of customers share the value {vals[top]:g})"
            )
        msg = (
            "; ".join(parts) + ". Ties are never split; see RFMScores.levels_used(), "
            "give thresholds=..., or pass on_collapse='ignore'"
        )
        if on_collapse == "raise":
            raise InvalidInputError("RFM scores collapse on tied values: " + msg)
        warnings.warn(msg, RFMCollapseWarning, stacklevel=2)
    return result


# ---------------------------------------------------------------------------
# Segments
# ---------------------------------------------------------------------------


def _score_range(value: Any) -> tuple[int, int]:
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return (int(value), int(value))
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise InvalidTypeError(
            f"a score range must be an int or a (low, high) pair, got {value!r}"
        ) from None
    for x in (lo, hi):
        if isinstance(x, bool) or not isinstance(x, int | np.integer):
            raise InvalidTypeError(f"score range bounds must be integers, got {value!r}")
    return (int(lo), int(hi))


@attrs.frozen
class SegmentRule:
    """One row of a segment table: a named box of score triples.

    A customer matches when each of its scores lies in the inclusive range
    of the rule. Several rules may carry the same segment name.

    Parameters
    ----------
    name : str
        The segment.
    recency, frequency, monetary_value : int or (int, int)
        Inclusive score ranges (an int means that one score).

    Attributes
    ----------
    name, recency, frequency, monetary_value
        As given, ranges as (low, high) pairs.

    Examples
    --------
    >>> SegmentRule("champions", (4, 5), (4, 5), (4, 5)).n_cells
    8
    """

    name: str
    recency: tuple[int, int] = attrs.field(converter=_score_range)
    frequency: tuple[int, int] = attrs.field(converter=_score_range)
    monetary_value: tuple[int, int] = attrs.field(converter=_score_range)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidInputError(f"a segment name must be a non-empty string, got {self.name!r}")
        for dim in DIMENSIONS:
            lo, hi = getattr(self, dim)
            if lo < 1 or hi < lo:
                raise InvalidInputError(
                    f"segment {self.name!r}: {dim} range must satisfy 1 <= low <= high, "
                    f"got ({lo}, {hi})"
                )

    @property
    def n_cells(self) -> int:
        """Number of score triples in the rule's box."""
        return int(np.prod([getattr(self, d)[1] - getattr(self, d)[0] + 1 for d in DIMENSIONS]))


@attrs.frozen
class SegmentCoverage:
    """How a segment table covers the k³ score triples.

    Attributes
    ----------
    k : int
        The score scale.
    gaps : tuple of str
        Cells (``"RFM"``) no rule covers.
    overlaps : tuple of (str, tuple of str)
        Cells that two or more rules cover, with the segments of those rules
        in table order.

    Examples
    --------
    >>> t = SegmentTable([("top", 2, (1, 2), (1, 2)), ("low", (1, 2), 1, 1)], k=2)
    >>> cov = t.coverage()
    >>> cov.gaps, cov.overlaps, cov.is_partition
    (('112', '121', '122'), (('211', ('top', 'low')),), False)
    """

    k: int = attrs.field(converter=v.freeze)
    gaps: tuple[str, ...] = attrs.field(converter=v.freeze)
    overlaps: tuple[tuple[str, tuple[str, ...]], ...] = attrs.field(converter=v.freeze)

    @property
    def is_partition(self) -> bool:
        """True when every cell is covered exactly once."""
        return not self.gaps and not self.overlaps


def _rules_tuple(rules: Iterable[Any]) -> tuple[SegmentRule, ...]:
    if isinstance(rules, str | bytes) or not isinstance(rules, Iterable):
        raise InvalidTypeError(
            f"rules must be an iterable of segment rules, got {type(rules).__name__} {rules!r:.60}"
        )
    out = []
    for i, r in enumerate(rules):
        if isinstance(r, SegmentRule):
            out.append(r)
        elif isinstance(r, Mapping):
            out.append(SegmentRule(**r))
        elif isinstance(r, Sequence) and not isinstance(r, str) and len(r) == 4:
            out.append(SegmentRule(*r))
        else:
            raise InvalidTypeError(
                f"rules must be SegmentRule values, mappings or (name, recency, frequency, "
                f"monetary_value) tuples, got {r!r} at position {i}"
            )
    if not out:
        raise EmptyInputError("rules is empty; give at least one segment rule")
    return tuple(out)


@attrs.frozen
class SegmentTable:
    """A rule table mapping RFM score triples to named segments.

    Parameters
    ----------
    rules : iterable of SegmentRule, mappings or tuples
        The rules, in priority order (the order matters only for overlaps,
        see :func:`rfm_segments`).
    k : int
        The score scale the ranges are written on (default 5).

    Attributes
    ----------
    rules : tuple of SegmentRule
    k : int

    Examples
    --------
    >>> t = SegmentTable([("high", (3, 3), (1, 3), (1, 3)), ("low", (1, 2), (1, 3), (1, 3))], k=3)
    >>> t.coverage().is_partition, t.names()
    (True, ('high', 'low'))
    """

    rules: tuple[SegmentRule, ...] = attrs.field(converter=_rules_tuple)
    k: int = 5

    def __attrs_post_init__(self) -> None:
        k = v.positive_int(self.k, "k", minimum=2)
        if k > 9:
            raise InvalidInputError(f"k must be <= 9, got {k}")
        for r in self.rules:
            for dim in DIMENSIONS:
                hi = getattr(r, dim)[1]
                if hi > k:
                    raise InvalidInputError(
                        f"segment {r.name!r}: {dim} range {getattr(r, dim)} goes beyond k = {k}"
                    )

    def names(self) -> tuple[str, ...]:
        """The segment names, in table order, each once."""
        return tuple(dict.fromkeys(r.name for r in self.rules))

    def _hits(self) -> npt.NDArray[np.int64]:
        """(n_rules, k, k, k) 0/1 array: which rule covers which cell."""
        k = self.k
        grid = np.arange(1, k + 1)
        hits = np.zeros((len(self.rules), k, k, k), dtype=np.int64)
        for i, r in enumerate(self.rules):  # loop over rules, not customers
            masks = [(grid >= getattr(r, d)[0]) & (grid <= getattr(r, d)[1]) for d in DIMENSIONS]
            hits[i] = masks[0][:, None, None] & masks[1][None, :, None] & masks[2][None, None, :]
        return hits

    def lookup(self) -> IntArray:
        """(k, k, k) array: index into :meth:`names` of the first rule covering each cell, −1 for gaps."""
        hits = self._hits()
        names = self.names()
        name_idx = np.asarray([names.index(r.name) for r in self.rules], dtype=np.int64)
        covered = hits.any(axis=0)
        first_rule = np.argmax(hits, axis=0)
        out: IntArray = np.where(covered, name_idx[first_rule], -1)
        return out

    def coverage(self) -> SegmentCoverage:
        """The cells no rule covers and the cells several rules cover."""
        hits = self._hits()
        n = hits.sum(axis=0)
        k = self.k

        def cell(i: int, j: int, m: int) -> str:
            return f"{i + 1}{j + 1}{m + 1}"

        gaps = tuple(cell(*map(int, c)) for c in np.argwhere(n == 0))
        overlaps = tuple(
            (cell(*map(int, c)), tuple(self.rules[i].name for i in np.flatnonzero(hits[:, *c])))
            for c in np.argwhere(n > 1)
        )
        return SegmentCoverage(k=k, gaps=gaps, overlaps=overlaps)

    def describe(self) -> str:
        """The rules as an aligned plain-text table (ranges as ``low-high``)."""

        def rng(p: tuple[int, int]) -> str:
            return str(p[0]) if p[0] == p[1] else f"{p[0]}-{p[1]}"

        rows = [("segment", "R", "F", "M", "cells")]
        rows += [
            (r.name, rng(r.recency), rng(r.frequency), rng(r.monetary_value), str(r.n_cells))
            for r in self.rules
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        return "\n".join(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
            for row in rows
        )


#: The default segment table on the 1..5 scale: eleven named segments that
#: cover all 125 score triples exactly once (see the RFM explanation page).
DEFAULT_SEGMENTS = SegmentTable(
    [
        SegmentRule("champions", (4, 5), (4, 5), (4, 5)),
        SegmentRule("loyal", (4, 5), (4, 5), (1, 3)),
        SegmentRule("loyal", 3, (4, 5), (1, 5)),
        SegmentRule("potential loyalists", (4, 5), (2, 3), (1, 5)),
        SegmentRule("new", 5, 1, (1, 5)),
        SegmentRule("promising", 4, 1, (1, 5)),
        SegmentRule("need attention", 3, 3, (1, 5)),
        SegmentRule("about to sleep", 3, (1, 2), (1, 5)),
        SegmentRule("at risk", (1, 2), 3, (1, 5)),
        SegmentRule("at risk", (1, 2), (4, 5), (1, 3)),
        SegmentRule("can't lose them", (1, 2), (4, 5), (4, 5)),
        SegmentRule("hibernating", 2, (1, 2), (1, 5)),
        SegmentRule("lost", 1, (1, 2), (1, 5)),
    ],
    k=5,
)


def _rescale(scores: IntArray, k_from: int, k_to: int) -> IntArray:
    """Map scores 1..k_from onto 1..k_to: s' = 1 + floor(k_to (s − 1) / k_from)."""
    if k_from == k_to:
        return scores
    out: IntArray = 1 + (k_to * (scores - 1)) // k_from
    return out


@attrs.frozen(eq=False)
class RFMSegments(Tabular):
    """The segment of every customer.

    Attributes
    ----------
    customer_id : numpy.ndarray
        The customer ids, in the order of :attr:`scores`.
    segment : numpy.ndarray of str
        Each customer's segment; the ``other`` label for customers whose
        score triple no rule covers.
    segment_code : numpy.ndarray of int64
        Each customer's segment as a position in :attr:`names`.
    names : tuple of str
        The segments in table order, followed by :attr:`other` when used.
    other : str
        The label of customers in a gap of the table.
    gaps : tuple of str
        The table's uncovered cells (on the table's scale).
    overlaps : tuple of (str, tuple of str)
        Cells several rules cover (resolved by the first rule) when
        ``overlap="first"``.
    table : SegmentTable
        The rules used.
    scores : RFMScores
        The scores segmented.

    Examples
    --------
    >>> from custrel import RFMTable, rfm_scores, rfm_segments
    >>> t = RFMTable.from_arrays(customer_id=["a", "b"], recency=[3, 200], frequency=[9, 1],
    ...                          monetary_value=[500, 20])
    >>> seg = rfm_segments(rfm_scores(t, on_collapse="ignore"))
    >>> seg.segment.tolist(), seg.segment_code.tolist()
    (['champions', 'lost'], [0, 10])
    >>> seg.summary()["customers"].tolist()
    [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    """

    customer_id: npt.NDArray[Any] = attrs.field(converter=v.freeze)
    segment: npt.NDArray[np.str_] = attrs.field(converter=v.freeze)
    segment_code: IntArray = attrs.field(converter=v.freeze)
    names: tuple[str, ...] = attrs.field(converter=v.freeze)
    other: str = attrs.field(converter=v.freeze)
    gaps: tuple[str, ...] = attrs.field(converter=v.freeze)
    overlaps: tuple[tuple[str, tuple[str, ...]], ...] = attrs.field(converter=v.freeze)
    table: SegmentTable = attrs.field(converter=v.freeze)
    scores: RFMScores = attrs.field(converter=v.freeze)

    def __len__(self) -> int:
        return len(self.customer_id)

    def __repr__(self) -> str:
        return (
            f"RFMSegments(n_customers={len(self)}, segments={len(self.names)}, "
            f"n_other={self.n_other}, gaps={len(self.gaps)})"
        )

    @property
    def n_other(self) -> int:
        """Number of customers in no rule's box (labelled :attr:`other`)."""
        if self.names[-1] != self.other:
            return 0
        return int(np.count_nonzero(self.segment_code == len(self.names) - 1))

    def counts(self) -> dict[str, int]:
        """Customers per segment, in table order (empty segments give 0; ``other`` last if used)."""
        counts = _numeric.bincount(self.segment_code, minlength=len(self.names))
        return {name: int(c) for name, c in zip(self.names, counts.tolist(), strict=True)}

    def summary(self) -> dict[str, npt.NDArray[Any]]:
        """Per segment: customers, share, mean recency, frequency and monetary value, total monetary value.

        Empty segments have 0 customers, share 0 and nan means.

        Returns
        -------
        dict of numpy.ndarray
            Columns ``segment``, ``customers``, ``share``, ``mean_recency``,
            ``mean_frequency``, ``mean_monetary_value``,
            ``total_monetary_value``, one row per name in :attr:`names`.
        """
        names = np.asarray(self.names)
        pos = self.segment_code
        n = len(names)
        t = self.scores.table
        cnt = _numeric.bincount(pos, minlength=n).astype(np.int64)
        sums = {
            d: _numeric.bincount(
                pos, weights=np.asarray(t.column(d), dtype=np.float64), minlength=n
            )
            for d in DIMENSIONS
        }
        with np.errstate(invalid="ignore", divide="ignore"):
            means = {d: s / cnt for d, s in sums.items()}
        return {
            "segment": names,
            "customers": cnt,
            "share": cnt / max(len(self), 1),
            "mean_recency": means["recency"],
            "mean_frequency": means["frequency"],
            "mean_monetary_value": means["monetary_value"],
            "total_monetary_value": sums["monetary_value"],
        }

    def to_arrays(self) -> dict[str, npt.NDArray[Any]]:
        """Score columns (see :meth:`RFMScores.to_arrays`) plus ``segment``."""
        out = self.scores.to_arrays()
        out["segment"] = self.segment.copy()
        return out


def rfm_segments(
    scores: RFMScores,
    table: SegmentTable | Iterable[Any] = DEFAULT_SEGMENTS,
    *,
    other: str = "other",
    overlap: Literal["raise", "first"] = "raise",
) -> RFMSegments:
    """Put every customer in exactly one named segment by its RFM scores.

    Parameters
    ----------
    scores : RFMScores
        From :func:`rfm_scores`.
    table : SegmentTable or iterable of rules
        The rule table; :data:`DEFAULT_SEGMENTS` by default. A plain iterable
        of rules is read as a table on the scores' own scale.
    other : str
        Label for customers whose score triple no rule covers (default
        ``"other"``); such gaps are reported in :attr:`RFMSegments.gaps`.
    overlap : {"raise", "first"}
        When two rules cover the same cell: raise (default) or give the cell
        to the first rule in table order (reported in
        :attr:`RFMSegments.overlaps`).

    Returns
    -------
    RFMSegments

    Raises
    ------
    InvalidTypeError
        If ``scores`` is not an RFMScores or a rule is malformed.
    InvalidInputError
        If rules overlap and ``overlap="raise"``, or ``other`` is also a rule's
        name.

    Notes
    -----
    When the table's scale differs from the scores' k, scores are mapped to
    the table's scale first by s' = 1 + ⌊k_table (s − 1) / k_scores⌋, so a
    table that partitions its own k³ cells partitions any scale. The default
    table is such a partition on 1..5 (tested); its rules are listed by
    ``print(DEFAULT_SEGMENTS.describe())``.

    Examples
    --------
    >>> from custrel import RFMTable, rfm_scores, rfm_segments
    >>> t = RFMTable.from_arrays(
    ...     customer_id=list("abcdefghij"),
    ...     recency=[1, 2, 3, 10, 20, 40, 80, 160, 320, 640],
    ...     frequency=[20, 3, 9, 7, 1, 6, 5, 2, 8, 4],
    ...     monetary_value=[900, 20, 400, 350, 5, 300, 250, 10, 600, 30],
    ... )
    >>> seg = rfm_segments(rfm_scores(t))
    >>> seg.segment.tolist()[:3]
    ['champions', 'potential loyalists', 'champions']
    >>> seg.n_other
    0
    """
    if not isinstance(scores, RFMScores):
        raise InvalidTypeError(
            f"scores must be an RFMScores (from rfm_scores), got {type(scores).__name__}"
        )
    if not isinstance(table, SegmentTable):
        table = SegmentTable(table, k=scores.k)
    v.choice(overlap, "overlap", ("raise", "first"))
    if not isinstance(other, str) or not other:
        raise InvalidInputError(f"other must be a non-empty string, got {other!r}")
    names = table.names()
    if other in names:
        raise InvalidInputError(
            f"other label {other!r} is also a segment name in the table; pass another other=..."
        )
    cov = table.coverage()
    if cov.overlaps and overlap == "raise":
        shown = "; ".join(f"{c}: {', '.join(n)}" for c, n in cov.overlaps[:5])
        more = f" and {len(cov.overlaps) - 5} more" if len(cov.overlaps) > 5 else ""
        raise InvalidInputError(
            f"segment rules overlap in {len(cov.overlaps)} cells ({shown}{more}); "
            "fix the ranges, or pass overlap='first' to let the first rule win"
        )
    lookup = table.lookup()
    r = _rescale(np.asarray(scores.recency_score), scores.k, table.k)
    f = _rescale(np.asarray(scores.frequency_score), scores.k, table.k)
    m = _rescale(np.asarray(scores.monetary_score), scores.k, table.k)
    kt = table.k
    idx = lookup.reshape(-1)[((r - 1) * kt + (f - 1)) * kt + (m - 1)]
    labels = np.asarray([*names, other])
    code = np.where(idx < 0, len(names), idx).astype(np.int64)
    used_names = names + ((other,) if (idx < 0).any() else ())
    return RFMSegments(
        customer_id=scores.customer_id,
        segment=labels[code],
        segment_code=code,
        names=used_names,
        other=other,
        gaps=cov.gaps,
        overlaps=cov.overlaps,
        table=table,
        scores=scores,
    )
