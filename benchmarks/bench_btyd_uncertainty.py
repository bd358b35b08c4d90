"""Benchmark: the bootstrap's cost per replication, and how its intervals compare with the delta method's.

Usage::

    .venv/bin/python benchmarks/bench_btyd_uncertainty.py [--replications 200] [--threads 1]

On the CDNOW sample (2,357 customers, 39-week calibration, weeks) for
BG/NBD, Pareto/NBD and Gamma-Gamma (the 946 repeat buyers):

1. cost: one fit, one bootstrap replication (resample + refit, mean over the
   run) and their ratio, and the delta method's cost for every customer's
   predictions (``prediction_intervals``), all in one run;
2. agreement: per parameter the Wald standard error (inverse Hessian), the
   sandwich standard error (``H^-1 J H^-1`` with ``J`` the outer products of
   the customers' scores, what the bootstrap estimates when the model is not
   exactly right) and the bootstrap standard deviation, on the natural and
   on the log scale; per prediction (expected purchases in 39 weeks,
   P(alive), CLV over 12 months) the median over customers of the bootstrap
   over the delta standard error and how often the two intervals overlap.

Prints Markdown (the figures in ``benchmarks/results/btyd_uncertainty.md``
and ``docs/howto/btyd_uncertainty.rst`` come from it).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from custrel import (
    fit_bgnbd,
    fit_gamma_gamma,
    fit_pareto_nbd,
    load_cdnow,
    rfm_summary,
)
from custrel.btyd._uncertainty import (
    BootstrapResult,
    bootstrap,
    delta_interval,
    prediction_intervals,
)


def _best(fn: Callable[[], Any], repeat: int = 5) -> float:
    """The mean time of ``repeat`` calls (a mean, as the bootstrap's per-replication time is)."""
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def _sandwich(model: Any, loglik: Callable[[Any], np.ndarray]) -> np.ndarray:
    """H^-1 J H^-1 with J = sum_i s_i s_i' (scores by central differences)."""
    names = list(model.params)
    scores = []
    for k in names:
        th = model.params[k]
        lo, hi = th * np.exp(-1e-5), th * np.exp(1e-5)
        up = loglik(model.with_params({**model.params, k: hi}))
        dn = loglik(model.with_params({**model.params, k: lo}))
        scores.append((up - dn) / (hi - lo))
    s = np.asarray(scores)
    j = s @ s.T
    cov = np.asarray(model.covariance)
    out: np.ndarray = cov @ j @ cov
    return out


def _param_rows(name: str, model: Any, boot: BootstrapResult, sandwich: np.ndarray) -> list[str]:
    rows = []
    wald = model.summary()
    bs = boot.summary()
    log_sd = np.std(np.log(boot.params), axis=0, ddof=1)
    for j, k in enumerate(model.params):
        est, se = wald[k]
        sw = float(np.sqrt(sandwich[j, j]))
        lo, hi = wald.intervals[k]
        blo, bhi = bs.intervals[k]
        rows.append(
            f"| {name} | {k} | {est:.4g} | {se:.4g} | {sw:.4g} | {bs[k][1]:.4g} | "
            f"{se / est:.3f} | {log_sd[j]:.3f} | [{lo:.4g}, {hi:.4g}] | [{blo:.4g}, {bhi:.4g}] |"
        )
    return rows


def _compare(label: str, delta: Any, boot: Any) -> str:
    ok = delta.standard_error > 0
    ratio = boot.standard_error[ok] / delta.standard_error[ok]
    overlap = (delta.lower <= boot.upper) & (boot.lower <= delta.upper)
    width = (boot.upper - boot.lower)[ok] / (delta.upper - delta.lower)[ok]
    dw = (delta.upper - delta.lower)[ok]
    shift_lo = float(np.median((boot.lower - delta.lower)[ok] / dw))
    shift_hi = float(np.median((boot.upper - delta.upper)[ok] / dw))
    q = np.quantile(ratio, [0.1, 0.5, 0.9])
    return (
        f"| {label} | {ok.sum()} | {q[0]:.2f} / {q[1]:.2f} / {q[2]:.2f} | "
        f"{float(np.median(width)):.2f} | {shift_lo:+.2f} / {shift_hi:+.2f} | "
        f"{100 * overlap.mean():.1f} % |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--replications", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    n_rep, threads = args.replications, args.threads
    cd = rfm_summary(
        load_cdnow(), unit="week", calibration_end="1997-09-30", observation_end="1998-06-30"
    )
    f, r, t = cd.frequency, cd.recency, cd.T
    assert cd.monetary_value is not None
    mv = cd.monetary_value
    rb = f > 0
    fits: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {
        "BG/NBD": (fit_bgnbd, (f, r, t)),
        "Pareto/NBD": (fit_pareto_nbd, (f, r, t)),
        "Gamma-Gamma": (fit_gamma_gamma, (f[rb], mv[rb])),
    }
    print(f"# Bootstrap and delta method on CDNOW ({n_rep} replications, threads={threads})\n")
    print("| model | rows | one fit (ms) | per replication (ms) | ratio | bootstrap total (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    models: dict[str, Any] = {}
    boots: dict[str, BootstrapResult] = {}
    for name, (fit, cols) in fits.items():
        models[name] = fit(*cols)
        one = _best(lambda fit=fit, cols=cols: fit(*cols), repeat=20)
        start = time.perf_counter()
        boots[name] = bootstrap(fit, *cols, n_replications=n_rep, rng=2026, threads=threads)
        total = time.perf_counter() - start
        per = (total - one) / n_rep  # the bootstrap also fits the data as given once
        print(
            f"| {name} | {len(cols[0]):,} | {1e3 * one:.1f} | {1e3 * per:.1f} | "
            f"{per / one:.2f} | {total:.2f} |"
        )
    bg, pn, gg = models["BG/NBD"], models["Pareto/NBD"], models["Gamma-Gamma"]

    print("\n## Delta method: every customer's predictions\n")
    print("| model | customers | prediction_intervals (ms) | one fit (ms) |")
    print("|---|---:|---:|---:|")
    for name, m in (("BG/NBD", bg), ("Pareto/NBD", pn)):
        cost = _best(
            lambda m=m: prediction_intervals(
                m,
                f,
                r,
                t,
                t=39.0,
                spend_model=gg,
                monetary_value=mv,
                horizon=12,
                discount_rate=0.01,
                period=52 / 12,
            ),
            repeat=3,
        )
        one = _best(lambda name=name: fits[name][0](*fits[name][1]))
        print(
            f"| {name} (+ Gamma-Gamma, CLV 12 months) | {len(f):,} | {1e3 * cost:.0f} | "
            f"{1e3 * one:.0f} |"
        )

    print("\n## Parameters: Wald (inverse Hessian), sandwich and bootstrap\n")
    print(
        "| model | parameter | estimate | Wald se | sandwich se | bootstrap sd | "
        "Wald se/estimate | bootstrap sd of log | Wald 95 % (log scale) | bootstrap 95 % |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---|---|")
    sandwiches = {
        "BG/NBD": _sandwich(bg, lambda m: m.customer_log_likelihood(f, r, t)),
        "Pareto/NBD": _sandwich(pn, lambda m: m.customer_log_likelihood(f, r, t)),
        "Gamma-Gamma": _sandwich(gg, lambda m: m.customer_log_likelihood(f[rb], mv[rb])),
    }
    for name, m in models.items():
        for row in _param_rows(name, m, boots[name], sandwiches[name]):
            print(row)

    print("\n## Predictions for all 2,357 customers: bootstrap against delta\n")
    print(
        "| prediction | customers with se > 0 | bootstrap se / delta se (10 % / median / 90 %) "
        "| width ratio (median) | lower / upper limit moved (median, in delta widths) "
        "| intervals overlap |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, m in (("BG/NBD", bg), ("Pareto/NBD", pn)):
        b = boots[name]
        dp = delta_interval(
            m, lambda m: m.conditional_expected_purchases(39.0, f, r, t), scale="log"
        )
        bp = b.interval(lambda m: m.conditional_expected_purchases(39.0, f, r, t))
        print(_compare(f"{name}: expected purchases, 39 weeks", dp, bp))
        da = delta_interval(m, lambda m: m.probability_alive(f, r, t), scale="logit")
        ba = b.interval(lambda m: m.probability_alive(f, r, t))
        print(_compare(f"{name}: P(alive)", da, ba))
        both = prediction_intervals(
            m,
            f,
            r,
            t,
            t=39.0,
            spend_model=gg,
            monetary_value=mv,
            horizon=12,
            discount_rate=0.01,
            period=52 / 12,
        )
        bclv = prediction_intervals(
            m,
            f,
            r,
            t,
            t=39.0,
            method="bootstrap",
            bootstrap=b,
            spend_model=gg,
            monetary_value=mv,
            spend_bootstrap=boots["Gamma-Gamma"],
            horizon=12,
            discount_rate=0.01,
            period=52 / 12,
        )
        assert both.clv is not None
        assert bclv.clv is not None
        print(_compare(f"{name} + Gamma-Gamma: CLV, 12 months", both.clv, bclv.clv))


if __name__ == "__main__":
    main()
