r"""Pareto/NBD with time-varying covariates (Bachmann, Meierer & Näf 2021).

While alive, customer *i* buys at the rate :math:`\lambda_i\,a_i(t)` and drops
out at the rate :math:`\mu_i\,c_i(t)`, where

.. math::

    a_i(t) = \exp(\gamma_{\mathrm{purchase}}^\top x_i(t)), \qquad
    c_i(t) = \exp(\gamma_{\mathrm{dropout}}^\top z_i(t)),

the covariates :math:`x_i(t)`, :math:`z_i(t)` are constant within each
calendar period (a week, say) and :math:`\lambda_i \sim \mathrm{Gamma}(r,
\alpha)`, :math:`\mu_i \sim \mathrm{Gamma}(s, \beta)` as in the Pareto/NBD.
Time ``t`` runs from the customer's first purchase. With the cumulative
exposures :math:`A_i(t) = \int_0^t a_i`, :math:`C_i(t) = \int_0^t c_i` (both
piecewise linear: each period is one linear piece, the *walk* of CLVTools) and
the repeat purchases at :math:`t_1, \dots, t_x`, integrating the individual
likelihood over the two gamma distributions gives

.. math::

    L_i = \frac{\Gamma(r+x)\,\alpha^r\beta^s}{\Gamma(r)}
          \prod_{j=1}^x a_i(t_j)
          \Big[(\alpha+A_i(T))^{-(r+x)}(\beta+C_i(T))^{-s}
          + s\int_{t_x}^{T} c_i(\tau)(\alpha+A_i(\tau))^{-(r+x)}
                                   (\beta+C_i(\tau))^{-(s+1)}\,d\tau\Big].

On a piece :math:`k` of length :math:`\Delta_k` with multipliers
:math:`A_k, C_k` that starts at exposures :math:`a_k, b_k`, the substitution
:math:`v = A_k(\tau - \tau_k)` turns the integral into
:math:`\rho_k^{s}\,[K(u_k, v_k) - K(u_k + A_k\Delta_k, v_k + \rho_k C_k\Delta_k)]`
with :math:`\rho_k = A_k / C_k`, :math:`u_k = \alpha + a_k`,
:math:`v_k = (\beta + b_k)\rho_k` and
:math:`K(u, v) = \int_0^\infty (u+\sigma)^{-(r+x)}(v+\sigma)^{-(s+1)}d\sigma`,
the same Gauss hypergeometric integral as the Pareto/NBD's (evaluated by the
series, continued fraction and quadrature of :mod:`custrel.btyd._pnbd_math`).
These are CLVTools' terms: :math:`a_k = \bar B_j + B_i + A_i\tau` and
:math:`b_k = D_i + C_i\tau` (the intercepts ``Bi()`` and ``Di()`` of its
``pnbd_dyncov`` likelihood), :math:`F_0` the factor in front, :math:`F_3`
the first term of the bracket and :math:`F_1 F_2` the integral. Consecutive
periods with the same covariate values form one linear piece, so a walk is
as long as its number of covariate changes, not of periods.

Given the history, :math:`\lambda_i \mid \text{alive} \sim \mathrm{Gamma}(r+x,
\alpha + A_i(T))` and :math:`\mu_i \mid \text{alive} \sim \mathrm{Gamma}(s,
\beta + C_i(T))`, so with the prediction period's covariates

.. math::

    P(\text{alive}) = \frac{(\alpha+A_i(T))^{-(r+x)}(\beta+C_i(T))^{-s}}{[\dots]},
    \qquad
    \mathrm{CET}(h) = P(\text{alive})\,\frac{r+x}{\alpha+A_i(T)}
      \int_T^{T+h} a_i(u)\Big(\frac{\beta+C_i(T)}{\beta+C_i(u)}\Big)^{s} du,

each piece of the last integral in closed form; the discounted version
(DERT over the prediction period) by Gauss-Legendre quadrature per piece.

References
----------
Bachmann, P., Meierer, M. & Näf, J. (2021). The role of time-varying
contextual factors in latent attrition models for customer base analysis.
*Marketing Science* 40(4), 783-809.

Meierer, M., Näf, J., Bachmann, P. & Siegel, M. (2023). CLVTools: R package
(``pnbd_dyncov`` likelihood, ``Bi()``/``Di()`` terms).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, NamedTuple, cast

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _validate as v
from custrel._lazy import LazyModule
from custrel._numeric import gauss_legendre, hessian_from_gradient
from custrel.btyd import _pnbd_math as _pm
from custrel.btyd._base import BTYDModel
from custrel.btyd._dyncov_data import (
    DynamicCovariateData,
    _as_days,
    _day_text,
    dynamic_covariate_data,
)
from custrel.btyd._predictions import TrackingResult
from custrel.errors import ConvergenceError, FitWarning, InvalidInputError, InvalidTypeError

special = LazyModule("scipy.special")  # imported on first use (import time)

__all__ = [
    "DynamicCovariateData",
    "ParetoNBDDynCovModel",
    "dynamic_covariate_data",
    "fit_pareto_nbd_dyncov",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_MAX_ITER = 1000  # BFGS iterations of the fit
_HESS_STEP = 1e-5  # central-difference step of the Hessian (of the analytic gradient)
_GL_NODES = 16  # Gauss-Legendre nodes per piece (discounted purchases)
_NEWTON = 4  # Newton steps that finish the BFGS search
_FLAT_EFFECT = 10.0  # |coefficient| x the column's range beyond which a fit warns


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
    count = np.bincount(cust, minlength=n)
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
    a0 = np.bincount(w.before_cust, np.exp(w.before_xp @ gp) * w.before_len, minlength=n)
    c0 = np.bincount(w.before_cust, np.exp(w.before_xd @ gd) * w.before_len, minlength=n)
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
        acc = np.bincount(rows, np.exp(lp - safe[rows]), minlength=n)
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
        out[:, j] = np.bincount(rows, weights[:, j], minlength=n)
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
    a0 = np.bincount(w.before_cust, eb_a, minlength=n)
    c0 = np.bincount(w.before_cust, eb_c, minlength=n)
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
        acc = np.bincount(rows, share, minlength=n)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_int = np.where(acc > 0, safe + np.log(acc), -np.inf)
            pi = np.where(np.isfinite(lp), share / acc[rows], 0.0)
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
        dp_gd = -s * xdk + c0w[:, None] * kv[:m, None] * gv0_d + c1w[:, None] * kv[m:, None] * gv1_d
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


# ---------------------------------------------------------------------------
# The fit
# ---------------------------------------------------------------------------


def _check_design(data: DynamicCovariateData, cols: IntArray, process: str) -> FloatArray:
    """Refuse a covariate that is constant, or covariates that are collinear, over the walks.

    Returns each column's range (max - min) over the estimation period.
    """
    if cols.size == 0:
        return np.zeros(0)
    first = data._first_day.astype(np.float64)
    _, _, _, X = data._span(first, first + data.T * data.unit_days, "the estimation period")
    sub = X[:, cols]
    names = [data.covariate_names[c] for c in cols]
    for j, name in enumerate(names):
        if np.all(sub[:, j] == sub[0, j]):
            raise InvalidInputError(
                f"{process}_covariates: column {name!r} is constant ({sub[0, j]!r}) over the "
                "estimation period; its coefficient cannot be told from the base rate: drop it"
            )
    centred = sub - sub.mean(axis=0)
    scale = np.linalg.norm(centred, axis=0)
    rank = np.linalg.matrix_rank(centred / scale, tol=1e-9 * np.sqrt(sub.shape[0]))
    if rank < len(names):
        raise InvalidInputError(
            f"{process}_covariates: the columns {names!r} are collinear over the estimation "
            "period (one is a linear combination of the others and the intercept); drop one"
        )
    spread: FloatArray = sub.max(axis=0) - sub.min(axis=0)
    return spread


def _select(data: DynamicCovariateData, names: Any, process: str) -> IntArray:
    if names is None:
        return np.arange(len(data.covariate_names))
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise InvalidTypeError(
            f"{process}_covariates must be a sequence of column names, got {names!r}"
        )
    idx = []
    for c in names:
        if c not in data.covariate_names:
            raise InvalidInputError(
                f"{process}_covariates: unknown column {c!r}; the table has "
                f"{list(data.covariate_names)!r}"
            )
        idx.append(data.covariate_names.index(c))
    if len(set(idx)) < len(idx):
        raise InvalidInputError(
            f"{process}_covariates must not repeat a column, got {list(names)!r}"
        )
    return np.asarray(idx, dtype=np.int64)


def _to_theta(u: FloatArray) -> FloatArray:
    out = u.copy()
    out[:4] = np.exp(u[:4])
    return out


def _polish(
    total: Any, u: FloatArray, steps: int
) -> tuple[FloatArray, float, FloatArray, FloatArray]:
    """Newton steps from BFGS's end point (at most ``steps`` of them).

    ``total(u)`` returns the log-likelihood and its gradient. BFGS can stop
    short ("precision loss"); Newton steps on the Hessian (central
    differences of the analytic gradient) finish the climb. Returns the
    point, its log-likelihood, Hessian and gradient (the Hessian gives the
    standard errors).
    """
    f, g = total(u)

    def grad(uu: FloatArray) -> FloatArray:
        out: FloatArray = total(uu)[1]
        return out

    hess = hessian_from_gradient(grad, u, step=_HESS_STEP)
    for _ in range(steps):
        if not (np.all(np.isfinite(g)) and np.all(np.isfinite(hess))):
            break
        try:
            step = np.linalg.solve(hess, -g)
        except np.linalg.LinAlgError:
            break
        moved = False
        for shrink in (1.0, 0.5, 0.25, 0.125):
            cand = u + shrink * step
            fc, gc = total(cand)
            if np.isfinite(fc) and fc >= f:
                u, f, g, moved = cand, fc, gc, True
                break
        if not moved:
            break
        hess = hessian_from_gradient(grad, u, step=_HESS_STEP)
        if float(np.max(np.abs(shrink * step))) < 1e-10:
            break
    return u, f, hess, g


def _warn_flat(names: list[str], theta: FloatArray, se: FloatArray, spread: FloatArray) -> None:
    """Warn of NaN standard errors and of coefficients that ran off along a flat likelihood."""
    if not np.all(np.isfinite(se)):
        warnings.warn(
            "Pareto/NBD with dynamic covariates: the observed information matrix is not "
            "positive definite; standard errors are NaN",
            FitWarning,
            stacklevel=3,
        )
    effect = np.abs(theta[4:]) * spread
    if np.any(effect > _FLAT_EFFECT):
        j = int(np.flatnonzero(effect > _FLAT_EFFECT)[0])
        warnings.warn(
            f"Pareto/NBD with dynamic covariates: {names[4 + j]} = {theta[4 + j]:.3g} changes its "
            f"rate by a factor of e^{effect[j]:.3g} across the column's values: the likelihood is "
            "flat in that direction (no events where the covariate takes one of its values), so "
            "the estimate and its standard error mean little; drop the covariate from that process",
            FitWarning,
            stacklevel=3,
        )


@attrs.frozen(eq=False, repr=False)
class ParetoNBDDynCovModel(BTYDModel):
    r"""A Pareto/NBD model with time-varying covariates; see :func:`fit_pareto_nbd_dyncov`.

    Attributes
    ----------
    params : Mapping[str, float]
        ``r``, ``alpha``, ``s``, ``beta``, then ``purchase.<column>`` and
        ``dropout.<column>`` coefficients (the rates are multiplied by
        ``exp(coefficient * value)`` in each period).
    log_likelihood : float
        The maximised log-likelihood.
    standard_errors : Mapping[str, float]
        Standard errors from the inverse observed information (the Hessian
        by central differences of the analytic gradient).
    covariance : numpy.ndarray
        Covariance of the estimates, in the order of ``params``.
    n_customers : float
        Customers fitted on.
    n_iterations : int
        Optimizer iterations.
    message : str
        The optimizer's message.
    purchase_covariates, dropout_covariates : tuple of str
        The covariate columns of each process.
    """

    purchase_covariates: tuple[str, ...] = ()
    dropout_covariates: tuple[str, ...] = ()

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")

    @classmethod
    def from_params(cls, params: Mapping[str, float]) -> Any:
        """A model with known parameters, without a fit.

        Parameters
        ----------
        params : Mapping[str, float]
            ``r``, ``alpha``, ``s``, ``beta`` (> 0) and any coefficients named
            ``purchase.<column>`` and ``dropout.<column>`` (finite), which
            name the covariate columns the predictions read.

        Returns
        -------
        ParetoNBDDynCovModel
            NaN log-likelihood and standard errors, 0 customers.

        Raises
        ------
        InvalidInputError
            If a base parameter is missing or not positive, a coefficient is
            not finite, or a key is neither.
        InvalidTypeError
            If ``params`` is not a mapping or a value not a real number.

        Examples
        --------
        >>> m = ParetoNBDDynCovModel.from_params(
        ...     {"r": 1.45, "alpha": 48.6, "s": 0.56, "beta": 46.9, "purchase.High.Season": 0.7})
        >>> m.purchase_covariates, m.dropout_covariates
        (('High.Season',), ())
        """
        if not isinstance(params, Mapping):
            raise InvalidTypeError(f"params must be a mapping, got {type(params).__name__}")
        base = cls._param_names
        missing = [k for k in base if k not in params]
        other = [str(k) for k in params if k not in base]
        bad = [
            k
            for k in other
            if not k.startswith(("purchase.", "dropout.")) or not k.split(".", 1)[1]
        ]
        if missing or bad:
            raise InvalidInputError(
                f"params must name {list(base)!r} and coefficients 'purchase.<column>' or "
                "'dropout.<column>'; " + (f"missing {missing!r}" if missing else f"unknown {bad!r}")
            )
        vals = {
            k: v.scalar(params[k], f"params[{k!r}]", low=0.0, low_inclusive=False) for k in base
        }
        purchase = tuple(k.split(".", 1)[1] for k in other if k.startswith("purchase."))
        dropout = tuple(k.split(".", 1)[1] for k in other if k.startswith("dropout."))
        for k in [f"purchase.{c}" for c in purchase] + [f"dropout.{c}" for c in dropout]:
            vals[k] = v.scalar(params[k], f"params[{k!r}]")
        n_par = len(vals)
        return cls(
            params=vals,
            log_likelihood=float("nan"),
            standard_errors=dict.fromkeys(vals, float("nan")),
            covariance=np.full((n_par, n_par), np.nan),
            n_customers=0.0,
            purchase_covariates=purchase,
            dropout_covariates=dropout,
        )

    def _theta_all(self) -> FloatArray:
        keys = (
            list(self._param_names)
            + [f"purchase.{c}" for c in self.purchase_covariates]
            + [f"dropout.{c}" for c in self.dropout_covariates]
        )
        return np.asarray([self.params[k] for k in keys], dtype=np.float64)

    def _columns(self, data: Any) -> tuple[IntArray, IntArray]:
        if not isinstance(data, DynamicCovariateData):
            raise InvalidTypeError(
                "data must be a DynamicCovariateData (see dynamic_covariate_data), got "
                f"{type(data).__name__}"
            )
        return (
            _select(data, list(self.purchase_covariates), "purchase"),
            _select(data, list(self.dropout_covariates), "dropout"),
        )

    def _terms(self, data: Any) -> _Terms:
        pc, dc = self._columns(data)
        return _terms(self._theta_all(), _walks(data, pc, dc))

    def customer_log_likelihood(self, data: DynamicCovariateData) -> FloatArray:
        """Each customer's log-likelihood of the estimation-period data.

        Parameters
        ----------
        data : DynamicCovariateData
            Customers with their covariates (the columns the model was fitted on).

        Returns
        -------
        numpy.ndarray
            One value per customer, in ``data.customer_id`` order.

        Raises
        ------
        InvalidTypeError
            If ``data`` is not a :class:`DynamicCovariateData`.
        InvalidInputError
            If a fitted covariate column is missing from ``data``.
        """
        return v.readonly(self._terms(data).ll)

    def probability_alive(self, data: DynamicCovariateData) -> FloatArray:
        """P(alive) at the end of the estimation period, per customer.

        Parameters
        ----------
        data : DynamicCovariateData

        Returns
        -------
        numpy.ndarray
            Values in [0, 1], in ``data.customer_id`` order.

        Raises
        ------
        InvalidTypeError, InvalidInputError
            As :meth:`customer_log_likelihood`.
        """
        t = self._terms(data)
        return v.readonly(np.clip(np.exp(t.log_alive_term - t.log_bracket), 0.0, 1.0))

    def _span_integral(
        self,
        data: DynamicCovariateData,
        cols: tuple[IntArray, IntArray],
        lo_day: FloatArray,
        hi_day: FloatArray,
        base: FloatArray,
        discount_rate: float | None,
        purpose: str,
    ) -> FloatArray:
        """Per customer: ``int_lo^hi a(u) (base / (base + C(u) - C(lo)))^s e^{-d (u-lo)} du``.

        Each piece in closed form (no discounting) or by Gauss-Legendre
        quadrature; ``base`` is ``beta`` plus the dropout exposure at ``lo``.
        """
        pc, dc = cols
        _, _, s, _, gp, gd = _split(self._theta_all(), pc.shape[0])
        n = data.n_customers
        cust, start, stop, X = data._span(lo_day, hi_day, purpose)
        length = (stop - start) / data.unit_days
        offset = (start - lo_day[cust]) / data.unit_days  # time since lo at the piece start
        ma = np.exp(X[:, pc] @ gp)
        mc = np.exp(X[:, dc] @ gd)
        inc_c = mc * length
        # dropout exposure since lo at each piece start (pieces are customer-sorted)
        count = np.bincount(cust, minlength=n)
        offs = np.cumsum(count) - count
        csum = np.cumsum(inc_c)
        c_before = csum - inc_c - (csum[offs[cust]] - inc_c[offs[cust]])
        q = base[cust] + c_before
        if discount_rate is None:
            l1p = np.log1p(mc * length / q)
            e = 1.0 - s
            small = np.abs(e * l1p) < 1e-8
            g = np.where(
                small, l1p * (1.0 + 0.5 * e * l1p), np.expm1(e * l1p) / np.where(small, 1.0, e)
            )
            piece = ma / mc * q * np.exp(s * (np.log(base[cust]) - np.log(q))) * g
        else:
            nodes, weights = gauss_legendre(_GL_NODES)
            tau = 0.5 * length[:, None] * (nodes[None, :] + 1.0)
            integrand = np.exp(
                s * (np.log(base[cust])[:, None] - np.log(q[:, None] + mc[:, None] * tau))
                - discount_rate * (offset[:, None] + tau)
            )
            piece = ma * 0.5 * length * (integrand @ weights)
        return _by_customer(cust, piece[:, None], n)[:, 0]

    def _prediction(
        self, data: DynamicCovariateData, t: Any, discount_rate: float | None
    ) -> FloatArray:
        horizon = v.scalar(t, "t", low=0.0)
        cols = self._columns(data)
        theta = self._theta_all()
        r, alpha, _, beta, _, _ = _split(theta, cols[0].shape[0])
        terms = _terms(theta, _walks(data, *cols))
        n = data.n_customers
        if horizon == 0.0:
            return v.readonly(np.zeros(n))
        end = data._first_day + data.T * data.unit_days
        total = self._span_integral(
            data,
            cols,
            end,
            end + horizon * data.unit_days,
            beta + terms.c_total,
            discount_rate,
            f"the prediction period of t={horizon!r}",
        )
        alive = np.exp(terms.log_alive_term - terms.log_bracket)
        out: FloatArray = alive * (r + data.frequency) / (alpha + terms.a_total) * total
        return v.readonly(out)

    def expected_cumulative_transactions(
        self, data: DynamicCovariateData, times: Any
    ) -> TrackingResult:
        r"""Expected and actual repeat transactions of the customer base by calendar period.

        The tracking table (Fader, Hardie & Lee 2005, fig. 1) with the
        customers' covariates: each customer's expected repeat purchases
        from the first purchase to the end of each period,
        :math:`\frac{r}{\alpha}\int_0^{t} a(u)\,(\beta/(\beta + C(u)))^s\,du`,
        summed over the customers born by then.

        Parameters
        ----------
        data : DynamicCovariateData
            The customers; the covariate table must reach the last time, and
            ``data`` holds every purchase given to it (also after
            ``calibration_end``), so the actual counts cover the holdout.
        times : array_like of dates
            Increasing period ends (for example each week's last day);
            purchases up to and including each day count.

        Returns
        -------
        TrackingResult
            Draw it with :func:`custrel.plot.plot_tracking`.

        Raises
        ------
        InvalidInputError
            If ``times`` are not increasing dates, too many, or beyond the
            covariate table.
        InvalidTypeError
            As :meth:`customer_log_likelihood`.
        """
        cols = self._columns(data)
        days = _as_days(np.atleast_1d(np.asarray(times)), "times")
        if days.shape[0] == 0:
            raise InvalidInputError("times must not be empty")
        if np.any(np.diff(days) <= 0):
            j = int(np.flatnonzero(np.diff(days) <= 0)[0]) + 1
            raise InvalidInputError(
                f"times must be increasing, got {_day_text(days[j])} after "
                f"{_day_text(days[j - 1])} at row {j}"
            )
        n = data.n_customers
        v.check_budget(
            float(days.shape[0]) * n,
            "the tracking table (times x customers)",
            budget=v.max_cells(),
            culprit=f"{days.shape[0]} times x {n} customers",
            env="CUSTREL_MAX_CELLS",
        )
        r, alpha, _, beta, _, _ = _split(self._theta_all(), cols[0].shape[0])
        first = data._first_day.astype(np.float64)
        expected = np.empty(days.shape[0])
        for j, day in enumerate(days):  # one pass per period (vectorised over customers)
            hi = np.maximum(first, float(day) + 1.0)
            each = self._span_integral(
                data,
                cols,
                first,
                hi,
                np.full(n, beta),
                None,
                f"the tracking period ending {_day_text(day)}",
            )
            expected[j] = r / alpha * float(np.sum(each))
        occ_c, occ_d = data._occasions
        repeat = occ_d > data._first_day[occ_c]
        pos = np.searchsorted(days, occ_d[repeat])  # the period of each repeat purchase
        actual = np.cumsum(np.bincount(pos, minlength=days.shape[0] + 1)[: days.shape[0]])
        born = np.searchsorted(np.sort(data._first_day), days, side="right").astype(np.float64)
        return TrackingResult(
            time=days.astype("datetime64[D]").astype("datetime64[s]"),
            actual_incremental=np.diff(actual, prepend=0).astype(np.float64),
            expected_incremental=np.diff(expected, prepend=0.0),
            actual_cumulative=actual.astype(np.float64),
            expected_cumulative=expected,
            n_customers=born,
            calibration_end=data.calibration_end,
        )

    def conditional_expected_purchases(self, data: DynamicCovariateData, t: Any) -> FloatArray:
        """Expected purchases in the ``t`` time units after the estimation period (CET).

        The covariates of those periods come from ``data``'s table, which must
        reach that far for every customer.

        Parameters
        ----------
        data : DynamicCovariateData
        t : float
            Length of the prediction period in ``data``'s unit (>= 0).

        Returns
        -------
        numpy.ndarray
            One value per customer, in ``data.customer_id`` order.

        Raises
        ------
        InvalidInputError
            If ``t`` is negative or not finite, or a customer lacks a
            covariate row for a period of the prediction period.
        InvalidTypeError
            As :meth:`customer_log_likelihood`.
        """
        return self._prediction(data, t, None)

    def discounted_expected_purchases(
        self, data: DynamicCovariateData, t: Any, *, discount_rate: Any
    ) -> FloatArray:
        """Discounted expected purchases in the prediction period (DERT over ``t``).

        Each purchase at time ``T + u`` counts ``exp(-discount_rate * u)``
        (continuous compounding per time unit), so with ``discount_rate=0``
        this is :meth:`conditional_expected_purchases`.

        Parameters
        ----------
        data : DynamicCovariateData
        t : float
            Length of the prediction period (>= 0), covered by the covariates.
        discount_rate : float
            Continuous discount rate per time unit (>= 0).

        Returns
        -------
        numpy.ndarray

        Raises
        ------
        InvalidInputError
            As :meth:`conditional_expected_purchases`, or a negative rate.
        InvalidTypeError
            As :meth:`customer_log_likelihood`.
        """
        rate = v.scalar(discount_rate, "discount_rate", low=0.0)
        return self._prediction(data, t, rate)


def fit_pareto_nbd_dyncov(
    data: DynamicCovariateData,
    *,
    purchase_covariates: Sequence[str] | None = None,
    dropout_covariates: Sequence[str] | None = None,
    initial: Mapping[str, float] | None = None,
) -> ParetoNBDDynCovModel:
    r"""Fit the Pareto/NBD model with time-varying covariates by maximum likelihood.

    Parameters
    ----------
    data : DynamicCovariateData
        Transactions and per-period covariates (:func:`dynamic_covariate_data`).
    purchase_covariates, dropout_covariates : sequence of str, optional
        The covariate columns of the purchase and dropout processes (default:
        every column; ``[]`` for none).
    initial : Mapping[str, float], optional
        Starting values for some parameters (default: the plain Pareto/NBD
        fit and zero coefficients).

    Returns
    -------
    ParetoNBDDynCovModel

    Raises
    ------
    InvalidInputError
        An unknown or repeated column, or a column that is constant or
        collinear with others over the estimation period.
    ConvergenceError
        If the optimizer fails.

    Notes
    -----
    The likelihood of :mod:`custrel.btyd._dyncov` (Bachmann, Meierer & Näf
    2021) is maximised with BFGS over ``log r, log alpha, log s, log beta``
    and the coefficients with the analytic gradient (the derivatives of each
    piece's hypergeometric term carried through the walks; Newton steps
    finish a search BFGS stops short); standard errors come from the Hessian
    by central differences of that gradient. With all covariates zero the model is the plain
    Pareto/NBD; with covariates constant in time it is the static-covariate
    Pareto/NBD (:math:`\alpha_i = \alpha e^{-\gamma^\top z_i}`).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(7)
    >>> n = 300  # customers acquired on 2020-01-06, Pareto/NBD purchase histories over a year
    >>> rate = rng.gamma(2.0, 1 / 8.0, n)  # purchases per week
    >>> life = rng.exponential(1.0 / rng.gamma(1.0, 1 / 30.0, n))  # weeks
    >>> times = rng.exponential(1.0 / rate[:, None], (n, 40)).cumsum(axis=1)
    >>> keep = times < np.minimum(life, 52.0)[:, None]
    >>> ids = np.concatenate([np.arange(n), np.nonzero(keep)[0]])
    >>> t = np.concatenate([np.zeros(n), times[keep]])
    >>> days = np.datetime64("2020-01-06") + np.floor(t * 7).astype(int)
    >>> weeks = np.datetime64("2020-01-06") + 7 * np.arange(60)
    >>> cov = {"customer_id": np.repeat(np.arange(n), 60), "date": np.tile(weeks, n),
    ...        "season": np.tile((np.arange(60) % 13 < 4).astype(float), n)}
    >>> d = dynamic_covariate_data(ids, days, cov, calibration_end="2021-01-03")
    >>> m = fit_pareto_nbd_dyncov(d, dropout_covariates=[])
    >>> list(m.params)
    ['r', 'alpha', 's', 'beta', 'purchase.season']
    """
    if not isinstance(data, DynamicCovariateData):
        raise InvalidTypeError(
            "data must be a DynamicCovariateData (see dynamic_covariate_data), got "
            f"{type(data).__name__}"
        )
    pc = _select(data, purchase_covariates, "purchase")
    dc = _select(data, dropout_covariates, "dropout")
    spread = np.concatenate(
        [_check_design(data, pc, "purchase"), _check_design(data, dc, "dropout")]
    )
    names = (
        ["r", "alpha", "s", "beta"]
        + [f"purchase.{data.covariate_names[c]}" for c in pc]
        + [f"dropout.{data.covariate_names[c]}" for c in dc]
    )
    given: dict[int, float] = {}
    if initial is not None:
        if not isinstance(initial, Mapping):
            raise InvalidTypeError(f"initial must be a mapping, got {type(initial).__name__}")
        for k, val in initial.items():
            if k not in names:
                raise InvalidInputError(
                    f"initial: unknown parameter {k!r}; the model has {names!r}"
                )
            j = names.index(k)
            if j < 4:
                given[j] = np.log(v.scalar(val, f"initial[{k!r}]", low=0.0, low_inclusive=False))
            else:
                given[j] = v.scalar(val, f"initial[{k!r}]")
    walks = _walks(data, pc, dc)
    n = float(data.n_customers)
    rate = float(np.mean(data.T)) / max(float(np.mean(data.frequency)), 0.1)
    start = np.array([1.0, rate, 1.0, float(np.mean(data.T)) + 1.0])
    if not all(j in given for j in range(4)):
        # the no-covariate optimum (the zero-coefficient point of this model); too few
        # customers for a plain fit keep the rough start
        with contextlib.suppress(ConvergenceError):
            start = np.asarray(_pm.fit(data.frequency, data.recency, data.T).params)
    u0 = np.concatenate([np.log(start.astype(np.float64)), np.zeros(len(names) - 4)])
    for j, val in given.items():
        u0[j] = val

    scale = np.ones(len(names))

    def total(u: FloatArray) -> tuple[float, FloatArray]:
        """Log-likelihood and its gradient in ``u`` (log base parameters, coefficients)."""
        if np.any(np.abs(u) > 30.0):
            return -np.inf, np.zeros_like(u)
        theta = _to_theta(u)
        with np.errstate(all="ignore"):
            f, g = _gradient(theta, walks)
        scale[:4] = theta[:4]
        g = g * scale
        if not (np.isfinite(f) and np.all(np.isfinite(g))):
            return -np.inf, np.zeros_like(u)
        return f, g

    def objective(u: FloatArray) -> tuple[float, FloatArray]:
        f, g = total(u)
        if not np.isfinite(f):
            return np.inf, np.zeros_like(u)
        return -f / n, -g / n

    from scipy import optimize  # imported on first fit (import custrel stays quick)

    if not np.isfinite(total(u0)[0]):
        raise ConvergenceError(
            "Pareto/NBD with dynamic covariates: the log-likelihood is not finite at the "
            f"starting values {dict(zip(names, _to_theta(u0).tolist(), strict=True))!r}; "
            "pass others with initial=..."
        )
    res = optimize.minimize(
        objective, u0, jac=True, method="BFGS", options={"maxiter": _MAX_ITER, "gtol": 1e-6}
    )
    u, f_end, hess, g_end = _polish(
        total, np.asarray(res.x, dtype=np.float64), 0 if res.success else _NEWTON
    )
    g_mean = float(np.max(np.abs(g_end))) / n
    if not np.isfinite(f_end) or g_mean > 1e-4:
        raise ConvergenceError(
            f"Pareto/NBD with dynamic covariates: the optimizer did not converge: {res.message} "
            f"(after {res.nit} iterations, largest gradient {g_mean:.3g})"
        )
    if np.any(np.abs(u[:4]) > 16.0):
        j = int(np.flatnonzero(np.abs(u[:4]) > 16.0)[0])
        raise ConvergenceError(
            f"Pareto/NBD with dynamic covariates: the likelihood has no finite maximum for these "
            f"data: {names[j]} ran to {float(np.exp(u[j])):.3g}"
        )
    theta = _to_theta(u)
    n_par = len(names)
    cov = np.full((n_par, n_par), np.nan)
    se = np.full(n_par, np.nan)
    if np.all(np.isfinite(hess)):
        try:
            chol = np.linalg.cholesky(-hess)
        except np.linalg.LinAlgError:
            chol = None
        if chol is not None:
            inv = np.linalg.inv(chol)
            jac = np.where(np.arange(n_par) < 4, theta, 1.0)
            cov = (inv.T @ inv) * np.outer(jac, jac)
            se = np.sqrt(np.diag(cov))
    _warn_flat(names, theta, se, spread)
    return ParetoNBDDynCovModel(
        params=dict(zip(names, theta.tolist(), strict=True)),
        log_likelihood=float(f_end),
        standard_errors=dict(zip(names, se.tolist(), strict=True)),
        covariance=cov,
        n_customers=n,
        n_iterations=int(res.nit),
        message=str(res.message),
        purchase_covariates=tuple(data.covariate_names[c] for c in pc),
        dropout_covariates=tuple(data.covariate_names[c] for c in dc),
    )
