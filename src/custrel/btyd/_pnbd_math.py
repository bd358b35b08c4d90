r"""Pareto/NBD model mathematics (private; wrapped by :mod:`custrel.btyd`).

The Pareto/NBD model (Schmittlein, Morrison & Colombo 1987): while alive, a
customer buys as a Poisson process with rate :math:`\lambda`; the customer's
unobserved lifetime is exponential with rate :math:`\mu`; across customers
:math:`\lambda \sim \mathrm{Gamma}(r, \alpha)` and
:math:`\mu \sim \mathrm{Gamma}(s, \beta)` (shape, rate), independently.
Parameters are always a float array in the order ``(r, alpha, s, beta)``;
``x`` is the frequency (repeat purchases), ``t_x`` the recency and ``T`` the
customer's age, all per customer.

The likelihood stays finite
---------------------------
Integrating the individual likelihood over the two gamma distributions
(Fader & Hardie 2005, eqs. 3-5) gives

.. math::

    L = \frac{\Gamma(r+x)\,\alpha^r\beta^s}{\Gamma(r)}
        \Big[(\alpha+T)^{-(r+x)}(\beta+T)^{-s}
             + s \int_{t_x}^{T} (\alpha+\tau)^{-(r+x)}(\beta+\tau)^{-(s+1)}\,d\tau\Big].

With :math:`K(t; a, b) = \int_t^\infty (\alpha+\tau)^{-a}(\beta+\tau)^{-b}d\tau`
and one integration by parts of the first term the bracket becomes a sum of
two positive terms, so nothing cancels:

.. math::

    L = \frac{\Gamma(r+x)\,\alpha^r\beta^s}{\Gamma(r)}
        \big[(r+x)\,K(T; r+x+1, s) + s\,K(t_x; r+x, s+1)\big].

For :math:`\alpha \ge \beta` (the other case swaps the roles of
:math:`(\alpha, a)` and :math:`(\beta, b)`, Fader & Hardie's switch),

.. math::

    K(t; a, b) = \frac{(\alpha+t)^{-a}(\beta+t)^{1-b}}{a+b-1}\;
                 {}_2F_1\!\Big(1, a; a+b; \frac{\alpha-\beta}{\alpha+t}\Big),

which is the Gauss hypergeometric function of the published A0 term after
Euler's transformation. This :math:`{}_2F_1(1, a; a+b; z)` lies between 1
and :math:`1/(1-z)` for :math:`0 \le z < 1`, so its logarithm never
overflows, and every power is taken in log space. It is summed as a series
(all terms positive) together with its derivatives in ``a``, ``a+b`` and
``z``, which give the analytic gradient. For arguments near 1
(:math:`1 - z \le 1/2`, e.g. long histories with :math:`\beta \gg \alpha`)
the linear transformation from ``z`` to ``1 - z`` (Abramowitz & Stegun
15.3.6) is used instead: with :math:`q = |\alpha-\beta|` and
:math:`w = 1 - z`, written for :math:`\alpha \ge \beta`,

.. math::

    K(t; a, b) = \frac{(\alpha+t)^{-a}(\beta+t)^{1-b}}{b-1}\,
                 {}_2F_1(1, a; 2-b; w)
               + \frac{\Gamma(a+b-1)\,\Gamma(1-b)}{\Gamma(a)}\,q^{1-a-b},

a fast series in ``w`` plus the Beta-function constant (continued to
:math:`b > 1`), with its gradient in closed form. Its two terms can cancel
and both have poles at integer ``b`` (there ``c - a - b`` of the original
function is an integer); elements with ``b`` within ``10^-3`` of an
integer, ``b > 30``, or a computed condition number of the sum above
10 keep the direct path. That path: where the series in ``z`` has not
converged after 60 terms, Gauss's continued fraction for the same
function takes over, its derivatives carried through the three-term
recurrence. Where that has not converged after 1,000 steps either, ``K`` is
computed by the trapezoidal rule in :math:`\log(\tau-t)`, whose error falls
exponentially with the step because the integrand is analytic in a strip;
that path also returns the gradient.

References
----------
Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987). Counting your
customers: who are they and what will they do next? Management Science
33(1), 1-24.

Fader, P. S. & Hardie, B. G. S. (2005). A note on deriving the Pareto/NBD
model and related expressions. http://brucehardie.com/notes/009/

Fader, P. S. & Hardie, B. G. S. (2006). Deriving an expression for
P(X(t) = x) under the Pareto/NBD model. http://brucehardie.com/notes/012/

Abramowitz, M. & Stegun, I. A. (1964). Handbook of Mathematical Functions,
15.3.6 (the transformation of 2F1 from z to 1 - z).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _validate
from custrel._lazy import LazyModule
from custrel._numeric import gauss_legendre, lex_order
from custrel.btyd import _threads
from custrel.errors import ConvergenceError, InvalidInputError

special = LazyModule("scipy.special")  # imported on first use (import time)

__all__ = [
    "ParetoFit",
    "conditional_expected_purchases",
    "expected_purchases",
    "fit",
    "growth",
    "log_likelihood",
    "probability_alive",
    "probability_of_purchases",
    "simulate",
]

FloatArray = npt.NDArray[np.float64]

_SERIES_TOL = 1e-15  # relative size of the last series term kept
_MAX_TERMS = 60  # beyond this the continued fraction takes over
_MAX_CF = 500  # continued-fraction steps (in pairs: 1,000 steps) before the trapezoidal path
_CF_MAX_A = 1e4  # above this a, the trapezoidal path directly (the fraction converges slowly)
_COMPACT_EVERY = 6  # drop converged elements from the series loop this often
_COMPACT_MIN = 256  # below this many elements compaction costs more than it saves
_CHUNK = 16384  # series elements summed together: in cache, and few numpy calls (GIL held)
#: Elements of the value-only series (predictions) summed together. Fewer, longer numpy
#: calls hold the GIL less often, but two threads' arrays must still fit the cache: on 2
#: threads Pareto/NBD predictions of 1M customers ran, against one thread (medians of 15
#: interleaved runs), 1.31x at 16,384, 1.56x at 32,768 and at 65,536, and 0.99x at
#: 131,072 (6 MB of arrays per thread); 1.13x at 4,096. One thread: the same time.
_VALUE_CHUNK = 65536
_W_SWITCH = 0.5  # 1 - z at or below which the z -> 1 - z transformation is used (0: never)
_POLE_GAP = 1e-3  # ... unless b is this close to an integer (then the series/continued fraction)
_MAX_COND = 10.0  # ... or its two terms cancel more than this
_REFLECT_MAX_B = 30.0  # ... or b is larger (its series passes b poles; the z series is quick there)
_TRAP_STEP = 0.25  # step in log(tau - t) of the trapezoidal fallback
_TRAP_TAIL = 40.0  # e-folds of integrand decay kept at each end
_SUBSAMPLE = 20_000  # distinct rows above which a subsample fit gives the start
_SUBSAMPLE_SIZE = 5_000  # customers in that subsample (at most a quarter of all) ...
_SUBSAMPLE_SHARE = 10  # ... or a tenth of them, up to _SUBSAMPLE_MAX: a start close enough
_SUBSAMPLE_MAX = 100_000  # that a few Newton steps finish (8 passes over 1M rows, not 13)
_LOG_BOUND = 25.0  # the search keeps log-parameters in [-25, 25]
_BFGS_GTOL = 1e-2  # BFGS only approaches the optimum; Newton steps finish
_BHHH_CAP = 2.0  # largest scoring step in log-parameters
_RUNAWAY = 16.0  # an estimate beyond e^16 or below e^-16 means no interior maximum
MAX_FREQUENCY = 2.0**53  # the largest count a float holds exactly with all smaller ones


# ---------------------------------------------------------------------------
# The hypergeometric series F(m, c, z) = 2F1(1, m; c; z) and its derivatives
# ---------------------------------------------------------------------------


def _series(
    m: FloatArray, c: FloatArray, z: FloatArray, abs_out: FloatArray | None = None
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """Sum ``2F1(1, m; c; z)`` and its partial derivatives in ``m``, ``c``, ``z``.

    Terms ``t_{n+1} = t_n z (m+n)/(c+n)``, all positive for ``0 <= z < 1``
    and ``c > 0``. Returns ``(F, F_m, F_c, F_z, converged)``; elements that
    did not converge within ``_MAX_TERMS`` terms are flagged and left for the
    caller. Long inputs are summed in cache-sized chunks. With ``abs_out``
    (for ``c < 0``, where terms change sign) the convergence test uses
    magnitudes and ``abs_out`` receives the sum of the terms' magnitudes.
    """
    size = m.shape[0]
    f_out = np.ones(size)
    fm_out = np.zeros(size)
    fc_out = np.zeros(size)
    fz_out = np.zeros(size)
    ok = np.ones(size, dtype=bool)
    for lo in range(0, size, _CHUNK):
        sl = slice(lo, min(lo + _CHUNK, size))
        _series_chunk(
            m[sl],
            c[sl],
            z[sl],
            f_out[sl],
            fm_out[sl],
            fc_out[sl],
            fz_out[sl],
            ok[sl],
            None if abs_out is None else abs_out[sl],
        )
    return f_out, fm_out, fc_out, fz_out, ok


def _series_chunk(
    m: FloatArray,
    c: FloatArray,
    z: FloatArray,
    f_out: FloatArray,
    fm_out: FloatArray,
    fc_out: FloatArray,
    fz_out: FloatArray,
    ok: npt.NDArray[np.bool_],
    sa_out: FloatArray | None = None,
) -> None:
    size = m.shape[0]
    idx = np.arange(size)
    mm, cc, zz = m, c, z
    term = np.ones(size)
    signed = sa_out is not None
    sa = np.ones(size) if signed else term  # sum of |t_n| (signed terms only)
    sum_m = np.zeros(size)  # sum_{j<n} 1/(m+j): d log t_n / dm
    sum_c = np.zeros(size)  # sum_{j<n} 1/(c+j): -d log t_n / dc
    s0, sm, sc, sz = np.ones(size), np.zeros(size), np.zeros(size), np.zeros(size)
    tol = _SERIES_TOL * (1.0 - zz)
    mn = np.empty(size)
    cn = np.empty(size)
    ratio = np.empty(size)
    tmp = np.empty(size)
    for n in range(_MAX_TERMS):
        np.add(mm, n, out=mn)
        np.add(cc, n, out=cn)
        np.divide(mn, cn, out=ratio)
        np.multiply(term, ratio, out=tmp)
        tmp *= n + 1
        sz += tmp  # (n+1) t_{n+1} / z
        ratio *= zz
        term *= ratio
        np.reciprocal(mn, out=mn)
        sum_m += mn
        np.reciprocal(cn, out=cn)
        sum_c += cn
        s0 += term
        np.multiply(term, sum_m, out=tmp)
        sm += tmp
        np.multiply(term, sum_c, out=tmp)
        sc += tmp
        if signed:
            sa += np.abs(term)
        if (n + 1) % _COMPACT_EVERY == 0 or n == _MAX_TERMS - 1:
            if signed:  # the terms only decay for good once c + n > 0
                done = (np.abs(term) * (n + 2) <= tol * np.abs(s0)) & (cc + n > 0)
            else:
                done = term * (n + 2) <= tol * s0
            k = idx.shape[0]
            n_done = int(np.count_nonzero(done))
            if n == _MAX_TERMS - 1:
                ok[idx[~done]] = False
                n_done = k
            if n_done == k:
                f_out[idx] = s0
                fm_out[idx] = sm
                fc_out[idx] = -sc
                fz_out[idx] = sz
                if sa_out is not None:
                    sa_out[idx] = sa
                return
            # Drop converged elements only when that saves real work; further
            # (tiny, positive) terms do no harm to the ones kept.
            if n_done and k > _COMPACT_MIN:
                where = idx[done]
                f_out[where] = s0[done]
                fm_out[where] = sm[done]
                fc_out[where] = -sc[done]
                fz_out[where] = sz[done]
                keep = ~done
                if sa_out is not None:
                    sa_out[where] = sa[done]
                    sa = sa[keep]
                idx = idx[keep]
                mm, cc, zz, term, tol = mm[keep], cc[keep], zz[keep], term[keep], tol[keep]
                sum_m, sum_c = sum_m[keep], sum_c[keep]
                s0, sm, sc, sz = s0[keep], sm[keep], sc[keep], sz[keep]
                k = idx.shape[0]
                mn, cn, ratio, tmp = mn[:k], cn[:k], ratio[:k], tmp[:k]


def _continued_fraction(
    m: FloatArray, c: FloatArray, z: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """``2F1(1, m; c; z)`` and its derivatives by Gauss's continued fraction.

    ``F = 1/(1 + d1/(1 + d2/(1 + ...)))`` with (``k >= 0`` for odd, ``k >= 1``
    for even indices)

    ``d_{2k+1} = -(c-1+k)(m+k) z / ((c-1+2k)(c+2k))``,
    ``d_{2k} = k(m+1-c-k) z / ((c-2+2k)(c-1+2k))``

    (the continued fraction of the incomplete beta function with
    ``a = c - 1``, ``b = m + 1 - c``). Near ``z = 1`` it needs far fewer steps
    than the power series. The convergents ``P_n/Q_n`` follow the three-term
    recurrence, and so do their derivatives in ``m``, ``c`` and ``z``
    (product rule); all are rescaled together now and then, which leaves the
    ratio and its derivatives unchanged. Returns ``(F, F_m, F_c, F_z, converged)``.
    """
    size = m.shape[0]
    # state: P, Q and their derivatives at steps n-1 and n-2 (rows: value,
    # d/dm, d/dc, d/dz); F_n = P_n/Q_n with P_0 = Q_0 = 1, P_{-1} = 0, Q_{-1} = 1
    p1 = np.zeros((4, size))
    p1[0] = 1.0
    q1 = p1.copy()
    p2 = np.zeros((4, size))
    q2 = np.zeros((4, size))
    q2[0] = 1.0
    f_prev = np.ones(size)
    out = np.empty((4, size))
    ok = np.zeros(size, dtype=bool)
    active = np.arange(size)
    mm, cc, zz = m, c, z
    dd = np.empty((4, size))
    for j in range(1, 2 * _MAX_CF + 1):
        k = j // 2
        if j % 2:  # odd
            num = (cc - 1.0 + k) * (mm + k)
            den = (cc - 1.0 + 2 * k) * (cc + 2 * k)
            dd[0] = -num * zz / den
            dd[1] = -(cc - 1.0 + k) * zz / den
            dd[2] = dd[0] * (1.0 / (cc - 1.0 + k) - 1.0 / (cc - 1.0 + 2 * k) - 1.0 / (cc + 2 * k))
        else:
            den = (cc - 2.0 + 2 * k) * (cc - 1.0 + 2 * k)
            dd[0] = k * (mm + 1.0 - cc - k) * zz / den
            dd[1] = k * zz / den
            dd[2] = -k * zz / den - dd[0] * (1.0 / (cc - 2.0 + 2 * k) + 1.0 / (cc - 1.0 + 2 * k))
        dd[3] = dd[0] / zz
        # X_n = X_{n-1} + d_n X_{n-2}; dX_n = dX_{n-1} + dd_n X_{n-2} + d_n dX_{n-2}
        p_new = p1 + dd[0] * p2
        p_new[1:] += dd[1:] * p2[0]
        q_new = q1 + dd[0] * q2
        q_new[1:] += dd[1:] * q2[0]
        p2, p1, q2, q1 = p1, p_new, q1, q_new
        if j % 4 == 0 or j == 2 * _MAX_CF:
            scale = 1.0 / q1[0]
            p1 *= scale
            q1 *= scale
            p2 *= scale
            q2 *= scale
            f = p1[0]  # = P_n / Q_n after the rescaling
            done = np.abs(f - f_prev) <= 1e-15 * np.abs(f)
            f_prev = f.copy()
            if j == 2 * _MAX_CF:
                done[:] = True
                last = True
            else:
                last = False
            if done.any():
                where = active[done]
                # F = P/Q with Q = 1 after rescaling: dF = dP - P dQ
                out[0, where] = p1[0, done]
                for i in (1, 2, 3):
                    out[i, where] = p1[i, done] - p1[0, done] * q1[i, done]
                ok[where] = not last
                keep = ~done
                if not keep.any():
                    break
                active = active[keep]
                mm, cc, zz = mm[keep], cc[keep], zz[keep]
                p1, p2, q1, q2 = p1[:, keep], p2[:, keep], q1[:, keep], q2[:, keep]
                f_prev = f_prev[keep]
                dd = np.empty((4, active.shape[0]))
    return out[0], out[1], out[2], out[3], ok


def _log_k_trapezoid(
    a: FloatArray, b: FloatArray, u: FloatArray, v: FloatArray, t: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """``log K`` and its gradient by the trapezoidal rule in ``log(tau - t)``.

    ``K = int_0^inf (u+t+sigma)^-a (v+t+sigma)^-b dsigma``; with
    ``sigma = e^y`` the integrand ``e^y f`` is analytic in the strip
    ``|Im y| < pi`` and decays exponentially at both ends, so the rule with
    step ``h`` has error of order ``exp(-pi^2/h)``. At the right end it
    decays only like ``e^(-k y)``, ``k = a + b - 1``, which for small ``k``
    (tiny ``r + s``) would take ``40/k`` units of ``y``: beyond the point
    ``M`` where ``(a u0 + b v0) e^-y <= 1e-8`` the integrand is
    ``e^(-k y) (1 - c e^-y)`` (``c = a u0 + b v0``) to within 1e-16, and the
    rule's nodes there, ``M + j h``, are summed in closed form (geometric
    series, with the sums of ``y e^(-s y)`` the gradient needs). So every
    element takes at most a few hundred nodes.
    """
    u0 = u + t
    v0 = v + t
    k = a + b - 1.0
    step = _TRAP_STEP
    lo = np.log(np.minimum(np.minimum(u0, v0), np.maximum(u0, v0) / np.maximum(a + b, 1.0)))
    lo -= _TRAP_TAIL
    c = a * u0 + b * v0
    hi = np.log(np.maximum(u0, v0)) + _TRAP_TAIL / k + 2.0 + step
    mid = np.log(np.maximum(c, np.maximum(u0, v0))) + np.log(1e8)
    tail = hi > mid  # slow decay: nodes up to mid, the rest in closed form
    top = np.where(tail, mid, hi)
    n_nodes = int(np.ceil(float(np.max(top - lo)) / step)) + 1
    grid = np.arange(n_nodes)[:, None] * step
    y = lo[None, :] + grid  # (nodes, elements)
    inside = y <= top[None, :]
    sigma = np.exp(np.where(inside, y, lo[None, :]))
    lu = np.log(u0 + sigma)
    lv = np.log(v0 + sigma)
    g = np.where(inside, y - a * lu - b * lv, -np.inf)
    # the closed-form tail from M = the last node kept (tail elements only)
    last = lo + np.floor((top - lo) / step) * step
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        q0, q1 = np.exp(-k * step), np.exp(-(k + 1.0) * step)
        g0 = q0 / -np.expm1(-k * step)  # sum_{j>=1} q0^j
        g1 = q1 / -np.expm1(-(k + 1.0) * step)
        h0 = q0 / np.expm1(-k * step) ** 2  # sum_{j>=1} j q0^j
        h1 = q1 / np.expm1(-(k + 1.0) * step) ** 2
        # in log space relative to the largest term: sum f = e^l0 g0 - c e^l1 g1, ...
        l0 = -k * last
        l1 = -(k + 1.0) * last
        log_t0 = l0 + np.log(g0) + np.log1p(-c * np.exp(l1 - l0) * g1 / g0)
        log_t0 = np.where(tail, log_t0, -np.inf)
        gmax = np.maximum(np.max(g, axis=0), log_t0)
        wts = np.exp(g - gmax)
        total = np.sum(wts, axis=0) + np.exp(log_t0 - gmax)
        log_k = gmax + np.log(total) + np.log(step)
        wts /= total
        e0 = np.exp(l0 - gmax) / total
        e1 = np.exp(l1 - gmax) / total
        te = np.where(tail, e1 * g1, 0.0)  # sum e^-y f (leading order), as a share
        ty = np.where(
            tail, e0 * (last * g0 + step * h0) - c * e1 * (last * g1 + step * h1), 0.0
        )  # sum y f, as a share
    # d log f / da = -log(u0 + sigma) ~ -(y + u0 e^-y) in the tail; likewise for b, u, v
    d_a = -np.sum(wts * lu, axis=0) - ty - u0 * te
    d_b = -np.sum(wts * lv, axis=0) - ty - v0 * te
    d_u = -a * (np.sum(wts / (u0 + sigma), axis=0) + te)
    d_v = -b * (np.sum(wts / (v0 + sigma), axis=0) + te)
    return log_k, d_a, d_b, d_u, d_v


def _log_k_reflected(
    a: FloatArray, b: FloatArray, u: Any, v: Any, t: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """``log K`` and its gradient from the ``z -> 1 - z`` transformation (``u > v``).

    With ``w = 1 - z = (v+t)/(u+t)`` and ``q = u - v``,

    ``K = (u+t)^-a (v+t)^(1-b) S / (b-1) + Gamma(a+b-1) Gamma(1-b) / Gamma(a) q^(1-a-b)``,

    ``S = 2F1(1, a; 2-b; w)`` (Abramowitz & Stegun 15.3.6 applied to
    ``2F1(1, a; a+b; z)``; the second term is the t-free Beta-function
    constant, continued analytically to ``b > 1``). The two terms can have
    opposite signs; an element is returned as converged only when ``b`` is at
    least ``_POLE_GAP`` from an integer (the poles of ``Gamma(1-b)`` and of
    ``S``), the series converged and the sum's condition number
    ``(|K_1| sum|t_n|/|S| + |K_2|) / K`` is at most ``_MAX_COND``, so at most
    about ``_MAX_COND`` units of rounding are lost. ``Gamma(1-b)`` and
    ``psi(1-b)`` are taken by reflection from the exact fractional part of
    ``b``. Returns ``(log K, d/da, d/db, d/du, d/dv, converged)``.
    """
    ut = u + t
    vt = v + t
    w = vt / ut
    q = u - v
    k = np.rint(b)
    frac = b - k  # exact
    s_abs = np.empty(a.shape[0])
    with np.errstate(all="ignore"):  # whatever overflows is declined below
        f, f_a, f_c, f_w, ok = _series(a, 2.0 - b, w, s_abs)
        log_ut, log_vt, log_q = np.log(ut), np.log(vt), np.log(q)
        l1 = -a * log_ut + (1.0 - b) * log_vt + np.log(np.abs(f)) - np.log(np.abs(b - 1.0))
        sg1 = np.sign(f) * np.sign(b - 1.0)
        sin_f = np.sin(np.pi * frac)
        sg2 = np.sign(sin_f) * np.where(k % 2 == 0, 1.0, -1.0)  # sign of sin(pi b)
        # Gamma(1-b) Gamma(b) = pi / sin(pi b)
        log_gamma_1mb = np.log(np.pi) - np.log(np.abs(sin_f)) - special.gammaln(b)
        l2 = (
            special.gammaln(a + b - 1.0)
            + log_gamma_1mb
            - special.gammaln(a)
            + (1.0 - a - b) * log_q
        )
        top = np.maximum(l1, l2)
        total = sg1 * np.exp(l1 - top) + sg2 * np.exp(l2 - top)
        log_k = top + np.log(total)
        om1 = sg1 * np.exp(l1 - log_k)  # shares of the two terms in K, om1 + om2 = 1
        om2 = sg2 * np.exp(l2 - log_k)
        cond = np.abs(om1) * s_abs / np.abs(f) + np.abs(om2)
        r_w = f_w / f
        psi_1mb = special.digamma(b) + np.pi / np.tan(np.pi * frac)  # reflection
        psi_ab = special.digamma(a + b - 1.0)
        d_a = om1 * (-log_ut + f_a / f) + om2 * (psi_ab - special.digamma(a) - log_q)
        d_b = om1 * (-log_vt - f_c / f - 1.0 / (b - 1.0)) + om2 * (psi_ab - psi_1mb - log_q)
        g_q = om2 * (1.0 - a - b) / q
        d_u = om1 * (-a / ut - r_w * w / ut) + g_q
        d_v = om1 * ((1.0 - b) / vt + r_w / ut) - g_q
        ok &= (np.abs(frac) >= _POLE_GAP) & (total > 0) & (cond <= _MAX_COND)
        ok &= np.isfinite(log_k) & np.isfinite(d_a) & np.isfinite(d_b)
        ok &= np.isfinite(d_u) & np.isfinite(d_v)
    return log_k, d_a, d_b, d_u, d_v, ok


def _reflect_mask(b: FloatArray, u: Any, v: Any, t: FloatArray) -> npt.NDArray[np.bool_]:
    """Elements (``u >= v``) for :func:`_log_k_reflected`.

    ``1 - z = (v+t)/(u+t) <= _W_SWITCH`` (one comparison of ``t``), ``b`` at
    least ``_POLE_GAP`` from an integer and at most ``_REFLECT_MAX_B``.
    """
    near: npt.NDArray[np.bool_] = t <= (_W_SWITCH * u - v) / (1.0 - _W_SWITCH)
    if near.any():
        idx = np.flatnonzero(near)
        bi = b[idx]
        near[idx] = (np.abs(bi - np.rint(bi)) >= _POLE_GAP) & (bi <= _REFLECT_MAX_B)
    return near


def _log_k_ordered(
    a: FloatArray, b: FloatArray, u: Any, v: Any, t: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """``log K(t; a, b)`` for ``u >= v`` with its partial derivatives in a, b, u, v.

    Arguments near 1 (``1 - z <= _W_SWITCH``) go to the ``z -> 1 - z``
    transformation; the rest, and any element it declines, to the series in
    ``z`` and its fallbacks (:func:`_log_k_direct`).
    """
    refl = _reflect_mask(b, u, v, t)
    if not refl.any():
        return _log_k_direct(a, b, u, v, t)
    idx = np.flatnonzero(refl)
    *vals, good = _log_k_reflected(a[idx], b[idx], _sub(u, idx), _sub(v, idx), t[idx])
    if good.all() and idx.shape[0] == a.shape[0]:
        return vals[0], vals[1], vals[2], vals[3], vals[4]
    out = tuple(np.empty(a.shape[0]) for _ in range(5))
    for arr, val in zip(out, vals, strict=True):
        arr[idx[good]] = val[good]
    done = np.zeros(a.shape[0], dtype=bool)
    done[idx[good]] = True
    rest = np.flatnonzero(~done)
    if rest.size:
        parts = _log_k_direct(a[rest], b[rest], _sub(u, rest), _sub(v, rest), t[rest])
        for arr, val in zip(out, parts, strict=True):
            arr[rest] = val
    return out[0], out[1], out[2], out[3], out[4]


def _log_k_direct(
    a: FloatArray, b: FloatArray, u: Any, v: Any, t: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """``log K`` for ``u >= v`` by the series in ``z``, then the continued fraction, then the trapezoidal rule."""
    ut = u + t
    vt = v + t
    k = a + b - 1.0
    z = (u - v) / ut
    f, f_m, f_c, f_z, ok = _series(a, a + b, z)
    log_ut = np.log(ut)
    log_vt = np.log(vt)
    log_k = -a * log_ut + (1.0 - b) * log_vt - np.log(k) + np.log(f)
    r_z = f_z / f
    d_a = -log_ut - 1.0 / k + (f_m + f_c) / f
    d_b = -log_vt - 1.0 / k + f_c / f
    # ut * ut overflows for huge T: there the same term as (vt / ut) / ut (vt <= ut)
    small = ut < 1e150
    sq = np.square(np.where(small, ut, 1.0))
    d_u = -a / ut + np.where(small, r_z * vt / sq, r_z * (vt / ut) / ut)
    d_v = (1.0 - b) / vt - r_z / ut
    # the continued fraction needs thousands of steps (and then often fails) for very
    # large a; those elements go straight to the trapezoidal rule, which is quick there
    if not (ok | (a > _CF_MAX_A)).all():
        bad = np.flatnonzero(~ok & (a <= _CF_MAX_A))
        cf = _continued_fraction(a[bad], (a + b)[bad], z[bad])
        good = cf[4]
        if good.any():
            idx = bad[good]
            fg = cf[0][good]
            log_k[idx] += np.log(fg) - np.log(f[idx])
            d_a[idx] += (cf[1][good] + cf[2][good]) / fg - (f_m[idx] + f_c[idx]) / f[idx]
            d_b[idx] += cf[2][good] / fg - f_c[idx] / f[idx]
            rz_new = cf[3][good] / fg
            d_u[idx] += (rz_new - r_z[idx]) * vt[idx] / (ut[idx] * ut[idx])
            d_v[idx] -= (rz_new - r_z[idx]) / ut[idx]
            ok[idx] = True
    if not ok.all():
        # hundreds of nodes per element: in chunks, so memory stays bounded
        left = np.flatnonzero(~ok)
        for lo in range(0, left.size, 2048):
            bad = left[lo : lo + 2048]
            uu = np.full(bad.size, u) if np.ndim(u) == 0 else np.asarray(u)[bad]
            vv = np.full(bad.size, v) if np.ndim(v) == 0 else np.asarray(v)[bad]
            out = _log_k_trapezoid(a[bad], b[bad], uu, vv, t[bad])
            for arr, val in zip((log_k, d_a, d_b, d_u, d_v), out, strict=True):
                arr[bad] = val
    return log_k, d_a, d_b, d_u, d_v


def _series_value(
    m: FloatArray, c: FloatArray, z: FloatArray
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """``2F1(1, m; c; z)`` alone (no derivatives): six operations a term."""
    size = m.shape[0]
    f_out = np.ones(size)
    ok = np.ones(size, dtype=bool)
    for lo in range(0, size, _VALUE_CHUNK):
        hi = min(lo + _VALUE_CHUNK, size)
        idx = np.arange(lo, hi)
        mm, cc, zz = m[lo:hi], c[lo:hi], z[lo:hi]
        k = hi - lo
        term, s0 = np.ones(k), np.ones(k)
        tol = _SERIES_TOL * (1.0 - zz)
        mn, cn = np.empty(k), np.empty(k)
        for n in range(_MAX_TERMS):
            np.add(mm, n, out=mn)
            np.add(cc, n, out=cn)
            mn /= cn
            mn *= zz
            term *= mn
            s0 += term
            if (n + 1) % _COMPACT_EVERY == 0 or n == _MAX_TERMS - 1:
                done = term * (n + 2) <= tol * s0
                if n == _MAX_TERMS - 1:
                    ok[idx[~done]] = False
                    done[:] = True
                if done.all():
                    f_out[idx] = s0
                    break
                if done.any():
                    f_out[idx[done]] = s0[done]
                    keep = ~done
                    idx, mm, cc, zz = idx[keep], mm[keep], cc[keep], zz[keep]
                    term, s0, tol = term[keep], s0[keep], tol[keep]
                    mn, cn = mn[: idx.shape[0]], cn[: idx.shape[0]]
    return f_out, ok


def _log_k_value(a: FloatArray, b: FloatArray, alpha: Any, beta: Any, t: FloatArray) -> FloatArray:
    """``log K(t; a, b)`` without derivatives (predictions); same methods as :func:`_log_k`.

    ``alpha`` and ``beta`` are scalars or arrays like ``t`` (per-customer
    parameters); the switch is then made element by element.
    """
    u: Any
    v: Any
    if np.ndim(alpha) == 0 and np.ndim(beta) == 0:
        if alpha >= beta:
            u, v, aa, bb = alpha, beta, a, b
        else:
            u, v, aa, bb = beta, alpha, b, a
    else:
        al, be = np.broadcast_to(alpha, t.shape), np.broadcast_to(beta, t.shape)
        swap = al < be
        u, v = np.where(swap, be, al), np.where(swap, al, be)
        aa, bb = np.where(swap, b, a), np.where(swap, a, b)
    refl = _reflect_mask(bb, u, v, t)
    if refl.any():  # arguments near 1: the z -> 1 - z transformation (with gradient)
        log_k = np.empty(aa.shape[0])
        log_k[refl] = _log_k_ordered(aa[refl], bb[refl], _sub(u, refl), _sub(v, refl), t[refl])[0]
        rest = np.flatnonzero(~refl)
        if rest.size:
            log_k[rest] = _log_k_value_direct(
                aa[rest], bb[rest], _sub(u, rest), _sub(v, rest), t[rest]
            )
        return log_k
    return _log_k_value_direct(aa, bb, u, v, t)


def _log_k_value_direct(a: FloatArray, b: FloatArray, u: Any, v: Any, t: FloatArray) -> FloatArray:
    """``log K`` for ``u >= v`` by the value-only series in ``z`` (fallbacks as in :func:`_log_k_direct`)."""
    ut = u + t
    z = (u - v) / ut
    f, ok = _series_value(a, a + b, z)
    log_k: FloatArray = (
        -a * np.log(ut) + (1.0 - b) * np.log(v + t) - np.log(a + b - 1.0) + np.log(f)
    )
    if not ok.all():
        bad = np.flatnonzero(~ok)
        log_k[bad] = _log_k_direct(a[bad], b[bad], _sub(u, bad), _sub(v, bad), t[bad])[0]
    return log_k


def _log_k(
    a: FloatArray, b: FloatArray, alpha: Any, beta: Any, t: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """``log K(t; a, b)`` with derivatives ``(d/da, d/db, d/dalpha, d/dbeta)``.

    Applies Fader & Hardie's switch so that the series argument is
    ``|alpha - beta| / (max(alpha, beta) + t)``, in ``[0, 1)``. ``alpha`` and
    ``beta`` are scalars or arrays like ``t`` (per-customer parameters, the
    covariate models); the switch is then made element by element.
    """
    if np.ndim(alpha) == 0 and np.ndim(beta) == 0:
        if alpha >= beta:
            return _log_k_ordered(a, b, alpha, beta, t)
        log_k, d_b, d_a, d_beta, d_alpha = _log_k_ordered(b, a, beta, alpha, t)
        return log_k, d_a, d_b, d_alpha, d_beta
    al, be = np.broadcast_to(alpha, t.shape), np.broadcast_to(beta, t.shape)
    swap = al < be
    log_k, d_1, d_2, d_u, d_v = _log_k_ordered(
        np.where(swap, b, a),
        np.where(swap, a, b),
        np.where(swap, be, al),
        np.where(swap, al, be),
        t,
    )
    return (
        log_k,
        np.where(swap, d_2, d_1),
        np.where(swap, d_1, d_2),
        np.where(swap, d_v, d_u),
        np.where(swap, d_u, d_v),
    )


def _sub(u: Any, idx: Any) -> Any:
    """``u[idx]`` for a per-element parameter array; a scalar as it is."""
    return u if np.ndim(u) == 0 else u[idx]


def _entries(params: Any) -> tuple[Any, Any, Any, Any]:
    """``(r, alpha, s, beta)`` as floats, or float arrays for per-customer entries.

    The kernels take either (contract 4): a covariate model passes
    ``alpha_i`` and ``beta_i`` arrays aligned with the customers; ``r`` and
    ``s`` stay scalars.
    """
    r, alpha, s, beta = (
        float(p) if np.ndim(p) == 0 else np.asarray(p, dtype=np.float64) for p in params
    )
    if np.ndim(r) or np.ndim(s):
        raise InvalidInputError("params r and s must be scalars")
    return r, alpha, s, beta


# ---------------------------------------------------------------------------
# Log-likelihood with gradient
# ---------------------------------------------------------------------------


class _Stacked(NamedTuple):
    """The inputs of the two K terms side by side (private).

    ``K(T; r+x+1, s)`` needs only the distinct ``(x, T)`` pairs and
    ``K(t_x; r+x, s+1)`` the distinct ``(x, t_x)`` pairs; with ``dedupe`` the
    arrays hold those pairs (``n_T`` of the first kind, then the second) and
    the inverse indices map them back to the rows.
    """

    x2: FloatArray  # x+1 for the T half, x for the t_x half
    shift: FloatArray  # 0 for the T half, 1 for the t_x half (b = s + shift)
    t2: FloatArray
    n_T: int
    inv_T: npt.NDArray[np.intp] | None
    inv_tx: npt.NDArray[np.intp] | None


def _pairs(x: FloatArray, t: FloatArray) -> tuple[FloatArray, FloatArray, npt.NDArray[np.intp]]:
    """Distinct ``(x, t)`` pairs and the inverse index (one sort by x, then t)."""
    order = lex_order([x, t])  # np.lexsort((t, x)) by stable argsorts, which release the GIL
    xs, ts = x[order], t[order]
    new = np.ones(x.shape[0], dtype=bool)
    new[1:] = (xs[1:] != xs[:-1]) | (ts[1:] != ts[:-1])
    inv = np.empty(x.shape[0], dtype=np.intp)
    inv[order] = np.cumsum(new) - 1
    return xs[new], ts[new], inv


def _stack(x: FloatArray, t_x: FloatArray, T: FloatArray, *, dedupe: bool = False) -> _Stacked:
    """Data of the two K terms side by side: ``(x+1 | x, 0 | 1, T | t_x)``."""
    if dedupe:
        xT, TT, inv_T = _pairs(x, T)
        xt, tt, inv_tx = _pairs(x, t_x)
        if xT.shape[0] + xt.shape[0] < 1.6 * x.shape[0]:  # worth the gathers
            return _Stacked(
                np.concatenate([xT + 1.0, xt]),
                np.concatenate([np.zeros(xT.shape[0]), np.ones(xt.shape[0])]),
                np.concatenate([TT, tt]),
                xT.shape[0],
                inv_T,
                inv_tx,
            )
    n = x.shape[0]
    return _Stacked(
        np.concatenate([x + 1.0, x]),
        np.concatenate([np.zeros(n), np.ones(n)]),
        np.concatenate([T, t_x]),
        n,
        None,
        None,
    )


def _parts(
    params: FloatArray,
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,
    *,
    gradient: bool,
    unique_x: tuple[FloatArray, npt.NDArray[np.intp]] | None = None,
    stacked: _Stacked | None = None,
) -> tuple[FloatArray, tuple[FloatArray, ...] | None, FloatArray, FloatArray]:
    """Per-customer log-likelihood, its gradient columns and the two log terms.

    Returns ``(ll, (d_r, d_alpha, d_s, d_beta), log_term_T, log_term_tx)``
    where the bracket of the likelihood is ``exp(log_term_T) + exp(log_term_tx)``.
    ``unique_x`` is ``numpy.unique(x, return_inverse=True)`` when the caller
    already has it (the gamma functions of ``r + x`` are taken per distinct x).
    ``alpha`` and ``beta`` may be per-customer arrays (contract 4; then
    ``stacked`` must not be deduplicated); the gradient columns are then the
    derivatives in each customer's own ``alpha_i`` and ``beta_i``.
    """
    r, alpha, s, beta = _entries(params)
    p = r + x
    if unique_x is None and not gradient:  # per element: cheaper than sorting out distinct x
        log_c = special.gammaln(r + x) - special.gammaln(r)
    else:
        ux, inv = np.unique(x, return_inverse=True) if unique_x is None else unique_x
        log_c = (special.gammaln(r + ux) - special.gammaln(r))[inv]
    log_c = log_c + (r * np.log(alpha) + s * np.log(beta))
    # both K terms in one pass: K(T; r+x+1, s) and K(t_x; r+x, s+1)
    st = _stack(x, t_x, T) if stacked is None else stacked
    a2: Any = alpha
    b2: Any = beta
    if np.ndim(alpha) or np.ndim(beta):  # per-customer: one value per stacked element
        if st.inv_T is not None:
            raise InvalidInputError("per-customer parameters need the stacked rows undeduplicated")
        a2 = np.concatenate([np.broadcast_to(alpha, x.shape)] * 2)
        b2 = np.concatenate([np.broadcast_to(beta, x.shape)] * 2)
    if not gradient:
        lk = _log_k_value(st.x2 + r, st.shift + s, a2, b2, st.t2)
        if st.inv_T is None or st.inv_tx is None:
            l1 = np.log(p) + lk[: st.n_T]
            l2 = np.log(s) + lk[st.n_T :]
        else:
            l1 = np.log(p) + lk[: st.n_T][st.inv_T]
            l2 = np.log(s) + lk[st.n_T :][st.inv_tx]
        return log_c + np.logaddexp(l1, l2), None, l1, l2
    both = _log_k(st.x2 + r, st.shift + s, a2, b2, st.t2)
    if st.inv_T is None or st.inv_tx is None:
        h = tuple(v[: st.n_T] for v in both)
        g = tuple(v[st.n_T :] for v in both)
    else:
        h = tuple(v[: st.n_T][st.inv_T] for v in both)
        g = tuple(v[st.n_T :][st.inv_tx] for v in both)
    l1 = np.log(p) + h[0]
    l2 = np.log(s) + g[0]
    log_w = np.logaddexp(l1, l2)
    ll = log_c + log_w
    w1 = np.exp(l1 - log_w)
    w2 = 1.0 - w1
    d_r = (special.digamma(r + ux) - special.digamma(r))[inv]
    d_r += np.log(alpha) + w1 * (1.0 / p + h[1]) + w2 * g[1]
    d_alpha = r / alpha + w1 * h[3] + w2 * g[3]
    d_s = np.log(beta) + w1 * h[2] + w2 * (1.0 / s + g[2])
    d_beta = s / beta + w1 * h[4] + w2 * g[4]
    return ll, (d_r, d_alpha, d_s, d_beta), l1, l2


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def _check_params(params: Any) -> FloatArray:
    arr = _validate.as_float_array(params, "params", ndim=1)
    if arr.shape[0] != 4:
        raise InvalidInputError(
            f"params must hold 4 values (r, alpha, s, beta), got {arr.shape[0]}"
        )
    for i, name in enumerate(("r", "alpha", "s", "beta")):
        _validate.check_range(arr[i : i + 1], f"params {name}", low=0.0, low_inclusive=False)
    return arr


def _check_data(
    x: Any, t_x: Any, T: Any, *, names: tuple[str, str, str] = ("frequency", "recency", "T")
) -> tuple[FloatArray, FloatArray, FloatArray]:
    fx, ft, fT = names
    xa = _validate.as_float_array(x, fx, ndim=(0, 1))
    ta = _validate.as_float_array(t_x, ft, ndim=(0, 1))
    Ta = _validate.as_float_array(T, fT, ndim=(0, 1))
    xa, ta, Ta = (np.atleast_1d(v) for v in (xa, ta, Ta))
    _validate.check_same_length(**{fx: xa, ft: ta, fT: Ta})
    _validate.check_range(xa, fx, low=0.0)
    _validate.check_integer_valued(xa, fx)
    # beyond 2**53 a float no longer holds every whole number (x + 1 == x), so
    # the gamma-function differences of the likelihood lose all meaning
    _validate.check_range(
        xa, fx, high=MAX_FREQUENCY, hint="a purchase count beyond 2**53 cannot be exact"
    )
    _validate.check_range(ta, ft, low=0.0)
    _validate.check_range(Ta, fT, low=0.0)
    over = ta > Ta
    if over.any():
        i = int(np.flatnonzero(over)[0])
        raise InvalidInputError(
            f"{ft} must be <= {fT}, got {ft}={float(ta[i])!r} > {fT}={float(Ta[i])!r} at row {i}; "
            "recency is the time of the last purchase, which cannot come after the end "
            "of observation"
        )
    lone = (xa == 0) & (ta != 0)
    if lone.any():
        i = int(np.flatnonzero(lone)[0])
        raise InvalidInputError(
            f"{ft} must be 0 when {fx} is 0, got {ft}={float(ta[i])!r} at row {i}; "
            "a customer without repeat purchases has recency 0"
        )
    return xa, ta, Ta


def _check_horizon(t: Any, name: str = "t") -> FloatArray:
    arr = _validate.as_float_array(t, name, ndim=(0, 1))
    _validate.check_range(arr, name, low=0.0)
    return arr


# ---------------------------------------------------------------------------
# Public (to btyd.py) functions
# ---------------------------------------------------------------------------


def log_likelihood(params: Any, x: Any, t_x: Any, T: Any) -> FloatArray:
    r"""Log-likelihood of each customer's ``(x, t_x, T)`` under the Pareto/NBD model.

    Parameters
    ----------
    params : array_like, shape (4,)
        ``(r, alpha, s, beta)``, all positive.
    x, t_x, T : array_like
        Frequency (repeat purchases), recency and age, one per customer.

    Returns
    -------
    ndarray
        :math:`\log L_i`, finite for every valid customer.

    Raises
    ------
    InvalidInputError
        For parameters that are not positive or data that are not valid
        (see :func:`fit`).

    Notes
    -----
    See the module docstring: the bracket of Fader & Hardie's (2005) eq. 5 is
    rewritten as two positive terms and the Gauss hypergeometric function is
    evaluated as :math:`{}_2F_1(1, a; a+b; z)` with :math:`0 \le z < 1`.

    Examples
    --------
    >>> import numpy as np
    >>> from custrel.btyd._pnbd_math import log_likelihood
    >>> params = np.array([0.5534, 10.5802, 0.6061, 11.6562])
    >>> np.round(log_likelihood(params, [0, 2], [0.0, 30.43], [38.86, 38.86]), 3)
    array([-0.521, -9.555])
    >>> bool(np.isfinite(log_likelihood(params, [10_000], [38.0], [5000.0])[0]))
    True
    """
    prm = _check_params(params)
    xa, ta, Ta = _check_data(x, t_x, T)
    ll, _, _, _ = _parts(prm, xa, ta, Ta, gradient=False)
    return ll


def probability_alive(params: Any, x: Any, t_x: Any, T: Any) -> FloatArray:
    r"""Probability that each customer is still alive at ``T``.

    .. math::

        P(\text{alive}) = \frac{(\alpha+T)^{-(r+x)}(\beta+T)^{-s}}
                               {(r+x)K(T; r+x+1, s) + sK(t_x; r+x, s+1)}

    (Fader & Hardie 2005, eq. 10, in the notation of the module docstring).
    It is 1 when ``t_x == T``.

    Examples
    --------
    >>> import numpy as np
    >>> from custrel.btyd._pnbd_math import probability_alive
    >>> params = np.array([0.5534, 10.5802, 0.6061, 11.6562])
    >>> np.round(probability_alive(params, [0, 2, 2], [0.0, 30.43, 5.0], [38.86] * 3), 3)
    array([0.295, 0.869, 0.13 ])
    """
    prm = _check_params(params)
    xa, ta, Ta = _check_data(x, t_x, T)
    return _alive(prm, xa, ta, Ta)


def _alive(prm: Any, xa: FloatArray, ta: FloatArray, Ta: FloatArray) -> FloatArray:
    """P(alive) for validated inputs (``alpha``, ``beta`` may be per-customer arrays)."""
    r, alpha, s, beta = _entries(prm)
    _, _, l1, l2 = _parts(prm, xa, ta, Ta, gradient=False)
    log_num = -(r + xa) * np.log(alpha + Ta) - s * np.log(beta + Ta)
    # Exactly 1 at t_x == T (the two forms of the numerator agree there in
    # exact arithmetic); elsewhere K decreasing in t gives num <= denominator,
    # and the minimum only removes rounding.
    ratio = np.minimum(np.exp(log_num - np.logaddexp(l1, l2)), 1.0)
    out: FloatArray = np.where(ta == Ta, 1.0, ratio)
    return out


def growth(s: float, t: FloatArray, base: FloatArray) -> FloatArray:
    """``base * (1 - (base/(base+t))^(s-1)) / (s-1)``, continuous at ``s = 1``.

    With ``g = log1p(t/base)`` and ``u = (s-1) g`` this is
    ``base g (1 - e^-u)/u``, the last factor 1 at ``u = 0`` (the removable
    singularity ``s = 1``, taken by its limit for ``|u| < 1e-10``) and
    evaluated without cancellation elsewhere.
    """
    lg = np.log1p(t / base)
    u = (s - 1.0) * lg
    small = np.abs(u) < 1e-10
    with np.errstate(over="ignore"):
        ratio = np.where(small, 1.0 - 0.5 * u, -np.expm1(-u) / np.where(small, 1.0, u))
    out: FloatArray = base * lg * ratio
    return out


def expected_purchases(params: Any, t: Any) -> FloatArray:
    r"""Expected number of purchases in ``(0, t]`` for a new customer.

    .. math::

        E[X(t)] = \frac{r\beta}{\alpha(s-1)}
                  \Big[1 - \Big(\frac{\beta}{\beta+t}\Big)^{s-1}\Big]

    (Fader & Hardie 2005, eq. 17; the limit :math:`(r\beta/\alpha)\log(1+t/\beta)`
    at ``s = 1``).

    Examples
    --------
    >>> import numpy as np
    >>> from custrel.btyd._pnbd_math import expected_purchases
    >>> params = np.array([0.5534, 10.5802, 0.6061, 11.6562])
    >>> np.round(expected_purchases(params, [0.0, 39.0, 78.0]), 4)
    array([0.    , 1.2131, 1.9094])
    """
    prm = _check_params(params)
    ta = _check_horizon(t)
    r, alpha, s, beta = (float(v) for v in prm)
    out: FloatArray = r / alpha * growth(s, ta, np.asarray(beta, dtype=np.float64))
    return out


def conditional_expected_purchases(params: Any, t: Any, x: Any, t_x: Any, T: Any) -> FloatArray:
    r"""Expected purchases in ``(T, T + t]`` given each customer's history.

    .. math::

        E[X(T, T+t) \mid x, t_x, T] = P(\text{alive})\,
            \frac{(r+x)(\beta+T)}{(\alpha+T)(s-1)}
            \Big[1 - \Big(\frac{\beta+T}{\beta+T+t}\Big)^{s-1}\Big]

    (Fader & Hardie 2005, eq. 22). ``t`` is a scalar or one value per customer.

    Examples
    --------
    >>> import numpy as np
    >>> from custrel.btyd._pnbd_math import conditional_expected_purchases
    >>> params = np.array([0.5534, 10.5802, 0.6061, 11.6562])
    >>> np.round(conditional_expected_purchases(params, 39.0, [0, 2], [0.0, 30.43], [38.86] * 2), 4)
    array([0.107 , 1.4551])
    """
    prm = _check_params(params)
    ta = _check_horizon(t)
    xa, txa, Ta = _check_data(x, t_x, T)
    r, alpha, s, beta = (float(v) for v in prm)
    alive = _alive(prm, xa, txa, Ta)
    out: FloatArray = alive * (r + xa) / (alpha + Ta) * growth(s, ta, beta + Ta)
    return out


def probability_of_purchases(params: Any, n: Any, t: Any) -> FloatArray:
    r"""Probability that a new customer makes exactly ``n`` purchases in ``(0, t]``.

    .. math::

        P(X(t)=n) = \frac{\Gamma(r+n)}{\Gamma(r)\,n!}
            \Big(\frac{\alpha}{\alpha+t}\Big)^r \Big(\frac{t}{\alpha+t}\Big)^n
            \Big(\frac{\beta}{\beta+t}\Big)^s
          + \frac{\Gamma(r+n)\,\alpha^r s\beta^s}{\Gamma(r)\,n!}
            \int_0^t \tau^n (\alpha+\tau)^{-(r+n)}(\beta+\tau)^{-(s+1)}\,d\tau

    The first term is the customer alive at ``t``; the second, death at
    :math:`\tau` after ``n`` purchases. This is the integral behind Fader &
    Hardie's (2006) closed form, whose finite sum of hypergeometric terms
    cancels badly for large ``n``; here the integral is evaluated with
    160-point Gauss-Legendre quadrature in :math:`\log\tau`, all in log space.
    ``n`` and ``t`` broadcast against each other.

    Examples
    --------
    >>> import numpy as np
    >>> from custrel.btyd._pnbd_math import probability_of_purchases
    >>> params = np.array([0.5534, 10.5802, 0.6061, 11.6562])
    >>> np.round(probability_of_purchases(params, [0, 1, 2], 39.0), 4)
    array([0.5936, 0.1656, 0.0825])
    """
    prm = _check_params(params)
    na = _validate.as_float_array(n, "n", ndim=(0, 1))
    _validate.check_range(na, "n", low=0.0)
    _validate.check_integer_valued(na, "n")
    ta = _check_horizon(t)
    na, ta = np.broadcast_arrays(np.atleast_1d(na), np.atleast_1d(ta))
    return _pmf(prm, na, ta)


def _pmf(prm: Any, na: FloatArray, ta: FloatArray) -> FloatArray:
    """P(X(t) = n) for validated 1-D ``n`` and ``t`` of one shape.

    ``alpha`` and ``beta`` may be per-customer arrays of that shape too.
    """
    r, alpha, s, beta = _entries(prm)
    out = np.zeros(na.shape[0])
    pos = ta > 0
    out[~pos] = (na[~pos] == 0).astype(np.float64)
    if not pos.any():
        return out
    nn, tt = na[pos], ta[pos]
    alpha, beta = _sub(alpha, pos), _sub(beta, pos)
    log_coef = special.gammaln(r + nn) - special.gammaln(r) - special.gammaln(nn + 1.0)
    alive = (
        log_coef
        + r * (np.log(alpha) - np.log(alpha + tt))
        + nn * (np.log(tt) - np.log(alpha + tt))
        + s * (np.log(beta) - np.log(beta + tt))
    )
    hi = np.log(tt)
    lo = np.minimum(hi, np.log(np.minimum(alpha, beta))) - 45.0 / (nn + 1.0) - 1.0
    half = 0.5 * (hi - lo)
    gl_nodes, gl_weights = gauss_legendre(160)
    y = (lo + half)[None, :] + half[None, :] * gl_nodes[:, None]
    tau = np.exp(y)
    integrand = (
        (nn + 1.0) * y - (r + nn) * np.log(alpha + tau) - (s + 1.0) * np.log(beta + tau)
    ) + np.log(gl_weights)[:, None]
    log_int = special.logsumexp(integrand, axis=0) + np.log(half)
    dead = log_coef + r * np.log(alpha) + np.log(s) + s * np.log(beta) + log_int
    out[pos] = np.exp(np.logaddexp(alive, dead))
    return out


def simulate(
    params: Any, n_customers: int, T: Any, rng: np.random.Generator | int | None = None
) -> dict[str, FloatArray]:
    r"""Simulate ``(frequency, recency, T)`` for new customers from the model.

    Each customer draws :math:`\lambda \sim \mathrm{Gamma}(r, \alpha)`,
    :math:`\mu \sim \mathrm{Gamma}(s, \beta)` and a lifetime
    :math:`\tau \sim \mathrm{Exp}(\mu)`; while alive up to ``T`` the
    repeat purchases form a Poisson process, so the frequency is Poisson with
    mean :math:`\lambda \min(\tau, T)` and, given ``x > 0`` purchases, the
    recency is the largest of ``x`` uniform times on :math:`(0, \min(\tau, T))`.

    Examples
    --------
    >>> import numpy as np
    >>> from custrel.btyd._pnbd_math import simulate
    >>> sim = simulate(np.array([0.55, 10.6, 0.61, 11.7]), 3, 39.0, rng=1)
    >>> sorted(sim)
    ['T', 'frequency', 'recency']
    """
    prm = _check_params(params)
    n = _validate.positive_int(n_customers, "n_customers")
    Ta = _validate.as_float_array(T, "T", ndim=(0, 1))
    _validate.check_range(Ta, "T", low=0.0)
    if Ta.ndim == 1 and Ta.shape[0] != n:
        raise InvalidInputError(f"T has {Ta.shape[0]} values but n_customers is {n}")
    gen = _validate.as_rng(rng)
    r, alpha, s, beta = (float(v) for v in prm)
    Tv = np.broadcast_to(Ta, (n,)).astype(np.float64)
    lam = gen.gamma(r, 1.0 / alpha, size=n)
    mu = gen.gamma(s, 1.0 / beta, size=n)
    life = gen.exponential(1.0, size=n) / np.maximum(mu, np.finfo(np.float64).tiny)
    active = np.minimum(life, Tv)
    mean = lam * active
    top = float(np.max(mean))
    if not top <= 1e15:
        i = int(np.argmax(mean))
        raise InvalidInputError(
            f"T {float(Tv[i])!r} at row {i} gives an expected {top:.3g} purchases in the "
            "simulation, more than 1e+15; simulate a shorter window"
        )
    freq = gen.poisson(mean).astype(np.float64)
    u = gen.random(n)
    with np.errstate(divide="ignore"):
        rec = np.where(freq > 0, active * u ** (1.0 / np.maximum(freq, 1.0)), 0.0)
    return {"frequency": freq, "recency": rec, "T": Tv}


# ---------------------------------------------------------------------------
# Fitting
# ---------------------------------------------------------------------------


@attrs.frozen
class ParetoFit:
    """Maximum-likelihood Pareto/NBD fit (private result; wrapped by btyd).

    Attributes
    ----------
    params : ndarray, shape (4,)
        ``(r, alpha, s, beta)``, read-only.
    log_likelihood : float
        The maximised weighted log-likelihood.
    standard_errors : ndarray, shape (4,)
        From the inverse of the observed information (Hessian of the
        log-likelihood at the optimum); NaN where it is not positive definite.
    n_iterations : int
        Optimizer iterations on the full data.
    message : str
        The optimizer's message.
    """

    params: FloatArray = attrs.field(converter=_validate.readonly)
    log_likelihood: float
    standard_errors: FloatArray = attrs.field(converter=_validate.readonly)
    n_iterations: int
    message: str
    #: the full covariance of (r, alpha, s, beta): the inverse observed information in
    #: log-parameters mapped by the delta method (NaN where it is not positive definite)
    covariance: FloatArray = attrs.field(
        default=np.full((4, 4), np.nan), converter=_validate.readonly
    )


@attrs.frozen
class _Rows:
    """Weighted data rows with their distinct frequencies (private).

    Rows cut into several fixed chunks (:meth:`chunked`) hold one ``_Rows``
    per chunk in ``parts``, each with its own distinct frequencies and
    stacked K inputs; their sums run on ``threads`` threads, in chunk order.
    """

    x: FloatArray
    t_x: FloatArray
    T: FloatArray
    w: FloatArray
    unique_x: tuple[FloatArray, npt.NDArray[np.intp]]
    stacked: _Stacked
    last: dict[bytes, tuple[float, FloatArray]] = attrs.field(factory=dict, eq=False)
    parts: tuple[_Rows, ...] = ()
    threads: int = 1
    #: The parts' sums in worker processes while a fit runs (:func:`_forked`), else None:
    #: ``sums(theta, 0)`` is :func:`_total`, ``sums(theta, 1)`` :func:`_bhhh_leaf`'s.
    sums: Callable[[FloatArray, int], tuple[float, FloatArray]] | None = attrs.field(
        default=None, eq=False
    )

    @classmethod
    def of(cls, x: FloatArray, t_x: FloatArray, T: FloatArray, w: FloatArray) -> _Rows:
        return cls(x, t_x, T, w, np.unique(x, return_inverse=True), _stack(x, t_x, T, dedupe=True))

    @classmethod
    def chunked(cls, chunks: list[tuple[FloatArray, ...]], threads: int) -> _Rows:
        """Rows from :func:`_threads.compressed_chunks` of ``(t_x, x, T, w)``; one chunk: plain."""
        leaves: list[_Rows] = _threads.map_chunks(
            lambda c: cls.of(c[1], c[0], c[2], c[3]), chunks, threads
        )
        if len(leaves) == 1:
            return leaves[0]
        t_x, x, T, w = _threads.join_chunks(chunks)
        first = leaves[0]
        return cls(
            x, t_x, T, w, first.unique_x, first.stacked, parts=tuple(leaves), threads=threads
        )

    def sample(self, size: int) -> _Rows:
        """A deterministic systematic sample of ``size`` customers (not rows).

        Customers are taken at evenly spaced points of the cumulative weight
        (rows are sorted by recency, so the sample is stratified by recency);
        a row drawn ``k`` times gets weight ``k``.
        """
        cols, counts = _threads.systematic_sample((self.t_x, self.x, self.T), self.w, size)
        chunks = _threads.split_sample(*cols, counts)
        return _Rows.chunked(chunks, self.threads)


@contextlib.contextmanager
def _forked(*chain: _Rows) -> Iterator[list[_Rows]]:
    """The rows with their parts' sums (:func:`_total`, BHHH) in worker processes where they pay.

    One set of workers serves every ``_Rows`` given (a fit's rows and its
    samples): their parts are the tasks of one
    :class:`custrel.btyd._threads.ChunkSums`, each ``_Rows`` summing its own
    span of them, so a fit forks once. ``ChunkSums`` decides (Linux, 2
    threads or more, enough rows); the workers end with the block. The sums
    are the same to the last bit either way.
    """
    parts = [leaf for rows in chain for leaf in rows.parts]
    n_rows = sum(int(rows.x.shape[0]) for rows in chain if rows.parts)
    if not parts:
        yield list(chain)
        return
    with _threads.ChunkSums([_total, _bhhh_leaf], parts, chain[0].threads, n_rows=n_rows) as sums:
        if not sums.processes:
            yield list(chain)
            return
        out: list[_Rows] = []
        at = 0
        for rows in chain:
            if rows.parts:
                span = (at, at + len(rows.parts))
                at = span[1]
                rows = attrs.evolve(rows, sums=_span_sums(sums, span))
            out.append(rows)
        yield out


def _span_sums(
    sums: _threads.ChunkSums, span: tuple[int, int]
) -> Callable[[FloatArray, int], tuple[float, FloatArray]]:
    def call(theta: FloatArray, k: int) -> tuple[float, FloatArray]:
        return sums(theta, k, span=span)

    return call


def _total(params: FloatArray, rows: _Rows) -> tuple[float, FloatArray]:
    """Weighted total log-likelihood and its gradient in the natural parameters."""
    if rows.sums is not None:
        return rows.sums(params, 0)
    if rows.parts:
        return _threads.sum_chunks(lambda leaf: _total(params, leaf), rows.parts, rows.threads)
    ll, grad = _leaf_parts(params, rows)
    # multiply-and-sum rather than BLAS dot: pairwise summation, and no
    # BLAS worker threads spinning on two cores
    w = rows.w
    return float(np.sum(w * ll)), np.array([float(np.sum(w * gi)) for gi in grad])


def _leaf_parts(params: FloatArray, leaf: _Rows) -> tuple[FloatArray, Any]:
    """Per-row log-likelihood and gradient (natural parameters) of one chunk of rows."""
    ll, grad, _, _ = _parts(
        params,
        leaf.x,
        leaf.t_x,
        leaf.T,
        gradient=True,
        unique_x=leaf.unique_x,
        stacked=leaf.stacked,
    )
    assert grad is not None
    return ll, grad


def _bhhh_leaf(theta: FloatArray, leaf: _Rows) -> tuple[float, FloatArray]:
    """One chunk's log-likelihood, score and outer-product information (log-parameters), packed."""
    with np.errstate(all="ignore"):
        ll, grad = _leaf_parts(theta, leaf)
    w = leaf.w
    gu = [gi * th for gi, th in zip(grad, theta, strict=True)]
    score = np.array([float(np.sum(w * gi)) for gi in gu])
    info = np.empty((4, 4))
    for i in range(4):
        wg = w * gu[i]
        for j in range(i, 4):
            info[i, j] = info[j, i] = float(np.sum(wg * gu[j]))
    return float(np.sum(w * ll)), np.concatenate([score, info.ravel()])


def _bhhh(rows: _Rows, start: FloatArray) -> FloatArray | None:
    """Scoring steps with the outer product of per-customer gradients (BHHH).

    ``sum_i w_i g_i g_i'`` (``g_i`` the gradient of customer i's
    log-likelihood in log-parameters) estimates the information matrix at no
    extra cost, so each step costs one pass over the data. It always gives an
    ascent direction; steps are capped at 2 in log-parameters and halved
    until the log-likelihood rises. Returns the point once the steps fall
    below 1e-2, or earlier when they stop shrinking (a ridge, where the
    estimate is poor); the Newton steps of :func:`_polish` finish from there.
    ``None`` means the data gave no finite value or no ascent.
    """
    u = np.log(start)

    def evaluate(uu: FloatArray) -> tuple[float, FloatArray, FloatArray] | None:
        if np.any(np.abs(uu) > _LOG_BOUND):
            return None
        theta = np.exp(uu)
        if rows.sums is not None:  # in worker processes, summed in chunk order
            total, packed = rows.sums(theta, 1)
        elif rows.parts:  # chunk by chunk on the threads, summed in chunk order
            total, packed = _threads.sum_chunks(
                lambda leaf: _bhhh_leaf(theta, leaf), rows.parts, rows.threads
            )
        else:
            total, packed = _bhhh_leaf(theta, rows)
        score, info = packed[:4], packed[4:].reshape(4, 4)
        if not (np.isfinite(total) and np.all(np.isfinite(score)) and np.all(np.isfinite(info))):
            return None
        return total, score, info

    cur = evaluate(u)
    if cur is None:
        return None
    sizes: list[float] = []
    for it in range(60):
        total, score, info = cur
        try:
            step = np.linalg.solve(info + 1e-12 * np.trace(info) * np.eye(4), score)
        except np.linalg.LinAlgError:
            return None
        step *= min(1.0, _BHHH_CAP / max(float(np.max(np.abs(step))), 1e-300))
        for _ in range(30):
            new = evaluate(u + step)
            if new is not None and new[0] >= total - 1e-14 * abs(total):
                break
            step *= 0.5
        else:
            return None
        u = u + step
        cur = new
        sizes.append(float(np.max(np.abs(step))))
        if sizes[-1] < 1e-2:
            return np.exp(u)
        if it >= 8 and sizes[-1] > 0.3 * sizes[-5]:
            # creeping along a ridge, where the outer-product estimate is
            # poor: hand over to Newton steps with the true Hessian
            return np.exp(u)
    return np.exp(u)


def _objective(rows: _Rows) -> Any:
    """Negative mean log-likelihood and its gradient in log-parameters."""
    scale = 1.0 / float(np.sum(rows.w))

    def objective(u: FloatArray) -> tuple[float, FloatArray]:
        key = np.asarray(u, dtype=np.float64).tobytes()
        if key in rows.last:  # the optimizers ask for the same point twice
            f, g = rows.last[key]
            return f, g.copy()
        if np.any(np.abs(u) > _LOG_BOUND):
            return np.inf, np.zeros(4)
        theta = np.exp(u)
        with np.errstate(all="ignore"):
            ll, grad = _total(theta, rows)
        if not np.isfinite(ll) or not np.all(np.isfinite(grad)):
            return np.inf, np.zeros(4)
        out = (-ll * scale, -grad * theta * scale)
        rows.last.clear()
        rows.last[key] = (out[0], out[1].copy())
        return out

    return objective


def _maximize(
    rows: _Rows, start: FloatArray
) -> tuple[FloatArray, float, int, str, FloatArray | None]:
    """Maximise over log-parameters: BFGS with the analytic gradient, then Newton.

    BFGS runs to a moderate tolerance; the Hessian by differences of the
    analytic gradient at that point then drives a few Newton steps to full
    precision and is returned (total log-likelihood, log-parameters) for the
    standard errors. scipy's BFGS is plain numpy on 4x4 matrices, which
    matters: L-BFGS-B's compiled core calls BLAS, whose worker threads spin
    and cost more than the likelihood itself on a busy two-core machine. When
    BFGS or the Newton steps fail, L-BFGS-B with bounds takes over.
    """
    from scipy import optimize  # imported on first fit (import custrel stays quick)

    objective = _objective(rows)
    total_w = float(np.sum(rows.w))
    u0 = np.log(start)
    near = _bhhh(rows, start)
    if near is not None:
        polished = _polish(rows, near, None)
        if polished is not None:
            params, ll, it, _, hess = polished
            return params, ll, it, "converged: BHHH scoring, then Newton", hess
    if not np.isfinite(objective(u0)[0]):
        raise ConvergenceError(
            f"Pareto/NBD: the log-likelihood is not finite at the starting values {start!r}; "
            "pass other starting values with initial=..., or check the scale of frequency, "
            "recency and T"
        )
    with np.errstate(all="ignore"):
        res = optimize.minimize(
            objective, u0, jac=True, method="BFGS", options={"gtol": _BFGS_GTOL, "maxiter": 500}
        )
    u = np.asarray(res.x, dtype=np.float64)
    if np.all(np.isfinite(u)) and np.all(np.abs(u) < _LOG_BOUND) and np.isfinite(res.fun):
        polished = _polish(rows, np.exp(u), None)
        if polished is not None:
            params, ll, it, _, hess = polished
            message = f"converged: BFGS ({res.message}), then Newton"
            return params, ll, int(res.nit) + it, message, hess
    res = optimize.minimize(
        objective,
        u0,
        jac=True,
        method="L-BFGS-B",
        bounds=[(-_LOG_BOUND, _LOG_BOUND)] * 4,
        options={"maxiter": 1000, "ftol": 1e-12, "gtol": 1e-8, "maxcor": 10},
    )
    f, g = float(res.fun), np.asarray(res.jac, dtype=np.float64)
    gmax = float(np.max(np.abs(g)))
    # a search that stopped with estimates beyond e^16 goes back to fit(), which says
    # which parameter ran off (no finite maximum) instead of blaming the optimizer
    running_off = bool(np.any(np.abs(np.asarray(res.x)) > _RUNAWAY))
    if not np.isfinite(f) or (not res.success and gmax > 1e-5 and not running_off):
        raise ConvergenceError(
            f"Pareto/NBD: the optimizer did not converge: {res.message} "
            f"(after {res.nit} iterations, largest gradient {gmax:.3g}); "
            "check the data or pass other starting values with initial=..."
        )
    return np.exp(res.x), -f * total_w, int(res.nit), f"L-BFGS-B: {res.message}", None


def _polish(
    rows: _Rows, start: FloatArray, hess_mean_u: FloatArray | None
) -> tuple[FloatArray, float, int, str, FloatArray] | None:
    """Newton iterations in log-parameters, refreshing the Hessian only while far.

    The Hessian of the total log-likelihood comes from forward differences of
    the analytic gradient (four more evaluations). It is refreshed while the
    steps are long (> 1e-3) or stop shrinking fast; near the optimum the last
    one is reused (chord method), each iteration then costing one evaluation.
    ``hess_mean_u`` (the mean Hessian of the objective from a subsample fit)
    serves for the first step. Steps are taken along the absolute eigenvalues
    of the Hessian (a descent direction even where the objective is not
    convex), capped at 2 in log-parameters, and halved until the objective
    does not rise. Returns ``None`` when the iterations do not converge (the
    caller falls back to L-BFGS-B); otherwise the estimates, the maximised
    log-likelihood, the iteration count, a message and the Hessian of the
    total log-likelihood computed on these rows within 1e-3 of the optimum
    in log-parameters, for the standard errors.
    """
    objective = _objective(rows)
    total_w = float(np.sum(rows.w))
    u = np.log(start)
    f, g = objective(u)
    hess_total: FloatArray | None = None
    mean_h = hess_mean_u
    u_hess = u
    last = np.inf
    for it in range(1, 40):
        if mean_h is None or (it > 1 and (last > 1e-2 or hess_total is None)):
            hess_total = _hessian_u(np.exp(u), rows, -g * total_w)
            if not np.all(np.isfinite(hess_total)):
                return None
            mean_h = -hess_total / total_w
            u_hess = u
        lam, vec = np.linalg.eigh(mean_h)
        lam = np.maximum(np.abs(lam), 1e-8 * max(float(np.max(np.abs(lam))), 1e-300))
        step = -vec @ ((vec.T @ g) / lam)
        step *= min(1.0, 2.0 / max(float(np.max(np.abs(step))), 1e-300))
        for _ in range(30):
            f_new, g_new = objective(u + step)
            if np.isfinite(f_new) and f_new <= f + 1e-14 * abs(f):
                break
            step *= 0.5
        else:
            return None
        size = float(np.max(np.abs(step)))
        last = np.inf if size > 0.1 * last else size  # inf: steps stopped shrinking fast
        u, f, g = u + step, f_new, g_new
        if float(np.max(np.abs(u))) > _RUNAWAY + 2.0:
            # running off to a boundary (no interior maximum, refused by the caller):
            # stop here, where each step cost a Hessian (one purchase count of 1e12 took
            # 9 s of Newton steps towards alpha = 3e-11); the fallback decides
            return None
        if (size < 1e-7 or float(np.max(np.abs(g))) < 1e-11) and hess_total is not None:
            if float(np.max(np.abs(u - u_hess))) > 1e-3:  # standard errors need it close
                hess_total = _hessian_u(np.exp(u), rows, -g * total_w)
            return np.exp(u), -f * total_w, it, "Newton", hess_total
    return None


def _hessian_u(params: FloatArray, rows: _Rows, grad_u: FloatArray | None = None) -> FloatArray:
    """Hessian of the total log-likelihood in log-parameters (forward differences).

    ``grad_u`` is the gradient in log-parameters at ``params`` when the caller
    has it. At the optimum the gradient is zero, so this is also the observed
    information in log-parameters; the step 1e-6 keeps truncation and
    rounding errors near 1e-6 relative.
    """
    u = np.log(params)
    g0 = _total(params, rows)[1] * params if grad_u is None else grad_u
    hess = np.empty((4, 4))
    step = 1e-6
    for i in range(4):
        e = np.zeros(4)
        e[i] = step
        th = np.exp(u + e)
        hess[i] = (_total(th, rows)[1] * th - g0) / step
    return 0.5 * (hess + hess.T)


def _standard_errors(hess_u: FloatArray, params: FloatArray) -> FloatArray:
    """Standard errors from the Hessian in log-parameters (delta method)."""
    try:
        cov = np.linalg.inv(-hess_u)
    except np.linalg.LinAlgError:
        return np.full(4, np.nan)
    var = np.diag(cov)
    se: FloatArray = np.where(var > 0, np.sqrt(np.abs(var)), np.nan) * params
    return se


def _covariance(hess_u: FloatArray, params: FloatArray) -> FloatArray:
    """The covariance of the parameters from the Hessian in log-parameters (delta method)."""
    try:
        cov_u = np.linalg.inv(-hess_u)
    except np.linalg.LinAlgError:
        return np.full((4, 4), np.nan)
    if not np.all(np.diag(cov_u) > 0):
        return np.full((4, 4), np.nan)
    out: FloatArray = cov_u * np.outer(params, params)
    return out


def _start(x: FloatArray, T: FloatArray, w: FloatArray) -> FloatArray:
    """Method-of-moments-style starting values: mean rate x/T, unit shapes."""
    mean_T = max(float(np.sum(w * T) / w.sum()), 1e-3)
    mean_x = max(float(np.sum(w * x) / w.sum()), 1e-2)
    return np.array([1.0, mean_T / mean_x, 1.0, mean_T])


def _samples(rows: _Rows) -> list[_Rows]:
    """The systematic samples a fit of ``rows`` starts from: each a sample of the one before.

    A sample of 5,000 customers (a tenth of them for more than 50,000, up
    to 100,000; at most a quarter of all), then a sample of that sample
    while it still has more than :data:`_SUBSAMPLE` distinct rows.
    """
    out: list[_Rows] = []
    while True:
        total_w = float(np.sum(rows.w))
        size = max(_SUBSAMPLE_SIZE, min(total_w // _SUBSAMPLE_SHARE, _SUBSAMPLE_MAX))
        rows = rows.sample(int(min(size, total_w // 4)))
        out.append(rows)
        if rows.x.shape[0] <= _SUBSAMPLE:
            return out


def _fit_sampled(
    chain: list[_Rows], start: FloatArray
) -> tuple[FloatArray, float, int, str, FloatArray | None] | None:
    """Newton steps on ``chain[0]`` from the fit on its sample ``chain[1]`` (None: that failed).

    ``chain`` is the rows and :func:`_samples` of them. The sample's own fit
    is :func:`_maximize`, or this same scheme on the sample of the sample
    when there is one (so 10M rows cost a fit on 10,000, a few Newton steps
    on 100,000 and a few on all).
    """
    rows, sub = chain[0], chain[1]
    h_sub: FloatArray | None = None
    try:
        got = _fit_sampled(chain[1:], start) if len(chain) > 2 else None
        sub_start, _, _, _, h_sub = _maximize(sub, start) if got is None else got
    except ConvergenceError:  # a small sample can lack an interior maximum
        sub_start = start
    if not np.all(np.abs(np.log(sub_start)) < _RUNAWAY):
        return None
    if h_sub is None:
        h_sub = _hessian_u(sub_start, sub)
    polished = None
    if np.all(np.isfinite(h_sub)):
        polished = _polish(rows, sub_start, -h_sub / float(np.sum(sub.w)))
    if polished is None:
        return None
    message = "converged: BFGS and Newton on a subsample, then Newton on all rows"
    return (polished[0], polished[1], polished[2], message, polished[4])


def fit(
    x: Any,
    t_x: Any,
    T: Any,
    w: Any = None,
    *,
    x0: Any = None,
    threads: int | None = None,
    checked: bool = False,
) -> ParetoFit:
    r"""Fit the Pareto/NBD model by maximum likelihood.

    Parameters
    ----------
    x, t_x, T : array_like
        Frequency (repeat purchases, whole numbers >= 0), recency (0 when the
        frequency is 0) and age, one per customer (or per weighted row).
    w : array_like, optional
        Positive weights (counts of identical customers); ones by default.
    x0 : array_like, optional
        Starting values ``(r, alpha, s, beta)``.
    threads : int, optional
        Cores for the likelihood sums (else ``CUSTREL_THREADS``, else every
        core): threads, or on Linux, from 40,000 distinct rows, worker
        processes forked once per fit. The result is the same to the last
        bit for any value.
    checked : bool
        The caller has validated ``x``, ``t_x``, ``T`` and ``w`` as this
        function does (float arrays, weights given): skip those passes.

    Returns
    -------
    ParetoFit

    Raises
    ------
    InvalidInputError
        Recency above ``T``, negative or fractional frequency, recency that is
        not 0 for frequency 0, NaN or infinite values, weights that are not
        positive, inconsistent lengths.
    EmptyInputError
        No customers.
    ConvergenceError
        The optimizer failed (its message is included).

    Notes
    -----
    Identical ``(x, t_x, T)`` rows are first merged into weighted rows. The
    weighted log-likelihood is maximised over :math:`\log` of the parameters:
    scoring steps with the BHHH information estimate (outer products of the
    customers' analytic gradients, see the module docstring) to a loose
    tolerance, then Newton steps with the Hessian from forward differences of
    the analytic gradient; BFGS and L-BFGS-B are fallbacks. When more than 20,000 distinct rows remain, the
    same fit on a systematic sample of 5,000 customers (a tenth of them for
    more than 50,000, up to 100,000) gives the starting
    values and a first Hessian, so the full data are only used for the last
    few Newton steps. Standard errors come from the inverse observed
    information (that Hessian). A fit whose estimates run beyond
    :math:`e^{\pm 16}` or whose information matrix is not positive definite
    has no interior maximum and raises :class:`~custrel.errors.ConvergenceError`.

    Examples
    --------
    >>> import numpy as np
    >>> from custrel.btyd._pnbd_math import fit, simulate
    >>> sim = simulate(np.array([0.55, 10.6, 0.61, 11.7]), 3000, 39.0, rng=7)
    >>> res = fit(sim["frequency"], sim["recency"], sim["T"])
    >>> res.params.shape, bool(res.log_likelihood < 0)
    ((4,), True)
    """
    if checked:
        xa, ta, Ta, wa = x, t_x, T, w
    else:
        xa, ta, Ta = _check_data(x, t_x, T)
        wa = _validate.weights_array(w, xa.shape[0], "w")
    if not np.any(xa > 0):
        raise InvalidInputError(
            "frequency is 0 for every customer; the Pareto/NBD model needs some repeat "
            "purchases to be fitted"
        )
    start = _start(xa, Ta, wa) if x0 is None else _check_params(x0).copy()
    n_threads = _threads.resolve(threads)
    # identical rows merged within each fixed chunk (each sorted by recency)
    chunks = _threads.regrouped(_threads.compressed_chunks([ta, xa, Ta], wa, n_threads))
    # the sums of every evaluation in worker processes where they pay (ended with the block)
    whole = _Rows.chunked(chunks, n_threads)
    sampled = whole.x.shape[0] > _SUBSAMPLE and x0 is None
    # the sums of every evaluation, the samples' too, in one set of worker processes where
    # they pay (forked once, ended with the block)
    with _forked(whole, *(_samples(whole) if sampled else [])) as chain:
        rows = chain[0]
        result = _fit_sampled(chain, start) if sampled else None
        if result is None:
            result = _maximize(rows, start)
        params, ll, nit, message, hess = result
        runaway = np.abs(np.log(params)) > _RUNAWAY
        if runaway.any():
            detail = " and ".join(
                f"{name} ran to {value:.3g}"
                for name, value, bad in zip(
                    ("r", "alpha", "s", "beta"), params, runaway, strict=True
                )
                if bad
            )
            raise ConvergenceError(
                f"Pareto/NBD: the likelihood has no finite maximum for these data: {detail} "
                f"({message}); the data cannot identify the model (too few customers, or "
                "no heterogeneity in one of the rates)"
            )
        hess = _hessian_u(params, rows) if hess is None else hess
    if not np.all(np.linalg.eigvalsh(hess) < 0):
        raise ConvergenceError(
            "Pareto/NBD: the likelihood has no interior maximum for these data: the "
            "information matrix is not positive definite at "
            + ", ".join(
                f"{n}={v:.4g}" for n, v in zip(("r", "alpha", "s", "beta"), params, strict=True)
            )
            + f" ({message}); the data cannot identify the model (too few customers, or "
            "no heterogeneity in one of the rates)"
        )
    se = _standard_errors(hess, params)
    return ParetoFit(
        params=params,
        log_likelihood=ll,
        standard_errors=se,
        n_iterations=nit,
        message=message,
        covariance=_covariance(hess, params),
    )
