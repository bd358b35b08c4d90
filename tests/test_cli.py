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
    assert int(rows["a"][header.index("n_purchases")]) == 2


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
            "column 'total' is not in the header",
            id="missing-column",
        ),
        pytest.param(
            "cust,day,total\na,2024-13-45,1\n",
            [],
            "unparseable date '2024-13-45' at row 0",
            id="bad-date",
        ),
        pytest.param(
            "cust,day,total\na,2024-01-01,abc\n",
            [],
            "non-numeric value 'abc' at row 0",
            id="bad-amount",
        ),
        pytest.param(
            "cust,day,total\na,2024-01-01,nan\n",
            [],
            "amount must be finite, got nan at row 0",
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
