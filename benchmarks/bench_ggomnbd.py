"""Benchmark: the GGompertz/NBD fit against custrel's Pareto/NBD fit of the same data, in one run.

Usage::

    .venv/bin/python benchmarks/bench_ggomnbd.py [--quick]

GGompertz/NBD has no closed-form likelihood: each evaluation sums a fixed
Gauss-Legendre rule (120 nodes) per distinct customer row. A user choosing
between the two models pays this ratio. Cases: the CDNOW sample (2,357
customers, where the fit ends in the Pareto/NBD limit), and customers
simulated from an aging GGompertz/NBD (r 0.6, alpha 8, b 0.05, s 1.2,
beta 2) with ages spread over 20-100 weeks and continuous recency, so that
almost no two customers share (x, t_x, T) (the worst case for row
compression): 20,000 customers, and 100,000 without ``--quick``. Both fits
are timed without imports; the ratio is GGompertz/NBD time over Pareto/NBD
time. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from custrel import ConvergenceError, FitWarning, fit_pareto_nbd, load_cdnow, rfm_summary
from custrel.btyd._ggomnbd import GGompertzNBDModel, fit_ggomnbd


def _timed(fn: object, *args: object, **kw: object) -> tuple[float, object]:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        try:
            out = fn(*args, **kw)  # type: ignore[operator]
        except ConvergenceError as err:
            out = err
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    cases = []
    cd = rfm_summary(
        load_cdnow(), unit="week", calibration_end="1997-09-30", observation_end="1998-06-30"
    )
    cases.append(("CDNOW sample", cd.frequency, cd.recency, cd.T))
    truth = GGompertzNBDModel.from_params(
        {"r": 0.6, "alpha": 8.0, "b": 0.05, "s": 1.2, "beta": 2.0}
    )
    for n in (20_000,) if args.quick else (20_000, 100_000):
        big_t = np.random.default_rng(n).uniform(20.0, 100.0, n)
        sim = truth.simulate(n, T=big_t, rng=n + 1)
        cases.append((f"{n:,} simulated", sim.frequency, sim.recency, sim.T))
    print(
        "| data | customers | GGompertz/NBD fit (s) | log L | Pareto/NBD fit (s) | log L | ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, x, tx, big_t in cases:
        t_gg, gg = _timed(fit_ggomnbd, x, tx, big_t)
        t_pn, pn = _timed(fit_pareto_nbd, x, tx, big_t)
        ll_gg = getattr(gg, "log_likelihood", float("nan"))
        ll_pn = getattr(pn, "log_likelihood", float("nan"))
        print(
            f"| {name} | {len(x):,} | {t_gg:.2f} | {ll_gg:.2f} | {t_pn:.2f} | {ll_pn:.2f} "
            f"| {t_gg / t_pn:.1f} |"
        )


if __name__ == "__main__":
    main()
