"""Benchmark custrel.clv against the straightforward pandas / Python-loop versions.

Run: /work/venv/bin/python benchmarks/bench_clv.py [--quick] [--save]

1. CLV of 1,000,000 customers × 60 periods (lifetime_value) vs a long-format
   pandas groupby and a per-customer Python loop.
2. A recency-migration projection over 1,000,000 customers (recency_value)
   vs a per-customer Python loop propagating the state distribution.
3. Fitting-method fits for 100,000 customers (fit_profit_curve, breakpoints
   known, phase-II speed fitted) vs one scipy.optimize.curve_fit per customer.

Slow versions that would take minutes run on a subsample; their time is
scaled linearly to the full size and marked "scaled from n=...".
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
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import curve_fit

from custrel import FitWarning
from custrel.clv import ProfitCurve, fit_profit_curve, lifetime_value, recency_value

RESULTS = Path(__file__).parent / "results" / "clv.md"


def timed(fn: Callable[[], Any], *, memory: bool = False) -> tuple[float, float | None, Any]:
    """Seconds of one run; with ``memory``, the peak MiB of a second, traced run."""
    t0 = time.perf_counter()
    out = fn()
    sec = time.perf_counter() - t0
    peak = None
    if memory:
        tracemalloc.start()
        fn()
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return sec, peak, out


def bench_clv(n: int, periods: int, rng: np.random.Generator) -> list[tuple[str, ...]]:
    profit = rng.gamma(2.0, 50.0, size=(n, periods))
    d = 0.01
    sec, peak, ours = timed(
        lambda: lifetime_value(profit, discount_rate=d, timing="end", per_period=False).clv,
        memory=True,
    )

    def with_pandas() -> Any:
        long = pd.DataFrame(
            {
                "customer": np.repeat(np.arange(n), periods),
                "period": np.tile(np.arange(1, periods + 1), n),
                "profit": profit.ravel(),
            }
        )
        long["pv"] = long["profit"] / (1.0 + d) ** long["period"]
        return long.groupby("customer")["pv"].sum().to_numpy()

    sec_pd, _, theirs = timed(with_pandas)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)
    factors = (1.0 + d) ** -np.arange(1, periods + 1)
    sec_wide, _, wide = timed(lambda: pd.DataFrame(profit).mul(factors, axis=1).sum(axis=1))
    np.testing.assert_allclose(ours, wide.to_numpy(), rtol=1e-10)
    m = min(n, 20_000)

    def loop() -> Any:
        out = np.empty(m)
        for i in range(m):
            row = profit[i]
            out[i] = sum(row[t] / (1.0 + d) ** (t + 1) for t in range(periods))
        return out

    sec_loop_m, _, loop_out = timed(loop)
    np.testing.assert_allclose(ours[:m], loop_out, rtol=1e-10)
    sec_loop = sec_loop_m * n / m
    size = f"{n:,} × {periods}"
    return [
        ("CLV", size, "custrel lifetime_value", f"{sec:.3f}", f"{peak:.0f}", "1.0"),
        ("CLV", size, "pandas long groupby", f"{sec_pd:.3f}", "", f"{sec_pd / sec:.1f}"),
        ("CLV", size, "pandas wide mul + sum", f"{sec_wide:.3f}", "", f"{sec_wide / sec:.1f}"),
        (
            "CLV",
            size,
            f"Python loop (scaled from n={m:,})",
            f"{sec_loop:.1f}",
            "",
            f"{sec_loop / sec:.0f}",
        ),
    ]


def bench_recency(n: int, rng: np.random.Generator) -> list[tuple[str, ...]]:
    k, horizon = 12, 60
    br = np.linspace(0.6, 0.02, k)
    spend = np.linspace(120.0, 40.0, k)
    rec = rng.integers(1, 20, size=n)
    kw: dict[str, Any] = {
        "horizon": horizon,
        "contact_cost": 2.0,
        "discount_rate": 0.01,
        "timing": "end",
    }
    sec, peak, ours = timed(lambda: recency_value(rec, br, spend, **kw).value, memory=True)
    m = min(n, 2_000)

    def loop() -> Any:
        out = np.empty(m)
        f = 1.01 ** -np.arange(1, horizon + 1)
        for i in range(m):
            x = np.zeros(k)
            x[min(rec[i], k) - 1] = 1.0
            total = 0.0
            for t in range(horizon):
                b = x * br
                total += f[t] * float((b * spend).sum() - 2.0 * x.sum())
                nxt = np.zeros(k)
                nxt[0] = b.sum()
                nxt[1:] += (x - b)[:-1]
                nxt[-1] += (x - b)[-1]
                x = nxt
            out[i] = total
        return out

    sec_m, _, theirs = timed(loop)
    np.testing.assert_allclose(ours[:m], theirs, rtol=1e-9)
    sec_loop = sec_m * n / m
    size = f"{n:,} customers, 12 states × 60 periods"
    return [
        ("recency projection", size, "custrel recency_value", f"{sec:.3f}", f"{peak:.0f}", "1.0"),
        (
            "recency projection",
            size,
            f"Python loop (scaled from n={m:,})",
            f"{sec_loop:.1f}",
            "",
            f"{sec_loop / sec:.0f}",
        ),
    ]


def _piecewise(t: Any, h1: float, v: float, n: float, k: float, h2: float) -> Any:
    g1, g2 = 15.0, 30.0
    p1 = h1 * t**2 + v
    pg1 = h1 * g1**2 + v
    p2 = pg1 + n * (1.0 - np.exp(-k * (np.minimum(t, g2) - g1)))
    return np.where(t <= g1, p1, np.where(t <= g2, p2, p2 - h2 * (t - g2) ** 2))


def bench_fit(n: int, rng: np.random.Generator) -> list[tuple[str, ...]]:
    T = 36
    h1 = rng.uniform(0.01, 0.05, n)
    v0 = rng.uniform(0.0, 5.0, n)
    head = rng.uniform(1.0, 10.0, n)
    k = rng.uniform(0.1, 1.0, n)
    h2 = rng.uniform(0.0, 0.3, n)
    curve = ProfitCurve.from_parameters(
        h1, v0, g1=15, ceiling=h1 * 225 + v0 + head, speed=k, g2=30, h2=h2
    )
    t = np.arange(1, T + 1, dtype=float)
    y = curve.evaluate(t) + rng.normal(0.0, 0.2, (n, T))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        sec, peak, fit = timed(lambda: fit_profit_curve(y, g1=15, g2=30), memory=True)
    m = min(n, 300)

    def loop() -> Any:
        out = np.empty((m, 5))
        for i in range(m):
            out[i], _ = curve_fit(
                _piecewise,
                t,
                y[i],
                p0=[0.02, 2.0, 5.0, 0.5, 0.1],
                bounds=([-np.inf, -np.inf, -np.inf, 0.005, -np.inf], np.inf),
                maxfev=20_000,
            )
        return out

    sec_m, _, theirs = timed(loop)
    # both minimise the same least-squares problem: compare the residuals
    ours_sse = np.asarray(fit.sse)[:m]
    their_sse = ((np.stack([_piecewise(t, *p) for p in theirs]) - y[:m]) ** 2).sum(axis=1)
    better_or_equal = float(np.mean(ours_sse <= their_sse * (1 + 1e-6)))
    sec_loop = sec_m * n / m
    size = f"{n:,} customers × {T} months"
    # breakpoint search (g1, g2 unknown) on a smaller base
    ms = min(n, 10_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        sec_s, _, _ = timed(lambda: fit_profit_curve(y[:ms, :24]))
    return [
        (
            "fit (g1, g2 known)",
            size,
            "custrel fit_profit_curve",
            f"{sec:.2f}",
            f"{peak:.0f}",
            "1.0",
        ),
        (
            "fit (g1, g2 known)",
            size,
            f"scipy curve_fit loop (scaled from n={m})",
            f"{sec_loop:.1f}",
            "",
            f"{sec_loop / sec:.0f}",
        ),
        (
            "fit (g1, g2 known)",
            size,
            f"share of customers where custrel's SSE <= curve_fit's: {better_or_equal:.3f}",
            "",
            "",
            "",
        ),
        (
            "fit (g1, g2 searched)",
            f"{ms:,} customers × 24 months",
            "custrel fit_profit_curve",
            f"{sec_s:.2f}",
            "",
            "",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--save", action="store_true", help=f"write the table to {RESULTS}")
    args = parser.parse_args()
    rng = np.random.default_rng(20261123)
    scale = 0.01 if args.quick else 1.0
    rows: list[tuple[str, ...]] = []
    rows += bench_clv(int(1_000_000 * scale), 60, rng)
    rows += bench_recency(int(1_000_000 * scale), rng)
    rows += bench_fit(int(100_000 * scale), rng)
    header = ("benchmark", "size", "implementation", "seconds", "peak MiB", "× custrel")
    lines = [
        f"# clv benchmarks ({dt.date.today().isoformat()})",
        "",
        (
            f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python "
            f"{platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}; "
            f"load average at the end {os.getloadavg()[0]:.1f} (shared machine)."
        ),
        "",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.save:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text)


if __name__ == "__main__":
    main()
