"""Hypothesis strategies shared by the test modules."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from custrel import TransactionLog

__all__ = [
    "bad_floats",
    "finite_floats",
    "mixed_id_arrays",
    "money",
    "probabilities",
    "random_log",
    "rate_arrays",
    "transaction_logs",
    "value_arrays",
    "with_bad_element",
    "wrong_type_values",
]

finite_floats = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
money = st.floats(min_value=-1e4, max_value=1e5, allow_nan=False, allow_infinity=False).map(
    lambda x: round(x, 2)
)
probabilities = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


def random_log(n: int, customers: int, *, seed: int, start: str, seconds: int) -> TransactionLog:
    """A seeded log: uniform customers and times (``seconds`` from ``start``), returns among amounts."""
    rng = np.random.default_rng(seed)
    return TransactionLog.from_arrays(
        customer_id=rng.integers(0, customers, n),
        time=np.datetime64(start, "s") + rng.integers(0, seconds, n).astype("timedelta64[s]"),
        amount=rng.normal(20.0, 30.0, n),
    )


def value_arrays(min_size: int = 1, max_size: int = 60, *, nonnegative: bool = False) -> Any:
    """1-D float arrays of customer values (ties are common: values are rounded)."""
    lo = 0.0 if nonnegative else -1e4
    elements = st.floats(min_value=lo, max_value=1e5, allow_nan=False).map(lambda x: round(x, 0))
    return hnp.arrays(np.float64, st.integers(min_size, max_size), elements=elements)


def rate_arrays(min_size: int = 1, max_size: int = 10) -> Any:
    """1-D arrays of probabilities."""
    return hnp.arrays(np.float64, st.integers(min_size, max_size), elements=probabilities)


@st.composite
def transaction_logs(
    draw: st.DrawFn,
    *,
    max_rows: int = 40,
    max_customers: int = 8,
    kind: str | None = None,
    string_ids: bool | None = None,
) -> TransactionLog:
    """Small logs with calendar or numeric times, int or string ids, returns allowed."""
    n = draw(st.integers(1, max_rows))
    k = draw(st.integers(1, max_customers))
    ids = draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))
    use_str = draw(st.booleans()) if string_ids is None else string_ids
    kind = kind or draw(st.sampled_from(["datetime", "numeric"]))
    days = draw(st.lists(st.integers(0, 400), min_size=n, max_size=n))
    amounts = draw(st.lists(money, min_size=n, max_size=n))
    if kind == "datetime":
        time: Any = np.datetime64("2023-01-01", "s") + np.asarray(days) * np.timedelta64(1, "D")
    else:
        time = np.asarray(days, dtype=float) / 7.0
    cid: Any = np.asarray([f"c{i:03d}" for i in ids]) if use_str else np.asarray(ids)
    return TransactionLog.from_arrays(customer_id=cid, time=time, amount=amounts)


# --- bad inputs (shared with tests/adversarial; use them in bad-input tables) -----------

#: Scalars a numeric argument must refuse or survive: NaN, infinities, huge, subnormal.
bad_floats = st.sampled_from(
    [float("nan"), float("inf"), -float("inf"), 1e300, -1e300, 5e-324, -5e-324]
)

#: Values of the wrong type for a numeric argument.
wrong_type_values = st.sampled_from([None, "abc", b"abc", 1j, [1.0, 2.0], {"a": 1.0}])


@st.composite
def mixed_id_arrays(draw: st.DrawFn, min_size: int = 2, max_size: int = 12) -> Any:
    """Object arrays of ids where distinct values compare alike: 1 and "1", b"a" and "a"."""
    n = draw(st.integers(min_size, max_size))
    pool: list[Any] = [1, "1", 2, "2", b"a", "a", "a\x00", 1.0, True, np.int64(1)]
    return np.asarray(draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n)), dtype=object)


def with_bad_element(arr: Any, value: Any, position: int = 0) -> Any:
    """A copy of ``arr`` (as object dtype when needed) with one element replaced by ``value``."""
    numeric = np.asarray(arr).dtype.kind in "biuf"
    out = np.array(arr, dtype=float if isinstance(value, float) and numeric else object)
    out.reshape(-1)[position % max(out.size, 1)] = value
    return out
