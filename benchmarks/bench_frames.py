"""Benchmark: the engine-side BTYD and RFM summaries against collecting to a TransactionLog.

For each engine (duckdb, dask, polars lazy and, when pyspark is installed,
Spark in local mode on every core) the same transactions are summarised two
ways, in the same run:

* in the engine: ``custrel.frames.rfm_summary_from_frame`` (the compressed
  BTYD rows a fit needs), ``summarize_rfm_from_frame`` (the RFM summary, by
  transactions and by distinct days: by default the engine counts the days
  and one row per customer comes back; ``mergeable=True`` brings back the
  distinct (customer, day) pairs that make it mergeable) and
  ``rfm_table_from_frame(..., frequency_basis="days")`` (distinct purchase
  days counted in the engine);
* collected: the rows are brought to Python (``.df()``, ``.compute()``,
  ``.collect()``, ``.toPandas()``), read into a ``TransactionLog`` and summarised
  by ``rfm_summary(...).compressed()`` / ``rfm_table``.

Both sides are checked equal before timing. The ratio collected / engine is
what a user gains by staying in the engine; it grows with the data, since the
engine path moves no row. Small default sizes (seconds on a 2-core machine);
``--rows`` and ``--customers`` scale it, and the script runs unchanged on a
many-core machine (the core count is recorded).

Usage: .venv/bin/python benchmarks/bench_frames.py [--rows N] [--customers N] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import platform
import shutil
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from custrel import TransactionLog, rfm_summary, summarize_rfm
from custrel.frames import (
    rfm_summary_from_frame,
    rfm_table_from_frame,
    summarize_rfm_from_frame,
)

warnings.filterwarnings("ignore", message="Dask support is moving", category=FutureWarning)

DATE = "2026-01-01"


def best_times(
    fns: tuple[Callable[[], Any], Callable[[], Any]], repeat: int
) -> tuple[list[float], list[Any]]:
    """Best time and last result of each function, run alternately so that both meet the same load."""
    best, outs = [float("inf")] * len(fns), [None] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            outs[i] = fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best, outs


def make_data(n_rows: int, n_customers: int) -> pd.DataFrame:
    rng = np.random.default_rng(2026)
    weights = rng.gamma(2.0, 1.0, n_customers)
    ids = rng.choice(n_customers, size=n_rows, p=weights / weights.sum())
    seconds = rng.integers(0, 2 * 365 * 86400, n_rows)
    when = np.datetime64("2024-01-01", "s") + seconds.astype("timedelta64[s]")
    amount = np.round(rng.gamma(2.0, 25.0, n_rows), 2)
    return pd.DataFrame(
        {
            "customer_id": ids.astype(np.int64),
            "time": when.astype("datetime64[us]"),
            "amount": amount,
        }
    )


def engines(
    df: pd.DataFrame, cores: int, wanted: set[str]
) -> dict[str, tuple[Any, Callable[[Any], pd.DataFrame]]]:
    """name -> (native frame, how a user collects it to pandas), for the installed engines."""
    out: dict[str, tuple[Any, Callable[[Any], pd.DataFrame]]] = {}
    if _installed("duckdb") and "duckdb" in wanted:
        import duckdb

        con = duckdb.connect()
        con.register("orders", df)
        rel = con.sql("select * from orders")
        out["duckdb"] = (rel, lambda r: r.df())
    if _installed("dask") and "dask" in wanted:
        import dask.dataframe as dd

        ddf = dd.from_pandas(df, npartitions=max(2, cores))
        out["dask"] = (ddf, lambda d: d.compute())
    if _installed("polars") and "polars lazy" in wanted:
        import polars as pl

        out["polars lazy"] = (pl.from_pandas(df).lazy(), lambda lf: lf.collect().to_pandas())
    if _installed("pyspark") and shutil.which("java") is not None and "spark local" in wanted:
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        from pyspark.sql import SparkSession

        spark = (
            SparkSession.builder.master(f"local[{cores}]")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", str(2 * cores))
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        sdf = spark.createDataFrame(df).cache()
        sdf.count()  # materialise once: both sides read the cached table
        out["spark local"] = (sdf, lambda s: s.toPandas())
    return out


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def collected_btyd(collect: Callable[[Any], pd.DataFrame], native: Any) -> Any:
    log = TransactionLog.from_frame(collect(native))
    return rfm_summary(log, unit="week").compressed()


def collected_rfm(collect: Callable[[Any], pd.DataFrame], native: Any, basis: str) -> Any:
    log = TransactionLog.from_frame(collect(native))
    return summarize_rfm(log, DATE, frequency_basis=basis)  # type: ignore[arg-type]


def collected_days_table(collect: Callable[[Any], pd.DataFrame], native: Any) -> Any:
    log = TransactionLog.from_frame(collect(native))
    return summarize_rfm(log, DATE, frequency_basis="days").to_table()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--customers", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--cases",
        default="",
        help="comma-separated words; only the cases whose label holds one of them (default: all)",
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--engines",
        default="duckdb,dask,polars lazy,spark local",
        help="comma-separated subset of the engines to time (default: all installed)",
    )
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    df = make_data(args.rows, args.customers)
    lines = [
        (
            f"# Engine-side summaries against collecting ({args.rows:,} transactions, "
            f"{df['customer_id'].nunique():,} customers)"
        ),
        "",
        f"{dt.date.today()} · {platform.machine()} · {cores} cores · Python "
        f"{platform.python_version()} · numpy {np.__version__} · pandas {pd.__version__} · "
        + " · ".join(
            f"{m} {importlib.import_module(m).__version__}"
            for m in ("narwhals", "polars", "duckdb", "dask", "pyspark")
            if _installed(m)
        ),
        f"best of {args.repeat}, the two paths alternating; Spark in local mode on {cores} cores",
        "",
        (
            "| engine | summary | in the engine (s) | collected + TransactionLog (s) "
            "| collected / engine |"
        ),
        "| --- | --- | ---: | ---: | ---: |",
    ]
    wanted = {e.strip() for e in args.engines.split(",")}
    for name, (native, collect) in engines(df, cores, wanted).items():
        cases = [
            (
                "BTYD compressed (rfm_summary_from_frame)",
                lambda n=native: rfm_summary_from_frame(n, unit="week"),
                lambda n=native, c=collect: collected_btyd(c, n),
                ("frequency", "recency", "T", "weights"),
            ),
            (
                "RFM summary (summarize_rfm_from_frame)",
                lambda n=native: summarize_rfm_from_frame(n, DATE),
                lambda n=native, c=collect: collected_rfm(c, n, "transactions"),
                ("customer_id", "n_transactions", "first", "last"),
            ),
            (
                "RFM summary, distinct days counted in the engine (summarize_rfm_from_frame)",
                lambda n=native: summarize_rfm_from_frame(n, DATE, frequency_basis="days"),
                lambda n=native, c=collect: collected_rfm(c, n, "days"),
                ("customer_id", "n_transactions", "n_days", "last"),
            ),
            (
                "RFM summary, distinct days + pairs (summarize_rfm_from_frame, mergeable=True)",
                lambda n=native: summarize_rfm_from_frame(
                    n, DATE, frequency_basis="days", mergeable=True
                ),
                lambda n=native, c=collect: collected_rfm(c, n, "days"),
                ("customer_id", "n_days", "day_customer", "day_number"),
            ),
            (
                "RFM table, distinct days (rfm_table_from_frame)",
                lambda n=native: rfm_table_from_frame(n, DATE, frequency_basis="days"),
                lambda n=native, c=collect: collected_days_table(c, n),
                ("frequency", "recency"),
            ),
        ]
        words = [w.strip() for w in args.cases.split(",") if w.strip()]
        for label, engine_fn, collect_fn, fields in cases:
            if words and not any(w in label for w in words):
                continue
            (t_engine, t_collect), (got, ref) = best_times((engine_fn, collect_fn), args.repeat)
            for f in fields:
                if not np.array_equal(getattr(got, f), getattr(ref, f)):
                    raise SystemExit(f"{name} {label}: {f} differs between the two paths")
            lines.append(
                f"| {name} | {label} | {t_engine:.3f} | {t_collect:.3f} | "
                f"{t_collect / t_engine:.2f}x |"
            )
            print(lines[-1], flush=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines += [
        "",
        (
            f"Load average at the end of the run: {load:.1f} on {cores} cores (the machine is "
            "shared; the ratios compare both paths under the same load in the same run)."
        ),
    ]
    text = "\n".join(lines) + "\n"
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
