"""Benchmark: the cost of time-invariant covariates in the Pareto/NBD fit (issue 13 item 1).

Usage::

    /work/venv/bin/python benchmarks/bench_btyd_covariates.py [--quick] [--write]

Each case fits the same data twice in one run, without and with covariates,
and reports the ratio (the cost of covariates):

* the apparel data of CLVTools (600 customers, 104-week calibration window,
  Gender and Channel on both processes: 8 parameters), best of several runs;
* 100,000 and 1,000,000 customers simulated from a covariate model with
  three covariates on both processes (a standard normal, a 0/1 indicator and a
  uniform on [-1, 1]; 10 parameters), ages uniform over 20-80 weeks, so that no
  two customers share a row (the worst case for row compression); one run.
  ``--quick`` skips the 1,000,000-customer case.

The 1,000,000-customer covariate fit has to finish within 60 s on the
project's two-core machine. The load average before and after each case is
printed, as other processes on a shared machine change the timings.
``--write`` stores the table in benchmarks/results/btyd_covariates.md.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

import custrel
from custrel import TransactionLog, fit_pareto_nbd, rfm_summary
from custrel.btyd._pnbd_cov import ParetoNBDCovariateModel

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
TRUTH = {
    "r": 0.8,
    "alpha": 12.0,
    "s": 0.7,
    "beta": 15.0,
    "purchase.x1": 0.3,
    "purchase.x2": -0.4,
    "purchase.x3": 0.2,
    "dropout.x1": -0.3,
    "dropout.x2": 0.5,
    "dropout.x3": 0.1,
}


def load() -> str:
    return " / ".join(f"{v:.2f}" for v in os.getloadavg())


def timed(fn: Any, repeat: int) -> tuple[float, Any]:
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def apparel() -> tuple[Any, dict[str, np.ndarray]]:
    log = TransactionLog.from_csv(
        SHARED / "apparelTrans.csv", customer_col="Id", time_col="Date", amount_col="Price"
    )
    s = rfm_summary(log, unit="week", calibration_end=dt.date(2006, 12, 31))
    with open(SHARED / "apparelStaticCov.csv", newline="") as fh:
        rows = {int(r["Id"]): (float(r["Gender"]), float(r["Channel"])) for r in csv.DictReader(fh)}
    z = np.array([rows[int(i)] for i in s.customer_id])
    return s, {"Gender": z[:, 0], "Channel": z[:, 1]}


def simulated(n: int, seed: int) -> tuple[Any, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = np.column_stack([rng.normal(size=n), rng.integers(0, 2, n), rng.uniform(-1, 1, n)])
    truth = ParetoNBDCovariateModel.from_params(TRUTH)
    sim = truth.simulate(
        n, rng.uniform(20, 80, n), rng=seed + 1, purchase_covariates=z, dropout_covariates=z
    )
    return sim, z


def case(name: str, s: Any, z: Any, repeat: int) -> dict[str, Any]:
    before = load()
    t0, m0 = timed(lambda: fit_pareto_nbd(s.frequency, s.recency, s.T), repeat)
    t1, m1 = timed(
        lambda: fit_pareto_nbd(
            s.frequency, s.recency, s.T, purchase_covariates=z, dropout_covariates=z
        ),
        repeat,
    )
    after = load()
    est = ", ".join(f"{k}={v:.4g}" for k, v in m1.params.items())
    print(
        f"{name}: no covariates {t0:.3f} s, covariates {t1:.3f} s ({t1 / t0:.1f}x); "
        f"load {before} -> {after}\n  {est}\n  LL {m0.log_likelihood:.2f} -> {m1.log_likelihood:.2f}"
        f"; {m1.message}",
        flush=True,
    )
    return {
        "name": name,
        "plain": t0,
        "cov": t1,
        "ratio": t1 / t0,
        "load": f"{before} -> {after}",
        "note": f"LL {m0.log_likelihood:.6g} -> {m1.log_likelihood:.6g}; {est}",
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    rows = []
    s, z = apparel()
    rows.append(case("apparel, 600 customers, Gender + Channel on both processes", s, z, 5))
    sim, zs = simulated(100_000, 7)
    rows.append(case("100,000 simulated customers, 3 covariates on both processes", sim, zs, 1))
    if not args.quick:
        sim, zs = simulated(1_000_000, 11)
        rows.append(
            case("1,000,000 simulated customers, 3 covariates on both processes", sim, zs, 1)
        )
    if args.write:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        lines = [
            "# Pareto/NBD with time-invariant covariates: the cost of covariates",
            "",
            (
                f"{stamp}; {platform.machine()}, {os.cpu_count()} cores; Python "
                f"{platform.python_version()}, numpy {np.__version__}, custrel "
                f"{custrel.__version__}; OPENBLAS_NUM_THREADS=1. Both fits of a case on the same "
                "data in one run (best of 5 for apparel, one run for the simulations). Command: "
                "`python benchmarks/bench_btyd_covariates.py --write`."
            ),
            "",
            "| case | no covariates s | with covariates s | ratio | load average (1/5/15 min) before -> after | estimates |",
            "|---|---|---|---|---|---|",
        ]
        lines.extend(
            f"| {r['name']} | {r['plain']:.3f} | {r['cov']:.3f} | {r['ratio']:.1f}x | "
            f"{r['load']} | {r['note']} |"
            for r in rows
        )
        lines += [
            "",
            f"True coefficients of the simulations: {TRUTH}.",
            "",
        ]
        out = ROOT / "benchmarks" / "results" / "btyd_covariates.md"
        out.write_text("\n".join(lines))
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
