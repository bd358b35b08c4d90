"""Tests of the customer-asset balance sheet (custrel._balance)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from custrel._balance import FLOWS, BalanceSheet, balance_sheet
from custrel.errors import InvalidInputError, InvalidTypeError

CLASSES = ("platinum", "gold", "iron", "lead")


def _identity(bs: BalanceSheet) -> np.ndarray:
    return (
        bs.opening
        + bs.new
        + bs.upgraded_in
        + bs.downgraded_in
        - bs.upgraded_out
        - bs.downgraded_out
        - bs.lost
    )


def test_hand_made_sheet() -> None:
    # Hand-made: 7 customers over 3 classes A (best), B, C.
    #   c0 A->A stays, c1 A->B down, c2 B->A up, c3 B->C down, c4 C->lost,
    #   c5 new->B, c6 customer at neither date.
    before = [0, 0, 1, 1, 2, -1, -1]
    after = [0, 1, 0, 2, -1, 1, -1]
    vb = [10.0, 8.0, 5.0, 4.0, 1.0, np.nan, np.nan]
    va = [12.0, 6.0, 7.0, 2.0, np.nan, 3.0, np.nan]
    bs = balance_sheet(before, after, classes=["A", "B", "C"], value_before=vb, value_after=va)
    assert bs.opening.tolist() == [2, 2, 1]
    assert bs.new.tolist() == [0, 1, 0]
    assert bs.upgraded_in.tolist() == [1, 0, 0]
    assert bs.downgraded_in.tolist() == [0, 1, 1]
    assert bs.upgraded_out.tolist() == [0, 1, 0]
    assert bs.downgraded_out.tolist() == [1, 1, 0]
    assert bs.lost.tolist() == [0, 0, 1]
    assert bs.closing.tolist() == [2, 2, 1]
    assert bs.transitions.tolist() == [
        [1, 1, 0, 0],
        [1, 0, 1, 0],
        [0, 0, 0, 1],
        [0, 1, 0, 1],
    ]
    # values: what leaves is valued before, what arrives after
    assert bs.value_opening is not None
    assert bs.value_opening.tolist() == [18.0, 9.0, 1.0]
    assert bs.value_upgraded_out is not None
    assert bs.value_upgraded_out.tolist() == [0.0, 5.0, 0.0]
    assert bs.value_downgraded_out is not None
    assert bs.value_downgraded_out.tolist() == [8.0, 4.0, 0.0]
    assert bs.value_upgraded_in is not None
    assert bs.value_upgraded_in.tolist() == [7.0, 0.0, 0.0]
    assert bs.value_downgraded_in is not None
    assert bs.value_downgraded_in.tolist() == [0.0, 6.0, 2.0]
    assert bs.value_new is not None
    assert bs.value_new.tolist() == [0.0, 3.0, 0.0]
    assert bs.value_lost is not None
    assert bs.value_lost.tolist() == [0.0, 0.0, 1.0]
    assert bs.value_revalued is not None
    assert bs.value_revalued.tolist() == [2.0, 0.0, 0.0]
    assert bs.value_closing is not None
    assert bs.value_closing.tolist() == [19.0, 9.0, 2.0]


def test_rows_and_text() -> None:
    bs = balance_sheet(
        [0, 1, -1], [1, 1, 0], classes=["A", "B"], value_before=[1, 2, 0], value_after=[3, 4, 5]
    )
    rows = bs.rows()
    assert [r["class"] for r in rows] == ["A", "B", "total"]
    assert list(rows[0])[1:] == list(FLOWS)
    assert rows[-1]["opening"] == 2
    assert rows[-1]["closing"] == 3
    vrows = bs.rows(in_value=True, total=False)
    assert len(vrows) == 2
    assert "revalued" in vrows[0]
    assert vrows[1] == {
        "class": "B",
        "opening": 2.0,
        "new": 0.0,
        "upgraded_in": 0.0,
        "downgraded_in": 3.0,
        "upgraded_out": 0.0,
        "downgraded_out": 0.0,
        "lost": 0.0,
        "revalued": 2.0,
        "closing": 7.0,
    }
    text = bs.to_text()
    assert text.splitlines()[0].split()[:3] == ["class", "opening", "new"]
    assert "total" in text
    assert "7.00" in bs.to_text(in_value=True)


def test_rates_nan_for_empty_row() -> None:
    bs = balance_sheet([0, 0, 1], [0, 1, 1], classes=["A", "B"])
    rates = bs.transition_rates()
    assert rates[0].tolist() == [0.5, 0.5, 0.0]
    assert rates[1].tolist() == [0.0, 1.0, 0.0]
    assert np.isnan(rates[2]).all()  # nobody was a non-customer at the opening date
    assert not rates.flags.writeable


def test_results_read_only_and_inputs_untouched() -> None:
    before = np.array([0, 1, -1])
    after = np.array([1, -1, 0])
    vb = np.array([1.0, 2.0, np.nan])
    va = np.array([3.0, np.nan, 4.0])
    bs = balance_sheet(before, after, classes=["A", "B"], value_before=vb, value_after=va)
    assert before.tolist() == [0, 1, -1]
    assert np.isnan(vb[2])
    assert not bs.opening.flags.writeable
    assert not bs.transitions.flags.writeable
    assert bs.value_lost is not None
    assert not bs.value_lost.flags.writeable
    assert bs.has_value


def test_empty_sheet_is_defined() -> None:
    bs = balance_sheet([], [], classes=["A"])
    assert bs.opening.tolist() == [0]
    assert bs.closing.tolist() == [0]
    assert bs.transitions.shape == (2, 2)


def test_float_whole_indices_accepted() -> None:
    bs = balance_sheet(np.array([0.0, 1.0]), np.array([1.0, -1.0]), classes=["A", "B"])
    assert bs.downgraded_out.tolist() == [1, 0]


@st.composite
def _moves(draw: st.DrawFn) -> tuple[int, Any, Any, Any, Any]:
    k = draw(st.integers(1, 5))
    n = draw(st.integers(0, 40))
    cls = st.integers(-1, k - 1)
    before = draw(st.lists(cls, min_size=n, max_size=n))
    after = draw(st.lists(cls, min_size=n, max_size=n))
    val = st.floats(-1e3, 1e3, allow_nan=False).map(lambda x: round(x, 2))
    vb = draw(st.lists(val, min_size=n, max_size=n))
    va = draw(st.lists(val, min_size=n, max_size=n))
    return k, np.array(before, dtype=np.int64), np.array(after, dtype=np.int64), vb, va


@given(_moves())
def test_identity_holds(m: tuple[int, Any, Any, Any, Any]) -> None:
    k, before, after, vb, va = m
    bs = balance_sheet(
        before, after, classes=[*CLASSES, "tin"][:k], value_before=vb, value_after=va
    )
    assert np.array_equal(_identity(bs), bs.closing)
    assert bs.opening.sum() == np.count_nonzero(before >= 0)
    assert bs.closing.sum() == np.count_nonzero(after >= 0)
    assert bs.transitions.sum() == len(before)
    assert bs.upgraded_in.sum() == bs.upgraded_out.sum()
    assert bs.downgraded_in.sum() == bs.downgraded_out.sum()
    assert bs.value_opening is not None
    assert bs.value_closing is not None
    value_identity = (
        bs.value_opening
        + bs.value_new
        + bs.value_upgraded_in
        + bs.value_downgraded_in
        - bs.value_upgraded_out
        - bs.value_downgraded_out
        - bs.value_lost
        + bs.value_revalued
    )
    np.testing.assert_allclose(value_identity, bs.value_closing, atol=1e-6)
    np.testing.assert_allclose(
        bs.value_closing.sum(), sum(x for x, a in zip(va, after, strict=True) if a >= 0), atol=1e-6
    )


@given(_moves(), st.randoms(use_true_random=False))
def test_row_order_invariant(m: tuple[int, Any, Any, Any, Any], rnd: Any) -> None:
    k, before, after, _, _ = m
    names = [f"c{i}" for i in range(k)]
    perm = np.arange(len(before))
    rnd.shuffle(perm)
    a = balance_sheet(before, after, classes=names)
    b = balance_sheet(before[perm], after[perm], classes=names)
    assert np.array_equal(a.transitions, b.transitions)
    assert np.array_equal(a.closing, b.closing)


BAD: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    (
        "index-too-high",
        {"before": [0, 3], "after": [0, 0]},
        InvalidInputError,
        r"before must be in \[-1, 2\], got 3 at row 1",
    ),
    (
        "index-too-low",
        {"before": [0, 0], "after": [-2, 0]},
        InvalidInputError,
        r"after must be in \[-1, 2\], got -2 at row 0",
    ),
    (
        "fractional-index",
        {"before": [0.5, 0.0], "after": [0, 0]},
        InvalidInputError,
        r"before must be whole numbers, got 0.5 at row 0",
    ),
    (
        "string-index",
        {"before": ["a", "b"], "after": [0, 0]},
        InvalidTypeError,
        r"before must hold integer class indices",
    ),
    ("bool-index", {"before": [True, False], "after": [0, 0]}, InvalidTypeError, r"got dtype bool"),
    (
        "lengths",
        {"before": [0, 1], "after": [0]},
        InvalidInputError,
        r"inconsistent lengths: before has 2, after has 1",
    ),
    ("2d", {"before": [[0, 1]], "after": [[0, 1]]}, InvalidInputError, r"before must be 1-D"),
    (
        "classes-str",
        {"classes": "ABC"},
        InvalidTypeError,
        r"classes must be a sequence of class names",
    ),
    (
        "classes-empty",
        {"classes": [], "before": [], "after": []},
        InvalidInputError,
        r"classes must name at least 1 class",
    ),
    ("classes-dup", {"classes": ["A", "A", "B"]}, InvalidInputError, r"classes must be distinct"),
    (
        "value-alone",
        {"value_before": [1.0, 2.0]},
        InvalidInputError,
        r"value_before was given alone",
    ),
    (
        "value-after-alone",
        {"value_after": [1.0, 2.0]},
        InvalidInputError,
        r"value_after was given alone",
    ),
    (
        "value-nan-present",
        {"value_before": [np.nan, 1.0], "value_after": [1.0, 1.0]},
        InvalidInputError,
        r"value_before must be finite .* got nan at row 0",
    ),
    (
        "value-length",
        {"value_before": [1.0], "value_after": [1.0, 1.0]},
        InvalidInputError,
        r"value_before has 1 values but there are 2 customers",
    ),
]


@pytest.mark.parametrize(("kwargs", "exc", "match"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_inputs(kwargs: dict[str, Any], exc: type[Exception], match: str) -> None:
    args: dict[str, Any] = {"before": [0, 1], "after": [1, 2], "classes": ["A", "B", "C"]}
    args |= kwargs
    with pytest.raises(exc, match=match):
        balance_sheet(args.pop("before"), args.pop("after"), **args)


# issue 10: frozen results, overflowing values, indices that cannot be classes


def test_a_balance_sheet_holds_its_own_read_only_arrays() -> None:
    before = np.array([0, 1, -1])
    bs = balance_sheet(before, [1, 1, 0], classes=["A", "B"], value_before=[1.0, 2.0, 0.0],
                       value_after=[3.0, 4.0, 5.0])  # fmt: skip
    before[0] = 1
    assert bs.opening.tolist() == [1, 1]
    for arr in (bs.opening, bs.transitions, bs.value_closing, bs.transition_rates()):
        assert not arr.flags.writeable


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param(
            {"before": [0.0, 1e300], "after": [0, 0]},
            "before must be in \\[-1, 1\\], got 1e\\+300 at row 1",
            id="huge-index",
        ),
        pytest.param(
            {
                "before": [0, 0],
                "after": [0, 0],
                "value_before": [1e308, 1e308],
                "value_after": [1.0, 1.0],
            },
            "value_before of class 'A' adds up to inf",
            id="value-overflow",
        ),
    ],
)
def test_issue10_bad_inputs(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        balance_sheet(classes=["A", "B"], **kwargs)
