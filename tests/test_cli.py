"""The ``custrel`` command: demo, report on a user's file, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from custrel.cli import main


def _report_args(path: Path) -> list[str]:
    """The report command on ``path`` with the test files' column names."""
    return [
        "report",
        str(path),
        "--customer-col",
        "cust",
        "--date-col",
        "day",
        "--amount-col",
        "total",
    ]


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def orders(tmp_path: Path) -> Path:
    return _write(
        tmp_path / "orders.csv",
        "cust,day,total\na,2024-01-01,10\nb,2024-01-03,20\na,2024-02-01,-5\nc,2024-03-01,7.5\n",
    )


def test_report_prints_summary_and_writes_csv(
    orders: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rep.csv"
    status = main([*_report_args(orders), "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 0
    assert "Totals" in captured.out
    assert "customers" in captured.out
    assert "summarising 4 transactions of 3 customers" in captured.err
    lines = [ln for ln in out.read_text().splitlines() if not ln.startswith("#")]
    assert lines[0].split(",")[:2] == ["customer_id", "first_purchase"]
    rows = {ln.split(",")[0]: ln.split(",") for ln in lines[1:]}
    assert set(rows) == {"a", "b", "c"}
    header = lines[0].split(",")
    assert float(rows["a"][header.index("total_amount")]) == pytest.approx(5.0)
    assert int(rows["a"][header.index("n_purchases")]) == 1  # the -5 row is a return


def test_report_observation_end_leaves_later_rows_out(
    orders: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main([*_report_args(orders), "--observation-end", "2024-02-15", "--quiet"])
    out = capsys.readouterr().out
    assert status == 0
    assert "transactions after window (left out)" in out
    assert "2024-02-15" in out


def test_quiet_prints_no_progress(orders: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main([*_report_args(orders), "--quiet"])
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        pytest.param(None, [], "does not exist", id="missing-file"),
        pytest.param("cust,day,total\n", [], "empty", id="header-only"),
        pytest.param(
            "cust,day,amount\na,2024-01-01,1\n",
            [],
            "column 'total' (--amount-col) is not in the header",
            id="missing-column",
        ),
        pytest.param(
            "cust,day,total\na,2024-13-45,1\n",
            [],
            "unparseable date '2024-13-45' at line 2; pass --date-format",
            id="bad-date",
        ),
        pytest.param(
            "cust,day,total\na,2024-01-01,abc\n",
            [],
            "non-numeric value 'abc' at line 2",
            id="bad-amount",
        ),
        pytest.param(
            "cust,day,total\na,2024-01-01,nan\n",
            [],
            "must be finite, got nan at line 2",
            id="nan-amount",
        ),
        pytest.param(
            "cust,day,total\na,2024-01-05,1\n",
            ["--observation-end", "2023-01-01"],
            "before the first purchase",
            id="end-before-first",
        ),
    ],
)
def test_bad_input_is_one_line_and_status_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str | None,
    args: list[str],
    message: str,
) -> None:
    path = tmp_path / "in.csv"
    if content is not None:
        _write(path, content)
    status = main([*_report_args(path), "--quiet", *args])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("custrel: error: ")
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_demo_runs_on_bundled_sample(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "demo.csv"
    status = main(["demo", "--quiet", "--out", str(out)])
    printed = capsys.readouterr().out
    assert status == 0
    assert "bundled sample" in printed
    assert "Totals" in printed
    assert out.exists()


def test_module_entry_point_runs(orders: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "custrel",
            *_report_args(orders),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Totals" in proc.stdout


def test_plots_are_written_as_png(
    orders: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plots = tmp_path / "figs"
    status = main([*_report_args(orders), "--quiet", "--plots", str(plots)])
    assert status == 0
    pngs = sorted(p.name for p in plots.glob("*.png"))
    assert "pyramid.png" in pngs
    assert "concentration.png" in pngs
    for p in plots.glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "6 figures written to" in capsys.readouterr().out


# --- output paths are checked before any work starts ---


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        pytest.param(
            "--out",
            "nodir/x.csv",
            "--out 'nodir/x.csv': the folder 'nodir' does not exist",
            id="out-missing-folder",
        ),
        pytest.param(
            "--html", "nodir/r.html", "--html 'nodir/r.html': the folder", id="html-missing-folder"
        ),
        pytest.param(
            "--plots", "nodir/figs", "--plots 'nodir/figs': the folder", id="plots-missing-folder"
        ),
        pytest.param("--out", ".", "is a folder; give a file name", id="out-is-a-folder"),
    ],
)
def test_output_paths_are_checked_before_any_work(
    orders: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    flag: str,
    value: str,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    status = main([*_report_args(orders), flag, value])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("custrel: error: ")
    assert message in err
    assert err.count("\n") == 1  # no progress line: nothing was read or computed


def test_plots_path_that_is_a_file_is_refused(
    orders: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main([*_report_args(orders), "--quiet", "--plots", str(orders)])
    assert status == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_out_writes_csv_and_sidecar_with_checksum(
    orders: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import hashlib
    import json

    import pandas as pd
    import polars as pl

    out = tmp_path / "rep.csv"
    assert main([*_report_args(orders), "--quiet", "--out", str(out)]) == 0
    assert len(pd.read_csv(out)) == 3
    assert pl.read_csv(out).height == 3
    meta = json.loads((tmp_path / "rep.csv.json").read_text(encoding="utf-8"))
    given = meta["parameters"]["input"]
    assert given["sha256"] == hashlib.sha256(orders.read_bytes()).hexdigest()
    assert meta["parameters"]["intake"]["customer_col"] == "cust"


def test_no_neutralize_flag_writes_formulas_raw(tmp_path: Path) -> None:
    path = _write(tmp_path / "f.csv", "cust,day,total\n=1+1,2024-01-01,10\nb,2024-01-03,20\n")
    out = tmp_path / "r.csv"
    assert main([*_report_args(path), "--quiet", "--out", str(out)]) == 0
    assert "'=1+1" in out.read_text(encoding="utf-8")
    assert main([*_report_args(path), "--quiet", "--out", str(out), "--no-neutralize"]) == 0
    text = out.read_text(encoding="utf-8")
    assert "=1+1" in text
    assert "'=1+1" not in text


def test_demo_html_is_one_self_contained_file(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    page = tmp_path / "report.html"
    assert main(["demo", "--quiet", "--html", str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    assert text.count('src="data:image/png;base64,') == 6
    assert "http://" not in text
    assert "https://" not in text
    assert "<script" not in text


def test_terminal_output_fits_100_columns(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--quiet", "--top", "25"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 100
    assert out.index("Totals") < out.index("Notes")


# --- one line, status 2, for every failure ---


@pytest.mark.parametrize(
    "value",
    [pytest.param("yesterday", id="word"), pytest.param("2024-13-45", id="bad-month")],
)
def test_observation_end_errors_name_the_flag_not_row_0(
    orders: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    status = main([*_report_args(orders), "--quiet", "--observation-end", value])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("custrel: error: --observation-end must be a date")
    assert repr(value) in err
    assert "row 0" not in err
    assert err.count("\n") == 1


def test_amount_or_quantity_and_price_is_needed(
    orders: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["report", str(orders), "--customer-col", "cust", "--date-col", "day", "--quiet"]
    assert main(args) == 2
    assert "give --amount-col, or --quantity-col and --price-col" in capsys.readouterr().err


def test_bad_flag_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--no-such-flag"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("custrel: error: unrecognized arguments: --no-such-flag")
    assert err.count("\n") == 1


def test_warnings_become_notes_not_raw_output(
    orders: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import warnings

    import custrel.report

    real = custrel.report.customer_report

    def warning_report(*args: object, **kwargs: object) -> custrel.report.CustomerReport:
        warnings.warn("a numerical caution from a model", UserWarning, stacklevel=1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(custrel.report, "customer_report", warning_report)
    before = list(warnings.filters)
    status = main([*_report_args(orders), "--quiet"])
    captured = capsys.readouterr()
    assert status == 0
    assert "warning: a numerical caution from a model" in captured.out
    assert "UserWarning" not in captured.err
    assert captured.err == ""
    assert warnings.filters == before


def test_unexpected_failure_is_one_line_not_a_traceback(
    orders: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import custrel.report

    def broken(*_args: object, **_kwargs: object) -> None:
        raise ZeroDivisionError("float division by zero")

    monkeypatch.delenv("CUSTREL_DEBUG", raising=False)
    monkeypatch.setattr(custrel.report, "customer_report", broken)
    status = main([*_report_args(orders), "--quiet"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("custrel: error: unexpected ZeroDivisionError: float division by zero")
    assert err.count("\n") == 1


def test_version_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    import custrel

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"custrel {custrel.__version__}\n"


# --- one mistyped far-future date among 200,000 rows ---


def _far_future_file(path: Path, n: int, bad_line: int) -> Path:
    import numpy as np

    rng = np.random.default_rng(7)
    cust = rng.integers(0, 20_000, n)
    days = (np.datetime64("2022-01-01") + rng.integers(0, 700, n).astype("timedelta64[D]")).astype(
        str
    )
    rows = [f"c{c},{d},12.5" for c, d in zip(cust.tolist(), days.tolist(), strict=True)]
    rows[bad_line - 2] = "c1,9999-01-01,12.5"  # header is line 1, first data row line 2
    path.write_text("cust,day,total\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_far_future_date_names_the_file_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import time

    path = _far_future_file(tmp_path / "big.csv", 200_000, bad_line=123_458)
    start = time.perf_counter()
    status = main([*_report_args(path), "--quiet"])
    elapsed = time.perf_counter() - start
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1
    assert "'9999-01-01' at line 123458 of" in err
    # reading 200k rows dominates; without the up-front check the panel needed 14 GiB
    assert elapsed < 20.0


def test_far_future_line_counts_quoted_newlines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = ["cust,day,total", '"a\nb",2024-01-01,1']  # one record over lines 2-3
    lines += [f"c{i},2024-01-{i % 28 + 1:02d},2" for i in range(40)]  # lines 4-43
    lines.append("c1,9999-01-01,3")  # line 44
    path = _write(tmp_path / "q.csv", "\n".join(lines) + "\n")
    assert main([*_report_args(path), "--quiet"]) == 2
    assert "'9999-01-01' at line 44 of" in capsys.readouterr().err


# --- real exports: the intake flags reach TransactionLog.from_csv ---


def _run_report(
    path: Path, extra: list[str], capsys: pytest.CaptureFixture[str], out: Path | None = None
) -> tuple[int, str, str]:
    args = [*_report_args(path), "--quiet", *extra]
    if out is not None:
        args += ["--out", str(out)]
    status = main(args)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_latin1_file_needs_and_accepts_encoding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("cust,day,total\nMüller,2024-01-01,10\nb,2024-01-03,20\n".encode("latin-1"))
    status, _, err = _run_report(path, [], capsys)
    assert status == 2
    assert err.count("\n") == 1
    assert "--encoding" in err
    out = tmp_path / "r.csv"
    status, _, err = _run_report(path, ["--encoding", "latin-1"], capsys, out)
    assert status == 0, err
    assert "Müller" in out.read_text(encoding="utf-8")


def test_binary_file_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(bytes(range(256)) * 4)
    status, _, err = _run_report(path, [], capsys)
    assert status == 2
    assert err.startswith("custrel: error: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_european_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(
        tmp_path / "eu.csv",
        "cust;day;total\na;2024-01-01;22,6\nb;2024-01-03;1.191,50\na;2024-02-01;3,4\n",
    )
    status, _, err = _run_report(path, [], capsys)
    assert status == 2
    assert "--delimiter" in err
    out = tmp_path / "r.csv"
    flags = ["--delimiter", ";", "--decimal", ",", "--thousands", "."]
    status, _, err = _run_report(path, flags, capsys, out)
    assert status == 0, err
    import pandas as pd

    df = pd.read_csv(out).set_index("customer_id")
    assert df.loc["a", "total_amount"] == pytest.approx(26.0)
    assert df.loc["b", "total_amount"] == pytest.approx(1191.5)


def test_online_retail_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(
        tmp_path / "retail.csv",
        "InvoiceNo,Quantity,UnitPrice,cust,day\n"
        "536365,6,2.55,17850,2024-01-01\n"
        "536365,6,3.39,17850,2024-01-01\n"
        "536365,8,2.75,17850,2024-01-01\n"
        "536366,6,1.85,17850,2024-02-01\n"
        "C536379,-1,27.50,17850,2024-02-03\n"
        "536367,2,10.00,,2024-02-05\n"
        "536368,3,4.00,13047,2024-02-06\n",
    )
    base = ["--order-col", "InvoiceNo", "--quantity-col", "Quantity", "--price-col", "UnitPrice"]
    args = ["report", str(path), "--customer-col", "cust", "--date-col", "day", "--quiet"]
    assert main([*args, *base, "--cancel-prefix", "C"]) == 2
    err = capsys.readouterr().err
    assert "line 7" in err  # the blank customer id, header = line 1
    out = tmp_path / "r.csv"
    status = main(
        [*args, *base, "--cancel-prefix", "C", "--missing-customer", "skip", "--out", str(out)]
    )
    captured = capsys.readouterr()
    assert status == 0, captured.err
    import pandas as pd

    df = pd.read_csv(out).set_index("customer_id")
    # three lines of one invoice are one purchase; the cancellation is a return, not a purchase
    assert df.loc[17850, "n_purchases"] == 2
    assert df.loc[17850, "total_amount"] == pytest.approx(15.3 + 20.34 + 22.0 + 11.1 - 27.5)
    printed = " ".join(captured.out.split())  # notes wrap at 100 columns
    assert "intake: read 7 rows; 2 invoice lines merged into their orders" in printed
    assert "1 row without a customer id skipped (amount 20.00)" in printed
    assert "1 return netted (27.50)" in printed


def test_offset_times_keep_their_local_date_unless_utc(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(
        tmp_path / "tz.csv",
        "cust,day,total\na,2024-01-01T00:30:00+01:00,10\nb,2024-01-03T12:00:00+01:00,20\n",
    )
    out = tmp_path / "r.csv"
    status, _, err = _run_report(path, [], capsys, out)
    assert status == 0, err
    assert err == ""  # no raw warning
    assert "2024-01-01" in out.read_text(encoding="utf-8").splitlines()[1]
    status, _, err = _run_report(path, ["--utc"], capsys, out)
    assert status == 0, err
    assert "2023-12-31" in out.read_text(encoding="utf-8").splitlines()[1]


def test_bom_and_crlf_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfcust,day,total\r\na,2024-01-01,10\r\nb,2024-01-03,20\r\n")
    status, out, err = _run_report(path, [], capsys)
    assert status == 0, err
    assert "customers" in out


def test_far_future_line_is_right_when_rows_are_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = ["cust,day,total"]
    lines += [f",2024-01-{i + 1:02d},1" for i in range(5)]  # lines 2-6: no customer, skipped
    lines += [f"c{i},2024-02-{i % 28 + 1:02d},2" for i in range(40)]  # lines 7-46
    lines.append("c3,9999-01-01,3")  # line 47
    path = _write(tmp_path / "s.csv", "\n".join(lines) + "\n")
    status, _, err = _run_report(path, ["--missing-customer", "skip"], capsys)
    assert status == 2
    assert "'9999-01-01' at line 47 of" in err


def test_buy_then_return_is_one_purchase_and_net_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # issue 11: a return is not a purchase occasion; a returns-only customer is counted, not
    # tabled, and every section (the lifecycle too) stays aligned with the summary's customers
    path = _write(
        tmp_path / "returns.csv",
        "cust,day,total\n"
        "A,2024-01-05,50\nA,2024-01-07,-50\n"
        "B,2024-01-05,20\nB,2024-03-05,30\n"
        "C,2024-02-01,-10\n",
    )
    out = tmp_path / "r.csv"
    assert main([*_report_args(path), "--out", str(out), "--quiet"]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    rows = {
        line.split(",")[0]: dict(zip(header, line.split(","), strict=True)) for line in lines[1:]
    }
    assert sorted(rows) == ["A", "B"]
    assert rows["A"]["n_purchases"] == "1"
    assert float(rows["A"]["total_amount"]) == 0.0
    assert rows["B"]["n_purchases"] == "2"
    text = capsys.readouterr().out
    assert "customers with returns only (not in the table)" in text
