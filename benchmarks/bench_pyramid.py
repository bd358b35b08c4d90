"""Benchmark custrel.pyramid against the pandas recipes a user would otherwise write.

Run: /work/venv/bin/python benchmarks/bench_pyramid.py [--quick]

Measured in the same run, same data, best of ``--repeat`` runs:

* pyramid tiering of N customer values (tiers by customer share 5/15/30/50 %
  with ties kept together, plus the per-tier count / sum / mean table) against
  ``Series.rank(method="min") + pd.cut + groupby``, the pandas recipe that
  gives the same tiers (checked);
* the Lorenz curve and Gini coefficient of N values against
  ``sort_values + cumsum`` and the Gini formula in pandas (checked).

The table is printed in Markdown; save it to benchmarks/results/pyramid.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

import custrel


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best = math.inf
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def pandas_pyramid(values: np.ndarray) -> tuple[np.ndarray, pd.DataFrame]:
    s = pd.Series(values)
    n = len(s)
    rank = s.rank(method="min", ascending=False)  # ties share the best rank
    bounds = [0, *(math.ceil(c * n - 1e-9) for c in (0.05, 0.20, 0.50)), n]
    tier = pd.cut(rank, bins=bounds, labels=[1, 2, 3, 4]).astype("int64")
    tier = tier.where(s >= 0, 4)  # loss-making customers are lead
    summary = s.groupby(tier).agg(["count", "sum", "mean"])
    return tier.to_numpy(), summary


def custrel_pyramid(values: np.ndarray) -> custrel.Pyramid:
    return custrel.customer_pyramid(values)


def pandas_lorenz(values: np.ndarray) -> tuple[np.ndarray, float]:
    s = pd.Series(values).sort_values(ignore_index=True)
    n = len(s)
    total = s.sum()
    share = pd.concat([pd.Series([0.0]), s.cumsum() / total], ignore_index=True)
    ranks = pd.Series(np.arange(1, n + 1, dtype=float))
    g = 2.0 * (ranks * s).sum() / (n * total) - (n + 1.0) / n
    return share.to_numpy(), float(g)


def custrel_lorenz(values: np.ndarray) -> custrel.LorenzCurve:
    return custrel.lorenz_curve(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1,000,000 values, 1 repeat")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = 1_000_000 if args.quick else 10_000_000
    repeat = 1 if args.quick else args.repeat
    rng = np.random.default_rng(2026)
    # Heavy-tailed customer values, 5 % loss-making, rounded to cents (ties).
    values = np.round(rng.lognormal(4.0, 1.3, n) * np.where(rng.random(n) < 0.05, -0.2, 1.0), 2)
    positive = np.abs(values)

    rows = []
    t_pd, (tier_pd, summ_pd) = best_of(lambda: pandas_pyramid(values), repeat)
    t_cr, pyr = best_of(lambda: custrel_pyramid(values), repeat)
    assert np.array_equal(pyr.tier, tier_pd), "custrel and pandas tiers differ"
    np.testing.assert_allclose(pyr.value_sum, summ_pd["sum"].to_numpy(), rtol=1e-9)
    rows.append((f"pyramid tiering + tier table, {n:,} values", t_cr, t_pd))

    t_pd, (share_pd, g_pd) = best_of(lambda: pandas_lorenz(positive), repeat)
    t_cr, lc = best_of(lambda: custrel_lorenz(positive), repeat)
    np.testing.assert_allclose(lc.value_share, share_pd, rtol=1e-9, atol=1e-12)
    assert abs(lc.gini - g_pd) < 1e-9, (lc.gini, g_pd)
    rows.append((f"Lorenz curve + Gini, {n:,} values", t_cr, t_pd))

    cpu = platform.processor() or platform.machine()
    print(f"# custrel.pyramid benchmark ({dt.date.today().isoformat()})")
    print()
    print(
        f"Machine: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        f"numpy {np.__version__}, pandas {pd.__version__}. Best of {repeat}; "
        "results checked equal between the two implementations."
    )
    print()
    print("| task | custrel (s) | pandas (s) | pandas / custrel |")
    print("| --- | ---: | ---: | ---: |")
    for name, a, b in rows:
        print(f"| {name} | {a:.3f} | {b:.3f} | {b / a:.2f}x |")


if __name__ == "__main__":
    main()
