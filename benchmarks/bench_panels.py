"""Benchmark: the customer x period panels of a log on 1, 2 and all cores (issue 12).

``custrel.value_panel`` (the customers x months panel of amounts) and
``custrel.stages_from_log`` (that panel classified into lifecycle stages) are
timed with ``threads=1`` (the single-threaded path), 2 threads and every core
of the machine, on the same log in the same run; the threaded results are
checked identical (to the bytes) to the single-threaded ones before timing.
The ratio 1 thread / n threads is the speed-up.

How they split: ``value_panel`` sums contiguous ranges of customers into
disjoint blocks of panel rows; its work is ``numpy.bincount``, which holds the
GIL, so it is split only from 4 threads on (at 2 threads it is the
single-threaded path). ``stages_from_log`` classifies blocks of customers,
mostly ufunc loops that release the GIL, several blocks per thread.

Small default sizes (seconds on a 2-core machine); ``--rows`` scales it, and
the script runs unchanged on a many-core machine (the core count is recorded).

Usage: .venv/bin/python benchmarks/bench_panels.py [--rows N] [--repeat N] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from custrel import TransactionLog, stages_from_log, value_panel
from custrel._parallel import usable_cores


def best_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def make_log(n_rows: int, n_customers: int) -> TransactionLog:
    rng = np.random.default_rng(2026)
    weights = rng.gamma(2.0, 1.0, n_customers)
    ids = rng.choice(n_customers, size=n_rows, p=weights / weights.sum())
    seconds = rng.integers(0, 3 * 365 * 86400, n_rows)
    amount = np.round(rng.gamma(2.0, 25.0, n_rows), 2)
    amount[rng.random(n_rows) < 0.03] *= -1.0  # some returns
    return TransactionLog.from_arrays(
        customer_id=ids,
        time=np.datetime64("2023-01-01", "s") + seconds.astype("timedelta64[s]"),
        amount=amount,
    )


def same(a: Any, b: Any, fields: tuple[str, ...]) -> bool:
    return all(
        np.asarray(getattr(a, f)).tobytes() == np.asarray(getattr(b, f)).tobytes() for f in fields
    )


CASES: list[tuple[str, Callable[..., Any], tuple[str, ...]]] = [
    ("value_panel (month)", value_panel, ("customer_id", "values")),
    (
        "stages_from_log (month)",
        stages_from_log,
        ("customer_id", "stage_code", "margin", "level", "trend"),
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--customers", type=int, default=None, help="default: rows / 10")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--threads", default="1,2,all", help="comma-separated thread counts ('all': every core)"
    )
    args = parser.parse_args()
    cores = usable_cores()
    n_customers = args.customers or max(1, args.rows // 10)
    log = make_log(args.rows, n_customers)
    counts = sorted(
        {1} | {cores if t.strip() == "all" else int(t) for t in args.threads.split(",")}
    )
    lines = [
        (
            f"# Customer x period panels on {', '.join(map(str, counts))} threads "
            f"({args.rows:,} transactions, {log.n_customers:,} customers, 36 months)"
        ),
        "",
        (
            f"{dt.date.today()} · {platform.machine()} · {cores} usable cores "
            f"(os.cpu_count {os.cpu_count()}) · Python {platform.python_version()} · "
            f"numpy {np.__version__} · best of {args.repeat}"
        ),
        "",
        "| function | "
        + " | ".join(f"{n} thread{'s' * (n > 1)} (s)" for n in counts)
        + " | "
        + " | ".join(f"1 / {n}" for n in counts if n > 1)
        + " |",
        "| --- |" + " ---: |" * (2 * len(counts) - 1),
    ]
    print("\n".join(lines), flush=True)
    for label, fn, fields in CASES:
        times: dict[int, float] = {}
        ref = None
        for n in counts:
            times[n], out = best_time(lambda n=n, fn=fn: fn(log, threads=n), args.repeat)
            if ref is None:
                ref = out
            elif not same(ref, out, fields):
                raise SystemExit(f"{label}: {n} threads differ from one thread")
        row = (
            f"| {label} | "
            + " | ".join(f"{times[n]:.3f}" for n in counts)
            + " | "
            + " | ".join(f"{times[1] / times[n]:.2f}x" for n in counts if n > 1)
            + " |"
        )
        lines.append(row)
        print(row, flush=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines += [
        "",
        (
            f"Load average at the end of the run: {load:.1f} on {cores} cores (the machine "
            "may be shared; the ratios compare thread counts under the same load in one run)."
        ),
    ]
    text = "\n".join(lines) + "\n"
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
