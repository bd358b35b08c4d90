"""Intake of real exports through TransactionLog.from_csv (issue 11 §4, issue 10 §1).

Every case runs on the three engines, which must give identical logs and
identical messages.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from custrel import CustrelError, EmptyInputError, IntakeSummary, InvalidInputError, TransactionLog

ENGINES = ["python", "pyarrow", "polars"]
CLI_WORDS = {
    "date_format": "--date-format",
    "delimiter": "--delimiter",
    "encoding": "--encoding",
    "customer_col": "--customer-col",
    "missing_customer": "--missing-customer",
    "decimal": "--decimal",
    "thousands": "--thousands",
}

#: An Online-Retail-like export (the UCI data set's layout): invoice lines, a
#: cancellation invoice with a C prefix and negative quantity, a guest line
#: without CustomerID, a manual adjustment.
ONLINE_RETAIL = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,"
    "United Kingdom\n"
    "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom\n"
    '536365,84406B,"CREAM CUPID HEARTS COAT HANGER, LARGE",8,2010-12-01 08:27:00,2.75,17850,'
    "United Kingdom\n"
    "536370,22728,ALARM CLOCK BAKELIKE PINK,24,2010-12-01 08:45:00,3.75,12583,France\n"
    "C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,14527,United Kingdom\n"
    "536414,22139,,56,2010-12-01 11:52:00,0.00,,United Kingdom\n"
    "536544,21773,DECORATIVE ROSE BATHROOM BOTTLE,1,2010-12-01 14:32:00,2.51,,United Kingdom\n"
    "536381,22719,GUMBALL MONOCHROME COAT RACK,1,2010-12-01 09:41:00,2.55,14527,United Kingdom\n"
)
RETAIL_OPTIONS: dict[str, Any] = {
    "customer_col": "CustomerID",
    "time_col": "InvoiceDate",
    "order_col": "InvoiceNo",
    "quantity_col": "Quantity",
    "price_col": "UnitPrice",
    "cancel_prefix": "C",
    "missing_customer": "skip",
}


def _write(tmp: Path, content: str | bytes, name: str = "in.csv") -> Path:
    path = tmp / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _outcome(path: Path, engine: str, **kw: Any) -> Any:
    try:
        return TransactionLog.from_csv(path, engine=engine, **kw)
    except CustrelError as exc:
        return (type(exc).__name__, str(exc))


# ---------------------------------------------------------------------------
# real exports that must be read
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_online_retail_layout(engine: str, tmp_path: Path) -> None:
    path = _write(tmp_path, ONLINE_RETAIL)
    log = TransactionLog.from_csv(path, engine=engine, **RETAIL_OPTIONS)
    assert log.customer_labels.tolist() == [12583, 14527, 17850]
    # 536365: three lines, one purchase of 6 x 2.55 + 6 x 3.39 + 8 x 2.75
    assert log.customer_id.tolist() == [17850, 12583, 14527, 14527]
    np.testing.assert_allclose(log.amount, [57.64, 90.0, -27.5, 2.55])
    assert log.time[0] == np.datetime64("2010-12-01T08:26:00")  # the earliest line
    assert log.intake == IntakeSummary(
        rows_read=8, orders_grouped=2, skipped_missing_customer=2, skipped_amount=2.51
    )
    s = log.summarize()
    assert s.n_purchases.tolist() == [1, 1, 1]  # the cancellation is not a purchase
    assert s.n_returns is not None
    assert s.n_returns.tolist() == [0, 1, 0]
    assert s.total_amount is not None
    np.testing.assert_allclose(s.total_amount, [90.0, -24.95, 57.64])


@pytest.mark.parametrize("engine", ENGINES)
def test_european_export(engine: str, tmp_path: Path) -> None:
    path = _write(
        tmp_path, "Kunde;Datum;Betrag\nMüller;2024-01-05;22,6\nSchmidt;2024-01-06;1.191,50\n"
    )
    log = TransactionLog.from_csv(
        path,
        customer_col="Kunde",
        time_col="Datum",
        amount_col="Betrag",
        delimiter=";",
        decimal=",",
        thousands=".",
        engine=engine,
    )
    assert log.amount.tolist() == [22.6, 1191.5]
    assert log.customer_labels.tolist() == ["Müller", "Schmidt"]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("encoding", ["cp1252", "latin-1", "utf-16"])
def test_other_encodings_when_named(engine: str, encoding: str, tmp_path: Path) -> None:
    text = "customer_id,time,amount\nMüller,2024-01-05,1\nFrançois,2024-01-06,2\n"
    path = _write(tmp_path, text.encode(encoding))
    log = TransactionLog.from_csv(path, encoding=encoding, engine=engine)
    assert log.customer_labels.tolist() == ["François", "Müller"]


@pytest.mark.parametrize("engine", ENGINES)
def test_bom_and_crlf(engine: str, tmp_path: Path) -> None:
    path = _write(tmp_path, b"\xef\xbb\xbfcustomer_id,time,amount\r\na,2024-01-05,1\r\n")
    assert TransactionLog.from_csv(path, engine=engine).customer_labels.tolist() == ["a"]


@pytest.mark.parametrize("engine", ENGINES)
def test_offsets_keep_the_local_day_without_warnings(engine: str, tmp_path: Path) -> None:
    path = _write(tmp_path, "customer_id,time,amount\na,2024-03-01T23:30:00+01:00,5\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        local = TransactionLog.from_csv(path, engine=engine)
        utc = TransactionLog.from_csv(path, engine=engine, timezone="utc")
    assert str(local.time[0]) == "2024-03-01T23:30:00"
    assert local.period_index("day").tolist() == [0]
    assert str(utc.time[0]) == "2024-03-01T22:30:00"


@pytest.mark.parametrize("engine", ENGINES)
def test_log_without_amount_column(engine: str, tmp_path: Path) -> None:
    path = _write(tmp_path, "customer_id,time\na,2024-01-05\na,2024-01-07\n")
    log = TransactionLog.from_csv(path, amount_col=None, engine=engine)
    assert not log.has_amount
    assert log.summarize().n_purchases.tolist() == [2]


@pytest.mark.parametrize("engine", ENGINES)
def test_blank_lines_and_quoted_newlines_keep_line_numbers(engine: str, tmp_path: Path) -> None:
    text = 'customer_id,time,amount\n"a\nb",2024-01-01,1\n\nc,2024-01-02,2\nd,someday,3\n'
    message = _outcome(_write(tmp_path, text), engine)
    assert message[0] == "InvalidInputError"
    assert "'someday' at line 6" in message[1]


# ---------------------------------------------------------------------------
# messages: one line, the file's line numbers, the caller's vocabulary
# ---------------------------------------------------------------------------


def _eighteen_lines() -> str:
    rows = "".join(f"c{i},2024-01-{i + 1:02d},{i}\n" for i in range(16))
    return "customer_id,time,amount\n" + rows + "c16,31/12/2024,3\n"


BAD_FILES = [
    pytest.param(
        _eighteen_lines(),
        {},
        r"column 'time' has an unparseable date '31/12/2024' at line 18; "
        r"pass date_format='%d/%m/%Y' \('%m/%d/%Y' for US dates\)",
        id="seventeenth-row-is-line-18",
    ),
    pytest.param(
        _eighteen_lines(),
        {"vocabulary": CLI_WORDS},
        r"at line 18; pass --date-format %d/%m/%Y",
        id="seventeenth-row-cli-words",
    ),
    pytest.param(
        "customer_id,time,amount\nMüller,2024-01-01,5\n".encode("cp1252"),
        {},
        r"is not UTF-8 text: the byte 0xfc at byte offset 25 \(line 2\) cannot be decoded; "
        r"pass encoding='cp1252'",
        id="latin-1-file",
    ),
    pytest.param(
        "customer_id,time,amount\nMüller,2024-01-01,5\n".encode("cp1252"),
        {"vocabulary": CLI_WORDS},
        r"pass --encoding cp1252",
        id="latin-1-file-cli-words",
    ),
    pytest.param(
        b"PK\x03\x04\x14\x00\x06\x00binary",
        {},
        r"is a binary file, not delimited text \(a NUL byte at byte offset 5\)",
        id="binary-file",
    ),
    pytest.param(
        "customer_id,time,amount\na,2024-01-01,5\n".encode("utf-16"),
        {},
        r"is UTF-16 text .*; pass encoding='utf-16'",
        id="utf-16-without-encoding",
    ),
    pytest.param(
        "customer_id;time;amount\na;2024-01-01;22,6\n",
        {},
        r"column 'customer_id' \(customer_col\) is not in the header of .*; the header reads as "
        r"one column, so the fields are probably separated by ';': pass delimiter=';'",
        id="semicolon-file",
    ),
    pytest.param(
        "customer_id\ttime\tamount\na\t2024-01-01\t2\n",
        {"vocabulary": CLI_WORDS},
        r"\(--customer-col\) is not in the header .* separated by a tab: pass --delimiter '\\t'",
        id="tab-file-cli-words",
    ),
    pytest.param(
        "customer_id;time;amount\na;2024-01-01;22.6\n",
        {"delimiter": ";", "decimal": ","},
        r"column 'amount' has '22.6' at line 2, which is not a number written with decimal ','",
        id="dot-with-decimal-comma",
    ),
    pytest.param(
        "customer_id;time;amount\na;2024-01-01;1.19,5\n",
        {"delimiter": ";", "decimal": ",", "thousands": "."},
        r"column 'amount' has '1.19,5' at line 2, which is not a number written with decimal "
        r"',' and thousands '.'",
        id="bad-thousands-grouping",
    ),
    pytest.param(
        "customer_id,time,amount\n1,2024-01-01,5\n",
        {"decimal": ","},
        r"decimal ',' is also the delimiter; .*pass delimiter=';'",
        id="decimal-is-delimiter",
    ),
    pytest.param(
        "customer_id,time,amount\na,2024-01-01,5\n,2024-01-02,6\n",
        {"vocabulary": CLI_WORDS},
        r"column 'customer_id' is missing \(empty\) at line 3; pass --missing-customer skip",
        id="missing-customer-cli-words",
    ),
    pytest.param(
        "customer_id,time,amount\na,2024-01-01,5\n",
        {"encoding": "klingon"},
        r"encoding 'klingon' is not a known text encoding",
        id="unknown-encoding",
    ),
    pytest.param(
        "customer_id,time,amount,amount\na,2024-01-01,5,6\n",
        {},
        r"column 'amount' \(amount_col\) appears 2 times in the header",
        id="duplicate-header",
    ),
    pytest.param(
        "customer_id,time,amount\na,2024-01-01," + "9" * 100 + "\n",
        {},
        r"column 'amount' has a value of 100 characters at line 2, not a number",
        id="over-long-number",
    ),
    pytest.param(
        "customer_id,time,amount\na,2024-01-01,5\n",
        {"quantity_col": "amount"},
        r"quantity_col computes the amount together with price_col",
        id="quantity-without-price",
    ),
    pytest.param(
        "customer_id,time,amount\na,2024-01-01,5\n",
        {"cancel_prefix": "C"},
        r"cancel_prefix marks cancellations by their order id; give order_col too",
        id="cancel-prefix-without-order-col",
    ),
    pytest.param(
        "customer_id,time,order\na,2024-01-01,\n",
        {"order_col": "order", "amount_col": None},
        r"column 'order' is missing \(empty\) at line 2$",
        id="missing-order-id",
    ),
    pytest.param(
        "customer_id,time,amount\na,2024-01-01,1\nb,2024-01-02\n",
        {},
        r"line 3 of '.*' has 2 fields, the header has 3",
        id="short-row",
    ),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("content", "options", "match"), BAD_FILES)
def test_bad_file_one_message_on_every_engine(
    engine: str, content: str | bytes, options: dict[str, Any], match: str, tmp_path: Path
) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(InvalidInputError, match=match) as info:
        TransactionLog.from_csv(path, engine=engine, **options)
    assert "\n" not in str(info.value)


def test_header_only_file_is_empty(tmp_path: Path) -> None:
    path = _write(tmp_path, "customer_id,time,amount\n\n")
    for engine in ENGINES:
        with pytest.raises(EmptyInputError, match="has a header and no rows"):
            TransactionLog.from_csv(path, engine=engine)


# ---------------------------------------------------------------------------
# property: the engines agree on messy text, with every intake option
# ---------------------------------------------------------------------------


@st.composite
def messy_export(draw: st.DrawFn) -> tuple[bytes, dict[str, Any]]:
    """Messy exports: padding, blank lines, bad values, offsets, European numbers, encodings."""
    european = draw(st.booleans())
    delimiter = ";" if european else draw(st.sampled_from([",", ";"]))
    ids = st.sampled_from(["1", "2", "-3", " 4", "007", "Müller", "b ", "", "  ", "C1"])
    dates = st.sampled_from(
        ["2024-01-01", " 2024-03-01", "2024-01-01T10:30:00", "2024-03-01T23:30:00+01:00",
         "2024-03-01T23:30:00Z", "2024-13-01", "", "17", "31/12/2024", "2024-01-01T10:30:00-0500"]
    )  # fmt: skip
    plain = ["1", "2.5", "-3", "1e2", " 4.25", "nan", "x", "", "1,5", "1.191,50", "22,6"]
    amounts = st.sampled_from([*plain, "1.000"] if european else plain)
    orders = st.sampled_from(["o1", "o2", "C3", ""])
    n = draw(st.integers(1, 7))
    lines = [delimiter.join(["customer_id", "time", "amount", "order"])]
    for _ in range(n):
        fields = [draw(ids), draw(dates), draw(amounts), draw(orders)]
        if draw(st.integers(0, 12)) == 0:
            fields = fields[:3]  # a short row
        quoted = [f'"{f}"' if delimiter in f else f for f in fields]
        lines.append(delimiter.join(quoted))
        if draw(st.integers(0, 8)) == 0:
            lines.append("")  # a blank line
    text = "\n".join(lines) + "\n"
    encoding = draw(st.sampled_from(["utf-8", "cp1252", "utf-8-sig"]))
    options: dict[str, Any] = {"delimiter": delimiter}
    if encoding == "cp1252":
        options["encoding"] = draw(st.sampled_from(["cp1252", "utf-8"]))  # utf-8: a decode error
    if european:
        options |= {"decimal": ",", "thousands": draw(st.sampled_from([".", None]))}
    if draw(st.booleans()):
        options |= {"order_col": "order", "cancel_prefix": draw(st.sampled_from(["C", None]))}
    options["missing_customer"] = draw(st.sampled_from(["error", "skip"]))
    options["timezone"] = draw(st.sampled_from(["local", "utc"]))
    options["id_type"] = draw(st.sampled_from(["auto", "str"]))
    if draw(st.booleans()):
        options["vocabulary"] = CLI_WORDS
    return text.encode(encoding), options


@given(export=messy_export())
def test_engines_agree_on_messy_exports(
    export: tuple[bytes, dict[str, Any]], tmp_path_factory: Any
) -> None:
    content, options = export
    path = tmp_path_factory.mktemp("messy") / "m.csv"
    path.write_bytes(content)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        outcomes = [_outcome(path, engine, **options) for engine in ENGINES]
    assert outcomes[1] == outcomes[0]
    assert outcomes[2] == outcomes[0]
    for outcome in outcomes:
        if isinstance(outcome, tuple):
            assert "\n" not in outcome[1]
        else:
            assert outcome.intake is not None
            assert outcome.intake.rows_read >= outcome.n_rows


@pytest.mark.parametrize("engine", ENGINES)
def test_cancellation_flag_column_makes_amounts_returns(tmp_path: Path, engine: str) -> None:
    # issue 11: cancellations marked by a flag column (amounts kept positive in the export)
    path = tmp_path / "flag.csv"
    path.write_text(
        "customer,date,total,cancelled\n"
        "A,2024-01-05,50,no\nA,2024-01-07,50,YES\nB,2024-01-05,20,\nB,2024-03-05,30,0\n"
        "C,2024-03-06,5,x\n",
        encoding="utf-8",
    )
    log = TransactionLog.from_csv(
        path,
        customer_col="customer",
        time_col="date",
        amount_col="total",
        cancel_col="cancelled",
        engine=engine,
    )
    assert log.amount.tolist() == [50.0, -50.0, 20.0, 30.0, -5.0]
    s = log.summarize()
    assert s.n_purchases.tolist() == [1, 2]  # A bought once; C only returned
    assert s.total_amount.tolist() == [0.0, 50.0]


@pytest.mark.parametrize("engine", ENGINES)
def test_cancellation_flag_that_is_not_yes_or_no_names_its_line(
    tmp_path: Path, engine: str
) -> None:
    path = tmp_path / "flag.csv"
    path.write_text(
        "customer,date,total,cancelled\nA,2024-01-05,50,0\nA,2024-01-07,50,maybe\n",
        encoding="utf-8",
    )
    with pytest.raises(
        InvalidInputError, match=r"column 'cancelled' has 'maybe' at line 3, which is not a yes/no"
    ):
        TransactionLog.from_csv(
            path,
            customer_col="customer",
            time_col="date",
            amount_col="total",
            cancel_col="cancelled",
            engine=engine,
        )
