"""Tests of custrel._tabular: results with per-customer arrays read as tables.

The mixin is tried on the real result classes (CustomerSummary, BTYDSummary)
through subclasses that add it, as the one-line ``class X(Tabular)`` wiring
does, and the function form on the classes as they are.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import attrs
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from custrel import InvalidInputError, TransactionLog, rfm_summary
from custrel._tabular import Tabular, iter_rows, table_columns, to_frame
from custrel.btyd import BTYDSummary
from custrel.models import CustomerSummary


def _with_tabular(cls: type) -> Any:
    """``cls`` itself once wired (``class cls(Tabular)``), else a subclass with the mixin first."""
    if issubclass(cls, Tabular):
        return cls
    return attrs.frozen(eq=False)(type(cls.__name__, (Tabular, cls), {}))


TabularBTYD = _with_tabular(BTYDSummary)
TabularCustomers = _with_tabular(CustomerSummary)


def _log() -> TransactionLog:
    return TransactionLog.from_arrays(
        customer_id=["b", "a", "a", "c", "b"],
        time=["2024-01-05", "2024-01-01", "2024-02-01", "2024-03-01", "2024-01-20"],
        amount=[10.0, 5.0, 7.5, 3.0, 2.0],
    )


def _rebuild(obj: Any, cls: Any) -> Any:
    return cls(**{a.name: getattr(obj, a.name) for a in attrs.fields(type(obj))})


@pytest.fixture
def btyd() -> Any:
    return _rebuild(rfm_summary(_log(), unit="day"), TabularBTYD)


@pytest.fixture
def customers() -> Any:
    return _rebuild(_log().summarize(), TabularCustomers)


def _expected(result: Any) -> pd.DataFrame:
    return pd.DataFrame(
        {
            k: (a.astype("datetime64[ns]") if a.dtype.kind == "M" else a)
            for k, a in result.to_arrays().items()
        }
    )


@pytest.mark.parametrize("which", ["btyd", "customers"])
def test_pandas_dataframe_of_a_result_is_its_table(which: str, request: Any) -> None:
    result = request.getfixturevalue(which)
    got = pd.DataFrame(result)
    expected = _expected(result)
    assert list(got.columns) == list(result.to_arrays())
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    # numbers stay numbers, dates stay dates
    for col, arr in result.to_arrays().items():
        if arr.dtype.kind == "f":
            assert got[col].dtype == np.float64
        if arr.dtype.kind == "M":
            assert got[col].dtype.kind == "M"


@pytest.mark.parametrize("which", ["btyd", "customers"])
@pytest.mark.parametrize("backend", ["pandas", "polars", "pyarrow"])
def test_to_frame_on_every_backend(which: str, backend: str, request: Any) -> None:
    result = request.getfixturevalue(which)
    frame = result.to_frame(backend)
    assert type(frame).__module__.split(".")[0] == backend
    back = pl.from_arrow(frame) if backend == "pyarrow" else frame
    back = pl.from_pandas(back) if backend == "pandas" else back
    assert back.columns == list(result.to_arrays())
    for col, arr in result.to_arrays().items():
        got = back[col].to_numpy()
        if arr.dtype.kind == "M":
            np.testing.assert_array_equal(got.astype("datetime64[s]"), arr)
        elif arr.dtype.kind in "fiu":
            np.testing.assert_array_equal(got, arr)
        else:
            assert got.tolist() == arr.tolist()


@pytest.mark.parametrize("which", ["btyd", "customers"])
def test_polars_and_pyarrow_read_the_arrow_stream(which: str, request: Any) -> None:
    result = request.getfixturevalue(which)
    assert pl.DataFrame(result).equals(result.to_frame("polars"))
    table = pa.table(result)
    assert table.schema == result.to_frame("pyarrow").schema
    assert pl.from_arrow(table).equals(result.to_frame("polars"))  # NaN equals NaN here


def test_frames_are_copies_and_the_result_stays_read_only(btyd: Any) -> None:
    frame = btyd.to_frame()
    frame["frequency"] = -1.0
    assert (btyd.frequency >= 0).all()
    assert not btyd.frequency.flags.writeable


def test_rows_are_named_tuples(btyd: Any) -> None:
    rows = list(btyd)
    assert len(rows) == len(btyd) == 3
    assert rows[0]._fields == tuple(btyd.to_arrays())
    assert rows[0].customer_id == "a"
    assert rows[0].frequency == 1.0


def test_compressed_summary_has_only_its_present_columns(btyd: Any) -> None:
    compressed = _rebuild(btyd.compressed(), TabularBTYD)
    assert list(pd.DataFrame(compressed).columns) == ["frequency", "recency", "T", "weights"]


def test_function_form_on_classes_without_the_mixin() -> None:
    s = rfm_summary(_log())
    assert list(to_frame(s, "polars").columns) == list(s.to_arrays())
    assert [r.customer_id for r in iter_rows(s)] == ["a", "b", "c"]


def test_declared_columns_keyword() -> None:
    @attrs.frozen
    class Scores(Tabular, columns=("customer_id", "score")):
        customer_id: Any
        score: Any
        note: str = "not a column"

    s = Scores(np.array([1, 2]), np.array([0.5, 0.25]))
    assert list(table_columns(s)) == ["customer_id", "score"]
    assert pd.DataFrame(s)["score"].tolist() == [0.5, 0.25]
    assert Scores.__slots__  # the mixin keeps attrs' slotted classes slotted


BAD = [
    pytest.param(
        lambda: to_frame(rfm_summary(_log()), "spark"),
        InvalidInputError,
        "backend must be one of 'pandas', 'polars', 'pyarrow', got 'spark'",
        id="unknown-backend",
    ),
    pytest.param(
        lambda: to_frame(object()),
        InvalidInputError,
        r"object has no per-customer columns \(no to_arrays\(\) and no declared columns\)",
        id="not-a-result",
    ),
]


@pytest.mark.parametrize(("call", "error", "message"), BAD)
def test_bad_inputs(call: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()


def test_missing_frames_extra_is_named() -> None:
    code = (
        "import sys; sys.modules['narwhals'] = None\n"
        "import custrel\n"
        "from custrel._tabular import to_frame\n"
        "try:\n"
        "    to_frame(custrel.rfm_summary(custrel.TransactionLog.from_arrays("
        "customer_id=[1], time=[0.0], amount=[1.0])))\n"
        "except custrel.MissingDependencyError as e:\n"
        "    print('missing:', e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "missing: to_frame needs the 'frames' extra" in out
