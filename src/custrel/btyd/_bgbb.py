"""The BG/BB model for discrete transaction opportunities (Fader, Hardie & Shang 2010)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _numeric
from custrel import _validate as v
from custrel._lazy import LazyModule
from custrel.btyd import _threads
from custrel.btyd._base import RepeatPurchaseModel
from custrel.btyd._common import (
    _BGBB_SHORT,
    _betaln,
    _discounted_sum,
    _gammaln,
    _geometric,
    _initial,
    _psi,
    _psi_diff,
    _warn_fit,
    _wsum,
    _wsums,
)

special = LazyModule("scipy.special")  # imported on first use (import time)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


# ---------------------------------------------------------------------------
# BG/BB (discrete opportunities)
# ---------------------------------------------------------------------------


def _check_terms(rows: int, width: int) -> None:
    """Refuse likelihood terms (rows x (width + 1) cells) beyond ``CUSTREL_MAX_CELLS``."""
    v.check_budget(
        float(rows) * (width + 1),
        "the BG/BB likelihood terms (distinct histories x opportunities after the last "
        "transaction)",
        budget=v.max_cells(),
        culprit=f"T - recency = {width}",
        env="CUSTREL_MAX_CELLS",
    )


def _bgbb_terms(
    x: FloatArray, tx: FloatArray, n: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """The (M, G, D) arguments of each likelihood term and the mask of real terms.

    Term j of customer i is B(alpha + x, beta + M) B(gamma + G, delta + D) /
    (B(alpha, beta) B(gamma, delta)); column 0 is the "alive throughout" term,
    columns 1.. the "dropped out after opportunity tx + i" terms.
    """
    width = int(np.max(n - tx)) if len(n) else 0
    _check_terms(len(x), width)
    i = np.arange(width, dtype=np.float64)[None, :]
    mask_rest = i < (n - tx)[:, None]
    m = np.concatenate([(n - x)[:, None], tx[:, None] - x[:, None] + i], axis=1)
    g = np.concatenate([np.zeros((len(x), 1)), np.ones((len(x), width))], axis=1)
    d = np.concatenate([n[:, None], tx[:, None] + i], axis=1)
    mask = np.concatenate([np.ones((len(x), 1), dtype=bool), mask_rest], axis=1)
    m = np.where(mask, m, 0.0)
    d = np.where(mask, d, 0.0)
    return m, g, d, x[:, None] + np.zeros_like(m), mask


#: Dropout terms per block: each block's first term from Beta functions, the rest by the
#: ratio of successive terms (so the rounding of a running sum spans one block only).
_BLOCK = 64
#: Dropout terms (columns) per pass of :func:`_log_terms`: bounds its temporaries.
_PASS = 1 << 14


def _log_terms(
    theta: Any, x: FloatArray, tx: FloatArray, n: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Log of the likelihood's "alive through n" term and of the sum of its dropout terms.

    Per history, with ``c = B(alpha, beta) B(gamma, delta)``: ``l_0 = log B(alpha + x,
    beta + n - x) B(gamma, delta + n) / c`` and ``log sum_{i < n - t_x} B(alpha + x,
    beta + t_x - x + i) B(gamma + 1, delta + t_x + i) / c`` (-inf without dropout
    terms), the terms of :func:`_bgbb_terms` without its rows x opportunities arrays.
    Successive dropout terms differ by the factor ``(1 - (alpha + x) / (alpha + beta +
    t_x + i)) (1 - (gamma + 1) / (gamma + 1 + delta + t_x + i))``, so within a block of
    :data:`_BLOCK` terms only the first takes Beta functions: ten times cheaper than
    Beta functions for every term (a forecast at a far date spans hundreds of thousands
    of opportunities), in passes of :data:`_PASS` terms over the histories that still
    have terms there, with a running log-sum-exp.
    """
    alpha, beta, gamma, delta = (float(p) for p in theta)
    c = _betaln(alpha, beta) + _betaln(gamma, delta)
    ax = alpha + x
    l0: FloatArray = _betaln(ax, beta + n - x) + _betaln(gamma, delta + n) - c
    count = n - tx  # dropout terms per history
    bp, dp = beta + tx - x, delta + tx
    best = np.full(len(x), -np.inf)  # running max and sum of exp(term - max)
    total = np.zeros(len(x))
    width = int(np.max(count)) if len(x) else 0
    _check_terms(len(x), width)  # the same budget as the fit's terms (CUSTREL_MAX_CELLS)
    steps = np.arange(_BLOCK, dtype=np.float64)
    for lo in range(0, width, _PASS):
        rows = np.flatnonzero(count > lo)
        hi = min(lo + _PASS, -(-width // _BLOCK) * _BLOCK)
        starts = np.arange(lo, hi, _BLOCK, dtype=np.float64)
        r_ax, r_bp, r_dp = ax[rows, None, None], bp[rows, None, None], dp[rows, None, None]
        i = starts[None, :, None] + steps[None, None, :]  # (1, blocks, _BLOCK)
        ratio = np.log1p(-r_ax / (r_ax + r_bp + i)) + np.log1p(
            -(gamma + 1.0) / (gamma + 1.0 + r_dp + i)
        )
        first = _betaln(r_ax[..., 0], r_bp[..., 0] + starts) + _betaln(
            gamma + 1.0, r_dp[..., 0] + starts
        )
        terms = np.empty_like(ratio)
        terms[..., 0] = first - c
        np.cumsum(ratio[..., :-1], axis=2, out=terms[..., 1:])
        terms[..., 1:] += terms[..., :1]
        terms = terms.reshape(len(rows), -1)
        terms[i.reshape(1, -1) >= count[rows, None]] = -np.inf
        pass_max = np.max(terms, axis=1)
        new_best = np.maximum(best[rows], pass_max)
        total[rows] = total[rows] * np.exp(best[rows] - new_best) + np.sum(
            np.exp(terms - new_best[:, None]), axis=1
        )
        best[rows] = new_best
    with np.errstate(divide="ignore"):  # no dropout terms: log 0 = -inf
        log_rest: FloatArray = np.where(total > 0, best + np.log(total), -np.inf)
    return l0, log_rest


def _bgbb_loglik(
    theta: FloatArray,
    x: FloatArray,
    tx: FloatArray,
    n: FloatArray,
    w: FloatArray | None = None,
    terms: tuple[FloatArray, FloatArray, FloatArray, FloatArray, npt.NDArray[np.bool_]]
    | None = None,
) -> tuple[FloatArray, FloatArray | None]:
    """Per-customer log-likelihood and (with ``w``) the weighted gradient.

    ``terms`` is :func:`_bgbb_terms` of the data when the caller keeps it
    between evaluations (it does not depend on the parameters).
    """
    alpha, beta, gamma, delta = (float(p) for p in theta)
    m, g, d, xx, mask = _bgbb_terms(x, tx, n) if terms is None else terms
    log_terms = (
        _betaln(alpha + xx, beta + m)
        - _betaln(alpha, beta)
        + _betaln(gamma + g, delta + d)
        - _betaln(gamma, delta)
    )
    log_terms = np.where(mask, log_terms, -np.inf)
    ll: FloatArray = special.logsumexp(log_terms, axis=1)
    if w is None:
        return ll, None
    soft = np.exp(log_terms - ll[:, None])
    ab = _psi(alpha + beta + xx + m)
    gd = _psi(gamma + delta + g + d)
    da = (soft * (_psi(alpha + xx) - ab)).sum(axis=1) - (_psi(alpha) - _psi(alpha + beta))
    db = (soft * (_psi(beta + m) - ab)).sum(axis=1) - (_psi(beta) - _psi(alpha + beta))
    dg = (soft * (_psi(gamma + g) - gd)).sum(axis=1) - (_psi(gamma) - _psi(gamma + delta))
    dd = (soft * (_psi(delta + d) - gd)).sum(axis=1) - (_psi(delta) - _psi(gamma + delta))
    return ll, _wsums(w, da, db, dg, dd)


@attrs.frozen(eq=False, repr=False)
class BGBBModel(RepeatPurchaseModel):
    r"""A fitted BG/BB model (Fader, Hardie & Shang 2010); build it with :func:`fit_bgbb`.

    At each discrete transaction opportunity an active customer buys with
    probability :math:`p \sim \mathrm{Beta}(\alpha, \beta)`; before each
    opportunity the customer drops out with probability
    :math:`\theta \sim \mathrm{Beta}(\gamma, \delta)`. ``frequency`` is the
    number of transactions in the ``T`` opportunities (the first purchase,
    which defined the cohort, not counted) and ``recency`` the number of the
    opportunity with the last one; ``t`` counts future opportunities.

    Attributes
    ----------
    params : Mapping[str, float]
        ``alpha``, ``beta``, ``gamma``, ``delta``.
    log_likelihood : float
        The maximised log-likelihood (weighted sum).
    standard_errors : Mapping[str, float]
        Standard errors from the inverse Hessian.
    covariance : numpy.ndarray
        Estimated covariance matrix.
    n_customers : float
        Customers fitted on (sum of the weights).
    n_iterations : int
        Optimizer iterations.
    message : str
        The optimizer's message.

    Notes
    -----
    .. math::

        E[X(n^*)\mid x, t_x, n] = \frac{1}{L}\frac{B(\alpha+x+1, \beta+n-x)}{B(\alpha,\beta)}
        \frac{\delta}{\gamma-1}\frac{\Gamma(\gamma+\delta)}{\Gamma(1+\delta)}
        \left[\frac{\Gamma(1+\delta+n)}{\Gamma(\gamma+\delta+n)} -
        \frac{\Gamma(1+\delta+n+n^*)}{\Gamma(\gamma+\delta+n+n^*)}\right]

    written as :math:`\frac{T_0}{L}\,\frac{\alpha+x}{\alpha+\beta+n}\,
    \sum_{i=1}^{n^*} E[(1-\theta)^i]` (:math:`T_0` the "alive through
    :math:`n`" term of the likelihood, :math:`\theta \sim
    \mathrm{Beta}(\gamma, \delta+n)`), the sum evaluated without the
    removable singularity at :math:`\gamma = 1` and without cancellation for
    large :math:`\gamma`, :math:`\delta + n` or :math:`n^*`.
    ``probability_alive`` is the probability of being active at opportunity
    :math:`n + 1`, :math:`\frac{T_0}{L}\frac{\delta+n}{\gamma+\delta+n}`: a
    product of two numbers in [0, 1]. Predictions are finite for every
    positive parameter.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Shang, J. (2010). Customer-base analysis
    in a discrete-time noncontractual setting. *Marketing Science* 29(6),
    1086-1108.
    """

    _param_names: ClassVar[tuple[str, ...]] = ("alpha", "beta", "gamma", "delta")
    _discrete: ClassVar[bool] = True

    def _ll(self, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        # discrete histories repeat: evaluate the (customers x terms) sum once per
        # distinct (x, t_x, n), so memory follows the distinct histories, not the customers
        (xu, txu, nu), _, inv = _numeric.compress_rows(
            [x.ravel(), tx.ravel(), big_t.ravel()], np.ones(x.size)
        )
        return _bgbb_loglik(self._theta(), xu, txu, nu)[0][inv].reshape(x.shape)

    def _future(self, t: FloatArray, n: FloatArray) -> FloatArray:
        r"""F(t, n): expected opportunities survived among the next t, alive at n.

        :math:`\sum_{i=1}^{t} E[(1-\theta)^i]` for :math:`\theta \sim
        \mathrm{Beta}(\gamma, d)`, :math:`d = \delta + n`, is
        :math:`d\,(1 - e^{\Delta})/(\gamma - 1)` with
        :math:`\Delta = \ln\frac{\Gamma(1+d+t)\,\Gamma(\gamma+d)}
        {\Gamma(\gamma+d+t)\,\Gamma(1+d)} = (1-\gamma) R`. Written as
        :math:`F = d R\,(1 - e^{-v})/v`, :math:`v = (\gamma-1) R`, it has no
        singularity at :math:`\gamma = 1` (the last factor is 1 at
        :math:`v = 0`). :math:`R` is taken without cancellation: for
        :math:`t \le 32` as :math:`\sum_{j<t} \log(1+u_j)/u_j / (\gamma+d+j)`,
        :math:`u_j = (1-\gamma)/(\gamma+d+j)`; for longer windows as the mean of
        :math:`\psi(c+d+t) - \psi(c+d)` over :math:`c \in [1, \gamma]` (8-point
        Gauss-Legendre) when :math:`|\gamma - 1| \le 1/2`, and from two
        ``betaln`` values otherwise. Non-negative, increasing in ``t`` and
        finite for every positive parameter.
        """
        _, _, gamma, delta = self._theta()
        tb, nb = np.broadcast_arrays(np.asarray(t, dtype=np.float64), n)
        d = delta + nb
        g1 = gamma - 1.0
        short = tb <= _BGBB_SHORT
        r_val = np.empty(tb.shape)
        if short.any():
            j = np.arange(_BGBB_SHORT, dtype=np.float64)
            ds, ts = d[short][:, None], tb[short][:, None]
            u = -g1 / (gamma + ds + j)
            small = np.abs(u) < 1e-12
            lr = np.where(small, 1.0 - 0.5 * u, np.log1p(u) / np.where(small, 1.0, u))
            r_val[short] = np.sum(np.where(j < ts, lr / (gamma + ds + j), 0.0), axis=1)
        long_ = ~short
        if long_.any():
            dl, tl = d[long_], tb[long_]
            # the mean over c in [1, gamma] by Gauss-Legendre where the nearest pole of the
            # integrand (c = -d) is at least 3 half-widths from the interval's centre
            quad = 0.5 * (1.0 + gamma) + dl >= 1.5 * abs(g1)
            r_long = np.empty(dl.shape)
            if quad.any():
                nodes, weights = _numeric.gauss_legendre(16)
                c = 1.0 + 0.5 * g1 * (1.0 + nodes)
                dd, tt = dl[quad][:, None], tl[quad][:, None]
                r_long[quad] = np.sum(0.5 * weights * _psi_diff(c + dd, tt), axis=1)
            if not quad.all():  # d small against gamma: no cancellation in the betaln values
                dq, tq = dl[~quad], tl[~quad]
                if g1 > 0:
                    r_long[~quad] = (_betaln(1.0 + dq + tq, g1) - _betaln(1.0 + dq, g1)) / -g1
                else:
                    r_long[~quad] = (_betaln(gamma + dq, -g1) - _betaln(gamma + dq + tq, -g1)) / -g1
            r_val[long_] = r_long
        r_val = np.maximum(r_val, 0.0)  # R >= 0 exactly: each term is positive
        v_ = g1 * r_val
        tiny = np.abs(v_) < 1e-12
        with np.errstate(over="ignore"):
            ratio = np.where(tiny, 1.0 - 0.5 * v_, -np.expm1(-v_) / np.where(tiny, 1.0, v_))
        out: FloatArray = d * r_val * ratio
        return out

    def _expected(self, t: FloatArray) -> FloatArray:
        alpha, beta, _, _ = self._theta()
        out: FloatArray = alpha / (alpha + beta) * self._future(t, np.zeros_like(t))
        return out

    def _alive_share(self, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        """Log of T_0 / L: the share of the "alive through opportunity n" term in L (<= 0).

        With ``m`` the largest log-term, ``log(T_0/L) = (l_0 - m) - log(sum e^(l_j - m))``;
        the first part is <= 0 and the sum holds the term ``e^0 = 1``, so its log
        is >= 0: the share never exceeds 1, also in floating point.
        """
        (xu, txu, nu), _, inv = _numeric.compress_rows(
            [x.ravel(), tx.ravel(), big_t.ravel()], np.ones(x.size)
        )
        l0, log_rest = _log_terms(self._theta(), xu, txu, nu)
        top = np.maximum(l0, log_rest)
        share = (l0 - top) - np.log(np.exp(l0 - top) + np.exp(log_rest - top))
        out: FloatArray = share[inv].reshape(x.shape)
        return out

    def _alive(self, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        # P(alive at n + 1) = T_0 / L * B(gamma, delta + n + 1) / B(gamma, delta + n),
        # the last ratio being (delta + n) / (gamma + delta + n): a product of two
        # numbers in [0, 1] (no ratio of two separately computed likelihoods)
        _, _, gamma, delta = self._theta()
        log_keep = np.log1p(-gamma / (gamma + delta + big_t))
        out: FloatArray = np.exp(self._alive_share(x, tx, big_t) + log_keep)
        return out

    def _conditional_factor(self, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
        """E[p | alive through n, history] * T_0 / L: the t-free factor of the forecast."""
        alpha, beta, _, _ = self._theta()
        out: FloatArray = np.exp(self._alive_share(x, tx, big_t)) * (
            (alpha + x) / (alpha + beta + big_t)
        )
        return out

    def _conditional(
        self, t: FloatArray, x: FloatArray, tx: FloatArray, big_t: FloatArray
    ) -> FloatArray:
        out: FloatArray = self._conditional_factor(x, tx, big_t) * self._future(t, big_t)
        return out

    def _discounted_purchases(
        self,
        horizon: int,
        period: float,
        rate: float,
        x: FloatArray,
        tx: FloatArray,
        big_t: FloatArray,
    ) -> FloatArray:
        factor = self._conditional_factor(x, tx, big_t)
        (nu,), _, inv = _numeric.compress_rows([big_t.ravel()], np.ones(big_t.size))
        total = _discounted_sum(lambda t: self._future(t, nu), horizon, period, rate, nu.shape)
        out: FloatArray = factor * total[inv].reshape(big_t.shape)
        return out

    def _pmf(self, n: FloatArray, t: FloatArray) -> FloatArray:
        alpha, beta, gamma, delta = self._theta()
        xb, nb = np.broadcast_arrays(n, t)
        shape = xb.shape
        xv, nv = xb.ravel().astype(np.float64), nb.ravel().astype(np.float64)
        possible = xv <= nv
        xs = np.where(possible, xv, 0.0)

        def lchoose(a: FloatArray, b: FloatArray) -> FloatArray:
            res: FloatArray = _gammaln(a + 1.0) - _gammaln(b + 1.0) - _gammaln(a - b + 1.0)
            return res

        first = (
            lchoose(nv, xs)
            + _betaln(alpha + xs, beta + nv - xs)
            - _betaln(alpha, beta)
            + _betaln(gamma, delta + nv)
            - _betaln(gamma, delta)
        )
        width = int(nv.max()) if len(nv) else 0
        v.check_budget(
            float(len(nv)) * (width + 1),
            "the BG/BB purchase probabilities (values x opportunities)",
            budget=v.max_cells(),
            culprit=f"t = {width}",
            env="CUSTREL_MAX_CELLS",
        )
        i = np.arange(width, dtype=np.float64)[None, :]
        mask = (i >= xs[:, None]) & (i < nv[:, None])
        ii = np.where(mask, i, xs[:, None])
        rest = (
            lchoose(ii, xs[:, None])
            + _betaln(alpha + xs[:, None], beta + ii - xs[:, None])
            - _betaln(alpha, beta)
            + _betaln(gamma + 1.0, delta + ii)
            - _betaln(gamma, delta)
        )
        total = np.exp(first) + np.where(mask, np.exp(rest), 0.0).sum(axis=1)
        out: FloatArray = np.where(possible, total, 0.0).reshape(shape)
        return out

    def _simulate(
        self, n_customers: int, big_t: FloatArray, rng: np.random.Generator
    ) -> tuple[FloatArray, FloatArray]:
        alpha, beta, gamma, delta = self._theta()
        p = rng.beta(alpha, beta, n_customers)
        theta = rng.beta(gamma, delta, n_customers)
        # opportunities survived: alive at opportunity k with probability (1 - theta)^k
        lifetime = _geometric(theta, rng) - 1.0
        active = np.minimum(lifetime, big_t)
        # the active opportunities are independent Bernoulli(p) trials; read them from
        # the last one back: the failures after the last purchase are geometric, and
        # the trials before it are still independent (no loop over opportunities)
        trailing = np.minimum(_geometric(p, rng) - 1.0, active)
        tx = active - trailing  # the opportunity of the last purchase (0: none)
        bought = tx > 0
        earlier = rng.binomial(np.where(bought, tx - 1.0, 0.0).astype(np.int64), p)
        x = np.where(bought, 1.0 + earlier, 0.0)
        return x, np.where(bought, tx, 0.0)


def fit_bgbb(
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    weights: Any = None,
    initial: Mapping[str, float] | None = None,
    threads: int | None = None,
) -> BGBBModel:
    r"""Fit the BG/BB model for discrete transaction opportunities by maximum likelihood.

    Parameters
    ----------
    frequency : array_like
        Transactions in the ``T`` opportunities (whole numbers >= 0).
    recency : array_like
        The opportunity (1..T) of the last transaction; 0 without any.
    T : array_like
        Number of opportunities (whole numbers).
    weights : array_like, optional
        Customers per row (> 0), for example the counts of a
        recency/frequency table.
    initial : Mapping[str, float], optional
        Starting values for some or all of ``alpha``, ``beta``, ``gamma``,
        ``delta``.
    threads : int, optional
        Cores for the likelihood sums (else ``CUSTREL_THREADS``, else every
        core): threads, or on Linux, from 40,000 distinct rows, worker
        processes forked once per fit. The result is the same to the last
        bit for any value.

    Returns
    -------
    BGBBModel

    Raises
    ------
    InvalidInputError
        As :func:`fit_bgnbd`, and if a value is not a whole number or
        frequency exceeds recency.
    ConvergenceError
        If the optimizer fails.

    Notes
    -----
    Customer likelihood (Fader, Hardie & Shang 2010, eq. 5):

    .. math::

        L = \frac{B(\alpha+x, \beta+n-x)}{B(\alpha,\beta)}\frac{B(\gamma, \delta+n)}{B(\gamma,\delta)}
        + \sum_{i=0}^{n-t_x-1}\frac{B(\alpha+x, \beta+t_x-x+i)}{B(\alpha,\beta)}
        \frac{B(\gamma+1, \delta+t_x+i)}{B(\gamma,\delta)}

    summed in log space (``logsumexp`` over a customers-by-terms matrix),
    with the analytic gradient (digamma functions weighted by each term's
    share).

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Shang, J. (2010). Customer-base analysis
    in a discrete-time noncontractual setting. *Marketing Science* 29(6),
    1086-1108.

    Examples
    --------
    >>> from custrel import fit_bgbb
    >>> m = fit_bgbb([0, 1, 3, 6, 2, 1], [0, 1, 5, 6, 6, 3], [6] * 6,
    ...              weights=[300, 100, 120, 150, 80, 60])
    >>> bool(0.0 < m.probability_alive(3, 5, 6)[()] < 1.0)
    True
    """
    n_threads = _threads.resolve(threads)
    chunks, total = _threads.count_rows(
        frequency, recency, T, weights, discrete=True, threads=n_threads
    )
    # every chunk's terms are kept through the fit: their cells together against the budget
    _check_terms(
        sum(int(c[0].shape[0]) for c in chunks), max(int(np.max(c[2] - c[1])) for c in chunks)
    )
    names = BGBBModel._param_names
    x0 = _initial(initial, names, np.ones(4))

    def chunk_total(theta: FloatArray, data: Any) -> tuple[float, FloatArray]:
        (x, tx, n, w), terms = data
        ll, grad = _bgbb_loglik(theta, x, tx, n, w, terms)
        assert grad is not None
        return _wsum(w, ll), grad

    fit = _threads.fit_chunks(
        chunk_total,
        chunks,
        x0,
        prepare=lambda c: (c, _bgbb_terms(c[0], c[1], c[2])),
        total_weight=total,
        model="BG/BB",
        names=names,
        threads=n_threads,
        warm_start=initial is None,
    )
    _warn_fit("BG/BB", fit)
    return BGBBModel(
        params=dict(zip(names, fit.params.tolist(), strict=True)),
        log_likelihood=fit.log_likelihood,
        standard_errors=dict(zip(names, fit.standard_errors.tolist(), strict=True)),
        covariance=fit.covariance,
        n_customers=total,
        n_iterations=fit.n_iterations,
        message=fit.message,
    )
