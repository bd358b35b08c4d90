"""Benchmark: the per-customer summaries on 1, 2 and all cores, against polars and duckdb.

custrel's ``summarize_rfm`` (plain sum / count / min / max per customer) and,
separately, ``summarize_rfm(frequency_basis="days")`` and
``TransactionLog.summarize`` (both also count distinct purchase days), at the
same thread counts as polars ``group_by`` (``POLARS_MAX_THREADS``) and duckdb
``GROUP BY`` (``SET threads``) on the same data. Every (engine, thread count)
runs in its own subprocess, because polars reads its thread count once, at
import. ``--primitives`` adds the measurements that chose custrel's threaded
formulation: numpy primitives on one thread against the same work split over
N threads.

Runs unchanged on any machine: "all" is the cores this process may use, and the
core count and load average are recorded with the results.

Usage: python benchmarks/bench_scale.py [--rows 10000000] [--big] [--threads 1,2,all]
       [--engines custrel,polars,duckdb] [--primitives] [--output FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

DATE = np.datetime64("2026-01-01", "s")
SEED = 2026


def usable_cores() -> int:
    counter = getattr(os, "process_cpu_count", None)
    if counter is not None:
        return int(counter() or 1)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def make_data(n_rows: int, n_customers: int) -> dict[str, np.ndarray]:
    """Skewed activity (gamma weights), two years of second-resolution times, positive amounts."""
    rng = np.random.default_rng(SEED)
    weights = rng.gamma(2.0, 1.0, n_customers)
    ids = rng.choice(n_customers, size=n_rows, p=weights / weights.sum()).astype(np.int64)
    seconds = rng.integers(0, 2 * 365 * 86400, n_rows)
    t = (np.datetime64("2024-01-01", "s") + seconds.astype("timedelta64[s]")).view(np.int64)
    amount = np.round(rng.gamma(2.0, 25.0, n_rows), 2)
    return {"customer_id": ids, "t": t, "amount": amount}


def timed(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"first": times[0], "best": min(times)}


# --- workers (one subprocess each) ------------------------------------------------------------


def work_custrel(data: dict[str, np.ndarray], threads: int, repeat: int) -> dict[str, Any]:
    from custrel import TransactionLog, summarize_rfm

    log = TransactionLog.from_arrays(
        customer_id=data["customer_id"], time=data["t"].view("datetime64[s]"), amount=data["amount"]
    )
    return {
        "plain": timed(lambda: summarize_rfm(log, DATE, threads=threads), repeat),
        "days": timed(
            lambda: summarize_rfm(log, DATE, frequency_basis="days", threads=threads), repeat
        ),
        "days (summarize)": timed(lambda: log.summarize(threads=threads), repeat),
    }


def work_polars(data: dict[str, np.ndarray], threads: int, repeat: int) -> dict[str, Any]:
    import polars as pl

    assert pl.thread_pool_size() == threads, (pl.thread_pool_size(), threads)
    df = pl.DataFrame(data)
    plain = [
        pl.col("amount").sum().alias("total"),
        pl.len().alias("n"),
        pl.col("t").min().alias("first"),
        pl.col("t").max().alias("last"),
    ]
    days = [*plain, (pl.col("t") // 86400).n_unique().alias("n_days")]
    return {
        "plain": timed(lambda: df.group_by("customer_id").agg(plain), repeat),
        "days": timed(lambda: df.group_by("customer_id").agg(days), repeat),
    }


def work_duckdb(data: dict[str, np.ndarray], threads: int, repeat: int) -> dict[str, Any]:
    import duckdb
    import pyarrow as pa

    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.register("tx", pa.table(data))
    plain = "sum(amount) AS total, count(*) AS n, min(t) AS first, max(t) AS last"
    days = plain + ", count(DISTINCT t // 86400) AS n_days"

    def run(cols: str) -> Any:
        return con.execute(
            f"SELECT customer_id, {cols} FROM tx GROUP BY customer_id"
        ).to_arrow_table()

    return {"plain": timed(lambda: run(plain), repeat), "days": timed(lambda: run(days), repeat)}


def work_primitives(data: dict[str, np.ndarray], threads: int, repeat: int) -> dict[str, Any]:
    """numpy primitives on one thread against the same work split over ``threads`` threads."""
    codes, t, amount = data["customer_id"], data["t"], data["amount"]
    n, k = len(codes), int(codes.max()) + 1
    pool = ThreadPoolExecutor(threads)
    cuts = np.linspace(0, n, threads + 1).astype(int)
    chunks = [slice(a, b) for a, b in itertools.pairwise(cuts)]
    key = ((codes * 731) + (t // 86400 - t.min() // 86400)).astype(np.int64)
    order = np.argsort(codes, kind="stable")
    sorted_amount = amount[order]
    starts = np.flatnonzero(np.r_[True, codes[order][1:] != codes[order][:-1]])

    def split(fn: Callable[[slice], Any]) -> Any:
        return list(pool.map(fn, chunks))

    def chunk_sorted_reduce(s: slice) -> Any:
        # formulation (a): per row chunk, a stable sort by customer, then segment reductions
        c = codes[s]
        o = np.argsort(c, kind="stable")
        cs = c[o]
        st = np.flatnonzero(np.r_[True, cs[1:] != cs[:-1]])
        return (
            cs[st],
            np.add.reduceat(amount[s][o], st),
            np.minimum.reduceat(t[s][o], st),
            np.maximum.reduceat(t[s][o], st),
        )

    def whole(fn: Callable[[slice], Any]) -> Callable[[], Any]:
        return lambda: fn(slice(0, n))

    cases: dict[str, tuple[Callable[[slice], Any], bool]] = {
        "bincount (weights)": (lambda s: np.bincount(codes[s], amount[s], minlength=k), True),
        "minimum.at": (lambda s: np.minimum.at(np.zeros(k, np.int64), codes[s], t[s]), True),
        "sort (int64 key)": (lambda s: np.sort(key[s]), True),
        "add.reduceat (grouped rows)": (
            lambda s: (
                np.add.reduceat(sorted_amount, starts[(starts >= s.start) & (starts < s.stop)])
                if s.start < s.stop
                else None
            ),
            True,
        ),
        "ufunc loop (a * 2 + 1)": (lambda s: amount[s] * 2.0 + 1.0, True),
        "row chunks: stable argsort + reduceat": (chunk_sorted_reduce, True),
    }
    out: dict[str, Any] = {}
    for name, (fn, _) in cases.items():
        one = timed(whole(fn), repeat)["best"]
        many = timed(lambda fn=fn: split(fn), repeat)["best"]  # type: ignore[misc]
        out[name] = {"one": one, "many": many}
    pool.shutdown()
    return out


WORKERS = {
    "custrel": work_custrel,
    "polars": work_polars,
    "duckdb": work_duckdb,
    "primitives": work_primitives,
}


def worker_main(args: argparse.Namespace) -> None:
    data = make_data(args.rows, args.customers)
    result = WORKERS[args.worker](data, args.nthreads, args.repeat)
    print("RESULT " + json.dumps(result))


# --- the parent: one subprocess per (engine, threads) -----------------------------------------


def run_worker(engine: str, threads: int, args: argparse.Namespace) -> dict[str, Any] | str:
    env = dict(os.environ)
    env.pop("CUSTREL_THREADS", None)
    env["POLARS_MAX_THREADS"] = str(threads)
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        engine,
        "--nthreads",
        str(threads),
        "--rows",
        str(args.rows),
        "--customers",
        str(args.customers),
        "--repeat",
        str(args.repeat),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[7:])
            return result
    return f"failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}"


def fmt(x: float) -> str:
    return f"{x:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=0, help="default: rows / 10")
    parser.add_argument("--big", action="store_true", help="30,000,000 rows")
    parser.add_argument("--threads", default="1,2,all")
    parser.add_argument("--engines", default="custrel,polars,duckdb")
    parser.add_argument("--primitives", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", default="")
    parser.add_argument("--worker", default="", help=argparse.SUPPRESS)
    parser.add_argument("--nthreads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.big:
        args.rows = 30_000_000
    if not args.customers:
        args.customers = max(1, args.rows // 10)
    if args.worker:
        worker_main(args)
        return
    cores = usable_cores()
    counts = sorted(
        {cores if x.strip() == "all" else int(x) for x in args.threads.split(",") if x.strip()}
    )
    load_start = os.getloadavg()
    started = dt.datetime.now(dt.UTC)
    lines = [
        f"### {args.rows:,} rows, {args.customers:,} customers",
        "",
        (
            f"Run {started:%Y-%m-%d %H:%M} UTC on {platform.machine()}, {cores} usable cores "
            f"(os.cpu_count() {os.cpu_count()}), Python {platform.python_version()}, "
            f"numpy {np.__version__}; load average at the start {load_start[0]:.1f} "
            f"(5 min {load_start[1]:.1f}). Best of {args.repeat} runs (first run in brackets), "
            "each engine and thread count in its own process, on the same data."
        ),
        "",
    ]
    results: dict[tuple[str, int], Any] = {}
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    for engine in engines:
        for n in counts:
            results[engine, n] = run_worker(engine, n, args)
            print(engine, n, results[engine, n], file=sys.stderr, flush=True)
    cases = ["plain", "days", "days (summarize)"]
    lines += [
        "| work | engine | " + " | ".join(f"{n} thread{'s' * (n > 1)} (s)" for n in counts) + " |",
        "| --- | --- | " + " | ".join("---:" for _ in counts) + " |",
    ]
    for case in cases:
        for engine in engines if case != "days (summarize)" else ["custrel"]:
            if engine not in ("custrel", "polars", "duckdb"):
                continue
            cells = []
            for n in counts:
                r = results.get((engine, n))
                if isinstance(r, dict) and case in r:
                    cells.append(f"{fmt(r[case]['best'])} ({fmt(r[case]['first'])})")
                elif isinstance(r, str):
                    cells.append(r)
                else:
                    cells = []
                    break
            if cells:
                what = (
                    "custrel summarize"
                    if case == "days (summarize)"
                    else {
                        "custrel": "custrel summarize_rfm",
                        "polars": "polars group_by",
                        "duckdb": "duckdb GROUP BY",
                    }[engine]
                )
                label = "sum/count/min/max" if case == "plain" else "+ distinct days"
                lines.append(f"| {label} | {what} | " + " | ".join(cells) + " |")
    lines.append("")

    def best(engine: str, n: int, case: str) -> float | None:
        r = results.get((engine, n))
        return r[case]["best"] if isinstance(r, dict) and case in r else None

    for case in cases:
        c1 = best("custrel", 1, case)
        for n in counts:
            cn = best("custrel", n, case)
            if cn is None:
                continue
            name = "summarize" if case == "days (summarize)" else f"summarize_rfm ({case})"
            parts = []
            if n > 1 and c1 is not None:
                parts.append(f"{n} threads vs 1: **{c1 / cn:.2f}x** faster")
            for other in ("polars", "duckdb"):
                o = best(other, n, "days" if case == "days (summarize)" else case)
                if o is not None:
                    parts.append(f"{other} time / custrel time = **{o / cn:.2f}**")
            if parts:
                lines.append(f"- {name}, {n} thread{'s' * (n > 1)}: " + "; ".join(parts))
    if args.primitives:
        lines += [
            "",
            (
                "Primitives (formulation choice): the same work on 1 thread and split "
                "into equal row chunks over N threads."
            ),
            "",
        ]
        lines += [
            "| primitive | threads | 1 thread (s) | N threads (s) | speedup |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for n in counts:
            if n == 1:
                continue
            r = run_worker("primitives", n, args)
            if isinstance(r, str):
                lines.append(f"| {r} | {n} | | | |")
                continue
            for name, v in r.items():
                lines.append(
                    f"| {name} | {n} | {fmt(v['one'])} | {fmt(v['many'])} | "
                    f"{v['one'] / v['many']:.2f}x |"
                )
    load_end = os.getloadavg()
    lines += ["", f"Load average at the end {load_end[0]:.1f}.", ""]
    text = "\n".join(lines)
    print(text)
    if args.output:
        with open(args.output, "a", encoding="utf-8") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
