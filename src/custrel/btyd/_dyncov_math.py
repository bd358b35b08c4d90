r"""The likelihood of the Pareto/NBD with time-varying covariates over each customer's walk.

The formulas are in :mod:`custrel.btyd._dyncov`; this module builds the walks
(the linear pieces of each customer's cumulative purchase and dropout
exposures) and evaluates the per-customer log-likelihood and its analytic
gradient, vectorised over customers and pieces.
"""

from __future__ import annotations

from typing import Any, NamedTuple, cast

import numpy as np
import numpy.typing as npt

from custrel import _numeric
from custrel._lazy import LazyModule
from custrel.btyd import _pnbd_math as _pm
from custrel.btyd._dyncov_data import DynamicCovariateData

special = LazyModule("scipy.special")  # imported on first use (import time)

__all__: list[str] = []

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


# ---------------------------------------------------------------------------
# Walks: the linear pieces of the cumulative exposures
# ---------------------------------------------------------------------------


class _Walks(NamedTuple):
    """The estimation-period data of the likelihood (private).

    ``before_*``: the pieces from the first purchase to ``t_x`` (only their
    sums matter); ``after_*``: the pieces from ``t_x`` to ``T`` padded to a
    customers x pieces table (length 0 pads).
    """

    x: FloatArray
    t_x: FloatArray
    T: FloatArray
    s_purchase: FloatArray  # customers x k_purchase
    before_cust: IntArray
    before_len: FloatArray
    before_xp: FloatArray
    before_xd: FloatArray
    after_len: FloatArray  # customers x m
    after_xp: FloatArray  # customers x m x k_purchase
    after_xd: FloatArray  # customers x m x k_dropout


def _chunks(w: _Walks, size: int) -> list[_Walks]:
    """The walks of fixed consecutive customer ranges (``size`` customers each).

    Sums over the chunks in chunk order are the same whatever the thread
    count that evaluates them (:func:`custrel.btyd._threads.sum_chunks`).
    """
    n = w.x.shape[0]
    if n <= size:
        return [w]
    out = []
    for lo in range(0, n, size):
        hi = min(lo + size, n)
        b_lo, b_hi = np.searchsorted(w.before_cust, [lo, hi])
        lens = w.after_len[lo:hi]
        width = int(np.max(np.count_nonzero(lens > 0, axis=1), initial=0))
        out.append(
            _Walks(
                w.x[lo:hi],
                w.t_x[lo:hi],
                w.T[lo:hi],
                w.s_purchase[lo:hi],
                w.before_cust[b_lo:b_hi] - lo,
                w.before_len[b_lo:b_hi],
                w.before_xp[b_lo:b_hi],
                w.before_xd[b_lo:b_hi],
                lens[:, :width],
                w.after_xp[lo:hi, :width],
                w.after_xd[lo:hi, :width],
            )
        )
    return out


def _exclusive_cumsum(inc: FloatArray) -> FloatArray:
    """Along the last axis: the sum of the earlier entries (0 for the first)."""
    out: FloatArray = np.cumsum(inc, axis=-1) - inc
    return out


def _walk_intercepts(mult: Any, length: Any, origin: float) -> FloatArray:
    """Intercepts of a piecewise linear exposure: ``E(t) = intercept_k + mult_k t`` on piece k.

    Piece 1 starts at ``origin`` and the exposure is 0 there; piece k starts
    where piece k-1 ends. CLVTools' ``Bi()`` (origin ``t_x``, first length
    ``d1``) and ``Di()`` (origin 0, first length ``d_omega``) are these.
    """
    m = np.asarray(mult, dtype=np.float64)
    ln = np.asarray(length, dtype=np.float64)
    start = origin + _exclusive_cumsum(ln)
    out: FloatArray = _exclusive_cumsum(m * ln) - m * start
    return out


def _merge_runs(
    cust: IntArray, length: FloatArray, xp: FloatArray, xd: FloatArray
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray]:
    """Merge consecutive pieces of one customer with the same covariate values (exact)."""
    if cust.shape[0] == 0:
        return cust, length, xp, xd
    new = np.ones(cust.shape[0], dtype=bool)
    same = cust[1:] == cust[:-1]
    same &= np.all(xp[1:] == xp[:-1], axis=1) & np.all(xd[1:] == xd[:-1], axis=1)
    new[1:] = ~same
    starts = np.flatnonzero(new)
    lens = np.add.reduceat(length, starts)
    return cust[starts], lens, xp[starts], xd[starts]


def _pad(cust: IntArray, n: int, *cols: FloatArray) -> tuple[FloatArray, ...]:
    """Scatter per-piece rows (customer-sorted) into customers x pieces tables (0 pads)."""
    count = _numeric.bincount(cust, minlength=n)
    width = int(count.max(initial=0))
    offs = np.cumsum(count) - count
    pos = np.arange(cust.shape[0]) - offs[cust]
    out = []
    for c in cols:
        table = np.zeros((n, width, *c.shape[1:]))
        table[cust, pos] = c
        out.append(table)
    return tuple(out)


def _walks(data: DynamicCovariateData, purchase: IntArray, dropout: IntArray) -> _Walks:
    """The estimation walks of every customer for the chosen covariate columns."""
    n = data.n_customers
    first = data._first_day.astype(np.float64)
    end = first + data.T * data.unit_days
    cust, start, stop, X = data._span(first, end, "the estimation period")
    tx_day = first + data.recency * data.unit_days
    xp, xd = X[:, purchase], X[:, dropout]
    split = tx_day[cust]
    b_len = (np.minimum(stop, split) - np.minimum(start, split)) / data.unit_days
    a_len = (np.maximum(stop, split) - np.maximum(start, split)) / data.unit_days
    kb = b_len > 0
    bc, bl, bxp, bxd = _merge_runs(cust[kb], b_len[kb], xp[kb], xd[kb])
    ka = a_len > 0
    ac, al, axp, axd = _merge_runs(cust[ka], a_len[ka], xp[ka], xd[ka])
    after_len, after_xp, after_xd = _pad(ac, n, al, axp, axd)
    return _Walks(
        data.frequency,
        data.recency,
        data.T,
        data._repeat_sums[:, purchase],
        bc,
        bl,
        bxp,
        bxd,
        after_len,
        after_xp,
        after_xd,
    )


# ---------------------------------------------------------------------------
# The likelihood
# ---------------------------------------------------------------------------


def _log_k0(a: FloatArray, b: FloatArray, u: FloatArray, v_: FloatArray) -> FloatArray:
    """``log K(u, v) = log int_0^inf (u+s)^-a (v+s)^-b ds`` elementwise (a + b > 1).

    The methods of :mod:`custrel.btyd._pnbd_math` elementwise: ordered so
    that ``u >= v``, arguments near 1 by the ``z -> 1 - z`` transformation,
    the rest by the series in ``z``, then the continued fraction, then the
    trapezoidal rule.
    """
    swap = u < v_
    uu = np.where(swap, v_, u)
    vv = np.where(swap, u, v_)
    aa = np.where(swap, b, a)
    bb = np.where(swap, a, b)
    out = np.empty(uu.shape[0])
    todo = np.ones(uu.shape[0], dtype=bool)
    zero = np.zeros(uu.shape[0])
    refl = _pm._reflect_mask(bb, cast(Any, uu), cast(Any, vv), zero)
    if refl.any():
        idx = np.flatnonzero(refl)
        *vals, good = _pm._log_k_reflected(
            aa[idx], bb[idx], cast(Any, uu[idx]), cast(Any, vv[idx]), zero[idx]
        )
        out[idx[good]] = vals[0][good]
        todo[idx[good]] = False
    rest = np.flatnonzero(todo)
    if rest.size:
        out[rest] = _log_k0_direct(aa[rest], bb[rest], uu[rest], vv[rest])
    return out


def _log_k0_direct(aa: FloatArray, bb: FloatArray, uu: FloatArray, vv: FloatArray) -> FloatArray:
    """:func:`_log_k0` for ``u >= v`` by the series in ``z`` and its fallbacks."""
    z = (uu - vv) / uu
    f, ok = _pm._series_value(aa, aa + bb, z)
    out: FloatArray = -aa * np.log(uu) + (1.0 - bb) * np.log(vv) - np.log(aa + bb - 1.0) + np.log(f)
    if not ok.all():
        bad = np.flatnonzero(~ok)
        cf = _pm._continued_fraction(aa[bad], (aa + bb)[bad], z[bad])
        good = cf[4]
        idx = bad[good]
        out[idx] += np.log(cf[0][good]) - np.log(f[idx])
        rest = bad[~good]
        for lo in range(0, rest.size, 2048):  # hundreds of nodes per element: bounded memory
            sl = rest[lo : lo + 2048]
            out[sl] = _pm._log_k_trapezoid(aa[sl], bb[sl], uu[sl], vv[sl], np.zeros(sl.size))[0]
    return out


class _Terms(NamedTuple):
    ll: FloatArray
    log_alive_term: FloatArray  # log of (alpha+A_T)^-(r+x) (beta+C_T)^-s
    log_bracket: FloatArray
    a_total: FloatArray  # A(T)
    c_total: FloatArray  # C(T)


def _split(theta: FloatArray, kp: int) -> tuple[float, float, float, float, FloatArray, FloatArray]:
    r, alpha, s, beta = (float(t) for t in theta[:4])
    return r, alpha, s, beta, theta[4 : 4 + kp], theta[4 + kp :]


def _terms(theta: FloatArray, w: _Walks) -> _Terms:
    """Per-customer log-likelihood and the pieces the predictions reuse."""
    kp = w.s_purchase.shape[1]
    r, alpha, s, beta, gp, gd = _split(theta, kp)
    n = w.x.shape[0]
    a0 = _numeric.bincount(w.before_cust, np.exp(w.before_xp @ gp) * w.before_len, minlength=n)
    c0 = _numeric.bincount(w.before_cust, np.exp(w.before_xd @ gd) * w.before_len, minlength=n)
    mult_a = np.exp(w.after_xp @ gp)
    mult_c = np.exp(w.after_xd @ gd)
    inc_a = mult_a * w.after_len
    inc_c = mult_c * w.after_len
    a_start = a0[:, None] + _exclusive_cumsum(inc_a)
    c_start = c0[:, None] + _exclusive_cumsum(inc_c)
    a_total = a0 + inc_a.sum(axis=1)
    c_total = c0 + inc_c.sum(axis=1)
    p = r + w.x
    log_alive = -p * np.log(alpha + a_total) - s * np.log(beta + c_total)
    valid = w.after_len > 0
    rows, cols = np.nonzero(valid)
    log_int = np.full(n, -np.inf)
    if rows.size:
        rho = mult_a[rows, cols] / mult_c[rows, cols]
        u0 = alpha + a_start[rows, cols]
        v0 = (beta + c_start[rows, cols]) * rho
        u1 = u0 + inc_a[rows, cols]
        v1 = v0 + inc_c[rows, cols] * rho
        pa = p[rows]
        pb = np.full(rows.size, s + 1.0)
        lk = _log_k0(
            np.concatenate([pa, pa]),
            np.concatenate([pb, pb]),
            np.concatenate([u0, u1]),
            np.concatenate([v0, v1]),
        )
        lk0, lk1 = lk[: rows.size], lk[rows.size :]
        with np.errstate(divide="ignore"):
            lp = s * np.log(rho) + lk0 + np.log1p(-np.exp(np.minimum(lk1 - lk0, 0.0)))
        top = np.full(n, -np.inf)
        np.maximum.at(top, rows, lp)
        safe = np.where(np.isfinite(top), top, 0.0)
        acc = _numeric.bincount(rows, np.exp(lp - safe[rows]), minlength=n)
        with np.errstate(divide="ignore"):
            log_int = np.where(acc > 0, safe + np.log(acc), -np.inf)
    log_bracket = np.logaddexp(log_alive, np.log(s) + log_int)
    ll = (
        special.gammaln(p)
        - special.gammaln(r)
        + r * np.log(alpha)
        + s * np.log(beta)
        + w.s_purchase @ gp
        + log_bracket
    )
    return _Terms(ll, log_alive, log_bracket, a_total, c_total)


def _log_k0_grad(
    a: FloatArray, b: FloatArray, u: FloatArray, v_: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """:func:`_log_k0` with its partial derivatives in ``a``, ``b``, ``u``, ``v``."""
    swap = u < v_
    uu = np.where(swap, v_, u)
    vv = np.where(swap, u, v_)
    aa = np.where(swap, b, a)
    bb = np.where(swap, a, b)
    out = np.empty((5, uu.shape[0]))
    todo = np.ones(uu.shape[0], dtype=bool)
    zero = np.zeros(uu.shape[0])
    refl = _pm._reflect_mask(bb, cast(Any, uu), cast(Any, vv), zero)
    if refl.any():
        idx = np.flatnonzero(refl)
        *vals, good = _pm._log_k_reflected(
            aa[idx], bb[idx], cast(Any, uu[idx]), cast(Any, vv[idx]), zero[idx]
        )
        out[:, idx[good]] = np.stack(vals)[:, good]
        todo[idx[good]] = False
    rest = np.flatnonzero(todo)
    if rest.size:
        out[:, rest] = _log_k0_direct_grad(aa[rest], bb[rest], uu[rest], vv[rest])
    lk, da, db, du, dv = out
    # the ordered call's (a, b, u, v) are the original (b, a, v, u) where swapped
    return (
        lk,
        np.where(swap, db, da),
        np.where(swap, da, db),
        np.where(swap, dv, du),
        np.where(swap, du, dv),
    )


def _log_k0_direct_grad(
    aa: FloatArray, bb: FloatArray, uu: FloatArray, vv: FloatArray
) -> FloatArray:
    """``(log K, d/da, d/db, d/du, d/dv)`` for ``u >= v`` (series, continued fraction, trapezoid)."""
    z = (uu - vv) / uu
    k = aa + bb - 1.0
    f, f_m, f_c, f_z, ok = _pm._series(aa, aa + bb, z)
    lu, lv = np.log(uu), np.log(vv)
    if not ok.all():
        bad = np.flatnonzero(~ok & (aa <= _pm._CF_MAX_A))
        if bad.size:
            cf = _pm._continued_fraction(aa[bad], (aa + bb)[bad], z[bad])
            good = cf[4]
            idx = bad[good]
            f[idx], f_m[idx], f_c[idx], f_z[idx] = (c[good] for c in cf[:4])
            ok[idx] = True
    out = np.stack(
        [
            -aa * lu + (1.0 - bb) * lv - np.log(k) + np.log(f),
            -lu - 1.0 / k + (f_m + f_c) / f,
            -lv - 1.0 / k + f_c / f,
            -aa / uu + (f_z / f) * (vv / uu) / uu,
            (1.0 - bb) / vv - (f_z / f) / uu,
        ]
    )
    rest = np.flatnonzero(~ok)
    for lo in range(0, rest.size, 2048):  # hundreds of nodes per element: bounded memory
        sl = rest[lo : lo + 2048]
        out[:, sl] = np.stack(
            _pm._log_k_trapezoid(aa[sl], bb[sl], uu[sl], vv[sl], np.zeros(sl.size))
        )
    return out


def _by_customer(rows: IntArray, weights: FloatArray, n: int) -> FloatArray:
    """Per-customer sums of per-piece vectors (pieces x k -> customers x k)."""
    out = np.zeros((n, weights.shape[1]))
    for j in range(weights.shape[1]):
        out[:, j] = _numeric.bincount(rows, weights[:, j], minlength=n)
    return out


def _gradient(theta: FloatArray, w: _Walks) -> tuple[float, FloatArray]:
    """The total log-likelihood and its analytic gradient in ``theta`` (natural scale).

    The chain rule through the walks: each piece's two ``log K`` terms
    depend on the parameters through ``a = r + x``, ``b = s + 1``,
    ``u = alpha + a_k`` and ``v = (beta + b_k) rho_k``, and the exposures
    ``a_k``, ``b_k`` and ``rho_k`` on the coefficients.
    """
    kp = w.s_purchase.shape[1]
    kd = w.after_xd.shape[2]
    r, alpha, s, beta, gp, gd = _split(theta, kp)
    n = w.x.shape[0]
    eb_a = np.exp(w.before_xp @ gp) * w.before_len
    eb_c = np.exp(w.before_xd @ gd) * w.before_len
    a0 = _numeric.bincount(w.before_cust, eb_a, minlength=n)
    c0 = _numeric.bincount(w.before_cust, eb_c, minlength=n)
    ga0 = _by_customer(w.before_cust, eb_a[:, None] * w.before_xp, n)
    gc0 = _by_customer(w.before_cust, eb_c[:, None] * w.before_xd, n)
    mult_a = np.exp(w.after_xp @ gp)
    mult_c = np.exp(w.after_xd @ gd)
    inc_a = mult_a * w.after_len
    inc_c = mult_c * w.after_len
    ginc_a = inc_a[..., None] * w.after_xp
    ginc_c = inc_c[..., None] * w.after_xd
    a_start = a0[:, None] + _exclusive_cumsum(inc_a)
    c_start = c0[:, None] + _exclusive_cumsum(inc_c)
    ga_start = ga0[:, None, :] + np.cumsum(ginc_a, axis=1) - ginc_a
    gc_start = gc0[:, None, :] + np.cumsum(ginc_c, axis=1) - ginc_c
    a_total = a0 + inc_a.sum(axis=1)
    c_total = c0 + inc_c.sum(axis=1)
    ga_total = ga0 + ginc_a.sum(axis=1)
    gc_total = gc0 + ginc_c.sum(axis=1)
    p = r + w.x
    la, lc = np.log(alpha + a_total), np.log(beta + c_total)
    log_alive = -p * la - s * lc
    d_alive = {
        "r": -la,
        "alpha": -p / (alpha + a_total),
        "s": -lc,
        "beta": -s / (beta + c_total),
    }
    d_alive_gp = d_alive["alpha"][:, None] * ga_total
    d_alive_gd = d_alive["beta"][:, None] * gc_total
    rows, cols = np.nonzero(w.after_len > 0)
    log_int = np.full(n, -np.inf)
    d_int: dict[str, FloatArray] = {k: np.zeros(n) for k in ("r", "alpha", "s", "beta")}
    d_int_gp = np.zeros((n, kp))
    d_int_gd = np.zeros((n, kd))
    if rows.size:
        m = rows.size
        rho = mult_a[rows, cols] / mult_c[rows, cols]
        lrho = np.log(rho)
        xpk = w.after_xp[rows, cols]
        xdk = w.after_xd[rows, cols]
        u0 = alpha + a_start[rows, cols]
        v0 = (beta + c_start[rows, cols]) * rho
        u1 = u0 + inc_a[rows, cols]
        v1 = v0 + inc_c[rows, cols] * rho
        gu0 = ga_start[rows, cols]
        gu1 = gu0 + ginc_a[rows, cols]
        gc_s = gc_start[rows, cols]
        gv0_d = rho[:, None] * gc_s - v0[:, None] * xdk
        gv1_d = rho[:, None] * (gc_s + ginc_c[rows, cols]) - v1[:, None] * xdk
        pa = p[rows]
        pb = np.full(m, s + 1.0)
        lk, ka, kb, ku, kv = _log_k0_grad(
            np.concatenate([pa, pa]),
            np.concatenate([pb, pb]),
            np.concatenate([u0, u1]),
            np.concatenate([v0, v1]),
        )
        diff = np.minimum(lk[m:] - lk[:m], 0.0)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            gap = -np.expm1(diff)  # 1 - K1/K0
            lp = s * lrho + lk[:m] + np.log(gap)
            c0w = 1.0 / gap
            c1w = -np.exp(diff) / gap
        top = np.full(n, -np.inf)
        np.maximum.at(top, rows, lp)
        safe = np.where(np.isfinite(top), top, 0.0)
        share = np.exp(lp - safe[rows])
        acc = _numeric.bincount(rows, share, minlength=n)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_int = np.where(acc > 0, safe + np.log(acc), -np.inf)
            pi = np.where(np.isfinite(lp), share / acc[rows], 0.0)
        # a piece of zero weight (K1 == K0) has infinite factors; its share pi is 0
        with np.errstate(invalid="ignore", over="ignore"):
            pieces = {
                "r": c0w * ka[:m] + c1w * ka[m:],
                "s": lrho + c0w * kb[:m] + c1w * kb[m:],
                "alpha": c0w * ku[:m] + c1w * ku[m:],
                "beta": (c0w * kv[:m] + c1w * kv[m:]) * rho,
            }
            for key, val in pieces.items():
                d_int[key] = _by_customer(rows, np.where(pi > 0, pi * val, 0.0)[:, None], n)[:, 0]
            dp_gp = (
                s * xpk
                + c0w[:, None] * (ku[:m, None] * gu0 + kv[:m, None] * v0[:, None] * xpk)
                + c1w[:, None] * (ku[m:, None] * gu1 + kv[m:, None] * v1[:, None] * xpk)
            )
            dp_gd = (
                -s * xdk + c0w[:, None] * kv[:m, None] * gv0_d + c1w[:, None] * kv[m:, None] * gv1_d
            )
            keep = (pi > 0)[:, None]
            d_int_gp = _by_customer(rows, np.where(keep, pi[:, None] * dp_gp, 0.0), n)
            d_int_gd = _by_customer(rows, np.where(keep, pi[:, None] * dp_gd, 0.0), n)
    log_bracket = np.logaddexp(log_alive, np.log(s) + log_int)
    om_a = np.exp(log_alive - log_bracket)
    om_i = 1.0 - om_a
    ll = (
        special.gammaln(p)
        - special.gammaln(r)
        + r * np.log(alpha)
        + s * np.log(beta)
        + w.s_purchase @ gp
        + log_bracket
    )
    g_r = special.digamma(p) - special.digamma(r) + np.log(alpha)
    g_r += om_a * d_alive["r"] + om_i * d_int["r"]
    g_alpha = r / alpha + om_a * d_alive["alpha"] + om_i * d_int["alpha"]
    g_s = np.log(beta) + om_a * d_alive["s"] + om_i * (1.0 / s + d_int["s"])
    g_beta = s / beta + om_a * d_alive["beta"] + om_i * d_int["beta"]
    g_gp = w.s_purchase + om_a[:, None] * d_alive_gp + om_i[:, None] * d_int_gp
    g_gd = om_a[:, None] * d_alive_gd + om_i[:, None] * d_int_gd
    grad = np.concatenate(
        [[g_r.sum(), g_alpha.sum(), g_s.sum(), g_beta.sum()], g_gp.sum(axis=0), g_gd.sum(axis=0)]
    )
    return float(np.sum(ll)), grad
