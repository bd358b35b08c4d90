"""Sample data: a seeded synthetic generator, a bundled sample and the CDNOW format.

* :func:`generate_transactions` simulates a customer base with real
  structure (acquisition over time, heterogeneous purchase rates, dropout and
  spend, optional costs) as a :class:`~custrel.TransactionLog`, vectorised so
  that ten million rows take seconds.
* :func:`load_sample` reads the small log bundled with the package
  (``custrel/data/sample_transactions.csv``), made by the generator.
* :func:`load_cdnow` reads the CDNOW data of Fader & Hardie: by default the
  1/10th sample bundled with the package (``custrel/data/CDNOW_sample.txt``,
  2,357 customers, as published by Bruce Hardie at
  https://www.brucehardie.com/datasets/), or any file in that format (the
  master file through its path), with the number of CDs as the ``volume``
  column.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from custrel import _validate as v
from custrel.errors import EmptyInputError, InvalidInputError, InvalidTypeError
from custrel.models import TransactionLog
from custrel.models._times import UNIT_DAYS, time_to_float

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_DAY = 86400
#: File name of the bundled sample inside the package's ``data`` folder.
_SAMPLE_FILE = "sample_transactions.csv"
#: How the bundled sample was made (regenerate it with :func:`_write_sample`).
_SAMPLE_ARGS: dict[str, Any] = {
    "n_customers": 3000,
    "start": "2021-01-01",
    "end": "2023-12-31",
    "rng": 20240101,
}


def generate_transactions(
    n_customers: int,
    *,
    start: Any = "2021-01-01",
    end: Any = "2023-12-31",
    rng: np.random.Generator | int | None = None,
    unit: str | float = "week",
    acquisition_window: float = 0.5,
    r: float = 0.243,
    alpha: float = 4.414,
    a: float = 0.793,
    b: float = 2.426,
    p: float = 6.25,
    q: float = 3.74,
    gamma: float = 15.44,
    costs: bool = True,
    return_rate: float = 0.0,
) -> TransactionLog:
    r"""Simulate the transactions of a customer base with realistic structure.

    Each customer is acquired at a random time, buys at its own rate while it
    is alive, may drop out after each repeat purchase, and spends around its
    own mean: the story of the BG/NBD and Gamma-Gamma models, so the later
    models have real structure to find.

    Parameters
    ----------
    n_customers : int
        Number of customers (>= 1). Customer ids are the integers
        ``1 .. n_customers``.
    start, end : date-like or float
        The observation window. ISO date strings, :class:`datetime.date` or
        ``numpy.datetime64`` make a log with calendar times (whole days);
        numbers make a log with numeric times.
    rng : numpy.random.Generator, int or None
        Source of randomness; an int seeds a new generator, so equal seeds
        give equal logs.
    unit : str or float
        For calendar windows, the time unit the rate parameters refer to
        (``"day"``, ``"week"``, ``"month"``, ``"quarter"``, ``"year"`` or a
        number of days); ``"week"`` by default, as in the CDNOW fits. Ignored
        for numeric windows, whose rates are per unit of the numbers.
    acquisition_window : float
        Share of the window, from ``start``, over which first purchases are
        spread uniformly; in (0, 1].
    r, alpha : float
        Purchase rates while alive: ``lambda ~ Gamma(shape=r, rate=alpha)``
        per ``unit``.
    a, b : float
        Dropout: after each repeat purchase a customer leaves for good with
        probability ``p_drop ~ Beta(a, b)``.
    p, q, gamma : float
        Spend (Gamma-Gamma): a customer's spend rate
        ``nu ~ Gamma(shape=q, rate=gamma)``, each amount
        ``~ Gamma(shape=p, rate=nu)``, rounded to cents; the mean amount is
        ``p * gamma / (q - 1)`` across customers.
    return_rate : float
        Probability in [0, 1) that a repeat transaction is a return: a
        negative amount (a refund of a purchase of the customer's usual size).
        First purchases are never returns. 0 by default.
    costs : bool
        If True (default), add ``volume`` (items), ``product_cost`` (a
        per-customer share of the amount, ``Beta(5, 5)``, mean 50 %;
        negative on returns, whose goods come back),
        ``service_cost`` (``Gamma(2, 1)`` per transaction),
        ``marketing_cost`` (10 on each customer's first purchase, the
        acquisition cost) and ``transaction_cost`` (1 per transaction), so
        that :meth:`~custrel.TransactionLog.profit` is meaningful and some
        customers lose money.

    Returns
    -------
    TransactionLog
        Rows in time order (ties by customer id). Every customer has at
        least its first purchase; repeat purchases follow.

    Raises
    ------
    InvalidInputError
        If ``end`` is not after ``start``, the two are of different kinds,
        or a parameter is out of range; if the draws would exceed the cell
        budget (``CUSTREL_MAX_CELLS``, 500M by default: ten values per
        customer, one customer's expected purchases, all the rows drawn),
        or an amount would reach 2**53 cents.

    Notes
    -----
    Customer *i* is acquired (makes its first purchase) at
    :math:`A_i \sim U(s, s + w (e - s))`, with rates
    :math:`\lambda_i \sim \Gamma(r, \alpha)` and dropout probability
    :math:`p_i \sim B(a, b)` (BG/NBD, Fader, Hardie & Lee 2005). Repeat
    purchases arrive as a Poisson process of rate :math:`\lambda_i` on
    :math:`(A_i, e]`; after each one the customer drops out with probability
    :math:`p_i`, so it makes :math:`N_i = \min(M_i, K_i)` repeat purchases,
    :math:`M_i \sim \text{Geom}(p_i)` and
    :math:`K_i \sim \text{Poisson}(\lambda_i (e - A_i))`. Their times are
    the first :math:`N_i` of :math:`K_i` uniform order statistics, drawn
    without materialising the rest: :math:`U_{(j)} = S_j / S_{K+1}` with
    :math:`S_j` cumulative standard exponentials and
    :math:`S_{K+1} = S_{N} + \Gamma(K + 1 - N)`. Amounts follow the
    Gamma-Gamma model (Fader & Hardie 2013). The defaults are the published
    CDNOW estimates (per week): r = 0.243, alpha = 4.414, a = 0.793,
    b = 2.426; p = 6.25, q = 3.74, gamma = 15.44.

    Everything is vectorised: one draw per customer per parameter and one
    per repeat purchase, a cumulative sum and one sort by time.

    References
    ----------
    - Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting your
      customers the easy way: an alternative to the Pareto/NBD model."
      Marketing Science 24(2), 275-284.
    - Fader, P. S. and Hardie, B. G. S. (2013). "The Gamma-Gamma model of
      monetary value."

    Examples
    --------
    >>> from custrel.datasets import generate_transactions
    >>> log = generate_transactions(200, rng=7)
    >>> log.n_customers, log.time_kind, log.optional_columns[:2]
    (200, 'datetime', ('volume', 'product_cost'))
    >>> generate_transactions(200, rng=7) == log
    True
    >>> numeric = generate_transactions(50, start=0.0, end=78.0, rng=1, costs=False)
    >>> numeric.time_kind, bool(numeric.time.max() <= 78.0)
    ('numeric', True)
    """
    n = v.positive_int(n_customers, "n_customers")
    gen = v.as_rng(rng)
    w = v.scalar(acquisition_window, "acquisition_window", low=0.0, high=1.0, low_inclusive=False)
    for name, value in (("r", r), ("alpha", alpha), ("a", a), ("b", b), ("p", p), ("gamma", gamma)):
        v.scalar(value, name, low=0.0, low_inclusive=False)
    v.scalar(q, "q", low=1.0, low_inclusive=False, hint="the mean spend needs q > 1")
    returns = v.scalar(return_rate, "return_rate", low=0.0, high=1.0, high_inclusive=False)
    calendar = not _is_number(start)
    if calendar == _is_number(end):
        raise InvalidInputError(
            "start and end must both be dates or both be numbers, got "
            f"start={start!r} ({'a date' if calendar else 'a number'}) and end={end!r} "
            f"({'a number' if calendar else 'a date'})"
        )
    kind: Literal["datetime", "numeric"] = "datetime" if calendar else "numeric"
    s = time_to_float(start, kind, "start")
    e = time_to_float(end, kind, "end")
    if calendar:
        s, e = s / _DAY, e / _DAY  # compute in days
    if not e > s:
        raise InvalidInputError(f"end must be after start, got start={start!r}, end={end!r}")
    if calendar:
        if isinstance(unit, str):
            v.choice(unit, "unit", tuple(UNIT_DAYS))
            unit_len = UNIT_DAYS[unit]
        else:
            unit_len = v.scalar(unit, "unit", low=0.0, low_inclusive=False)
    else:
        unit_len = 1.0

    budget = v.max_cells()
    # one draw per customer (about ten arrays of n values)
    v.check_budget(
        10.0 * n,
        "the customers' draws (10 values per customer)",
        budget=budget,
        culprit=f"n_customers={n_customers!r}",
        env="CUSTREL_MAX_CELLS",
    )
    acquired = s + w * (e - s) * gen.random(n)
    with np.errstate(over="ignore"):  # an infinite rate is refused by the budget below
        lam = gen.gamma(r, 1.0 / alpha, n) / unit_len  # per day (calendar) or per unit
    p_drop = gen.beta(a, b, n)
    nu = gen.gamma(q, 1.0 / gamma, n)
    window = e - acquired
    with np.errstate(over="ignore", invalid="ignore"):
        arrivals = lam * window  # expected purchases of each customer, dropout aside
    most = float(np.max(arrivals))
    v.check_budget(
        most if np.isfinite(most) else float("inf"),
        "one customer's purchases (its rows)",
        budget=budget,
        culprit=f"r={r!r} and alpha={alpha!r} give a customer {most:.3g} expected purchases "
        "over the window",
        env="CUSTREL_MAX_CELLS",
    )
    k_arrivals = gen.poisson(arrivals)
    del arrivals
    max_repeats = gen.geometric(np.clip(p_drop, 1e-12, 1.0))
    n_repeat = np.minimum(k_arrivals, max_repeats).astype(np.int64)

    # repeat-purchase times: the first N of K uniform order statistics
    total_repeat = int(n_repeat.sum())
    v.check_budget(
        float(n) + total_repeat,
        "the transactions drawn (rows)",
        budget=budget,
        culprit=f"{n:,} customers with {total_repeat:,} repeat purchases (r={r!r}, "
        f"alpha={alpha!r}, a={a!r}, b={b!r})",
        env="CUSTREL_MAX_CELLS",
    )
    owner = np.repeat(np.arange(n, dtype=np.int64), n_repeat)
    cum = np.cumsum(gen.standard_exponential(total_repeat))
    ends = np.cumsum(n_repeat)
    before = np.concatenate(([0.0], cum))[ends - n_repeat]  # cum value before each segment
    s_n = np.where(n_repeat > 0, np.concatenate(([0.0], cum))[ends] - before, 0.0)
    denom = s_n + gen.standard_gamma(np.maximum(k_arrivals - n_repeat + 1, 1).astype(np.float64))
    cum -= before[owner]
    cum /= denom[owner]
    repeat_times = acquired[owner] + window[owner] * cum

    cust = np.concatenate((np.arange(n, dtype=np.int64), owner))
    times = np.concatenate((acquired, repeat_times))
    del cum, repeat_times
    amount = np.round(gen.gamma(p, 1.0, len(cust)) / nu[cust], 2)
    big = float(np.max(np.abs(amount))) if len(amount) else 0.0
    if not big < _MAX_CENTS:  # beyond 2**53 cents whole cents cannot be told apart
        raise InvalidInputError(
            f"p={p!r}, q={q!r} and gamma={gamma!r} draw an amount of {big:.3g}, beyond "
            f"{_MAX_CENTS:.3g} (2**53 cents, where amounts rounded to cents stop being "
            "exact); choose a smaller gamma or a larger q"
        )
    if returns > 0.0:
        is_return = gen.random(len(cust) - n) < returns
        amount[n:][is_return] *= -1.0

    if calendar:
        days = np.minimum(np.floor(times), np.floor(e)).astype(np.int64)
        order = np.argsort(days * n + cust, kind="stable")
        time_col: Any = (days[order] * _DAY).astype("datetime64[s]")
    else:
        times = np.minimum(times, e)
        order = np.lexsort((cust, times))
        time_col = times[order]
    cust = cust[order]
    amount = amount[order]
    extra: dict[str, Any] = {}
    if costs:
        first = order < n  # the first n rows before sorting are the acquisitions
        share = gen.beta(5.0, 5.0, n)
        extra = {
            "volume": 1.0 + gen.poisson(np.abs(amount) / 25.0).astype(np.float64),
            "product_cost": np.round(amount * share[cust], 2),
            "service_cost": np.round(gen.gamma(2.0, 1.0, len(cust)), 2),
            "marketing_cost": np.where(first, 10.0, 0.0),
            "transaction_cost": np.ones(len(cust)),
        }
    return TransactionLog.from_arrays(customer_id=cust + 1, time=time_col, amount=amount, **extra)


#: Largest amount whose cents a float64 holds exactly (2**53 cents).
_MAX_CENTS = 2.0**53 / 100.0


def _is_number(value: Any) -> bool:
    """A numeric time (not a bool), as opposed to a date-like value."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def sample_path() -> Path:
    """The path of the bundled sample CSV file (see :func:`load_sample`).

    Examples
    --------
    >>> from custrel.datasets import sample_path
    >>> sample_path().name
    'sample_transactions.csv'
    """
    return Path(__file__).resolve().parent / "data" / _SAMPLE_FILE


def load_sample(**kwargs: Any) -> TransactionLog:
    """Load the small synthetic log bundled with the package.

    Three thousand customers observed from 2021-01-01 to 2023-12-31, made by
    :func:`generate_transactions` with seed 20240101 and the default
    (CDNOW-like) parameters; columns ``customer_id, date, amount, volume,
    product_cost, service_cost, marketing_cost, transaction_cost``.

    Parameters
    ----------
    **kwargs
        Passed to :meth:`~custrel.TransactionLog.from_csv` (for example
        ``engine="python"``).

    Returns
    -------
    TransactionLog

    Examples
    --------
    >>> from custrel.datasets import load_sample
    >>> log = load_sample()
    >>> log.n_customers, log.time_kind
    (3000, 'datetime')
    >>> round(float(log.profit().sum()) / float(log.amount.sum()), 2) < 0.4
    True
    """
    columns = {f: f for f in _SAMPLE_COST_COLUMNS}
    return TransactionLog.from_csv(
        sample_path(),
        customer_col="customer_id",
        time_col="date",
        amount_col="amount",
        columns=columns,
        **kwargs,
    )


_SAMPLE_COST_COLUMNS = (
    "volume",
    "product_cost",
    "service_cost",
    "marketing_cost",
    "transaction_cost",
)

__all__ = ["generate_transactions", "load_cdnow", "load_sample", "sample_path"]


class _Bundled:
    """The default of :func:`load_cdnow`'s ``path``: the CDNOW sample bundled with the package."""

    def __repr__(self) -> str:
        return "<bundled CDNOW sample>"


_BUNDLED_CDNOW: Any = _Bundled()
#: File name of the bundled CDNOW sample inside the package's ``data`` folder.
_CDNOW_FILE = "CDNOW_sample.txt"
#: Column names a CDNOW file's optional header line may use (the master file's own header).
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_CDNOW_FIELDS = {
    4: "customer id, yyyymmdd date, number of CDs, dollars",
    5: "customer id, sample index, yyyymmdd date, number of CDs, dollars",
}


def load_cdnow(path: str | os.PathLike[str] = _BUNDLED_CDNOW) -> TransactionLog:
    r"""Read the CDNOW data of Fader & Hardie: the bundled sample, or a file in that format.

    CDNOW was an online music store. Its data, published by Fader and Hardie,
    follow the 23,570 customers who made their first purchase there in the
    first quarter of 1997 until the end of June 1998 (``CDNOW_master.txt``,
    69,659 transactions); the 1/10th sample ``CDNOW_sample.txt`` (2,357
    customers, 6,919 transactions) is the one used by the BTYD papers and
    ships with custrel.

    Parameters
    ----------
    path : str or os.PathLike, optional
        Omit it to load the bundled sample. Otherwise the file to read:
        whitespace-separated columns per line, customer id (the id in the
        master file), in the sample only the customer's index in the sample
        (1 to 2,357), the date as yyyymmdd, the number of CDs and the dollar
        value; five fields per line (the sample's layout) or four (the
        master file's). Blank lines are ignored. The first line may be a
        header of column names (the master file has one); a header is
        recognised by its shape, a line of four or five names and no number,
        so a data line is never taken for one.

    Returns
    -------
    TransactionLog
        Calendar times (one per day), ``amount`` in dollars and ``volume``
        the number of CDs. Customer ids are the file's first column as
        integers. Rows keep the file's order; nothing is dropped, including
        the zero-dollar rows the file contains.

    Raises
    ------
    InvalidTypeError
        If ``path`` is not a str or path-like (``None`` included: omit the
        argument for the bundled sample).
    InvalidInputError
        If the file does not exist, is not ASCII text, or a line does not
        have the fields above; the message names the line (the file's first
        line is line 1) and quotes it.
    EmptyInputError
        If the file has no data lines.

    Notes
    -----
    The bundled ``custrel/data/CDNOW_sample.txt`` is the sample file as
    published by Bruce Hardie with the data sets of the BTYD papers
    (https://www.brucehardie.com/datasets/) and as distributed with the
    *lifetimes* package; it is redistributed unchanged for teaching and
    research use. The master file is not bundled: download it from the same
    page and pass its path.

    References
    ----------
    - Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting your
      customers the easy way: an alternative to the Pareto/NBD model."
      Marketing Science 24(2), 275-284.

    Examples
    --------
    >>> from custrel.datasets import load_cdnow
    >>> log = load_cdnow()
    >>> log.n_rows, log.n_customers
    (6919, 2357)
    >>> str(log.time.min())[:10], str(log.time.max())[:10]
    ('1997-01-01', '1998-06-30')

    A file of your own in the same layout:

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "cd.txt")
    >>> with open(p, "w") as fh:
    ...     _ = fh.write(" 00004 0001 19970101  2   29.33\n 00004 0001 19970118  2   29.73\n")
    >>> log = load_cdnow(p)
    >>> log.n_rows, log.customer_labels.tolist(), log.volume.tolist()
    (2, [4], [2.0, 2.0])
    """
    if path is _BUNDLED_CDNOW:
        p = str(Path(__file__).resolve().parent / "data" / _CDNOW_FILE)
    elif isinstance(path, str | os.PathLike) and isinstance(os.fspath(path), str):
        p = os.fspath(path)
    else:
        raise InvalidTypeError(
            f"path must be a str or os.PathLike, got {type(path).__name__} ({path!r}); "
            "omit it to load the bundled CDNOW sample"
        )
    if not os.path.isfile(p):
        raise InvalidInputError(f"path {p!r} does not exist or is not a file")
    with open(p, "rb") as fh:
        raw = fh.read()
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"{p!r} is not a CDNOW text file: byte {raw[exc.start]:#04x} at offset "
            f"{exc.start} is not ASCII"
        ) from None
    lines = text.splitlines()
    counts = np.fromiter(map(len, map(str.split, lines)), dtype=np.int64, count=len(lines))
    line_no = np.flatnonzero(counts) + 1  # file line of each non-blank line (first = 1)
    counts = counts[line_no - 1]
    tokens = text.split()
    if len(line_no) and _is_header(tokens[: counts[0]]):
        if len(line_no) > 1 and counts[1] != counts[0]:
            raise InvalidInputError(
                f"{p!r} line {line_no[0]} is a header of {counts[0]} names but line "
                f"{line_no[1]} has {counts[1]} fields: {lines[line_no[1] - 1].strip()!r}"
            )
        tokens = tokens[counts[0] :]
        line_no, counts = line_no[1:], counts[1:]
    if not len(line_no):
        raise EmptyInputError(f"{p!r} is empty: it has no rows")
    width = int(counts[0])
    if width not in _CDNOW_FIELDS:
        raise InvalidInputError(
            f"{p!r} line {line_no[0]} has {width} fields, expected 5 (sample: "
            f"{_CDNOW_FIELDS[5]}) or 4 (master: {_CDNOW_FIELDS[4]}): "
            f"{lines[line_no[0] - 1].strip()!r}"
        )
    if np.any(counts != width):
        row = int(np.flatnonzero(counts != width)[0])
        raise InvalidInputError(
            f"{p!r} line {line_no[row]} has {counts[row]} fields, expected {width} "
            f"({_CDNOW_FIELDS[width]}): {lines[line_no[row] - 1].strip()!r}"
        )
    table = np.array(tokens).reshape(-1, width)
    del tokens

    def bad(row: int, what: str) -> InvalidInputError:
        return InvalidInputError(
            f"{p!r} line {line_no[row]}: {what}: {lines[line_no[row] - 1].strip()!r}"
        )

    names = ("customer id", "sample index", "date", "number of CDs")[: width - 1]
    if width == 4:
        names = ("customer id", "date", "number of CDs")
    whole = []
    for col, name in enumerate(names):  # every column but the dollars is a whole number >= 0
        try:
            values = table[:, col].astype(np.int64)
        except (ValueError, OverflowError):
            row = next(i for i, x in enumerate(table[:, col].tolist()) if not _is_int64(x))
            kind = "is too large" if table[row, col].isdigit() else "is not a whole number >= 0"
            raise bad(row, f"{name} {str(table[row, col])!r} {kind}") from None
        if np.any(values < 0):
            row = int(np.flatnonzero(values < 0)[0])
            raise bad(row, f"{name} {str(table[row, col])!r} is not a whole number >= 0")
        whole.append(values)
    ids, date_int, cds = whole[0], whole[-2], whole[-1].astype(np.float64)
    dates = _yyyymmdd(date_int)
    if np.isnat(dates).any():
        row = int(np.flatnonzero(np.isnat(dates))[0])
        raise bad(row, f"date {str(table[row, width - 3])!r} is not a valid yyyymmdd date")
    try:
        dollars = table[:, width - 1].astype(np.float64)
    except ValueError:
        row = next(i for i, x in enumerate(table[:, width - 1].tolist()) if not _is_float(x))
        raise bad(row, f"dollars {str(table[row, width - 1])!r} is not a number") from None
    if not np.isfinite(dollars).all():
        row = int(np.flatnonzero(~np.isfinite(dollars))[0])
        raise bad(row, f"dollars {str(table[row, width - 1])!r} is not finite")
    return TransactionLog.from_arrays(customer_id=ids, time=dates, amount=dollars, volume=cds)


def _is_header(fields: list[str]) -> bool:
    """A header line: four or five column names, none of which reads as a number."""
    return len(fields) in _CDNOW_FIELDS and all(_NAME.match(f) and not _is_float(f) for f in fields)


def _is_int64(text: str) -> bool:
    try:
        np.int64(text)
    except (ValueError, OverflowError):
        return False
    return True


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _yyyymmdd(d: npt.NDArray[np.int64]) -> npt.NDArray[np.datetime64]:
    """Days from yyyymmdd integers; NaT where the number is not a date of years 1000-9999."""
    year, month, day = d // 10_000, d // 100 % 100, d % 100
    ok = (year >= 1000) & (year <= 9999) & (month >= 1) & (month <= 12) & (day >= 1)
    months = np.where(ok, (year - 1970) * 12 + month - 1, 0).astype("datetime64[M]")
    days = months.astype("datetime64[D]") + np.where(ok, day - 1, 0)
    ok &= days.astype("datetime64[M]") == months  # the day exists in that month
    return np.where(ok, days, np.datetime64("NaT", "D"))
