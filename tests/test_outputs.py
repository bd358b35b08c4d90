"""What the report writes: a plain CSV anyone can open, its JSON sidecar, Parquet, formula guard."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import custrel
from custrel import MissingDependencyError, TransactionLog
from custrel._output import neutralize, unneutralize
from custrel.report import CustomerReport, customer_report


@pytest.fixture(scope="module")
def sample_report() -> CustomerReport:
    return customer_report(custrel.datasets.load_sample(), sections=("rfm", "pyramid", "btyd"))


def _report_of(ids: list[str], amounts: list[float] | None = None) -> CustomerReport:
    n = len(ids)
    log = TransactionLog.from_arrays(
        customer_id=np.array(ids, dtype=object),
        time=np.arange(n, dtype=float),
        amount=amounts if amounts is not None else [10.0 + i for i in range(n)],
    )
    return customer_report(log, sections=("pyramid",))


def test_csv_has_the_header_on_line_1_and_no_comment_lines(
    sample_report: CustomerReport,
) -> None:
    text = sample_report.to_csv()
    first = text.split("\r\n", 1)[0]
    assert first.split(",") == list(sample_report.columns)
    assert not any(line.startswith("#") for line in text.splitlines())
    assert text.endswith("\r\n")  # RFC 4180 line ends


def test_pandas_and_polars_read_the_csv_with_default_options(
    sample_report: CustomerReport, tmp_path: Path
) -> None:
    path = tmp_path / "r.csv"
    sample_report.save(path)
    df = pd.read_csv(path)
    assert list(df.columns) == list(sample_report.columns)
    assert len(df) == sample_report.n_customers
    # pandas' default (fast) float parser may differ in the last bit; polars reads exactly
    np.testing.assert_allclose(df["total_amount"], sample_report.columns["total_amount"], 1e-15)
    np.testing.assert_allclose(df["p_alive"], sample_report.columns["p_alive"], rtol=1e-12)
    assert df["n_purchases"].dtype.kind == "i"
    pf = pl.read_csv(path)
    assert pf.columns == list(sample_report.columns)
    assert pf.height == sample_report.n_customers
    assert pf["total_amount"].dtype == pl.Float64
    np.testing.assert_array_equal(
        pf["total_amount"].to_numpy(), sample_report.columns["total_amount"]
    )


def test_store_hash_ids_are_kept_whole(tmp_path: Path) -> None:
    # the old '#' note lines made readers use comment='#', which cut 'Store #5' to 'Store'
    rep = _report_of(["Store #5", "Store #6, east", 'say "hi"'])
    path = tmp_path / "r.csv"
    rep.save(path)
    assert pd.read_csv(path)["customer_id"].tolist() == ["Store #5", "Store #6, east", 'say "hi"']
    assert pl.read_csv(path)["customer_id"].to_list() == [
        "Store #5",
        "Store #6, east",
        'say "hi"',
    ]


@pytest.mark.parametrize(
    ("raw", "written"),
    [
        pytest.param('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")', id="equals"),
        pytest.param("=1+1", "'=1+1", id="formula"),
        pytest.param("+1", "'+1", id="plus"),
        pytest.param("-1", "'-1", id="minus"),
        pytest.param("@x", "'@x", id="at"),
        pytest.param("\tx", "'\tx", id="leading-tab"),
        pytest.param("\rx", "'\rx", id="leading-cr"),
        pytest.param("'a", "''a", id="apostrophe-escaped"),
        pytest.param("a=1", "a=1", id="inner-equals-untouched"),
        pytest.param("Müller", "Müller", id="plain-text"),
    ],
)
def test_formula_cells_are_neutralised_and_reversible(raw: str, written: str) -> None:
    assert neutralize(raw) == written
    assert unneutralize(written) == raw
    text = _report_of([raw, "plain"]).to_csv()
    got = pd.read_csv(io.StringIO(text), dtype={"customer_id": str}, keep_default_na=False)
    assert got["customer_id"].tolist()[0] == written


def test_numbers_stay_numbers_when_neutralising() -> None:
    log = TransactionLog.from_arrays(
        customer_id=["a", "a", "b"], time=[0.0, 1.0, 2.0], amount=[10.0, -15.0, 7.25]
    )
    text = customer_report(log, sections=("pyramid",)).to_csv()
    assert "'-5" not in text
    df = pd.read_csv(io.StringIO(text))
    assert df["total_amount"].tolist() == [-5.0, 7.25]


def test_opt_out_writes_text_as_it_is() -> None:
    text = _report_of(["=1+1", "@x"]).to_csv(neutralize=False)
    got = pd.read_csv(io.StringIO(text), dtype={"customer_id": str}, keep_default_na=False)
    assert got["customer_id"].tolist() == ["=1+1", "@x"]


#: Ids a real export may carry: separators, quotes, line breaks, formula prefixes, '#'.
_ID_TEXT = st.text(
    alphabet=st.sampled_from(list("ab1 #,;\"'=+-@\t\r\nü€")),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60)
@given(st.lists(_ID_TEXT, min_size=1, max_size=8, unique=True))
def test_ids_round_trip_through_the_csv(ids: list[str]) -> None:
    """pandas.read_csv gives every id back exactly after the documented un-neutralisation."""
    rep = _report_of(ids)
    text = rep.to_csv()
    df = pd.read_csv(io.StringIO(text), dtype={"customer_id": str}, keep_default_na=False)
    back = [unneutralize(x) for x in df["customer_id"].tolist()]
    assert back == [str(x) for x in rep.columns["customer_id"].tolist()]
    assert sorted(back) == sorted(ids)
    np.testing.assert_allclose(df["total_amount"], rep.columns["total_amount"], rtol=1e-15)


def test_sidecar_documents_the_table(sample_report: CustomerReport, tmp_path: Path) -> None:
    table, side = sample_report.save(tmp_path / "r.csv")
    meta = json.loads(Path(side).read_text(encoding="utf-8"))
    assert side == table + ".json"
    assert meta["format"] == "custrel-report-sidecar/1"
    assert meta["custrel_version"] == custrel.__version__
    assert meta["rows"] == sample_report.n_customers
    assert [c["name"] for c in meta["columns"]] == list(sample_report.columns)
    assert all(c["description"] for c in meta["columns"])
    assert meta["notes"] == list(sample_report.notes)
    assert meta["tables"][0]["title"] == "Totals"
    assert "formula" in meta["csv"]["formula_neutralization"] or meta["csv"]


def test_parquet_keeps_types_and_metadata(sample_report: CustomerReport, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    table, side = sample_report.save(tmp_path / "r.parquet")
    got = pq.read_table(table)
    assert got.column_names == list(sample_report.columns)
    assert got.num_rows == sample_report.n_customers
    np.testing.assert_array_equal(
        got.column("total_amount").to_numpy(), sample_report.columns["total_amount"]
    )
    meta = json.loads(got.schema.metadata[b"custrel"])
    assert meta["custrel_version"] == custrel.__version__
    assert (
        json.loads(Path(side).read_text(encoding="utf-8"))["parquet"]["metadata_key"] == "custrel"
    )


def test_parquet_without_pyarrow_is_a_clear_error(
    sample_report: CustomerReport, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(MissingDependencyError, match="writing Parquet needs pyarrow"):
        sample_report.save(tmp_path / "r.parquet")
    assert not (tmp_path / "r.parquet").exists()


def test_report_columns_are_read_only(sample_report: CustomerReport) -> None:
    with pytest.raises(TypeError):
        sample_report.columns["tier"] = np.array([])  # type: ignore[index]
    with pytest.raises(ValueError, match="read-only"):
        sample_report.columns["total_amount"][0] = -1.0


@pytest.mark.parametrize("backend", ["pandas", "polars", "pyarrow"])
def test_to_frame_owns_its_data(sample_report: CustomerReport, backend: str) -> None:
    frame = sample_report.to_frame(backend)
    if backend == "pyarrow":
        assert frame.column_names == list(sample_report.columns)
        got = frame.column("total_amount").to_numpy()
    else:
        assert list(frame.columns) == list(sample_report.columns)
        got = frame["total_amount"].to_numpy()
    np.testing.assert_array_equal(got, sample_report.columns["total_amount"])
    if backend == "pandas":
        frame.loc[0, "total_amount"] = -1.0
        assert sample_report.columns["total_amount"][0] != -1.0
