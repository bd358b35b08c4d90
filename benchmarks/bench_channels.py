"""Benchmark: ranking 1,000,000 candidates × 20 criteria with each method.

custrel (full pipeline: validation, eligibility, normalisation, per-criterion
contributions, ranking with tie detection) against pymcdm (preferences plus
its ``rank``), measured in the same run on the same matrix.

Usage: /work/venv/bin/python benchmarks/bench_channels.py [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
import tracemalloc
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from pymcdm import methods as pm
from pymcdm import normalizations as pn

from custrel import channels as ch


def best_time(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def peak_mb(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="100,000 candidates, one repeat")
    args = parser.parse_args()
    n = 100_000 if args.quick else 1_000_000
    m = 20
    repeat = 1 if args.quick else 3
    rng = np.random.default_rng(2026)
    x = rng.uniform(1.0, 100.0, size=(n, m))
    w = rng.dirichlet(np.ones(m))
    types = np.where(np.arange(m) % 4 == 3, -1, 1)
    crit = [
        ch.Criterion(f"c{j}", weight=float(w[j]), direction="cost" if types[j] < 0 else "benefit")
        for j in range(m)
    ]
    t0 = time.perf_counter()
    matrix = ch.DecisionMatrix.from_arrays(x, crit)
    build = time.perf_counter() - t0

    def pymcdm_run(method: Any) -> Callable[[], Any]:
        def run() -> Any:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pref = method(x, w, types)
                return method.rank(pref)

        return run

    cases = [
        ("weighted sum (sum)", lambda: ch.weighted_sum(matrix, normalization="sum"), pm.WSM()),
        (
            "weighted sum (min-max)",
            lambda: ch.weighted_sum(matrix, normalization="minmax"),
            pm.WSM(pn.minmax_normalization),
        ),
        ("weighted product (sum)", lambda: ch.weighted_product(matrix), pm.WPM()),
        ("TOPSIS (vector)", lambda: ch.topsis(matrix), pm.TOPSIS(pn.vector_normalization)),
        ("VIKOR", lambda: ch.vikor(matrix), pm.VIKOR()),
    ]
    rows = []
    for name, ours, theirs in cases:
        ours()  # warm-up (first-touch page faults, lazy imports)
        t_ours = best_time(ours, repeat)
        # pymcdm takes seconds per call at this size: one timed run keeps the
        # whole benchmark within a few minutes.
        t_theirs = best_time(pymcdm_run(theirs), 1)
        mem_ours = peak_mb(ours)
        mem_theirs = peak_mb(pymcdm_run(theirs))
        # same ranking?
        r = ours()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pref = theirs(x, w, types)
        agree = np.allclose(r.score, pref, rtol=1e-9)
        rows.append((name, t_ours, t_theirs, mem_ours, mem_theirs, agree))

    today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    cpu = os.cpu_count()
    lines = [
        f"# channels benchmark ({today})",
        "",
        (
            f"Machine: {platform.machine()}, {cpu} cores, Python {platform.python_version()}, "
            f"numpy {np.__version__}. Matrix {n:,} candidates × {m} criteria "
            f"(built and validated once in {build:.2f} s). custrel best of {repeat} after a warm-up, "
            "pymcdm one run; peak memory by "
            "tracemalloc in a separate run."
        ),
        "",
        (
            "custrel: validation, eligibility, normalisation, per-criterion contributions, "
            "competition ranks with tie detection. pymcdm: preferences + `rank()`."
        ),
        "",
        "| method | custrel s | pymcdm s | pymcdm / custrel | custrel peak MB | pymcdm peak MB | same scores |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, a, b, ma, mb, agree in rows:
        lines.append(
            f"| {name} | {a:.3f} | {b:.3f} | {b / a:.2f}× | {ma:.0f} | {mb:.0f} | {'yes' if agree else 'NO'} |"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
