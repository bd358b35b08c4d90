"""The explicit reproductions of issue 10, one case each (run in the worker process).

Each :class:`Case` is a call and what it must give:

* ``"raises"``: a CustrelError (whose message matches ``match`` when given);
* ``"ok"``: a result (no error), frozen, finite and detached from the caller's arrays;
* ``"either"``: a CustrelError or such a result;

plus an optional ``check(result, error) -> problems`` for the right answer. Every call
runs under the worker's CPU and memory limits, so "never returns" and "allocates
14 GiB" cases fail cleanly. The id starts with the public module (``-k models``).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

import custrel as C

Check = Callable[[Any, BaseException | None], list[str]]


@attrs.frozen
class Case:
    """One reproduction: ``fn(**args())`` and the expectation."""

    fn: Callable[..., Any]
    expect: str = "either"
    args: Callable[[], dict[str, Any]] = dict
    match: str | None = None
    check: Check | None = None


def _tmp(name: str, text: str) -> str:
    path = os.path.join(tempfile.gettempdir(), f"custrel-adv-{os.getpid()}-{name}")
    with open(path, "w", encoding="ascii") as fh:
        fh.write(text)
    return path


def _n_customers(n: int) -> Check:
    def check(result: Any, error: BaseException | None) -> list[str]:
        if result is not None and result.n_customers != n:
            return [f"distinct ids merged: n_customers == {result.n_customers}, expected {n}"]
        return []

    return check


def _finite(*getters: Callable[[Any], Any]) -> Check:
    def check(result: Any, error: BaseException | None) -> list[str]:
        if result is None:
            return []
        out = []
        for g in getters:
            val = np.asarray(g(result), dtype=float)
            if not np.isfinite(val).all():
                out.append(f"non-finite prediction: {val.ravel()[:5]}")
        return out

    return check


def _prob(getter: Callable[[Any], Any]) -> Check:
    def check(result: Any, error: BaseException | None) -> list[str]:
        if result is None:
            return []
        p = np.asarray(getter(result), dtype=float)
        if not (np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()):
            return [f"probability outside [0, 1]: {p.ravel()[:5].tolist()}"]
        return []

    return check


def _rows(n: int) -> Check:
    def check(result: Any, error: BaseException | None) -> list[str]:
        if result is not None and result.n_rows != n:
            return [f"a data line was dropped: n_rows == {result.n_rows}, expected {n}"]
        return []

    return check


def _msg(must: str, must_not: str | None = None) -> Check:
    def check(result: Any, error: BaseException | None) -> list[str]:
        text = str(error) if error is not None else ""
        out = []
        if error is not None and not re.search(must, text):
            out.append(f"message does not name {must!r}: {text[:120]}")
        if error is not None and must_not and re.search(must_not, text):
            out.append(f"message names an internal argument {must_not!r}: {text[:120]}")
        return out

    return check


# ------------------------------------------------------------------ helpers for cases


def _log(ids: Any, n: int | None = None, **kw: Any) -> C.TransactionLog:
    n = len(ids) if n is None else n
    kw.setdefault("time", np.arange(n, dtype=float))
    kw.setdefault("amount", np.full(n, 5.0))
    return C.TransactionLog.from_arrays(customer_id=ids, **kw)


def _from_frame_mixed() -> C.TransactionLog:
    import pandas as pd

    df = pd.DataFrame(
        {
            "customer_id": pd.Series([1, "1", 2, "2"], dtype=object),
            "time": [0.0, 1.0, 2.0, 3.0],
            "amount": [1.0, 2.0, 3.0, 4.0],
        }
    )
    return C.TransactionLog.from_frame(df)


def _from_records_mixed() -> C.TransactionLog:
    return C.TransactionLog.from_records(
        [
            {"customer_id": k, "time": float(i), "amount": 1.0}
            for i, k in enumerate([1, "1", 2, "2"])
        ]
    )


def _string_na_ids() -> C.TransactionLog:
    import pandas as pd

    return _log(pd.array(["a", None, "b"], dtype="string"))


def _cdnow_first_line(token: str) -> C.TransactionLog:
    path = _tmp(
        f"cdnow-{token}.txt",
        f" 00004 0001 19970101  2   {token}\n 00004 0001 19970118  2   29.73\n",
    )
    return C.load_cdnow(path)


def _day_overflow() -> C.TransactionLog:
    t = np.array(["2024-01-01", "2024-02-01"], dtype="datetime64[D]")
    t[1] = np.datetime64(10**15, "D")
    return _log([1, 2], time=t)


def _bg(cls: Any, a: float, b: float) -> Any:
    return cls.from_params({"r": 0.243, "alpha": 4.414, "a": a, "b": b})


def _bgnbd_selfsim() -> Any:
    truth = C.BGNBDModel.from_params({"r": 1.0, "alpha": 0.116, "a": 19.3, "b": 0.424})
    s = truth.simulate(300, T=10.0, rng=815)
    m = C.fit_bgnbd(s.frequency, s.recency, s.T)
    return m.conditional_expected_purchases(1.0, s.frequency, s.recency, s.T)


def _bgnbd_sim() -> tuple[Any, Any, Any]:
    truth = C.BGNBDModel.from_params({"r": 0.5, "alpha": 5.0, "a": 1.5, "b": 4.0})
    s = truth.simulate(200, T=52.0, rng=7)
    return np.array(s.frequency), np.array(s.recency), np.array(s.T)


def _bgbb(gamma: float) -> Any:
    return C.BGBBModel.from_params({"alpha": 1.2, "beta": 0.75, "gamma": gamma, "delta": 2.78})


def _bgbb_all(gamma: float) -> Any:
    m = _bgbb(gamma)
    f, r, t = np.array([0.0, 2.0, 5.0]), np.array([0.0, 4.0, 6.0]), np.array([6.0, 6.0, 6.0])
    return np.concatenate(
        [
            np.atleast_1d(m.expected_purchases(np.array([1, 6, 50]))),
            np.atleast_1d(m.conditional_expected_purchases(5, f, r, t)),
            np.atleast_1d(m.probability_alive(f, r, t)),
        ]
    )


def _bgbb_fit_alive() -> Any:
    f = np.array([299.0, 911.0])
    m = C.fit_bgbb(f, f, f)
    return m.probability_alive(f, f, f)


def _gg_heavy_tail() -> Any:
    rng = np.random.default_rng(5)
    x = rng.integers(1, 6, 400).astype(float)
    m = np.exp(rng.normal(3.0, 2.5, 400))
    gg = C.fit_gamma_gamma(x, m)
    return gg.expected_spend()


def _overflow_log() -> C.TransactionLog:
    return _log([1, 1, 2], time=np.array([0.0, 1.0, 2.0]), amount=np.array([1e308, 1e308, 5.0]))


def _mcdm_subnormal(method: str) -> Any:
    m = C.DecisionMatrix.from_arrays(
        [[5e-324, 1.0], [1.0, 2.0], [2.0, 5e-324]], ["a", "b"], candidate_id=["X", "Y", "Z"]
    )
    return C.rank(m, method).score


def _abc_detached() -> dict[str, Any]:
    return {"values": np.array([50.0, 20, 10])}


def _report_far_future_csv() -> str:
    rng = np.random.default_rng(1)
    n = 2000
    days = rng.integers(0, 700, n)
    dates = (np.datetime64("2022-01-01") + days).astype(str)
    dates[1234] = "9999-01-01"
    ids = rng.integers(0, 300, n)
    lines = ["customer_id,time,amount"] + [
        f"c{i},{d},{a:.2f}" for i, d, a in zip(ids, dates, rng.uniform(1, 99, n), strict=True)
    ]
    return _tmp("far-future.csv", "\n".join(lines) + "\n")


def _report_far_future() -> Any:
    return C.customer_report(C.TransactionLog.from_csv(_report_far_future_csv()))


#: issue 10 "Done when": a 200k-row file with one mistyped date at data row 123456
#: (file line 123458: the header is line 1) gives one line, exit 2, within a CPU second.
BIG_ROWS, BIG_BAD_ROW = 200_000, 123_456


def _big_far_future_csv() -> str:
    path = os.path.join(tempfile.gettempdir(), f"custrel-adv-{os.getpid()}-far-future-200k.csv")
    if os.path.exists(path):
        return path
    rng = np.random.default_rng(1)
    dates = (np.datetime64("2022-01-01") + rng.integers(0, 700, BIG_ROWS)).astype(str)
    dates[BIG_BAD_ROW] = "9999-01-01"
    ids = rng.integers(0, 30_000, BIG_ROWS)
    amounts = rng.uniform(1, 99, BIG_ROWS)
    with open(path, "w", encoding="ascii") as fh:
        fh.write("customer_id,time,amount\n")
        fh.writelines(f"c{i},{d},{a:.2f}\n" for i, d, a in zip(ids, dates, amounts, strict=True))
    return path


def _cli_far_future() -> Any:
    path = _big_far_future_csv()
    err = io.StringIO()
    cpu = time.process_time()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            from custrel import cli

            out = os.path.join(tempfile.gettempdir(), f"custrel-adv-{os.getpid()}-report.txt")
            code = cli.main(
                [
                    "report",
                    path,
                    "--customer-col",
                    "customer_id",
                    "--date-col",
                    "time",
                    "--amount-col",
                    "amount",
                    "--quiet",
                    "--out",
                    out,
                ]
            )
        except SystemExit as exc:
            code = exc.code
    return {"code": code, "stderr": err.getvalue(), "cpu": time.process_time() - cpu}


def _cli_check(result: Any, error: BaseException | None) -> list[str]:
    if result is None:
        return []
    lines = [ln for ln in result["stderr"].splitlines() if ln.strip()]
    out = []
    if result["code"] != 2:
        out.append(f"exit status {result['code']}, expected 2")
    line = f"line {BIG_BAD_ROW + 2}"
    if len(lines) != 1 or "9999-01-01" not in result["stderr"] or line not in result["stderr"]:
        out.append(f"expected one line naming {line} and the date, got {lines[:3]}")
    if result["cpu"] > 1.0:
        out.append(f"took {result['cpu']:.2f} s of CPU, more than a second")
    return out


def _epoch_log() -> C.TransactionLog:
    rng = np.random.default_rng(2)
    n = 3000
    t = 1.7e9 + rng.uniform(0, 3 * 365 * 86400, n)
    return _log(rng.integers(0, 500, n), n, time=t, amount=rng.uniform(1, 50, n))


def _threads_report() -> Any:
    log = C.generate_transactions(60, rng=4)
    before = list(warnings.filters)
    stop = threading.Event()
    notes: list[tuple[str, ...]] = []

    def noisy() -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):
                warnings.warn("FOREIGN-THREAD-WARNING", UserWarning, stacklevel=1)

    def work() -> None:
        notes.append(C.customer_report(log).notes)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        noise = threading.Thread(target=noisy)
        noise.start()
        workers = [threading.Thread(target=work) for _ in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        stop.set()
        noise.join()
    leaked = [n for ns in notes for n in ns if "FOREIGN" in n]
    return {"leaked": leaked, "filters_changed": list(warnings.filters) != before}


def _threads_check(result: Any, error: BaseException | None) -> list[str]:
    if result is None:
        return []
    out = []
    if result["leaked"]:
        out.append(f"another thread's warning landed in the report notes: {result['leaked'][0]}")
    if result["filters_changed"]:
        out.append("customer_report left a process-global warning filter behind")
    return out


M3 = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.0, 0.0, 1.0]])
FRT = (np.array([0.0, 2.0, 5.0]), np.array([0.0, 20.0, 30.0]), np.array([30.0, 30.0, 40.0]))
PNBD = {"r": 0.55, "alpha": 10.6, "s": 0.61, "beta": 11.7}


def _markov() -> C.MarkovChain:
    return C.markov_chain(M3, ["new", "active", "lost"])


def _matrix() -> C.DecisionMatrix:
    return C.DecisionMatrix.from_arrays(
        [[8.0, 4.0], [5.0, 7.0]],
        [C.Criterion("a", weight=0.6), C.Criterion("b", weight=0.4)],
        candidate_id=["X", "Y"],
    )


def _clv(cls: Any, a: float = 1.0, b: float = 2.426, **kw: Any) -> Any:
    m = _bg(cls, a, b) if cls is not C.ParetoNBDModel else cls.from_params(PNBD)
    args: dict[str, Any] = {
        "spend": np.array([10.0, 20.0, 30.0]),
        "horizon": 24,
        "discount_rate": 0.01,
    }
    args.update(kw)
    return m.customer_lifetime_value(*FRT, **args)


# ================================================================================ cases

CASES: dict[str, Case] = {
    # ---- 1. silent data loss on intake
    "models.from_arrays-int_and_str_ids_kept_apart": Case(
        _log,
        "either",
        lambda: {"ids": np.array([1, "1", 2, "2"], dtype=object)},
        check=_n_customers(4),
    ),
    "models.from_arrays-bytes_and_str_ids_kept_apart": Case(
        _log, "either", lambda: {"ids": np.array([b"a", "a"], dtype=object)}, check=_n_customers(2)
    ),
    "models.from_arrays-nul_suffix_ids_kept_apart": Case(
        _log,
        "either",
        lambda: {"ids": np.array(["a\x00", "a"], dtype=object)},
        check=_n_customers(2),
    ),
    "models.from_records-int_and_str_ids_kept_apart": Case(
        _from_records_mixed, "either", check=_n_customers(4)
    ),
    "models.from_frame-int_and_str_ids_kept_apart": Case(
        _from_frame_mixed, "either", check=_n_customers(4)
    ),
    "models.from_arrays-missing_string_id_refused": Case(_string_na_ids, "raises", match=r"row 1"),
    "rfm.RFMTable.from_arrays-nan_id_refused": Case(
        C.RFMTable.from_arrays,
        "raises",
        lambda: {
            "customer_id": np.array(["a", np.nan, "b"], dtype=object),
            "recency": [1.0, 2.0, 3.0],
            "frequency": [1.0, 2.0, 3.0],
            "monetary_value": [1.0, 2.0, 3.0],
        },
    ),
    "rfm.RFMTable.from_arrays-none_id_refused": Case(
        C.RFMTable.from_arrays,
        "raises",
        lambda: {
            "customer_id": ["a", None, "b"],
            "recency": [1.0, 2.0, 3.0],
            "frequency": [1.0, 2.0, 3.0],
            "monetary_value": [1.0, 2.0, 3.0],
        },
    ),
    "channels.DecisionMatrix.from_arrays-nan_candidate_refused": Case(
        C.DecisionMatrix.from_arrays,
        "raises",
        lambda: {
            "scores": [[1.0, 2.0], [2.0, 1.0]],
            "criteria": ["a", "b"],
            "candidate_id": np.array(["X", np.nan], dtype=object),
        },
    ),
    "channels.DecisionMatrix.from_arrays-none_candidate_refused": Case(
        C.DecisionMatrix.from_arrays,
        "raises",
        lambda: {
            "scores": [[1.0, 2.0], [2.0, 1.0]],
            "criteria": ["a", "b"],
            "candidate_id": ["X", None],
        },
    ),
    "datasets.load_cdnow-first_line_1e1_kept": Case(
        _cdnow_first_line, "either", lambda: {"token": "1e1"}, check=_rows(2)
    ),
    "datasets.load_cdnow-first_line_nan_not_dropped": Case(
        _cdnow_first_line, "either", lambda: {"token": "nan"}, check=_rows(2)
    ),
    "models.from_arrays-day_dates_beyond_seconds_range_refused": Case(_day_overflow, "raises"),
    # ---- 2. NaN and inf where a number is promised
    "btyd.BGNBDModel-a_equal_1_expected_purchases_finite": Case(
        lambda: _bg(C.BGNBDModel, 1.0, 2.426).expected_purchases(np.array([1.0, 10.0, 52.0])), "ok"
    ),
    "btyd.BGNBDModel-a_equal_1_conditional_finite": Case(
        lambda: _bg(C.BGNBDModel, 1.0, 2.426).conditional_expected_purchases(10.0, *FRT), "ok"
    ),
    "btyd.BGNBDModel-a_equal_1_clv_finite": Case(lambda: _clv(C.BGNBDModel), "ok"),
    "btyd.MBGNBDModel-a_equal_1_expected_purchases_finite": Case(
        lambda: _bg(C.MBGNBDModel, 1.0, 2.426).expected_purchases(np.array([1.0, 10.0, 52.0])), "ok"
    ),
    "btyd.MBGNBDModel-a_equal_1_conditional_finite": Case(
        lambda: _bg(C.MBGNBDModel, 1.0, 2.426).conditional_expected_purchases(10.0, *FRT), "ok"
    ),
    "btyd.MBGNBDModel-a_equal_1_clv_finite": Case(lambda: _clv(C.MBGNBDModel), "ok"),
    "btyd.BGNBDModel-large_a_b_long_horizon_finite": Case(
        lambda: _bg(C.BGNBDModel, 400.0, 300.0).conditional_expected_purchases(5000.0, *FRT), "ok"
    ),
    "btyd.MBGNBDModel-large_a_b_long_horizon_finite": Case(
        lambda: _bg(C.MBGNBDModel, 400.0, 300.0).expected_purchases(np.array([5000.0])), "ok"
    ),
    "btyd.fit_bgnbd-self_simulated_fit_predicts_finite": Case(_bgnbd_selfsim, "either"),
    "btyd.BGBBModel-gamma_equal_1_finite": Case(lambda: _bgbb_all(1.0), "ok"),
    "btyd.BGBBModel-gamma_300_finite": Case(lambda: _bgbb_all(300.0), "ok"),
    "btyd.fit_bgbb-probability_alive_at_most_1": Case(
        _bgbb_fit_alive, "either", check=_prob(lambda r: r)
    ),
    "btyd.fit_gamma_gamma-q_below_1_refused_or_finite": Case(_gg_heavy_tail, "either"),
    "models.TransactionLog.summarize-1e308_amounts_finite": Case(
        lambda: _overflow_log().summarize(), "either"
    ),
    "rfm.rfm_table-1e308_amounts_finite": Case(lambda: C.rfm_table(_overflow_log(), 5.0), "either"),
    "rfm.summarize_rfm-1e308_amounts_finite": Case(
        lambda: C.summarize_rfm(_overflow_log(), 5.0), "either"
    ),
    "clv.historical_value-1e308_amounts_finite": Case(
        lambda: C.historical_value(_overflow_log(), freq=1.0), "either"
    ),
    "clv.period_profit_from_log-1e308_amounts_finite": Case(
        lambda: C.period_profit_from_log(_overflow_log(), freq=1.0), "either"
    ),
    "report.customer_report-1e308_amounts": Case(
        lambda: C.customer_report(_overflow_log()), "either", check=_msg(r"amount|1e\+?308")
    ),
    "clv.phase_growth-nan_h1_refused": Case(
        C.phase_growth, "raises", lambda: {"t": 24, "h1": float("nan"), "v0": 3.4}
    ),
    "clv.phase_growth-inf_v0_refused": Case(
        C.phase_growth, "raises", lambda: {"t": 24, "h1": 0.025, "v0": float("inf")}
    ),
    "clv.phase_growth-none_h1_refused": Case(
        C.phase_growth, "raises", lambda: {"t": 24, "h1": None, "v0": 3.4}
    ),
    "clv.phase_decline-nan_h2_refused": Case(
        C.phase_decline,
        "raises",
        lambda: {"t": [37, 38], "g2": 34, "start_profit": 12.0, "h2": float("nan")},
    ),
    "clv.phase_decline-none_g2_refused": Case(
        C.phase_decline,
        "raises",
        lambda: {"t": [37, 38], "g2": None, "start_profit": 12.0, "h2": 0.25},
    ),
    "clv.phase_saturation-inf_speed_refused": Case(
        C.phase_saturation,
        "raises",
        lambda: {
            "t": [24, 25],
            "g1": 24,
            "start_profit": 17.8,
            "ceiling": 20.0,
            "speed": float("inf"),
        },
    ),
    "clv.phase_saturation-nan_ceiling_refused": Case(
        C.phase_saturation,
        "raises",
        lambda: {
            "t": [24, 25],
            "g1": 24,
            "start_profit": 17.8,
            "ceiling": float("nan"),
            "speed": 0.5,
        },
    ),
    "channels.weighted_product-subnormal_scores_finite": Case(
        lambda: _mcdm_subnormal("weighted_product"), "either"
    ),
    "channels.topsis-subnormal_scores_finite": Case(lambda: _mcdm_subnormal("topsis"), "either"),
    "channels.vikor-subnormal_scores_finite": Case(lambda: _mcdm_subnormal("vikor"), "either"),
    "pyramid.gini-complex_refused": Case(
        C.gini, "raises", lambda: {"values": np.array([1 + 1j, 2, 3])}
    ),
    "pyramid.abc_analysis-complex_refused": Case(
        C.abc_analysis, "raises", lambda: {"values": np.array([5 + 0j, 2, 1])}
    ),
    "channels.score_linear-complex_refused": Case(
        C.score_linear, "raises", lambda: {"values": np.array([1 + 2j, 3]), "low": 0.0, "high": 5.0}
    ),
    # ---- 3. results are frozen and detached
    "pyramid.abc_analysis-result_detached": Case(C.abc_analysis, "ok", _abc_detached),
    "pyramid.customer_pyramid-result_detached": Case(
        C.customer_pyramid, "ok", lambda: {"values": np.array([500.0, 300, 200, 100, 50, 10])}
    ),
    "channels.vertical_comparison-result_detached": Case(
        C.vertical_comparison,
        "ok",
        lambda: {"current": np.array([110.0, 90.0]), "previous": np.array([100.0, 100.0])},
    ),
    "channels.quota_attainment-result_detached": Case(
        C.quota_attainment,
        "ok",
        lambda: {"actual": np.array([80.0, 45.0]), "potential": np.array([100.0, 50.0])},
    ),
    "clv.acquisition_funnel-result_detached": Case(
        C.acquisition_funnel,
        "ok",
        lambda: {
            "reach": 5e6,
            "conversion_rate": np.array([0.002, 0.1, 0.05]),
            "cost_per_head": np.array([0.0, 3.0, 0.0]),
        },
    ),
    "lifecycle.fit_sbg-survivors_detached": Case(
        C.fit_sbg, "ok", lambda: {"survivors": np.array([1000.0, 631, 468, 382, 326])}
    ),
    "models.from_arrays-optional_columns_detached": Case(
        C.TransactionLog.from_arrays,
        "ok",
        lambda: {
            "customer_id": np.array([1, 2]),
            "time": np.array([0.0, 1.0]),
            "amount": np.array([5.0, 6.0]),
            "volume": np.array([1.0, 2.0]),
            "product_cost": np.array([1.0, 1.5]),
        },
    ),
    "models.from_arrays-pandas_amount_detached": Case(
        lambda amount: C.TransactionLog.from_arrays(
            customer_id=[1, 2], time=[0.0, 1.0], amount=amount
        ),
        "ok",
        lambda: {"amount": __import__("pandas").Series([5.0, 6.0])},
    ),
    "report.customer_report-columns_frozen": Case(
        lambda: C.customer_report(C.generate_transactions(30, rng=2)), "ok"
    ),
    "rfm.rfm_scores-cut_points_and_methods_read_only": Case(
        lambda: C.rfm_scores(
            C.RFMTable.from_arrays(
                customer_id=list("abcdef"),
                recency=[1, 5, 30, 30, 90, 200],
                frequency=[9, 4, 1, 1, 2, 1],
                monetary_value=[500, 120, 20, 35, 60, 10],
            ),
            k=3,
            on_collapse="ignore",
        ),
        "ok",
    ),
    # ---- 4. one bad value exhausts memory or time
    "report.customer_report-far_future_date_refused": Case(
        _report_far_future, "raises", match=r"9999"
    ),
    "report.cli-far_future_date_one_line_exit_2": Case(_cli_far_future, "ok", check=_cli_check),
    "report.customer_report-epoch_seconds_times": Case(
        lambda: C.customer_report(_epoch_log()), "either"
    ),
    "models.from_arrays-one_10M_character_id": Case(
        lambda: _log(["x" * 10_000_000] + ["a"] * 49).n_customers, "either"
    ),
    "channels.weight_sensitivity-tol_1e-17_returns": Case(
        lambda: C.weight_sensitivity(_matrix(), tol=1e-17), "either"
    ),
    "lifecycle.MarkovChain.expected_value-horizon_1e12": Case(
        lambda: _markov().expected_value(
            np.array([10.0, 5.0, 0.0]), discount_rate=0.1, horizon=10**12
        ),
        "either",
    ),
    "btyd.ParetoNBDModel.customer_lifetime_value-horizon_1e12": Case(
        lambda: _clv(C.ParetoNBDModel, horizon=10**12), "either"
    ),
    "btyd.BGBBModel.simulate-T_1e300": Case(
        lambda: _bgbb(0.66).simulate(10, 1e300, rng=1), "either"
    ),
    "lifecycle.stages_from_log-span_3e5_periods": Case(
        lambda: C.stages_from_log(
            _log([1, 1, 2, 2], time=np.array([0.0, 3e5, 1.0, 2.0])), period=1.0
        ),
        "either",
    ),
    # ---- 5. wrong exception types and messages
    "models.from_arrays-timestamp_and_NaT_refused": Case(
        lambda: _log(
            [1, 2], time=[__import__("pandas").Timestamp("2024-01-01"), __import__("pandas").NaT]
        ),
        "raises",
    ),
    "clv.customer_equity-none_group_refused": Case(
        C.customer_equity, "raises", lambda: {"values": [1.0, 2.0, 3.0], "groups": ["a", None, "b"]}
    ),
    "btyd.BGNBDModel.customer_lifetime_value-wrong_length_spend": Case(
        lambda: _clv(C.BGNBDModel, 0.8, spend=np.array([1.0, 2.0])), "raises"
    ),
    "clv.acquisition_funnel-tiny_rates": Case(
        C.acquisition_funnel, "either", lambda: {"reach": 5e6, "conversion_rate": [1e-300] * 4}
    ),
    "lifecycle.MarkovChain.expected_value-discount_1e-300": Case(
        lambda: _markov().expected_value(np.array([10.0, 5.0, 0.0]), discount_rate=1e-300), "either"
    ),
    "lifecycle.value_panel-observation_end_1e300": Case(
        lambda: C.value_panel(_log([1, 2, 1]), period=1.0, observation_end=1e300), "raises"
    ),
    "clv.recency_value-recency_1e300": Case(
        C.recency_value,
        "either",
        lambda: {"recency": [1e300], "buy_rate": [0.5, 0.2], "spend": 10.0},
    ),
    "models.TransactionLog.take-scalar_0": Case(lambda: _log([1, 2]).take(0), "either"),
    "models.TransactionLog.concat-string_refused": Case(
        C.TransactionLog.concat, "raises", lambda: {"logs": "ab"}
    ),
    "datasets.load_cdnow-none_refused": Case(C.load_cdnow, "raises", lambda: {"path": None}),
    "models.from_frame-duplicate_columns_refused": Case(
        lambda: C.TransactionLog.from_frame(
            __import__("pandas").DataFrame(
                [[1, 0.0, 5.0, 6.0]], columns=["customer_id", "time", "amount", "amount"]
            )
        ),
        "raises",
    ),
    "lifecycle.value_panel-nan_period_names_period": Case(
        lambda: C.value_panel(_log([1, 2, 1]), period=float("nan")),
        "raises",
        check=_msg(r"\bperiod\b", r"\bfreq\b"),
    ),
    "btyd.BGNBDModel.customer_lifetime_value-nan_margin_names_margin": Case(
        lambda: _clv(C.BGNBDModel, 0.8, margin=float("nan")),
        "raises",
        check=_msg(r"\bmargin\b", r"\bspend\b"),
    ),
    "clv.retention_programme-nan_programme_cost_names_it": Case(
        C.retention_programme,
        "raises",
        lambda: {
            "margin": 95.0,
            "baseline_retention": 0.1,
            "programme_retention": [0.5, 0.8],
            "programme_cost": [float("nan"), 5.0],
        },
        check=_msg(r"programme_cost", r"retention_cost"),
    ),
    # ---- found by this suite while building its valid calls (not in issue 10)
    "btyd.fit_pareto_nbd-bgnbd_simulated_data_within_cpu_limit": Case(
        lambda: C.fit_pareto_nbd(
            *_bgnbd_sim(), initial={"r": 0.5, "alpha": 5.0, "s": 0.5, "beta": 10.0}
        ),
        "either",
    ),
    # ---- 6. threads
    "report.customer_report-warnings_captured_per_call": Case(
        _threads_report, "ok", check=_threads_check
    ),
}
