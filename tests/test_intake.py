"""Intake from arrays, records and frames: ids, missing values, times, money (issues 10 and 11).

Every reproduction of issues 10 and 11 that concerns TransactionLog intake or
the per-customer summary is a test here (CSV files: tests/test_csv_intake.py).
"""

from __future__ import annotations

import datetime as dt
import tracemalloc
import warnings
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from custrel import (
    EmptyInputError,
    IntakeSummary,
    InvalidInputError,
    InvalidTypeError,
    Transaction,
    TransactionLog,
)

T4 = [0.0, 1.0, 2.0, 3.0]


def _log(**kw: Any) -> TransactionLog:
    base: dict[str, Any] = {"customer_id": [1, 2, 3], "time": [0.0, 1.0, 2.0], "amount": [1.0] * 3}
    base.update(kw)
    return TransactionLog.from_arrays(**base)


# ---------------------------------------------------------------------------
# one id normaliser: distinct ids stay distinct and keep their type
# ---------------------------------------------------------------------------


def test_int_and_text_ids_stay_distinct_in_every_builder() -> None:
    # issue 10 §1: from_arrays(customer_id=[1, "1", 2, "2"]).n_customers was 2
    ids: list[Any] = [1, "1", 2, "2"]
    log = TransactionLog.from_arrays(customer_id=ids, time=T4, amount=[1.0] * 4)
    assert log.n_customers == 4
    assert log.customer_labels.tolist() == [1, 2, "1", "2"]  # integers sort before text
    assert log.customer_id.tolist() == ids
    records = [{"customer_id": c, "time": 0.0, "amount": 1.0} for c in ids]
    assert TransactionLog.from_records(records).n_customers == 4
    frame = pd.DataFrame({"customer_id": pd.Series(ids, dtype=object), "time": T4, "amount": 1.0})
    assert TransactionLog.from_frame(frame).n_customers == 4


def test_id_type_coerces_only_on_request() -> None:
    ids: list[Any] = [1, "1", 2, "2"]
    as_text = TransactionLog.from_arrays(customer_id=ids, time=T4, amount=[1.0] * 4, id_type="str")
    assert as_text.customer_labels.tolist() == ["1", "2"]
    as_int = TransactionLog.from_arrays(
        customer_id=["007", 7, "8", 9], time=T4, amount=[1.0] * 4, id_type="int"
    )
    assert as_int.customer_labels.tolist() == [7, 8, 9]
    assert as_int.customer_labels.dtype == np.int64


def test_text_ids_keep_int_type_after_skipping_missing() -> None:
    log = TransactionLog.from_frame(
        pl.DataFrame({"customer_id": [1, None, 2], "time": [0.0, 1, 2], "amount": [1.0, 2, 3]}),
        missing_customer="skip",
    )
    assert log.customer_labels.dtype == np.int64
    assert log.customer_labels.tolist() == [1, 2]


def test_missing_ids_skipped_by_choice_are_counted() -> None:
    log = TransactionLog.from_arrays(
        customer_id=pd.array(["a", None, "b", pd.NA], dtype="string"),
        time=T4,
        amount=[1.0, 2.5, 3.0, 4.0],
        missing_customer="skip",
    )
    assert log.customer_labels.tolist() == ["a", "b"]
    assert log.intake == IntakeSummary(
        rows_read=4, orders_grouped=0, skipped_missing_customer=2, skipped_amount=6.5
    )
    assert _log().intake is None  # in memory without skipping: nothing to report


def test_one_very_long_id_does_not_widen_every_id() -> None:
    # issue 10 §4: memory grew with rows x the longest string (one 10M-character id among 50)
    long_id = "x" * 2_000_000
    ids = [long_id] + [f"c{i}" for i in range(49)]
    tracemalloc.start()
    try:
        log = TransactionLog.from_arrays(customer_id=ids, time=list(range(50)), amount=[1.0] * 50)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # a fixed-width array would need 50 x 2e6 x 4 bytes = 400 MB; the ids themselves are 2 MB
    assert peak < 20e6
    assert log.n_customers == 50
    assert log.customer_id[0] == long_id


def test_wide_numpy_text_ids_are_factorised_as_python_strings() -> None:
    ids = np.array(["a" * 300, "b", "a" * 300])
    log = TransactionLog.from_arrays(customer_id=ids, time=[0.0, 1, 2], amount=[1.0] * 3)
    assert log.customer_code.tolist() == [0, 1, 0]
    assert log.customer_labels.dtype == object


@given(
    ids=st.lists(
        st.one_of(st.integers(-5, 5), st.text(alphabet="ab1 ", min_size=1, max_size=3)),
        min_size=1,
        max_size=12,
    )
)
def test_ids_round_trip_exactly(ids: list[Any]) -> None:
    log = TransactionLog.from_arrays(
        customer_id=ids, time=list(range(len(ids))), amount=[1.0] * len(ids)
    )
    back = log.customer_id.tolist()
    assert back == ids
    assert [type(x) for x in back] == [type(x) for x in ids]
    assert log.n_customers == len({(type(x), x) for x in ids})


# ---------------------------------------------------------------------------
# times
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("unit", ["D", "h", "m", "W", "M", "Y", "ms", "ns"])
def test_datetime64_of_any_unit_in_range_is_kept(unit: str) -> None:
    t = np.array([0, 12], dtype=f"datetime64[{unit}]")
    log = _log(customer_id=[1, 2], time=t, amount=[1.0, 2.0])
    np.testing.assert_array_equal(log.time, t.astype("datetime64[s]"))


def test_offsets_keep_local_wall_clock_time_by_default() -> None:
    # issue 11 §4: +01:00 was moved to UTC, shifting the purchase across midnight
    times = ["2024-03-01T23:30:00+01:00", "2024-03-02T00:30:00-05:00", "2024-03-01T10:00:00Z"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's timezone UserWarning must not appear
        local = _log(time=times)
        utc = _log(time=times, timezone="utc")
    assert local.time.astype(str).tolist() == [
        "2024-03-01T23:30:00",
        "2024-03-02T00:30:00",
        "2024-03-01T10:00:00",
    ]
    assert utc.time.astype(str).tolist() == [
        "2024-03-01T22:30:00",
        "2024-03-02T05:30:00",
        "2024-03-01T10:00:00",
    ]
    aware = dt.datetime(2024, 3, 1, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert str(_log(customer_id=[1], time=[aware], amount=[1.0]).time[0]) == "2024-03-01T23:30:00"
    frame = pd.DataFrame(
        {"customer_id": [1], "time": pd.to_datetime([aware]), "amount": [1.0]}
    )  # a tz-aware pandas column
    assert str(TransactionLog.from_frame(frame).time[0]) == "2024-03-01T23:30:00"
    assert str(TransactionLog.from_frame(frame, timezone="utc").time[0]) == "2024-03-01T22:30:00"


# ---------------------------------------------------------------------------
# money: the returns rule, logs without amounts, quantity x price, orders
# ---------------------------------------------------------------------------


def test_a_purchase_and_its_return_are_one_purchase_worth_nothing() -> None:
    # issue 11 §4 and contract 1
    log = _log(customer_id=["a", "a", "b"], time=[0.0, 1.0, 1.0], amount=[10.0, -10.0, -5.0])
    assert log.is_purchase.tolist() == [True, False, False]
    s = log.summarize()
    assert s.customer_id.tolist() == ["a"]  # b only returned: no purchase, not in the summary
    assert s.n_purchases.tolist() == [1]
    assert s.total_amount is not None
    assert s.total_amount.tolist() == [0.0]
    assert s.last.tolist() == [0.0]  # the return is not a purchase time
    assert (s.n_return_only_customers, s.return_only_amount) == (1, -5.0)
    zero = _log(customer_id=["a"], time=[0.0], amount=[0.0]).summarize()
    assert zero.n_purchases.tolist() == [1]  # a zero-amount row is a purchase


def test_three_lines_of_one_invoice_are_one_purchase() -> None:
    log = TransactionLog.from_arrays(
        customer_id=["a", "a", "a", "b"],
        time=[5.0, 4.0, 6.0, 4.0],
        amount=[1.0, 2.0, 3.0, 4.0],
        volume=[1.0, 1.0, 2.0, 1.0],
        order_id=["o1", "o1", "o1", "o1"],  # the same order id of another customer is another row
    )
    assert log.n_rows == 2
    assert log.amount.tolist() == [6.0, 4.0]
    assert log.time.tolist() == [4.0, 4.0]  # the earliest line's time
    assert log.volume is not None
    assert log.volume.tolist() == [4.0, 1.0]
    assert log.intake is not None
    assert log.intake.orders_grouped == 2
    assert log.summarize().n_purchases.tolist() == [1, 1]


def test_log_without_amounts_supports_frequency_work() -> None:
    # contract 3
    log = TransactionLog.from_arrays(customer_id=[1, 1, 2], time=[0.0, 1.0, 3.0])
    assert not log.has_amount
    with pytest.raises(InvalidInputError, match=r"this log has no amount column; .*amount_col="):
        _ = log.amount
    s = log.summarize()
    assert s.n_purchases.tolist() == [2, 1]
    assert s.total_amount is None
    assert s.mean_amount is None
    assert "amount" not in log.to_arrays()
    assert TransactionLog.from_records(log.to_records()) == log
    assert TransactionLog.from_frame(log.to_frame(), amount_col=None) == log
    assert TransactionLog.concat([log, log]).n_rows == 6


def test_frame_quantity_times_price_and_cancel_prefix() -> None:
    df = pd.DataFrame(
        {
            "CustomerID": [17850.0, 17850.0, None],
            "InvoiceNo": ["536365", "C536379", "536370"],
            "InvoiceDate": ["2010-12-01 08:26:00", "2010-12-01 09:41:00", "2010-12-01 08:45:00"],
            "Quantity": [6, 1, 3],
            "UnitPrice": [2.55, 27.5, 3.75],
        }
    )
    log = TransactionLog.from_frame(
        df,
        customer_col="CustomerID",
        time_col="InvoiceDate",
        order_col="InvoiceNo",
        quantity_col="Quantity",
        price_col="UnitPrice",
        cancel_prefix="C",
        missing_customer="skip",
    )
    np.testing.assert_allclose(log.amount, [15.3, -27.5])  # the cancellation is negative
    assert log.intake == IntakeSummary(
        rows_read=3, orders_grouped=0, skipped_missing_customer=1, skipped_amount=11.25
    )


def test_summary_sums_that_overflow_name_the_customer() -> None:
    # issue 10 §2: two amounts of 1e308 gave inf, and the report blamed another argument
    log = _log(customer_id=["x", "x", "y"], amount=[1e308, 1e308, 1.0])
    with pytest.raises(InvalidInputError, match=r"the amount of customer 'x' sums beyond"):
        log.summarize()
    costly = _log(customer_id=["x", "x", "y"], product_cost=[-1e308, -1e308, 0.0])
    with pytest.raises(InvalidInputError, match=r"the profit .* of customer 'x' sums beyond"):
        costly.summarize()


# ---------------------------------------------------------------------------
# bad input: one table, each a CustrelError naming the argument and the row
# ---------------------------------------------------------------------------

LOG = _log()
BAD = [
    pytest.param(
        lambda: _log(customer_id=[b"a", "a", "b"]),
        InvalidTypeError,
        r"customer_id holds bytes \(b'a'\) at row 0; ids must be integers or text; decode",
        id="bytes-id-among-text",
    ),
    pytest.param(
        lambda: _log(customer_id=np.array([b"a", b"b", b"c"])),
        InvalidTypeError,
        r"customer_id holds bytes",
        id="bytes-array",
    ),
    pytest.param(
        lambda: _log(customer_id=["a\x00", "a", "b"]),
        InvalidInputError,
        r"customer_id has an id with a NUL character \('a\\x00'\) at row 0",
        id="trailing-nul-id",
    ),
    pytest.param(
        lambda: _log(customer_id=np.array(["a\x00b", "a", "b"])),
        InvalidInputError,
        r"NUL character \('a\\x00b'\) at row 0",
        id="inner-nul-id",
    ),
    pytest.param(
        lambda: _log(customer_id=[True, False, True]),
        InvalidTypeError,
        r"customer_id holds a boolean \(True\) at row 0; ids must be integers or text",
        id="boolean-ids",
    ),
    pytest.param(
        lambda: _log(customer_id=pd.array(["a", None, "b"], dtype="string")),
        InvalidInputError,
        r"customer_id is missing \(<NA>\) at row 1; pass missing_customer='skip'",
        id="pandas-string-na",
    ),
    pytest.param(
        lambda: _log(customer_id=[1.0, float("nan"), 2.0]),
        InvalidInputError,
        r"customer_id is missing \(nan\) at row 1",
        id="nan-id",
    ),
    pytest.param(
        lambda: _log(customer_id=np.array(["a", pd.NaT, "b"], dtype=object)),
        InvalidInputError,
        r"customer_id is missing \(NaT\) at row 1",
        id="nat-id",
    ),
    pytest.param(
        lambda: TransactionLog.from_frame(
            pl.DataFrame({"customer_id": ["a", None], "time": [0.0, 1.0], "amount": [1.0, 2.0]})
        ),
        InvalidInputError,
        r"customer_id is missing \(None\) at row 1",
        id="polars-null-id",
    ),
    pytest.param(
        lambda: _log(customer_id=[None, None, None], missing_customer="skip"),
        EmptyInputError,
        r"every customer_id is missing \(3 rows\)",
        id="every-id-missing",
    ),
    pytest.param(
        lambda: _log(customer_id=["1", "x", "2"], id_type="int"),
        InvalidInputError,
        r"customer_id has 'x' at row 1, which is not an integer; id_type 'int' needs",
        id="id-type-int-on-text",
    ),
    pytest.param(
        lambda: _log(id_type="float"),
        InvalidInputError,
        r"id_type must be one of 'keep', 'str', 'int', got 'float'",
        id="unknown-id-type",
    ),
    pytest.param(
        lambda: _log(missing_customer="drop"),
        InvalidInputError,
        r"missing_customer must be one of 'error', 'skip', got 'drop'",
        id="unknown-missing-policy",
    ),
    pytest.param(
        lambda: _log(time=np.array([0, 1, 10**15], dtype="datetime64[D]")),
        InvalidInputError,
        r"time has a date '.*' at row 2 outside the range of datetime64\[s\]",
        id="day-date-out-of-range",
    ),
    pytest.param(
        lambda: _log(time=np.array([0, 1, 10**12], dtype="datetime64[Y]")),
        InvalidInputError,
        r"at row 2 outside the range of datetime64\[s\]",
        id="year-date-out-of-range",
    ),
    pytest.param(
        lambda: _log(customer_id=[1, 2], time=[pd.Timestamp("2024-01-01"), pd.NaT], amount=[1, 2]),
        InvalidInputError,
        r"time is missing \(NaT\) at row 1",
        id="timestamp-and-nat",
    ),
    pytest.param(
        lambda: _log(time=["2024-01-01", "x" * 100, "2024-01-02"]),
        InvalidInputError,
        r"time has a value of 100 characters at row 1, not a date",
        id="over-long-time-text",
    ),
    pytest.param(
        lambda: _log(timezone="CET"),
        InvalidInputError,
        r"timezone must be one of 'local', 'utc', got 'CET'",
        id="unknown-timezone",
    ),
    pytest.param(
        lambda: LOG.take(0),
        InvalidInputError,
        r"rows must be a 1-D boolean mask or a list of integer indices, got 0",
        id="take-scalar",
    ),
    pytest.param(
        lambda: LOG.take([0, 7]),
        InvalidInputError,
        r"rows has the index 7, outside the log's 3 rows",
        id="take-out-of-range",
    ),
    pytest.param(
        lambda: LOG.take([]), EmptyInputError, r"the selection leaves no rows", id="take-empty"
    ),
    pytest.param(
        lambda: TransactionLog.concat("ab"),  # type: ignore[arg-type]
        InvalidTypeError,
        r"logs must be a sequence of TransactionLog values, got str",
        id="concat-string",
    ),
    pytest.param(
        lambda: TransactionLog.concat([LOG, 5]),  # type: ignore[list-item]
        InvalidTypeError,
        r"logs must hold TransactionLog values, got int at position 1",
        id="concat-non-log",
    ),
    pytest.param(
        lambda: TransactionLog.concat([LOG, _log(amount=None)]),
        InvalidInputError,
        r"logs mix logs with and without amounts",
        id="concat-amount-and-none",
    ),
    pytest.param(
        lambda: TransactionLog.from_frame(
            pd.DataFrame([[1, 0.0, 1.0, 2.0]], columns=["customer_id", "time", "amount", "amount"])
        ),
        InvalidInputError,
        r"the frame has duplicate column names \['amount'\]",
        id="frame-duplicate-columns",
    ),
    pytest.param(
        lambda: TransactionLog.from_frame([1, 2, 3]),
        InvalidTypeError,
        r"df must be a dataframe .*, got list",
        id="frame-not-a-frame",
    ),
    pytest.param(
        lambda: _log(customer_id=5),
        InvalidTypeError,
        r"customer_id must be a sequence of ids .*got int",
        id="scalar-ids",
    ),
    pytest.param(
        lambda: _log(quantity=[1.0, 2.0, 3.0], amount=None),
        InvalidInputError,
        r"quantity computes the amount together with price; give both",
        id="quantity-without-price",
    ),
    pytest.param(
        lambda: _log(amount=None, quantity=[1e200, 1, 1], price=[1e200, 1, 1]),
        InvalidInputError,
        r"amount = quantity x price overflows at row 0",
        id="quantity-price-overflow",
    ),
    pytest.param(
        lambda: _log(cancel_prefix="C"),
        InvalidInputError,
        r"cancel_prefix marks cancellations by their order id; give order_id too",
        id="cancel-prefix-without-orders",
    ),
    pytest.param(
        lambda: _log(order_id=["o1", None, "o2"]),
        InvalidInputError,
        r"order_id is missing \(None\) at row 1$",
        id="missing-order-id",
    ),
    pytest.param(
        lambda: TransactionLog.from_records(
            [Transaction(None, 1.0, 1.0), Transaction("a", 1.0, 1.0)]
        ),
        InvalidInputError,
        r"customer_id is missing \(None\) at row 0",
        id="record-missing-id",
    ),
    pytest.param(
        lambda: TransactionLog.from_records("abc"),  # type: ignore[arg-type]
        InvalidTypeError,
        r"records must be an iterable of Transaction values or mappings, got str",
        id="records-string",
    ),
]


@pytest.mark.parametrize(("make", "error", "match"), BAD)
def test_bad_intake(make: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make()


def test_inputs_are_not_mutated_and_results_do_not_share_memory() -> None:
    ids = np.array([3, 1, 3])
    amount = pd.Series([1.0, 2.0, 3.0])
    log = TransactionLog.from_arrays(customer_id=ids, time=[0.0, 1.0, 2.0], amount=amount)
    ids[0] = 99
    amount.iloc[0] = -1.0
    assert log.customer_id.tolist() == [3, 1, 3]
    assert log.amount.tolist() == [1.0, 2.0, 3.0]


def test_infinite_id_in_mixed_ids_is_refused() -> None:
    # adversarial finding: an inf among text ids passed the object-array path of the normaliser
    with pytest.raises(InvalidInputError, match=r"customer_id must be finite, got inf at row 1"):
        TransactionLog.from_arrays(
            customer_id=["a", float("inf")], time=[0.0, 1.0], amount=[1.0, 2.0]
        )
