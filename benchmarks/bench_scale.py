"""Benchmark: the per-customer summaries on 1, 2 and all cores, against polars and duckdb.

custrel's ``summarize_rfm`` (plain sum / count / min / max per customer) and,
separately, ``summarize_rfm(frequency_basis="days")`` and
``TransactionLog.summarize`` (both also count distinct purchase days), and the
BTYD summary ``rfm_summary`` (purchases merged per day, then frequency,
recency, T and mean repeat spend), at the same thread counts as polars
``group_by`` (``POLARS_MAX_THREADS``) and duckdb ``GROUP BY`` (``SET threads``)
on the same data. Every (engine, thread count) runs in its own subprocess,
because polars reads its thread count once, at import. Engine
``custrel-threads`` is custrel with its worker processes turned off (the
threads of the non-Linux path) and ``custrel-processes`` custrel with worker
processes from 2 workers and any size (by default they start at 4 workers
and 4M rows): the formulation comparison. ``--primitives``
adds numpy primitives on one thread against the same work split over N
threads.

The data are generated once, saved as .npy files in a temporary folder and
loaded by every subprocess. ``--deadline S`` skips what would start after S
seconds (the table says so), so a run on a lent machine ends in time.

Runs unchanged on any machine: "all" is the cores this process may use, and the
core count and load average are recorded with the results.

Usage: python benchmarks/bench_scale.py [--rows 10000000] [--big] [--threads 1,2,all]
       [--engines custrel,polars,duckdb] [--cases plain,days,summarize,btyd]
       [--primitives] [--deadline S] [--output FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

DATE = np.datetime64("2026-01-01", "s")
SEED = 2026
#: The engines' work a custrel case is compared with (summarize counts distinct days too).
AGAINST = {"plain": "plain", "days": "days", "summarize": "days", "btyd": "btyd"}


def usable_cores() -> int:
    counter = getattr(os, "process_cpu_count", None)
    if counter is not None:
        return int(counter() or 1)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def make_data(n_rows: int, n_customers: int) -> dict[str, np.ndarray]:
    """Skewed activity (gamma weights), two years of second-resolution times, positive amounts.

    Up to 30M rows each row draws its customer (``Generator.choice``, the data of the
    recorded runs); beyond, where that takes minutes, each customer's row count is drawn
    at once (multinomial, the same distribution) and the rows are shuffled.
    """
    rng = np.random.default_rng(SEED)
    weights = rng.gamma(2.0, 1.0, n_customers)
    if n_rows <= 30_000_000:
        ids = rng.choice(n_customers, size=n_rows, p=weights / weights.sum()).astype(np.int64)
    else:
        counts = rng.multinomial(n_rows, weights / weights.sum())
        ids = np.repeat(np.arange(n_customers, dtype=np.int64), counts)
        rng.shuffle(ids)
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


def work_custrel(
    data: dict[str, np.ndarray], threads: int, repeat: int, cases: list[str]
) -> dict[str, Any]:
    from custrel import TransactionLog, rfm_summary, summarize_rfm

    log = TransactionLog.from_arrays(
        customer_id=data["customer_id"], time=data["t"].view("datetime64[s]"), amount=data["amount"]
    )
    work: dict[str, Callable[[], Any]] = {
        "plain": lambda: summarize_rfm(log, DATE, threads=threads),
        "days": lambda: summarize_rfm(log, DATE, frequency_basis="days", threads=threads),
        "summarize": lambda: log.summarize(threads=threads),
        "btyd": lambda: rfm_summary(log, threads=threads),
    }
    return {case: timed(work[case], repeat) for case in cases if case in work}


def engine_cases(cases: list[str]) -> list[str]:
    """The work another engine runs for custrel's cases (summarize: the distinct-days one)."""
    return sorted({AGAINST[c] for c in cases if c in AGAINST})


def work_custrel_threads(
    data: dict[str, np.ndarray], threads: int, repeat: int, cases: list[str]
) -> dict[str, Any]:
    """custrel with its worker processes off: the ranges run on threads (the non-Linux path)."""
    from custrel import _parallel

    _parallel.FORK_AVAILABLE = False
    return work_custrel(data, threads, repeat, cases)


def work_custrel_processes(
    data: dict[str, np.ndarray], threads: int, repeat: int, cases: list[str]
) -> dict[str, Any]:
    """custrel with worker processes from 2 workers and any size (Linux)."""
    from custrel import _parallel

    _parallel.MIN_PROCESS_WORKERS = 2
    _parallel.MIN_PROCESS_ROWS = 1
    return work_custrel(data, threads, repeat, cases)


def custrel_forks(n_threads: int, rows: int) -> bool:
    """Whether plain custrel runs worker processes at this thread count (its default rule)."""
    from custrel import _parallel

    return bool(
        _parallel.FORK_AVAILABLE
        and n_threads >= _parallel.MIN_PROCESS_WORKERS
        and rows >= _parallel.MIN_PROCESS_ROWS
    )


def same_as_custrel(engine: str, n_threads: int, rows: int) -> bool:
    """A custrel variant that would run exactly as plain custrel (not run again)."""
    if n_threads == 1 and engine.startswith("custrel-"):
        return True
    if engine == "custrel-threads":
        return not custrel_forks(n_threads, rows)
    if engine == "custrel-processes":
        from custrel import _parallel

        return custrel_forks(n_threads, rows) or not _parallel.FORK_AVAILABLE
    return False


def work_polars(
    data: dict[str, np.ndarray], threads: int, repeat: int, cases: list[str]
) -> dict[str, Any]:
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
    end_day = int(data["t"].max()) // 86400

    def btyd() -> Any:
        # rfm_summary's definitions: purchases merged per calendar day, weeks as the unit
        daily = df.group_by("customer_id", (pl.col("t") // 86400).alias("day")).agg(
            pl.col("amount").sum()
        )
        per = daily.group_by("customer_id").agg(
            pl.len().alias("n"),
            pl.col("day").min().alias("first"),
            pl.col("day").max().alias("last"),
            pl.col("amount").sum().alias("total"),
            pl.col("amount").get(pl.col("day").arg_min()).alias("first_amount"),
        )
        return per.select(
            "customer_id",
            (pl.col("n") - 1).alias("frequency"),
            ((pl.col("last") - pl.col("first")) / 7).alias("recency"),
            ((end_day - pl.col("first")) / 7).alias("T"),
            ((pl.col("total") - pl.col("first_amount")) / (pl.col("n") - 1)).alias("monetary"),
        )

    work: dict[str, Callable[[], Any]] = {
        "plain": lambda: df.group_by("customer_id").agg(plain),
        "days": lambda: df.group_by("customer_id").agg(days),
        "btyd": btyd,
    }
    return {case: timed(work[case], repeat) for case in engine_cases(cases) if case in work}


def work_duckdb(
    data: dict[str, np.ndarray], threads: int, repeat: int, cases: list[str]
) -> dict[str, Any]:
    import duckdb
    import pyarrow as pa

    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.register("tx", pa.table(data))
    plain = "sum(amount) AS total, count(*) AS n, min(t) AS first, max(t) AS last"
    days = plain + ", count(DISTINCT t // 86400) AS n_days"
    end_day = int(data["t"].max()) // 86400
    btyd = f"""
        WITH daily AS (
            SELECT customer_id, t // 86400 AS day, sum(amount) AS amount
            FROM tx GROUP BY customer_id, day
        )
        SELECT customer_id, count(*) - 1 AS frequency,
               (max(day) - min(day)) / 7.0 AS recency, ({end_day} - min(day)) / 7.0 AS T,
               (sum(amount) - arg_min(amount, day)) / nullif(count(*) - 1, 0) AS monetary
        FROM daily GROUP BY customer_id
    """

    def run(cols: str) -> Any:
        return con.execute(
            f"SELECT customer_id, {cols} FROM tx GROUP BY customer_id"
        ).to_arrow_table()

    work: dict[str, Callable[[], Any]] = {
        "plain": lambda: run(plain),
        "days": lambda: run(days),
        "btyd": lambda: con.execute(btyd).to_arrow_table(),
    }
    return {case: timed(work[case], repeat) for case in engine_cases(cases) if case in work}


def work_primitives(
    data: dict[str, np.ndarray], threads: int, repeat: int, cases: list[str]
) -> dict[str, Any]:
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

    prims: dict[str, tuple[Callable[[slice], Any], bool]] = {
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
    from custrel import _parallel

    forked = _parallel.Plan(threads, threads, processes=_parallel.FORK_AVAILABLE)

    def in_processes(fn: Callable[[slice], Any]) -> Callable[[], Any]:
        # the same row chunks in forked workers (custrel._parallel.run): no GIL, but a fork
        return lambda: _parallel.run(lambda i: fn(chunks[i]), forked)

    out: dict[str, Any] = {}
    for name, (fn, _) in prims.items():
        one = timed(whole(fn), repeat)["best"]
        many = timed(lambda fn=fn: split(fn), repeat)["best"]  # type: ignore[misc]
        procs = timed(in_processes(fn), repeat)["best"]
        out[name] = {"one": one, "many": many, "forked": procs}
    pool.shutdown()
    return out


WORKERS: dict[str, Callable[..., dict[str, Any]]] = {
    "custrel": work_custrel,
    "custrel-threads": work_custrel_threads,
    "custrel-processes": work_custrel_processes,
    "polars": work_polars,
    "duckdb": work_duckdb,
    "primitives": work_primitives,
}
COLUMNS = ("customer_id", "t", "amount")


def save_data(folder: str, rows: int, customers: int) -> None:
    data = make_data(rows, customers)
    for name in COLUMNS:
        np.save(os.path.join(folder, name + ".npy"), data[name])


def worker_main(args: argparse.Namespace) -> None:
    data = {name: np.load(os.path.join(args.data, name + ".npy")) for name in COLUMNS}
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    result = WORKERS[args.worker](data, args.nthreads, args.repeat, cases)
    print("RESULT " + json.dumps(result))


# --- the parent: one subprocess per (engine, threads) -----------------------------------------


def run_worker(
    engine: str, threads: int, args: argparse.Namespace, timeout: float | None = None
) -> dict[str, Any] | str:
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
        "--data",
        args.data,
        "--cases",
        args.cases,
        "--repeat",
        str(args.repeat),
    ]
    try:
        proc = subprocess.run(
            cmd, env=env, capture_output=True, text=True, check=False, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return f"stopped after {timeout:.0f} s (deadline)"
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[7:])
            return result
    return f"failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}"


def fmt(x: float) -> str:
    return f"{x:.3f}"


LABELS = {
    "plain": "sum/count/min/max",
    "days": "+ distinct days",
    "summarize": "+ distinct days",
    "btyd": "BTYD summary",
}
NAMES = {
    ("plain", "custrel"): "custrel summarize_rfm",
    ("days", "custrel"): "custrel summarize_rfm",
    ("summarize", "custrel"): "custrel summarize",
    ("btyd", "custrel"): "custrel rfm_summary",
    ("plain", "custrel-threads"): "custrel summarize_rfm, threads",
    ("days", "custrel-threads"): "custrel summarize_rfm, threads",
    ("summarize", "custrel-threads"): "custrel summarize, threads",
    ("btyd", "custrel-threads"): "custrel rfm_summary, threads",
    ("plain", "custrel-processes"): "custrel summarize_rfm, processes",
    ("days", "custrel-processes"): "custrel summarize_rfm, processes",
    ("summarize", "custrel-processes"): "custrel summarize, processes",
    ("btyd", "custrel-processes"): "custrel rfm_summary, processes",
    ("plain", "polars"): "polars group_by",
    ("days", "polars"): "polars group_by",
    ("btyd", "polars"): "polars group_by (2 levels)",
    ("plain", "duckdb"): "duckdb GROUP BY",
    ("days", "duckdb"): "duckdb GROUP BY",
    ("btyd", "duckdb"): "duckdb GROUP BY (2 levels)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=0, help="default: rows / 10")
    parser.add_argument("--big", action="store_true", help="30,000,000 rows")
    parser.add_argument("--threads", default="1,2,all")
    parser.add_argument("--engines", default="custrel,polars,duckdb")
    parser.add_argument("--cases", default="plain,days,summarize,btyd")
    parser.add_argument("--primitives", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--deadline", type=float, default=0.0, help="seconds; 0: none")
    parser.add_argument("--output", default="")
    parser.add_argument("--title", default="")
    parser.add_argument("--worker", default="", help=argparse.SUPPRESS)
    parser.add_argument("--nthreads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--data", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args)
        return
    t_start = time.monotonic()
    if args.big:
        args.rows = 30_000_000
    if not args.customers:
        args.customers = max(1, args.rows // 10)
    cores = usable_cores()
    counts = sorted(
        {cores if x.strip() == "all" else int(x) for x in args.threads.split(",") if x.strip()}
    )
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    folder = tempfile.mkdtemp(prefix="custrel-bench-")
    args.data = folder
    try:
        t0 = time.monotonic()
        save_data(folder, args.rows, args.customers)
        made = time.monotonic() - t0
        load_start = os.getloadavg()
        started = dt.datetime.now(dt.UTC)
        results: dict[tuple[str, int], Any] = {}
        for engine in engines:
            for n in counts:
                if same_as_custrel(engine, n, args.rows):
                    continue  # would run exactly as custrel
                left = None
                if args.deadline:
                    left = args.deadline - (time.monotonic() - t_start)
                    if left < 5:
                        results[engine, n] = "skipped (deadline)"
                        continue
                results[engine, n] = run_worker(engine, n, args, left)
                print(engine, n, results[engine, n], file=sys.stderr, flush=True)
        primitives: dict[int, Any] = {}
        if args.primitives:
            for n in counts:
                if n > 1:
                    primitives[n] = run_worker("primitives", n, args)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    load_end = os.getloadavg()
    lines = [
        args.title or f"### {args.rows:,} rows, {args.customers:,} customers",
        "",
        (
            f"Run {started:%Y-%m-%d %H:%M} UTC on {platform.machine()}, {cores} usable cores "
            f"(os.cpu_count() {os.cpu_count()}), Python {platform.python_version()}, "
            f"numpy {np.__version__}; load average at the start {load_start[0]:.1f} "
            f"(5 min {load_start[1]:.1f}). {args.rows:,} rows, {args.customers:,} customers "
            f"(data made in {made:.0f} s). Best of {args.repeat} runs (first run in brackets), "
            "each engine and thread count in its own process, on the same data."
        ),
        "",
        "| work | engine | " + " | ".join(f"{n} thread{'s' * (n > 1)} (s)" for n in counts) + " |",
        "| --- | --- | " + " | ".join("---:" for _ in counts) + " |",
    ]
    shown = cases + [c for c in engine_cases(cases) if c not in cases]
    for case in shown:
        for engine in engines:
            if (case, engine) not in NAMES or (engine.startswith("custrel") and case not in cases):
                continue
            cells = []
            for n in counts:
                r = results.get((engine, n))
                if isinstance(r, dict) and case in r:
                    cells.append(f"{fmt(r[case]['best'])} ({fmt(r[case]['first'])})")
                elif same_as_custrel(engine, n, args.rows):
                    cells.append("(as custrel)")
                else:
                    cells.append(r if isinstance(r, str) else "")
            lines.append(f"| {LABELS[case]} | {NAMES[case, engine]} | " + " | ".join(cells) + " |")
    lines.append("")

    def best(engine: str, n: int, case: str) -> float | None:
        r = results.get((engine, n))
        return r[case]["best"] if isinstance(r, dict) and case in r else None

    for case in cases:
        name = NAMES.get((case, "custrel"), case).removeprefix("custrel ")
        if case in ("plain", "days"):
            name += f" ({case})"
        c1 = best("custrel", 1, case)
        for n in counts:
            cn = best("custrel", n, case)
            if cn is None:
                continue
            parts = []
            if n > 1 and c1 is not None:
                parts.append(f"{n} threads vs 1: **{c1 / cn:.2f}x** faster")
            forks = custrel_forks(n, args.rows)
            on_threads = cn if not forks else best("custrel-threads", n, case)
            in_processes = cn if forks else best("custrel-processes", n, case)
            if n > 1 and on_threads is not None and in_processes is not None:
                used = "processes" if forks else "threads"
                parts.append(
                    f"processes vs threads: **{on_threads / in_processes:.2f}x** (default: {used})"
                )
            for other in ("polars", "duckdb"):
                o = best(other, n, AGAINST[case])
                if o is not None:
                    parts.append(f"{other} time / custrel time = **{o / cn:.2f}**")
            if parts:
                lines.append(f"- {name}, {n} thread{'s' * (n > 1)}: " + "; ".join(parts))
    if primitives:
        lines += [
            "",
            (
                "Primitives (formulation choice): the same work on 1 thread and split "
                "into equal row chunks over N threads, and over N forked worker processes."
            ),
            "",
            "| primitive | N | 1 thread (s) | N threads (s) | speedup | N processes (s) | speedup |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for n, r in primitives.items():
            if isinstance(r, str):
                lines.append(f"| {r} | {n} | | | | | |")
                continue
            for prim, v in r.items():
                lines.append(
                    f"| {prim} | {n} | {fmt(v['one'])} | {fmt(v['many'])} | "
                    f"{v['one'] / v['many']:.2f}x | {fmt(v['forked'])} | "
                    f"{v['one'] / v['forked']:.2f}x |"
                )
    lines += [
        "",
        f"Load average at the end {load_end[0]:.1f}; {time.monotonic() - t_start:.0f} s in all.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.output:
        with open(args.output, "a", encoding="utf-8") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
