"""Benchmark: the time-varying-covariate Pareto/NBD fit against the static-covariate and plain fits.

Usage::

    .venv/bin/python benchmarks/bench_btyd_dyncov.py [--repeat N]

Data: CLVTools' apparel data (600 customers, weekly unit, 104-week
estimation period to 2006-12-31), with ``apparelDynCov.csv.gz`` (weekly
High.Season, Gender, Channel). Fits, each timed without imports in one run:

- dynamic: ``fit_pareto_nbd_dyncov`` with purchase covariates High.Season,
  Gender, Channel and dropout covariates Gender, Channel (9 parameters);
- dynamic, static columns: ``fit_pareto_nbd_dyncov`` with Gender and Channel
  in both processes (8 parameters; the same model as the static fit);
- static: ``fit_pareto_nbd(..., purchase_covariates=, dropout_covariates=)``
  with Gender and Channel (8 parameters);
- plain: ``fit_pareto_nbd`` (4 parameters).

Also times one evaluation of the dynamic likelihood (all 600 customers) and
the data preparation (validating the 187,800-row table and building walks).
Ratios are against the static fit. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from custrel import FitWarning, fit_pareto_nbd
from custrel.btyd._dyncov import dynamic_covariate_data, fit_pareto_nbd_dyncov
from custrel.btyd._dyncov_math import _terms, _walks

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _read(path: Path, opener: Any = open) -> dict[str, np.ndarray]:
    with opener(path, "rt", newline="") as fh:
        rows = list(csv.reader(fh))
    out: dict[str, np.ndarray] = {}
    for name, col in zip(rows[0], zip(*rows[1:], strict=True), strict=True):
        try:
            out[name] = np.asarray(col, dtype=np.float64)
        except ValueError:
            out[name] = np.asarray(col)
    out["Id"] = out["Id"].astype(np.int64)
    return out


def _best(fn: Any, repeat: int) -> tuple[float, Any]:
    best, out = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FitWarning)
            out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    trans = _read(DATA / "apparelTrans.csv")
    dyn = _read(DATA / "apparelDynCov.csv.gz", gzip.open)

    def prepare() -> Any:
        return dynamic_covariate_data(
            trans["Id"],
            trans["Date"],
            dyn,
            calibration_end="2006-12-31",
            id_column="Id",
            date_column="Cov.Date",
        )

    t_prep, data = _best(prepare, args.repeat)
    walks = _walks(data, np.arange(3), np.arange(1, 3))
    theta = np.array([1.45, 48.6, 0.56, 46.9, 0.7, 0.2, 0.6, -0.5, 0.5])
    t_eval, _ = _best(lambda: _terms(theta, walks), max(args.repeat, 5))
    z = np.zeros((data.n_customers, 2))
    z[np.searchsorted(data.customer_id, dyn["Id"])] = np.stack(
        [dyn["Gender"], dyn["Channel"]], axis=1
    )
    rows = []
    t_static, m_static = _best(
        lambda: fit_pareto_nbd(
            data.frequency, data.recency, data.T, purchase_covariates=z, dropout_covariates=z
        ),
        args.repeat,
    )
    t_plain, m_plain = _best(
        lambda: fit_pareto_nbd(data.frequency, data.recency, data.T), args.repeat
    )
    t_dyn, m_dyn = _best(
        lambda: fit_pareto_nbd_dyncov(
            data,
            purchase_covariates=["High.Season", "Gender", "Channel"],
            dropout_covariates=["Gender", "Channel"],
        ),
        args.repeat,
    )
    t_dyn_s, m_dyn_s = _best(
        lambda: fit_pareto_nbd_dyncov(
            data,
            purchase_covariates=["Gender", "Channel"],
            dropout_covariates=["Gender", "Channel"],
        ),
        args.repeat,
    )
    rows.append(("dynamic (High.Season, Gender, Channel | Gender, Channel)", 9, t_dyn, m_dyn))
    rows.append(("dynamic, static columns (Gender, Channel both)", 8, t_dyn_s, m_dyn_s))
    rows.append(("static covariates (Gender, Channel both)", 8, t_static, m_static))
    rows.append(("plain Pareto/NBD", 4, t_plain, m_plain))
    print(f"data preparation (187,800 covariate rows, walks): {t_prep:.3f} s")
    print(
        f"one dynamic likelihood evaluation (600 customers, walks of up to "
        f"{walks.after_len.shape[1]} pieces): {t_eval * 1e3:.2f} ms\n"
    )
    print("| fit | parameters | time (s) | log L | time / static |")
    print("|---|---:|---:|---:|---:|")
    for name, k, t, m in rows:
        print(f"| {name} | {k} | {t:.2f} | {m.log_likelihood:.3f} | {t / t_static:.1f} |")
    print()
    for k, v in m_dyn.params.items():
        print(f"- {k}: {v:.4f} (se {m_dyn.standard_errors[k]:.4f})")


if __name__ == "__main__":
    main()
