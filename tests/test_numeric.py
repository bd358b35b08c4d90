"""custrel._numeric's array helpers against the numpy functions they stand in for."""

from __future__ import annotations

import tracemalloc
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from custrel import _numeric
from strategies import random_log


def test_bincount_reads_a_logs_read_only_columns_in_place() -> None:
    """numpy's bincount copies read-only arrays; custrel's passes a writeable alias instead."""
    log = random_log(200_000, 20_000, seed=3, start="2024-01-01", seconds=10**7)
    codes, amount = log.customer_code, log.amount
    assert not codes.flags.writeable
    assert not amount.flags.writeable
    k = len(log.customer_labels)
    want = (
        np.bincount(codes.copy(), minlength=k),
        np.bincount(codes.copy(), weights=amount.copy(), minlength=k),
    )
    _numeric.bincount(codes, minlength=k)  # lazy set-up outside the trace
    tracemalloc.start()
    try:
        got = (
            _numeric.bincount(codes, minlength=k),
            _numeric.bincount(codes, weights=amount, minlength=k),
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < codes.nbytes / 4, f"peak {peak / codes.nbytes:.2f}x the codes"  # no copy
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    assert not codes.flags.writeable
    assert not amount.flags.writeable


def test_bincount_of_an_array_numpy_keeps_read_only_falls_back_to_its_copy() -> None:
    owner = np.array([0, 2, 2, 5])
    owner.flags.writeable = False  # no writeable alias of it can be made: numpy copies
    np.testing.assert_array_equal(_numeric.bincount(owner), [1, 0, 2, 0, 0, 1])
    from_bytes = np.frombuffer(np.array([1, 1, 3]).tobytes(), dtype=np.int64)
    weights = np.frombuffer(np.array([0.5, 0.25, 2.0]).tobytes())
    np.testing.assert_array_equal(_numeric.bincount(from_bytes, weights), [0.0, 0.75, 0.0, 2.0])
    assert not owner.flags.writeable
    assert not from_bytes.flags.writeable


@given(
    values=st.lists(
        st.one_of(st.integers(0, 6).map(float), st.sampled_from([0.5, -1.0, np.nan])),
        max_size=40,
    ),
    sort=st.booleans(),
)
def test_unique_inverse_is_numpys_unique(values: list[float], sort: bool) -> None:
    """By runs where sorted (a fit's chunks), by numpy.unique otherwise: the same arrays."""
    x = np.array(sorted(values) if sort else values, dtype=np.float64)
    want_values, want_inverse = np.unique(x, return_inverse=True)
    got_values, got_inverse = _numeric.unique_inverse(x)
    np.testing.assert_array_equal(got_values, want_values)
    np.testing.assert_array_equal(got_inverse, want_inverse.reshape(-1))
    assert got_inverse.dtype == np.intp


@given(
    values=st.one_of(
        st.lists(st.integers(-(2**62), 2**62), max_size=40),
        st.lists(st.integers(0, 5), max_size=40),
        st.lists(st.booleans(), max_size=10),
        st.lists(st.text(max_size=3), max_size=20),
        st.lists(st.sampled_from([0.5, -1.0, 0.0, -0.0, np.nan, np.inf]), max_size=20),
    )
)
def test_sorted_unique_is_numpys_unique(values: list[Any]) -> None:
    x = np.array(values)
    want = np.unique(x)
    got = _numeric.sorted_unique(x)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_sorted_unique_of_integers_sorts_instead_of_calling_numpy_unique(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x = np.random.default_rng(0).integers(0, 2**40, 50_000)
    want = np.unique(x)

    def hashing(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("numpy.unique hashes integers")

    monkeypatch.setattr(np, "unique", hashing)
    np.testing.assert_array_equal(_numeric.sorted_unique(x), want)


@pytest.mark.parametrize(
    ("low", "high", "dtype"),
    [
        (-(2**40), -(2**40) + 2**32 - 1, np.int64),  # 32-bit offsets from a negative minimum
        (0, 5000, np.int64),
        (-(2**40), 2**40, np.int64),  # too wide: sorted as they are
        (2**63, 2**63 + 2**31, np.uint64),
    ],
)
def test_sorted_unique_of_many_64_bit_keys(low: int, high: int, dtype: Any) -> None:
    rng = np.random.default_rng(1)
    offsets = rng.integers(0, high - low, 100_000, endpoint=True, dtype=np.uint64)
    x = offsets.astype(dtype) + np.array(low).astype(dtype)
    x[:2] = np.array([low, high]).astype(dtype)
    got = _numeric.sorted_unique(x)
    want = np.unique(x)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
