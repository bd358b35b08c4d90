"""Benchmark: the per-customer summary (TransactionLog.summarize) against pandas.

Two scenarios, as in issue 2:

1. in memory: 10,000,000 transactions of 1,000,000 customers held as numpy
   columns (int64 ids, datetime64[s] times, float64 amounts);
2. from a file: the same summary of a 1,000,000-row CSV file.

The summary is, per customer: first and last purchase, number of purchases,
number of distinct purchase days, total and mean amount. The pandas version is
what a user would write: ``groupby(...).agg(min, max, size, sum, mean)`` plus
``dt.normalize()`` and ``nunique`` for the distinct days; for the file,
``pandas.read_csv(parse_dates=...)`` first. Both produce the same numbers (checked).

What is timed, separately:

* "build": turning the columns into a ``TransactionLog`` (validation, id
  factorisation, copies) or a pandas ``DataFrame``;
* "summary": ``log.summarize()`` or the pandas groupby on the built object;
* "read + summary": for the file, the whole path from the CSV to the summary.

Seconds are wall-clock; "best CPU" is the process CPU time of the best run
(all threads), which other jobs on a shared machine disturb much less than
wall time. Seconds are the best of ``--repeat`` runs (at least 5 for the file scenario;
the first, cold call is shown too; pandas, pyarrow and polars are imported
before any timing).
Peak memory is the tracemalloc peak of the step (numpy and pandas report their
buffers to it), compared with the size of the input columns. pyarrow / polars
buffers are not traced, so for the file scenario the increase of the process's
peak resident memory (VmHWM, reset through /proc/self/clear_refs) is shown too.

Usage::

    python benchmarks/bench_summary.py            # full size (about 2 minutes)
    python benchmarks/bench_summary.py --quick    # a tenth of the size
    python benchmarks/bench_summary.py --save     # also write results/summary.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars  # noqa: F401 - imported up front, so no timing includes an import
import pyarrow.csv  # noqa: F401

import custrel
from custrel import TransactionLog
from custrel.datasets import generate_transactions

RESULTS = Path(__file__).resolve().parent / "results" / "summary.md"
LOAD_AT_START = f"{os.getloadavg()[0]:.1f}"


# ---------------------------------------------------------------------------
# measurement helpers
# ---------------------------------------------------------------------------


def _rss_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def measure(fn: Callable[[], Any], repeat: int) -> dict[str, Any]:
    """Cold and best time, tracemalloc peak and peak-RSS increase of ``fn``."""
    gc.collect()
    times = []
    cpu = []
    result = None
    for _ in range(repeat):
        result = None
        gc.collect()
        c0 = time.process_time()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    result = None
    gc.collect()
    rss_ok = _reset_peak_rss()
    rss0 = _rss_kib("VmRSS")
    tracemalloc.start()
    result = fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    hwm = _rss_kib("VmHWM")
    rss_peak = (
        max(hwm - rss0, 0) * 1024 if rss_ok and hwm is not None and rss0 is not None else None
    )
    return {
        "cold": times[0],
        "best": min(times),
        "cpu": min(cpu),
        "peak": peak,
        "rss_peak": rss_peak,
        "result": result,
    }


def mb(nbytes: float | None) -> str:
    return "n/a" if nbytes is None else f"{nbytes / 1e6:,.0f} MB"


# ---------------------------------------------------------------------------
# the two implementations
# ---------------------------------------------------------------------------


def pandas_summary(df: pd.DataFrame, cid: str, date: str, amount: str) -> pd.DataFrame:
    g = df.groupby(cid, sort=True)
    out = g.agg(
        first=(date, "min"),
        last=(date, "max"),
        n_purchases=(amount, "size"),
        total_amount=(amount, "sum"),
        mean_amount=(amount, "mean"),
    )
    out["n_periods"] = df[date].dt.normalize().groupby(df[cid], sort=True).nunique()
    return out


def pandas_summary_tuned(df: pd.DataFrame, cid: str, date: str, amount: str) -> pd.DataFrame:
    """A faster pandas version: one groupby on numpy-backed columns, distinct days by drop_duplicates."""
    g = df.groupby(cid, sort=True)
    out = g.agg(
        first=(date, "min"),
        last=(date, "max"),
        n_purchases=(amount, "size"),
        total_amount=(amount, "sum"),
    )
    out["mean_amount"] = out["total_amount"] / out["n_purchases"]
    days = pd.DataFrame(
        {cid: df[cid].to_numpy(), "day": df[date].to_numpy().astype("datetime64[D]")}
    )
    out["n_periods"] = days.drop_duplicates().groupby(cid, sort=True).size()
    return out


def check_same(s: custrel.CustomerSummary, p: pd.DataFrame) -> None:
    assert s.customer_id.tolist() == p.index.tolist()
    np.testing.assert_array_equal(s.n_purchases, p["n_purchases"].to_numpy())
    np.testing.assert_array_equal(s.n_periods, p["n_periods"].to_numpy())
    np.testing.assert_array_equal(s.first, p["first"].to_numpy().astype("datetime64[s]"))
    np.testing.assert_array_equal(s.last, p["last"].to_numpy().astype("datetime64[s]"))
    np.testing.assert_allclose(s.total_amount, p["total_amount"].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(s.mean_amount, p["mean_amount"].to_numpy(), rtol=1e-9)


def make_columns(n_rows: int, n_customers: int, seed: int) -> dict[str, np.ndarray]:
    """Exactly n_rows transactions of exactly n_customers customers, from the generator.

    The generator (CDNOW-like dropout, faster buyers: about 10 rows per customer)
    makes a little more than needed; surplus repeat purchases are dropped at random,
    keeping every customer's first purchase.
    """
    log = generate_transactions(
        n_customers, rng=seed, r=0.65, alpha=4.414, a=0.3, b=3.0, costs=False
    )
    if log.n_rows < n_rows:
        raise SystemExit(f"generator made {log.n_rows} rows, fewer than {n_rows}")
    first = np.full(log.n_customers, log.n_rows)
    np.minimum.at(first, log.customer_code, np.arange(log.n_rows))
    keep = np.zeros(log.n_rows, dtype=bool)
    keep[first] = True
    others = np.flatnonzero(~keep)
    rng = np.random.default_rng(seed + 1)
    keep[rng.choice(others, n_rows - n_customers, replace=False)] = True
    return {
        "customer_id": log.customer_id[keep].copy(),
        "time": log.time[keep].copy(),
        "amount": log.amount[keep].copy(),
    }


# ---------------------------------------------------------------------------
# scenarios
# ---------------------------------------------------------------------------


def in_memory(n_rows: int, n_customers: int, repeat: int) -> list[dict[str, Any]]:
    cols = make_columns(n_rows, n_customers, seed=2026)
    input_bytes = sum(a.nbytes for a in cols.values())
    print(
        f"in memory: {n_rows:,} rows, {n_customers:,} customers, input columns {mb(input_bytes)}",
        flush=True,
    )
    build = measure(lambda: TransactionLog.from_arrays(**cols), repeat)
    log = build["result"]
    summ = measure(log.summarize, repeat)
    df_build = measure(
        lambda: pd.DataFrame({"customer_id": cols["customer_id"], "time": cols["time"],
                              "amount": cols["amount"]}),
        repeat,
    )  # fmt: skip
    df = df_build["result"]
    pd_summ = measure(lambda: pandas_summary(df, "customer_id", "time", "amount"), repeat)
    check_same(summ["result"], pd_summ["result"])
    pd_tuned = measure(lambda: pandas_summary_tuned(df, "customer_id", "time", "amount"), repeat)
    check_same(summ["result"], pd_tuned["result"])
    rows = [
        {"step": "custrel build (TransactionLog.from_arrays)", **build},
        {"step": "custrel summary (log.summarize)", **summ},
        {"step": "pandas build (DataFrame)", **df_build},
        {"step": "pandas summary (groupby agg + nunique)", **pd_summ},
        {"step": "pandas summary, tuned (groupby agg + drop_duplicates)", **pd_tuned},
    ]
    for r in rows:
        r["input"] = input_bytes
    return rows


def from_csv(n_rows: int, n_customers: int, repeat: int, tmp: Path) -> list[dict[str, Any]]:
    cols = make_columns(n_rows, n_customers, seed=7)
    path = tmp / "transactions.csv"
    TransactionLog.from_arrays(**cols).to_csv(path, time_col="date")
    size = path.stat().st_size
    print(f"from CSV: {n_rows:,} rows, {n_customers:,} customers, file {mb(size)}", flush=True)
    rows = []
    for engine in ("pyarrow", "polars", "python"):
        res = measure(
            lambda e=engine: TransactionLog.from_csv(path, time_col="date", engine=e).summarize(),
            max(repeat, 5) if engine != "python" else 1,
        )
        rows.append({"step": f"custrel read + summary (from_csv, engine={engine!r})", **res})
    pd_res = measure(
        lambda: pandas_summary(
            pd.read_csv(path, parse_dates=["date"]), "customer_id", "date", "amount"
        ),
        max(repeat, 5),
    )
    check_same(rows[0]["result"], pd_res["result"])
    rows.append({"step": "pandas read + summary (read_csv + groupby)", **pd_res})
    for r in rows:
        r["input"] = size
    return rows


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------


def table(title: str, rows: list[dict[str, Any]], pairs: list[tuple[str, str, str]]) -> str:
    lines = [
        f"### {title}",
        "",
        (
            "| step | first call (s) | best (s) | best CPU (s) | peak traced memory | x input "
            "| peak RSS increase |"
        ),
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines.extend(
        f"| {r['step']} | {r['cold']:.3f} | {r['best']:.3f} | {r['cpu']:.3f} | {mb(r['peak'])} | "
        f"{r['peak'] / r['input']:.2f} | {mb(r['rss_peak'])} |"
        for r in rows
    )
    lines.append("")
    by_step = {r["step"]: r for r in rows}
    for label, ours, theirs in pairs:
        ratio = by_step[theirs]["best"] / by_step[ours]["best"]
        cpu_ratio = by_step[theirs]["cpu"] / by_step[ours]["cpu"]
        word = "faster" if ratio >= 1 else "slower"
        shown = ratio if ratio >= 1 else 1 / ratio
        lines.append(
            f"- {label}: pandas time / custrel time = **{ratio:.2f}** "
            f"(custrel {shown:.1f}x {word}, best wall times; CPU-time ratio {cpu_ratio:.2f})"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the full size")
    parser.add_argument("--repeat", type=int, default=3, help="runs per step (best is shown)")
    parser.add_argument("--save", action="store_true", help=f"write {RESULTS}")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    with tempfile.TemporaryDirectory() as tmp:
        mem = in_memory(10_000_000 // scale, 1_000_000 // scale, args.repeat)
        csv_rows = from_csv(1_000_000 // scale, 100_000 // scale, args.repeat, Path(tmp))
    input_mb = mb(mem[0]["input"])
    out = [
        "## Per-customer summary (benchmarks/bench_summary.py"
        + (" --quick" if args.quick else "")
        + ")",
        "",
        (
            f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}, "
            f"pandas {pd.__version__}, custrel {custrel.__version__}; load average at the start "
            f"{LOAD_AT_START}, at the end {os.getloadavg()[0]:.1f} (other jobs share the machine)."
        ),
        "",
        table(
            f"In memory: {10_000_000 // scale:,} rows, {1_000_000 // scale:,} customers "
            f"(input columns {input_mb})",
            mem,
            [
                (
                    "summary alone",
                    "custrel summary (log.summarize)",
                    "pandas summary (groupby agg + nunique)",
                ),
                (
                    "summary alone, against the tuned pandas version",
                    "custrel summary (log.summarize)",
                    "pandas summary, tuned (groupby agg + drop_duplicates)",
                ),
            ],
        ),
        (
            "- build + summary: pandas time / custrel time = "
            f"**{(mem[2]['best'] + mem[3]['best']) / (mem[0]['best'] + mem[1]['best']):.2f}** "
            "(DataFrame + groupby against from_arrays + summarize)"
        ),
        "",
        table(
            f"From a CSV file: {1_000_000 // scale:,} rows, {100_000 // scale:,} customers",
            csv_rows,
            [
                (
                    "read + summary, pyarrow engine",
                    "custrel read + summary (from_csv, engine='pyarrow')",
                    "pandas read + summary (read_csv + groupby)",
                ),
                (
                    "read + summary, polars engine",
                    "custrel read + summary (from_csv, engine='polars')",
                    "pandas read + summary (read_csv + groupby)",
                ),
                (
                    "read + summary, standard library engine",
                    "custrel read + summary (from_csv, engine='python')",
                    "pandas read + summary (read_csv + groupby)",
                ),
            ],
        ),
    ]
    text = "\n".join(out)
    print(text)
    if args.save:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text)
        print(f"saved to {RESULTS}")


if __name__ == "__main__":
    main()
