r"""Predictions that lifetimes users expect, for every repeat-purchase family.

The public entry points are methods of :class:`~custrel.btyd.RepeatPurchaseModel`
(thin delegators to the functions here):

* ``conditional_probability_of_purchases`` -- :math:`P(Y(t) = n \mid x, t_x, T)`;
* ``probability_alive_path`` -- each customer's P(alive) over a calendar grid;
* ``expected_cumulative_transactions`` -- the tracking table (expected and
  actual repeat transactions of the whole base by calendar period);
* ``discounted_expected_residual_transactions`` -- DERT;
* ``new_customer_expected_purchases`` / ``new_customer_probability_alive`` --
  a customer whose first purchase is today, with per-customer parameters for
  covariate models.

One observation carries every conditional prediction: **an active customer's
future is a new customer's future with updated parameters**. Given the
history and that the customer is alive at ``T``, the purchase rate is
:math:`\mathrm{Gamma}(r+x, \alpha+T)` and (memorylessness of the Poisson
process) the next purchase is not yet "used up", so

* BG/NBD: a new BG/NBD customer with :math:`(r+x, \alpha+T, a, b+x)`;
* MBG/NBD: a new *BG/NBD* customer with :math:`(r+x, \alpha+T, a, b+x+1)`
  (the drop-out at time 0 has been survived);
* Pareto/NBD: a new customer with :math:`(r+x, \alpha+T, s, \beta+T)`;
* GGompertz/NBD: a new customer with :math:`(r+x, \alpha+T, b, s,
  \beta e^{-bT} - \operatorname{expm1}(-bT))`, because
  :math:`\frac{\beta+e^{bT}-1}{\beta+e^{b(T+u)}-1} = \frac{\beta'}{\beta'+e^{bu}-1}`;
* BG/BB: alive through opportunity ``n``, a new customer with
  :math:`(\alpha+x, \beta+n-x, \gamma, \delta+n)`.

With :math:`\pi` the probability of being alive (for BG/BB, alive through
``n``), :math:`P(Y(t)=k\mid\cdot) = \pi\,P_{\text{new}}(X(t)=k) + (1-\pi)[k=0]`.
This is the form of Fader, Hardie & Lee's notes on the conditional PMF of the
BG/NBD and of the Pareto/NBD (their closed forms expand the same mixture).
Every kernel below takes its parameters as scalars *or* per-customer arrays
(contract 4), so covariate models call the same code.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from custrel import _numeric
from custrel import _validate as v
from custrel._lazy import LazyModule
from custrel._tabular import Tabular
from custrel.errors import EmptyInputError, InvalidInputError, InvalidTypeError

special = LazyModule("scipy.special")  # imported on first use (import time)

__all__ = ["AlivePath", "TrackingResult"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_CHUNK = 4096  # rows evaluated together in the quadratures (rows x nodes tables stay small)
_PMF_NODES = 160  # Gauss-Legendre nodes of the Pareto/NBD death-term integral (as _pnbd_math)
_TRAP_STEP = 0.2  # trapezoid step in log time / log u (the integrands are analytic in a strip)
_TRAP_RELATIVE = 1e-17  # integrand mass left out at each end, relative to the integral


# ---------------------------------------------------------------------------
# The families: which kernel a model uses, and its per-customer parameters
# ---------------------------------------------------------------------------


@functools.cache
def _kinds() -> tuple[tuple[type, str], ...]:
    """Model classes and their family names (imported on first use: no import cycle)."""
    from custrel.btyd._bgbb import BGBBModel
    from custrel.btyd._ggomnbd import GGompertzNBDModel
    from custrel.btyd._nbd import BGNBDModel, MBGNBDModel
    from custrel.btyd._pareto_nbd import ParetoNBDModel

    return (
        (MBGNBDModel, "mbgnbd"),
        (BGNBDModel, "bgnbd"),
        (ParetoNBDModel, "pnbd"),
        (GGompertzNBDModel, "ggomnbd"),
        (BGBBModel, "bgbb"),
    )


def family(model: Any) -> str:
    """The family of ``model`` (the first registered class in its MRO)."""
    for cls in type(model).__mro__:
        for known, name in _kinds():
            if cls is known:
                return name
    raise InvalidTypeError(
        f"model must be a BG/NBD, MBG/NBD, Pareto/NBD, GGompertz/NBD or BG/BB model, "
        f"got {type(model).__name__}"
    )


def bind(
    model: Any,
    n_rows: int | None,
    purchase_covariates: Any = None,
    dropout_covariates: Any = None,
) -> tuple[Any, dict[str, Any]]:
    """The model bound to the prediction covariates, and its parameters by name.

    A covariate model (one with ``_bind``, see :mod:`custrel.btyd._covariates`)
    validates the covariates (contract 3: required exactly for the processes
    with coefficients) and returns a copy whose kernels use each customer's
    parameters; the parameters are then scalars or one value per row. A
    model without covariates refuses them and returns itself with its
    ``params``.
    """
    binder = getattr(model, "_bind", None)
    if binder is not None:
        bound = binder({"purchase": purchase_covariates, "dropout": dropout_covariates}, n_rows)
        theta = bound._row_theta()
        return bound, dict(zip(model._param_names, theta, strict=True))
    for name, value in (
        ("purchase_covariates", purchase_covariates),
        ("dropout_covariates", dropout_covariates),
    ):
        if value is not None:
            raise InvalidInputError(
                f"{name} was given, but {type(model).__name__} has no covariates; leave it out"
            )
    extra = [k for k in model.params if k not in model._param_names]
    if extra:  # coefficients this module cannot apply: refuse rather than ignore them
        raise InvalidTypeError(
            f"{type(model).__name__} has the coefficients {extra!r} but no per-customer "
            "parameters (_bind); this prediction is not available for it"
        )
    return model, {k: float(model.params[k]) for k in model._param_names}


def _alive(model: Any, x: FloatArray, tx: FloatArray, big_t: FloatArray) -> FloatArray:
    """P(alive at T) (BG/BB: alive through opportunity n), on validated 1-D columns."""
    if family(model) == "bgbb":
        out: FloatArray = np.exp(model._alive_share(x, tx, big_t))
        return out
    return np.asarray(model._alive(x, tx, big_t), dtype=np.float64)


def _log_e(b: Any, beta: Any, tau: Any) -> FloatArray:
    """log(beta e^{-b tau} - expm1(-b tau)) = log((beta + e^{b tau} - 1) e^{-b tau}), elementwise."""
    out: FloatArray = np.log(beta * np.exp(-b * tau) - np.expm1(-b * tau))
    return out


def future_kind(kind: str) -> str:
    """The family whose new customer has an active customer's future (MBG/NBD: BG/NBD)."""
    return "bgnbd" if kind == "mbgnbd" else kind


def posterior(kind: str, p: dict[str, Any], x: Any, tx: Any, big_t: Any) -> dict[str, Any]:
    """Parameters of an active customer's future: a new customer's with these values."""
    if kind == "bgnbd":
        return {"r": p["r"] + x, "alpha": p["alpha"] + big_t, "a": p["a"], "b": p["b"] + x}
    if kind == "mbgnbd":  # the future of an active MBG/NBD customer is BG/NBD-shaped
        return {"r": p["r"] + x, "alpha": p["alpha"] + big_t, "a": p["a"], "b": p["b"] + x + 1.0}
    if kind == "pnbd":
        return {
            "r": p["r"] + x,
            "alpha": p["alpha"] + big_t,
            "s": p["s"],
            "beta": p["beta"] + big_t,
        }
    if kind == "ggomnbd":
        return {
            "r": p["r"] + x,
            "alpha": p["alpha"] + big_t,
            "b": p["b"],
            "s": p["s"],
            "beta": np.exp(_log_e(p["b"], p["beta"], big_t)),
        }
    # bgbb
    return {
        "alpha": p["alpha"] + x,
        "beta": p["beta"] + big_t - x,
        "gamma": p["gamma"],
        "delta": p["delta"] + big_t,
    }


# ---------------------------------------------------------------------------
# New-customer P(X(t) = n) with per-customer parameters
# ---------------------------------------------------------------------------


def _nbd_pmf(n: FloatArray, t: FloatArray, p: dict[str, Any], *, modified: bool) -> FloatArray:
    """BG/NBD (``modified``: MBG/NBD) P(X(t) = n) of a new customer (FHL 2005, eq. 8)."""
    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    s = 1.0 if modified else 0.0
    has = (n > 0) | modified
    with np.errstate(divide="ignore", invalid="ignore"):
        log_nb = (
            special.gammaln(r + n)
            - special.gammaln(r)
            - special.gammaln(n + 1.0)
            + r * (np.log(alpha) - np.log(alpha + t))
            + np.where(n > 0, n * (np.log(t) - np.log(alpha + t)), 0.0)
        )
        tail = np.where(n > 0, special.betainc(np.maximum(n, 1.0), r, t / (alpha + t)), 1.0)
    first = np.exp(special.betaln(a, b + n + s) - special.betaln(a, b) + log_nb)
    # rows without the second term (has False) take b there: a ratio below 1, never an
    # overflow (with 1.0 a huge posterior b, say 1e300, overflowed exp)
    second = np.exp(
        special.betaln(a + 1.0, np.where(has, b + n - 1.0 + s, b)) - special.betaln(a, b)
    )
    out: FloatArray = first + np.where(has, second * tail, 0.0)
    return np.minimum(out, 1.0)


def _pnbd_pmf(n: FloatArray, t: FloatArray, p: dict[str, Any]) -> FloatArray:
    r"""Pareto/NBD P(X(t) = n) of a new customer, per-customer parameters.

    The customer alive at ``t`` plus death at :math:`\tau < t` after ``n``
    purchases (Fader & Hardie 2006); the death term by 160-point
    Gauss-Legendre quadrature in :math:`\log\tau`, in log space.
    """
    r, alpha, s, beta = (
        np.broadcast_to(np.asarray(p[k], dtype=np.float64), n.shape)
        for k in ("r", "alpha", "s", "beta")
    )
    out = np.zeros(n.shape[0])
    pos = t > 0
    out[~pos] = (n[~pos] == 0).astype(np.float64)
    idx = np.flatnonzero(pos)
    nodes, weights = _gl(_PMF_NODES)
    for lo_i in range(0, idx.shape[0], _CHUNK):  # at most len / _CHUNK passes
        sel = idx[lo_i : lo_i + _CHUNK]
        nn, tt, rr, aa, ss, bb = n[sel], t[sel], r[sel], alpha[sel], s[sel], beta[sel]
        log_coef = special.gammaln(rr + nn) - special.gammaln(rr) - special.gammaln(nn + 1.0)
        alive = (
            log_coef
            + rr * (np.log(aa) - np.log(aa + tt))
            + nn * (np.log(tt) - np.log(aa + tt))
            + ss * (np.log(bb) - np.log(bb + tt))
        )
        hi = np.log(tt)
        lo = np.minimum(hi, np.log(np.minimum(aa, bb))) - 45.0 / (nn + 1.0) - 1.0
        half = 0.5 * (hi - lo)
        y = (lo + half)[:, None] + half[:, None] * nodes[None, :]
        tau = np.exp(y)
        integrand = (
            (nn + 1.0)[:, None] * y
            - (rr + nn)[:, None] * np.log(aa[:, None] + tau)
            - (ss + 1.0)[:, None] * np.log(bb[:, None] + tau)
            + np.log(weights)[None, :]
        )
        with np.errstate(divide="ignore"):
            log_int = special.logsumexp(integrand, axis=1) + np.log(half)
        dead = log_coef + rr * np.log(aa) + np.log(ss) + ss * np.log(bb) + log_int
        out[sel] = np.exp(np.logaddexp(alive, dead))
    return np.minimum(out, 1.0)


@functools.cache
def _gl(nodes: int) -> tuple[FloatArray, FloatArray]:
    from custrel._numeric import gauss_legendre

    x, w = gauss_legendre(nodes)
    return np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)


def _ggom_pmf(n: FloatArray, t: FloatArray, p: dict[str, Any]) -> FloatArray:
    r"""GGompertz/NBD P(X(t) = n) of a new customer, per-customer parameters.

    Alive at ``t`` (survival :math:`S(t)`) plus death at :math:`\tau \\le t`
    (density :math:`f = -S'`) after ``n`` purchases, the latter by the
    composite Gauss-Legendre rule of :mod:`custrel.btyd._ggomnbd` on ``[0, t]``.
    """
    from custrel.btyd._ggomnbd import _life_rule

    names = ("r", "alpha", "b", "s", "beta")
    r, alpha, b, s, beta = (
        np.broadcast_to(np.asarray(p[k], dtype=np.float64), n.shape) for k in names
    )
    pts, wts = _life_rule()
    out = np.empty(n.shape[0])
    for lo_i in range(0, n.shape[0], _CHUNK):  # at most len / _CHUNK passes
        sl = slice(lo_i, lo_i + _CHUNK)
        k, tc = n[sl, None], t[sl, None]
        rr, aa, bb, ss, be = (q[sl, None] for q in (r, alpha, b, s, beta))
        const = special.gammaln(rr + k) - special.gammaln(rr) - special.gammaln(k + 1.0)

        log_surv = ss * (np.log(be) - bb * tc - _log_e(bb, be, tc))
        tau = tc * pts[None, :]
        log_f = (
            np.log(ss)
            + np.log(bb)
            + ss * np.log(be)
            - ss * bb * tau
            - (ss + 1.0) * _log_e(bb, be, tau)
        )
        inner = (np.exp(log_f + _log_nbd(const, rr, aa, k, tau)) * wts[None, :]).sum(axis=1)
        out[sl] = np.exp(log_surv + _log_nbd(const, rr, aa, k, tc))[:, 0] + tc[:, 0] * inner
    return np.minimum(out, 1.0)


def _log_nbd(const: Any, r: Any, alpha: Any, k: Any, tau: Any) -> FloatArray:
    """The log of NBD(k; r, alpha, tau) given its tau-free part ``const``."""
    res: FloatArray = (
        const + r * (np.log(alpha) - np.log(alpha + tau)) + special.xlogy(k, tau / (alpha + tau))
    )
    return res


def _bgbb_pmf(n: FloatArray, t: FloatArray, p: dict[str, Any]) -> FloatArray:
    """BG/BB P(X(t) = n) of a new customer over ``t`` opportunities (FHS 2010, eq. 8)."""
    names = ("alpha", "beta", "gamma", "delta")
    al, be, ga, de = (np.broadcast_to(np.asarray(p[k], dtype=np.float64), n.shape) for k in names)
    width = int(t.max()) if t.shape[0] else 0
    v.check_budget(
        float(t.shape[0]) * (width + 1),
        "the BG/BB purchase probabilities (values x opportunities)",
        budget=v.max_cells(),
        culprit=f"t = {width}",
        env="CUSTREL_MAX_CELLS",
    )
    possible = n <= t
    xs = np.where(possible, n, 0.0)

    def lchoose(a: Any, k: Any) -> Any:
        return special.gammaln(a + 1.0) - special.gammaln(k + 1.0) - special.gammaln(a - k + 1.0)

    base_ab = special.betaln(al, be)
    base_gd = special.betaln(ga, de)
    first = (
        lchoose(t, xs)
        + special.betaln(al + xs, be + t - xs)
        - base_ab
        + special.betaln(ga, de + t)
        - base_gd
    )
    out = np.exp(first)
    step = max(1, _CHUNK * 64 // max(width, 1))
    i = np.arange(width, dtype=np.float64)[None, :]
    for lo_i in range(0, n.shape[0], step):  # at most len / step passes
        sl = slice(lo_i, lo_i + step)
        xc = xs[sl, None]
        mask = (i >= xc) & (i < t[sl, None])
        ii = np.where(mask, i, xc)
        rest = (
            lchoose(ii, xc)
            + special.betaln(al[sl, None] + xc, be[sl, None] + ii - xc)
            - base_ab[sl, None]
            + special.betaln(ga[sl, None] + 1.0, de[sl, None] + ii)
            - base_gd[sl, None]
        )
        out[sl] += np.where(mask, np.exp(rest), 0.0).sum(axis=1)
    res: FloatArray = np.where(possible, np.minimum(out, 1.0), 0.0)
    return res


def new_customer_pmf(kind: str, n: FloatArray, t: FloatArray, p: dict[str, Any]) -> FloatArray:
    """P(X(t) = n) of a new customer with (per-customer) parameters ``p``; 1-D inputs."""
    if kind == "bgnbd":
        return _nbd_pmf(n, t, p, modified=False)
    if kind == "mbgnbd":
        return _nbd_pmf(n, t, p, modified=True)
    if kind == "pnbd":
        return _pnbd_pmf(n, t, p)
    if kind == "ggomnbd":
        return _ggom_pmf(n, t, p)
    return _bgbb_pmf(n, t, p)


# ---------------------------------------------------------------------------
# New-customer expectations and survival with per-customer parameters
# ---------------------------------------------------------------------------


def new_customer_expected(kind: str, t: FloatArray, p: dict[str, Any]) -> FloatArray:
    """E[X(t)] of a new customer with (per-customer) parameters ``p``; 1-D inputs.

    Repeat purchases in ``(0, t]``: the first purchase (at time 0) is not counted.
    """
    shape = t.shape
    if kind in ("bgnbd", "mbgnbd"):
        from custrel.btyd._nbd import _nbd_future

        r, alpha, a, b = (
            np.broadcast_to(np.asarray(p[k], dtype=np.float64), shape)
            for k in ("r", "alpha", "a", "b")
        )
        if (
            kind == "mbgnbd"
        ):  # E[(1-p)/p (...)] over Beta(a, b) = b/(a+b) E[(...)/p] over Beta(a, b+1)
            out: FloatArray = b / (a + b) * _nbd_future(t, r, alpha, a, b + 1.0)
            return out
        return np.asarray(_nbd_future(t, r, alpha, a, b), dtype=np.float64)
    if kind == "pnbd":
        from custrel.btyd._pnbd_math import growth

        base = np.broadcast_to(np.asarray(p["beta"], dtype=np.float64), shape)
        s = np.asarray(p["s"], dtype=np.float64)
        if s.ndim == 0:
            g = growth(float(s), t, base)
        else:  # per-customer s: growth's formula is elementwise
            g = _growth_array(np.broadcast_to(s, shape), t, base)
        out = np.asarray(p["r"], dtype=np.float64) / np.asarray(p["alpha"], dtype=np.float64) * g
        return np.broadcast_to(out, shape).astype(np.float64)
    if kind == "ggomnbd":
        return _ggom_expected(t, p)
    # bgbb: alpha/(alpha+beta) sum_{i=1}^t E[(1-theta)^i], theta ~ Beta(gamma, delta)
    return _bgbb_expected(t, p)


def _growth_array(s: FloatArray, t: FloatArray, base: FloatArray) -> FloatArray:
    """``base (1 - (base/(base+t))^(s-1)) / (s-1)`` for per-element ``s`` (continuous at 1)."""
    lg = np.log1p(t / base)
    u = (s - 1.0) * lg
    small = np.abs(u) < 1e-10
    with np.errstate(over="ignore"):
        ratio = np.where(small, 1.0 - 0.5 * u, -np.expm1(-u) / np.where(small, 1.0, u))
    out: FloatArray = base * lg * ratio
    return out


def _ggom_expected(t: FloatArray, p: dict[str, Any]) -> FloatArray:
    """GGompertz/NBD E[X(t)] = r/alpha int_0^t S(u) du, per-customer parameters."""
    shape = t.shape
    arrs = {
        k: np.broadcast_to(np.asarray(p[k], dtype=np.float64), shape)
        for k in ("r", "alpha", "b", "s", "beta")
    }
    integral = ggom_integral(arrs["b"], arrs["s"], arrs["beta"], np.zeros(shape), t)
    res: FloatArray = arrs["r"] / arrs["alpha"] * integral
    return res


def ggom_integral(
    b: FloatArray,
    s: FloatArray,
    beta: FloatArray,
    base: FloatArray,
    t: FloatArray,
    delta: float = 0.0,
) -> FloatArray:
    """int_0^t e^{-delta u} ((beta + e^{b base} - 1) / (beta + e^{b (base + u)} - 1))^s du.

    Per element. The rule and the window of
    :func:`custrel.btyd._ggomnbd._lifetime_integral`, with ``b``, ``s`` and
    ``beta`` per element (1-D arrays of one shape) and an optional discount
    (then ``t`` may be infinite: the window ends where ``e^{-delta u}`` is
    below ``e^{-60}``).
    """
    from custrel.btyd._ggomnbd import _life_rule

    pts, wts = _life_rule()
    log_e0 = _log_e(b, beta, base)
    with np.errstate(over="ignore"):
        u_max = np.minimum(
            (50.0 / s + log_e0 - np.minimum(np.log(beta), 0.0)) / b,
            np.exp(log_e0 - np.log(b)) * np.expm1(50.0 / s),
        )
    t = np.minimum(t, u_max)
    if delta > 0.0:
        t = np.minimum(t, 60.0 / delta)
    log_scale = log_e0 - np.log(b)
    span = np.log1p(t * np.exp(-log_scale))
    out = np.empty(t.shape[0])
    for lo_i in range(0, t.shape[0], _CHUNK):  # at most len / _CHUNK passes
        sl = slice(lo_i, lo_i + _CHUNK)
        ys = span[sl, None] * pts[None, :]
        bb, ls, b_, s_, be = (
            base[sl, None],
            log_scale[sl, None],
            b[sl, None],
            s[sl, None],
            beta[sl, None],
        )
        u = np.exp(ls) * np.expm1(ys)
        expo = s_ * (log_e0[sl, None] - _log_e(b_, be, bb + u) - b_ * u) + ls + ys - delta * u
        out[sl] = span[sl] * (np.exp(expo) * wts[None, :]).sum(axis=1)
    return out


def _bgbb_expected(t: FloatArray, p: dict[str, Any]) -> FloatArray:
    """BG/BB E[X(t)] with per-customer parameters, through the model's F(t, n) kernel."""
    from custrel.btyd._bgbb import BGBBModel

    shape = t.shape
    arrs = {
        k: np.broadcast_to(np.asarray(p[k], dtype=np.float64), shape)
        for k in ("alpha", "beta", "gamma", "delta")
    }
    keys = np.stack([arrs["gamma"], arrs["delta"]], axis=1)
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    out = np.empty(shape)
    for j in range(uniq.shape[0]):  # one pass per distinct (gamma, delta)
        sel = np.flatnonzero(inv == j)
        m = BGBBModel._from_values([1.0, 1.0, uniq[j, 0], uniq[j, 1]])
        out[sel] = m._future(t[sel], np.zeros(sel.shape[0]))
    res: FloatArray = arrs["alpha"] / (arrs["alpha"] + arrs["beta"]) * out
    return res


def new_customer_alive(kind: str, t: FloatArray, p: dict[str, Any]) -> FloatArray:
    """P(a new customer is still active at t); 1-D inputs, per-customer parameters."""
    shape = t.shape
    if kind in ("bgnbd", "mbgnbd"):
        # E[e^{-lambda p t}] (times E[1 - p] for MBG/NBD's drop-out at time 0) by the
        # trapezoidal rule in logit p: E over p of (alpha / (alpha + p t))^r
        return _nbd_alive_new(t, p, modified=kind == "mbgnbd")
    if kind == "pnbd":
        s, beta = (np.asarray(p[k], dtype=np.float64) for k in ("s", "beta"))
        out: FloatArray = np.exp(-s * np.log1p(t / beta))
        return np.broadcast_to(out, shape).astype(np.float64)
    if kind == "ggomnbd":
        b, s, beta = (np.asarray(p[k], dtype=np.float64) for k in ("b", "s", "beta"))
        out = np.exp(s * (np.log(beta) - b * t - _log_e(b, beta, t)))
        return np.broadcast_to(np.minimum(out, 1.0), shape).astype(np.float64)
    # bgbb: alive at opportunity t: B(gamma, delta + t) / B(gamma, delta)
    ga, de = (np.asarray(p[k], dtype=np.float64) for k in ("gamma", "delta"))
    out = np.exp(special.betaln(ga, de + t) - special.betaln(ga, de))
    return np.broadcast_to(np.minimum(out, 1.0), shape).astype(np.float64)


def _nbd_alive_new(t: FloatArray, p: dict[str, Any], *, modified: bool) -> FloatArray:
    r"""BG/NBD survival :math:`E[(1-p)^{\delta} (\alpha/(\alpha+pt))^r]` over :math:`p\sim B(a,b)`.

    By the trapezoidal rule in :math:`y = \operatorname{logit} p` (the
    integrand is analytic in the strip :math:`|\Im y| < \pi/2` and decays
    exponentially at both ends), 60 e-folds of the Beta density kept.
    """
    shape = t.shape
    r, alpha, a, b = (
        np.broadcast_to(np.asarray(p[k], dtype=np.float64), shape) for k in ("r", "alpha", "a", "b")
    )
    if modified:  # (1 - p) Beta(a, b) = b/(a+b) Beta(a, b+1)
        factor = b / (a + b)
        b = b + 1.0
    else:
        factor = np.ones(shape)
    out = np.empty(shape)
    for lo_i in range(0, shape[0], _CHUNK):  # at most len / _CHUNK passes
        sl = slice(lo_i, lo_i + _CHUNK)
        aa, bb, rr, al, tt = a[sl, None], b[sl, None], r[sl, None], alpha[sl, None], t[sl, None]
        # the Beta part a log sig(y) + b log sig(-y) falls by 60 within |y - mode| <= 60/min(a,b)+...
        mode = np.log(aa) - np.log(bb)
        half = 62.0 / np.minimum(aa, bb) + 62.0 / np.sqrt(aa * bb / (aa + bb)) + 5.0
        lo, hi = mode - half, mode + half
        curv = aa * bb / (aa + bb)  # the Beta part's curvature in logit p at its mode
        h = np.minimum(_TRAP_STEP, 0.6 / np.sqrt(curv))
        count = np.clip(np.ceil((hi - lo) / h), 16, 20000).astype(np.int64)
        m = int(count.max())
        v.check_budget(
            float(m) * aa.shape[0],
            "the BG/NBD survival quadrature (values x nodes)",
            budget=v.max_cells(),
            culprit=f"a={float(aa.min()):g}, b={float(bb.min()):g}",
            env="CUSTREL_MAX_CELLS",
        )
        step = (hi - lo) / count
        j = np.arange(m + 1, dtype=np.float64)[None, :]
        y = lo + step * j
        valid = j <= count
        ls = -np.logaddexp(0.0, -y)  # log p
        lc = -np.logaddexp(0.0, y)  # log(1 - p)
        log_f = aa * ls + bb * lc - special.betaln(aa, bb) - rr * np.log1p(np.exp(ls) * tt / al)
        wts = np.where((j == 0) | (j == count), 0.5, 1.0)
        vals = np.where(valid, np.exp(log_f) * wts, 0.0)
        out[sl] = vals.sum(axis=1) * step[:, 0]
    res: FloatArray = np.minimum(factor * out, 1.0)
    return res


# ---------------------------------------------------------------------------
# Conditional P(Y(t) = n | history)
# ---------------------------------------------------------------------------


def conditional_pmf(
    model: Any,
    n: FloatArray,
    t: FloatArray,
    x: FloatArray,
    tx: FloatArray,
    big_t: FloatArray,
    purchase_covariates: Any = None,
    dropout_covariates: Any = None,
) -> FloatArray:
    """P(Y(t) = n | x, t_x, T) for validated inputs that broadcast to one shape."""
    kind = family(model)
    n_rows = max((q.shape[0] for q in (n, t, x, tx, big_t) if q.ndim), default=None)
    model, p = bind(model, n_rows, purchase_covariates, dropout_covariates)
    shape = np.broadcast_shapes(
        n.shape, t.shape, x.shape, tx.shape, big_t.shape, *(np.shape(q) for q in p.values())
    )
    size = int(np.prod(shape))
    nodes = {"pnbd": _PMF_NODES, "ggomnbd": 300}.get(kind, 1)  # quadrature nodes per value
    v.check_budget(
        float(size) * nodes,
        "the conditional purchase probabilities (values x quadrature nodes)",
        budget=v.max_cells(),
        culprit=f"{size} values",
        env="CUSTREL_MAX_CELLS",
        hint="predict for fewer customers at once",
    )
    nb, tb, xb, txb, tb2 = (np.broadcast_to(q, shape).ravel() for q in (n, t, x, tx, big_t))
    pb = {k: (np.broadcast_to(q, shape).ravel() if np.ndim(q) else q) for k, q in p.items()}
    alive = _alive(model, xb, txb, tb2)
    future = new_customer_pmf(future_kind(kind), nb, tb, posterior(kind, pb, xb, txb, tb2))
    out = alive * future + (1.0 - alive) * (nb == 0)
    res: FloatArray = np.clip(out, 0.0, 1.0).reshape(shape)
    return res


# ---------------------------------------------------------------------------
# DERT
# ---------------------------------------------------------------------------


def _log_trapezoid(
    log_f: Callable[[FloatArray], FloatArray], lo: FloatArray, hi: FloatArray, step: float
) -> FloatArray:
    """Trapezoidal sums of exp(log_f(y)) over y in [lo, hi] (rows), in log space."""
    count = np.maximum(np.ceil((hi - lo) / step), 8.0)
    m = int(count.max())
    h = (hi - lo) / count
    j = np.arange(m + 1, dtype=np.float64)[None, :]
    y = lo[:, None] + h[:, None] * j
    lf = log_f(y)
    lf = np.where(j <= count[:, None], lf, -np.inf)
    lf = lf + np.where((j == 0) | (j == count[:, None]), np.log(0.5), 0.0)
    out: FloatArray = special.logsumexp(lf, axis=1) + np.log(h)
    return out


def gamma_laplace(s: Any, z: Any) -> FloatArray:
    r"""J(s, z) = int_0^inf e^{-z u} (1 + u)^{-s} du = U(1, 2 - s, z), elementwise.

    Tricomi's function, :math:`J = z^{s-1} U(s, s, z)`. ``scipy.special.hyperu``
    loses up to 1e-8 of it at moderate arguments and overflows for
    :math:`s \gtrsim 20` (measured against mpmath), so it is summed by the
    trapezoidal rule in :math:`y = \log u`: the integrand
    :math:`\exp(y - z e^y - s \log(1 + e^y))` is analytic in the strip
    :math:`|\Im y| < \pi/2` and falls exponentially (left) and
    double-exponentially (right), so a fixed step of 0.2 is exact to
    rounding. The window keeps all but 1e-17 of the mass, using
    :math:`J \ge \max(z^{-1}(1 + z^{-1})^{-s}, e^{-1 - z/s}/s)`.
    """
    sb, zb = np.broadcast_arrays(np.asarray(s, dtype=np.float64), np.asarray(z, dtype=np.float64))
    shape = sb.shape
    sv, zv = sb.ravel(), zb.ravel()
    log_lb = np.maximum(-np.log(zv) - sv * np.log1p(1.0 / zv), -1.0 - zv / sv - np.log(sv))
    out = np.empty(sv.shape[0])
    for lo_i in range(0, sv.shape[0], _CHUNK):  # at most len / _CHUNK passes
        sl = slice(lo_i, lo_i + _CHUNK)
        ss, zz, lb = sv[sl], zv[sl], log_lb[sl]
        lo = np.log(_TRAP_RELATIVE) + lb
        hi = np.log(
            (40.0 + np.maximum(ss * np.log1p(1.0 / zz), 0.0) - np.minimum(lb + np.log(zz), 0.0))
            / zz
        )
        hi = np.maximum(hi, lo + 1.0)

        def log_f(y: FloatArray, ss: FloatArray = ss, zz: FloatArray = zz) -> FloatArray:
            res: FloatArray = y - zz[:, None] * np.exp(y) - ss[:, None] * np.logaddexp(0.0, y)
            return res

        out[sl] = np.exp(_log_trapezoid(log_f, lo, hi, _TRAP_STEP))
    return out.reshape(shape)


def pareto_nbd_dert(
    r: Any, alpha: Any, s: Any, beta: Any, x: Any, big_t: Any, alive: Any, delta: float
) -> FloatArray:
    r"""Pareto/NBD DERT from P(alive); every parameter a scalar or a per-customer array.

    .. math::

        \mathrm{DERT} = P(\text{alive})\,\frac{r+x}{\alpha+T}\,(\beta+T)\,
        J\big(s, \delta(\beta+T)\big), \qquad J(s, z) = z^{s-1} U(s, s; z)

    (Fader, Hardie & Lee 2005, "RFM and CLV", eq. 2, with :math:`\delta` the
    continuously compounded discount rate per time unit). Given alive,
    :math:`\lambda\sim\Gamma(r+x,\alpha+T)` and :math:`\mu\sim\Gamma(s,\beta+T)`
    independently and :math:`\int_0^\infty \lambda e^{-(\mu+\delta)t}dt =
    \lambda/(\mu+\delta)`, whose expectation is the product above. A
    covariate model passes its ``alpha_i``, ``beta_i`` and P(alive).
    """
    base = np.asarray(beta, dtype=np.float64) + big_t
    sb, zb = np.broadcast_arrays(np.asarray(s, dtype=np.float64), delta * base)
    # customers share the integral when they share (s, beta + T): one per distinct pair
    pairs = np.stack([sb.ravel(), zb.ravel()], axis=1)
    uniq, inv = np.unique(pairs, axis=0, return_inverse=True)
    j = gamma_laplace(uniq[:, 0], uniq[:, 1])[inv.reshape(-1)].reshape(sb.shape)
    out: FloatArray = (
        np.asarray(alive, dtype=np.float64)
        * (r + np.asarray(x, dtype=np.float64))
        / (np.asarray(alpha, dtype=np.float64) + big_t)
        * base
        * j
    )
    return out


_DERT_LEFT = 22.0  # e-folds of t below 1/delta where the DERT integrand is negligible
_DERT_STEP = 0.3  # step in log t (1e-12 against the Pareto/NBD closed form; 0.4 gives 4e-9)
_DERT_RIGHT = 4.6  # log(100): e^{-100} of discounting left beyond t = 100 / delta


def _dert_by_quadrature(kind: str, post: dict[str, Any], delta: float, size: int) -> FloatArray:
    r"""DERT of an active customer: :math:`\int_0^\infty \delta e^{-\delta t} E[X(t)]\,dt`.

    (Integration by parts of :math:`\int e^{-\delta t} dE[X(t)]`.) In
    :math:`y = \log t` the integrand :math:`\delta t e^{-\delta t} E[X(t)]`
    is analytic in a strip and decays like :math:`t^2` on the left and
    double-exponentially on the right: the trapezoidal rule with step 0.3
    over :math:`t \in [e^{-22}/\delta, 100/\delta]` (89 nodes).
    """
    lo = -np.log(delta) - _DERT_LEFT
    hi = -np.log(delta) + _DERT_RIGHT
    count = int(np.ceil((hi - lo) / _DERT_STEP))
    h = (hi - lo) / count
    total = np.zeros(size)
    pb = {k: (np.broadcast_to(q, (size,)) if np.ndim(q) else q) for k, q in post.items()}
    for j in range(count + 1):  # a fixed number of nodes (89)
        y = lo + h * j
        tj = float(np.exp(y))
        w = 0.5 if j in (0, count) else 1.0
        expected = new_customer_expected(kind, np.full(size, tj), pb)
        total += w * delta * tj * np.exp(-delta * tj) * expected
    out: FloatArray = total * h
    return out


def dert(
    model: Any,
    x: FloatArray,
    tx: FloatArray,
    big_t: FloatArray,
    delta: float,
    rate: float,
    purchase_covariates: Any = None,
    dropout_covariates: Any = None,
) -> FloatArray:
    """DERT per customer for validated 1-D (or 0-D) columns."""
    kind = family(model)
    model, p = bind(model, x.shape[0] if x.ndim else None, purchase_covariates, dropout_covariates)
    shape = np.broadcast_shapes(x.shape, *(np.shape(q) for q in p.values()))
    xb, txb, tb = (np.broadcast_to(q, shape).ravel() for q in (x, tx, big_t))
    pb = {k: (np.broadcast_to(q, shape).ravel() if np.ndim(q) else q) for k, q in p.items()}
    alive = _alive(model, xb, txb, tb)
    if kind == "pnbd":
        out = pareto_nbd_dert(pb["r"], pb["alpha"], pb["s"], pb["beta"], xb, tb, alive, delta)
    elif kind == "ggomnbd":
        # int e^{-delta t} dE[X(t) | active] = (r+x)/(alpha+T) int_0^inf e^{-delta u} S_T(u) du
        size = xb.shape[0]
        full = {k: np.broadcast_to(np.asarray(q, dtype=np.float64), (size,)) for k, q in pb.items()}
        v.check_budget(
            float(size) * 400.0,
            "the DERT quadrature (customers x nodes)",
            budget=v.max_cells(),
            culprit=f"{size} customers",
            env="CUSTREL_MAX_CELLS",
        )
        life = ggom_integral(full["b"], full["s"], full["beta"], tb, np.full(size, np.inf), delta)
        out = alive * (full["r"] + xb) / (full["alpha"] + tb) * life
    elif kind == "bgbb":
        out = alive * _bgbb_dert_alive(posterior(kind, pb, xb, txb, tb), rate)
    else:
        # distinct (x, T) rows (and parameter rows) share the integral of an active customer
        cols = [xb, tb] + [np.broadcast_to(q, xb.shape) for q in pb.values() if np.ndim(q)]
        from custrel import _numeric

        uniq, _, inv = _numeric.compress_rows(
            [np.asarray(c, dtype=np.float64) for c in cols], np.ones(xb.shape[0])
        )
        xu, tu = uniq[0], uniq[1]
        pu: dict[str, Any] = {}
        k = 2
        for name, q in pb.items():
            if np.ndim(q):
                pu[name] = uniq[k]
                k += 1
            else:
                pu[name] = q
        v.check_budget(
            float(xu.shape[0]) * 200.0,
            "the DERT quadrature (distinct customers x nodes)",
            budget=v.max_cells(),
            culprit=f"{xu.shape[0]} distinct customers",
            env="CUSTREL_MAX_CELLS",
        )
        active = _dert_by_quadrature(
            future_kind(kind), posterior(kind, pu, xu, xu * 0.0, tu), delta, xu.shape[0]
        )
        out = alive * active[inv]
    if not np.all(np.isfinite(out)):  # pragma: no cover - every term is finite for delta > 0
        raise InvalidInputError("the DERT is not finite for these inputs")
    return np.asarray(out, dtype=np.float64).reshape(shape)


def _bgbb_dert_alive(p: dict[str, Any], rate: float) -> FloatArray:
    r"""BG/BB DERT of a customer alive through opportunity n (Fader, Hardie & Shang 2010, eq. 14).

    :math:`\frac{\alpha'}{\alpha'+\beta'} \sum_{i\ge1} \frac{E[(1-\theta)^i]}{(1+d)^i}
    = \frac{\alpha'}{\alpha'+\beta'} E\big[\frac{1-\theta}{d+\theta}\big]`,
    :math:`\theta \sim B(\gamma, \delta')`; the expectation is
    :math:`\frac{\delta'}{(\gamma+\delta')(1+d)}\,{}_2F_1(1, \delta'+1;
    \gamma+\delta'+1; \tfrac{1}{1+d})`, summed here by the trapezoidal rule
    in :math:`\operatorname{logit}\theta` (no slow series near ``d = 0``).
    """
    al, be, ga, de = (
        np.asarray(p[k], dtype=np.float64) for k in ("alpha", "beta", "gamma", "delta")
    )
    ga_b, de_b = np.broadcast_arrays(ga, de)
    # the expectation depends on (gamma, delta') only: once per distinct pair
    uniq, back = np.unique(
        np.stack([ga_b.ravel(), de_b.ravel()], axis=1), axis=0, return_inverse=True
    )
    gv, dv = uniq[:, 0], uniq[:, 1]
    out = np.empty(gv.shape[0])
    for lo_i in range(0, gv.shape[0], _CHUNK):  # at most len / _CHUNK passes
        sl = slice(lo_i, lo_i + _CHUNK)
        g, d_ = gv[sl], dv[sl]
        mode = np.log(g) - np.log(d_)
        half = 62.0 / np.minimum(g, d_) + 62.0 / np.sqrt(g * d_ / (g + d_)) + 5.0

        def log_f(y: FloatArray, g: FloatArray = g, d_: FloatArray = d_) -> FloatArray:
            ls = -np.logaddexp(0.0, -y)  # log theta
            lc = -np.logaddexp(0.0, y)  # log(1 - theta)
            res: FloatArray = (
                g[:, None] * ls
                + d_[:, None] * lc
                - special.betaln(g, d_)[:, None]
                + lc
                - np.logaddexp(np.log(rate), ls)
            )
            return res

        step = float(min(_TRAP_STEP, float(np.min(0.6 / np.sqrt(g * d_ / (g + d_))))))
        out[sl] = np.exp(_log_trapezoid(log_f, mode - half, mode + half, step))
    res: FloatArray = al / (al + be) * out[back.reshape(-1)].reshape(ga_b.shape)
    return res


# ---------------------------------------------------------------------------
# Calendar histories: purchase occasions of a log
# ---------------------------------------------------------------------------


@attrs.frozen
class _Occasions:
    """Purchase occasions of a log, sorted by customer and time (private).

    ``known`` is the log time (float scale) at which the occasion is first
    seen (its earliest purchase row), ``pos`` its position (the period
    number with a ``period``, else the time), ``ratio`` the model units per
    step of ``pos`` (differences of positions times ``ratio`` are recency and
    T exactly as :func:`~custrel.rfm_summary` computes them), ``start`` the
    first occasion of each listed customer.
    """

    code: IntArray
    known: FloatArray
    pos: FloatArray
    start: IntArray
    labels: npt.NDArray[Any]
    origin: float
    unit_len: float
    period: str | float | None
    ratio: float


def _occasions(log: Any, unit: Any, period: Any) -> _Occasions:
    from custrel.btyd._summary import _as_log, _check_unit_range, _time_value

    log = _as_log(log, None, None, None)
    if log.n_rows == 0:
        raise EmptyInputError("log is empty; at least one transaction is needed")
    numeric = log.time_kind == "numeric"
    if unit is None:
        unit = 1.0 if numeric else "week"
    unit_len = float(log.unit_length(unit, "unit"))
    if not (
        period is None
        or isinstance(period, str)
        or (
            isinstance(period, int | float | np.integer | np.floating)
            and not isinstance(period, bool)
        )
    ):
        raise InvalidTypeError(
            f"period must be a period name, a number or None, got {type(period).__name__} {period!r}"
        )
    if numeric and period == "day":
        period = None
    if period is not None:
        log.unit_length(period, "period")
    _check_unit_range(log, unit, unit_len, period)
    purchase = np.asarray(log.is_purchase, dtype=bool)
    if not purchase.any():
        raise EmptyInputError(
            f"log has no purchase: all {log.n_rows} rows are returns or cancellations "
            "(negative amounts)"
        )
    t = log.numeric_time()
    t_min = float(t[purchase].min())
    code = np.asarray(log.customer_code)[purchase]
    tp = np.asarray(t)[purchase]
    if period is None:
        key = tp
        ratio = 1.0 / unit_len  # positions are times; differences are divided by the unit
        pos_all = tp
    else:
        pidx = log.period_index(period, origin=_time_value(log, t_min))[purchase]
        key = pidx.astype(np.float64)
        ratio = float(log.unit_length(period, "period")) / unit_len
        pos_all = key  # whole periods; differences are multiplied by the period in units
    order = np.lexsort((tp, key, code))
    c_s, k_s = code[order], key[order]
    new = np.ones(c_s.shape[0], dtype=bool)
    new[1:] = (c_s[1:] != c_s[:-1]) | (k_s[1:] != k_s[:-1])
    first_rows = order[new]
    occ_code = code[first_rows]
    starts = np.flatnonzero(np.r_[True, occ_code[1:] != occ_code[:-1]])
    present = _numeric.sorted_unique(occ_code)
    return _Occasions(
        code=np.searchsorted(present, occ_code).astype(np.int64),
        known=tp[first_rows].astype(np.float64),
        pos=pos_all[first_rows].astype(np.float64),
        start=starts.astype(np.int64),
        labels=np.asarray(log.customer_labels)[present],
        origin=t_min,
        unit_len=unit_len,
        period=period,
        ratio=ratio,
    )


def _grid(log: Any, times: Any) -> tuple[FloatArray, npt.NDArray[Any]]:
    """The grid as the log's float times (strictly increasing) and as given (datetime64 or float)."""
    from custrel.btyd._summary import _as_log
    from custrel.models._times import parse_times

    log = _as_log(log, None, None, None)
    parsed = parse_times(times, "times")
    if parsed.shape[0] == 0:
        raise EmptyInputError("times is empty; give at least one time")
    is_date = np.issubdtype(parsed.dtype, np.datetime64)
    if is_date != (log.time_kind == "datetime"):
        want = "dates" if log.time_kind == "datetime" else "numbers"
        raise InvalidInputError(
            f"times must be {want} like the log's times, got {parsed[:1].tolist()[0]!r}"
        )
    v.check_budget(
        float(parsed.shape[0]),
        "the time grid",
        budget=v.max_periods(),
        culprit=f"{parsed.shape[0]} times",
        env="CUSTREL_MAX_PERIODS",
    )
    g = parsed.astype(np.int64).astype(np.float64) if is_date else parsed.astype(np.float64)
    bad = np.flatnonzero(g[1:] <= g[:-1])
    if bad.shape[0]:
        i = int(bad[0]) + 1
        raise InvalidInputError(
            f"times must be strictly increasing, got {parsed[i].tolist()!r} after "
            f"{parsed[i - 1].tolist()!r} at row {i}"
        )
    return g, parsed


def _grid_pos(log: Any, occ: _Occasions, g: FloatArray) -> FloatArray:
    """Each grid time's position on the scale of ``occ.pos`` (period number, or time)."""
    from custrel.btyd._summary import _as_log, _time_value
    from custrel.models import TransactionLog

    if occ.period is None:
        return g
    log = _as_log(log, None, None, None)
    when: Any = g.astype(np.int64).astype("datetime64[s]") if log.time_kind == "datetime" else g
    one = TransactionLog.from_arrays(customer_id=np.zeros(g.shape[0], dtype=np.int64), time=when)
    idx = one.period_index(occ.period, origin=_time_value(log, occ.origin))
    res: FloatArray = idx.astype(np.float64)
    return res


def _histories(
    occ: _Occasions, g: FloatArray, gpos: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """frequency, recency, T matrices (customers x grid) and the mask of born customers."""
    n_c, n_g = occ.labels.shape[0], g.shape[0]
    # the first grid point at which each occasion is known
    j = np.searchsorted(g, occ.known, side="left")
    cells = _numeric.bincount(occ.code * (n_g + 1) + j, minlength=n_c * (n_g + 1))
    counts = np.cumsum(cells.reshape(n_c, n_g + 1)[:, :n_g], axis=1)
    born = counts > 0
    first = occ.pos[occ.start]
    last_idx = occ.start[:, None] + np.maximum(counts, 1) - 1
    freq = np.where(born, counts - 1.0, np.nan)
    rec = np.where(born, (occ.pos[last_idx] - first[:, None]) * occ.ratio, np.nan)
    big_t = np.where(born, (gpos[None, :] - first[:, None]) * occ.ratio, np.nan)
    return freq, rec, big_t, born


@attrs.frozen(eq=False)
class AlivePath:
    """Each customer's probability of being alive at each time of a grid.

    Built by :meth:`RepeatPurchaseModel.probability_alive_path`.

    Attributes
    ----------
    customer_id : numpy.ndarray
        The customers (sorted, as in :func:`~custrel.rfm_summary`).
    time : numpy.ndarray
        The grid (``datetime64[s]`` for a calendar log, else float).
    probability_alive : numpy.ndarray
        ``probability_alive[i, j]``: customer ``i`` at ``time[j]``, from the
        history up to and including ``time[j]``; NaN before the customer's
        first purchase (no customer yet).
    frequency, recency, T : numpy.ndarray
        The histories behind each cell (NaN before the first purchase), as
        :func:`~custrel.rfm_summary` with ``observation_end=time[j]`` gives them.
    """

    customer_id: npt.NDArray[Any] = attrs.field(converter=v.freeze)
    time: npt.NDArray[Any] = attrs.field(converter=v.freeze)
    probability_alive: FloatArray = attrs.field(converter=v.freeze)
    frequency: FloatArray = attrs.field(converter=v.freeze)
    recency: FloatArray = attrs.field(converter=v.freeze)
    T: FloatArray = attrs.field(converter=v.freeze)


def alive_path(
    model: Any,
    log: Any,
    times: Any,
    unit: Any,
    period: Any,
    purchase_covariates: Any = None,
    dropout_covariates: Any = None,
) -> AlivePath:
    """P(alive) over a calendar grid for every customer of ``log``."""
    from custrel.btyd._summary import _as_log

    kind = family(model)
    log = _as_log(log, None, None, None)
    g, parsed = _grid(log, times)
    occ = _occasions(log, unit, period)
    model, params = bind(model, occ.labels.shape[0], purchase_covariates, dropout_covariates)
    per_customer = any(np.ndim(q) for q in params.values())
    v.check_budget(
        float(occ.labels.shape[0]) * (g.shape[0] + 1),
        "the P(alive) path (customers x times)",
        budget=v.max_cells(),
        culprit=f"{occ.labels.shape[0]} customers x {g.shape[0]} times",
        env="CUSTREL_MAX_CELLS",
        hint="give fewer times, or fewer customers (log.take(...))",
    )
    gpos = _grid_pos(log, occ, g)
    freq, rec, big_t, born = _histories(occ, g, gpos)
    if kind == "bgbb":
        _check_discrete(freq[born], rec[born], big_t[born])
    out = np.full(freq.shape, np.nan)
    if per_customer:  # each customer's own parameters: one column (all customers) at a time
        for j in range(g.shape[0]):  # at most max_periods columns (checked in _grid)
            col = born[:, j]
            x_j, tx_j, t_j = (np.where(col, m[:, j], 0.0) for m in (freq, rec, big_t))
            out[:, j] = np.where(col, np.asarray(model._alive(x_j, tx_j, t_j)), np.nan)
    elif born.any():
        from custrel import _numeric

        (xu, txu, tu), _, inv = _numeric.compress_rows(
            [freq[born], rec[born], big_t[born]], np.ones(int(born.sum()))
        )
        out[born] = np.asarray(model._alive(xu, txu, tu), dtype=np.float64)[inv]
    return AlivePath(
        customer_id=np.array(occ.labels),
        time=np.array(parsed),
        probability_alive=out,
        frequency=freq,
        recency=rec,
        T=big_t,
    )


def _check_discrete(x: FloatArray, tx: FloatArray, big_t: FloatArray) -> None:
    for name, arr in (("recency", tx), ("T", big_t)):
        bad = arr != np.round(arr)
        if bad.any():
            raise InvalidInputError(
                f"BG/BB needs whole opportunities, but the history gives {name} "
                f"{float(arr[np.flatnonzero(bad)[0]])!r}; pass unit equal to period "
                "(one opportunity per period)"
            )


@attrs.frozen(eq=False)
class TrackingResult(
    Tabular,
    columns=(
        "time",
        "actual_incremental",
        "expected_incremental",
        "actual_cumulative",
        "expected_cumulative",
        "n_customers",
    ),
):
    """Actual and expected repeat transactions of a customer base by calendar period.

    Built by :meth:`RepeatPurchaseModel.expected_cumulative_transactions`;
    drawn by :func:`custrel.plot.plot_tracking`.

    Attributes
    ----------
    time : numpy.ndarray
        The end of each period (``datetime64[s]`` or float), as given.
    actual_incremental, expected_incremental : numpy.ndarray
        Repeat transactions (purchase occasions after each customer's first)
        in each period, up to and including its end; the first period starts
        at the earliest purchase.
    actual_cumulative, expected_cumulative : numpy.ndarray
        Their running totals.
    n_customers : numpy.ndarray
        Customers of the cohort born by each time.
    calibration_end : date, float or None
        The cohort's last birth date (as given), or None for every customer.
    """

    time: npt.NDArray[Any] = attrs.field(converter=v.freeze)
    actual_incremental: FloatArray = attrs.field(converter=v.freeze)
    expected_incremental: FloatArray = attrs.field(converter=v.freeze)
    actual_cumulative: FloatArray = attrs.field(converter=v.freeze)
    expected_cumulative: FloatArray = attrs.field(converter=v.freeze)
    n_customers: FloatArray = attrs.field(converter=v.freeze)
    calibration_end: Any = None

    def __len__(self) -> int:
        return int(self.time.shape[0])


def tracking(
    model: Any,
    log: Any,
    times: Any,
    unit: Any,
    period: Any,
    calibration_end: Any,
    purchase_covariates: Any = None,
    dropout_covariates: Any = None,
) -> TrackingResult:
    """Expected and actual repeat transactions of the cohort by period."""
    from custrel import _numeric
    from custrel.btyd._summary import _as_log

    kind = family(model)
    log = _as_log(log, None, None, None)
    g, parsed = _grid(log, times)
    occ = _occasions(log, unit, period)
    n_cust = occ.labels.shape[0]
    _, params = bind(model, n_cust, purchase_covariates, dropout_covariates)
    birth_known = occ.known[occ.start]
    if calibration_end is not None:
        cal = log.to_time_float(calibration_end, "calibration_end")
        # the period holding calibration_end belongs to the calibration (as in rfm_summary)
        cal_pos = _grid_pos(log, occ, np.asarray([cal]))[0]
        cohort = occ.pos[occ.start] <= cal_pos
        if not cohort.any():
            raise InvalidInputError(
                f"calibration_end {calibration_end!r} is before every customer's first purchase"
            )
    else:
        cohort = np.ones(n_cust, dtype=bool)
    gpos = _grid_pos(log, occ, g)
    birth_pos = occ.pos[occ.start]
    per_customer = any(np.ndim(q) for q in params.values())
    if per_customer:  # covariates: every customer has parameters of their own
        b_known, b_pos = birth_known[cohort], birth_pos[cohort]
        b_w = np.ones(b_known.shape[0])
        rows = {k: (np.asarray(q)[cohort] if np.ndim(q) else q) for k, q in params.items()}
    else:  # one evaluation per distinct first-purchase time
        (b_known, b_pos), b_w, _ = _numeric.compress_rows(
            [birth_known[cohort], birth_pos[cohort]], np.ones(int(cohort.sum()))
        )
        rows = params
    v.check_budget(
        float(b_known.shape[0]) * g.shape[0],
        "the tracking forecast (first-purchase times x times)",
        budget=v.max_cells(),
        culprit=f"{b_known.shape[0]} first-purchase times x {g.shape[0]} times",
        env="CUSTREL_MAX_CELLS",
        hint="give fewer times or merge purchases into coarser periods (period=)",
    )
    born = b_known[:, None] <= g[None, :]
    age = np.maximum(np.where(born, (gpos[None, :] - b_pos[:, None]) * occ.ratio, 0.0), 0.0)
    if kind == "bgbb":
        _check_discrete(age.ravel(), age.ravel(), age.ravel())
    if per_customer:
        cells = {
            k: (np.broadcast_to(q[:, None], age.shape).ravel() if np.ndim(q) else q)
            for k, q in rows.items()
        }
        expected = new_customer_expected(kind, age.ravel(), cells).reshape(age.shape)
    else:
        ages, inv = np.unique(age.ravel(), return_inverse=True)
        e = new_customer_expected(kind, ages, rows)
        expected = e[inv.reshape(age.shape)]
    expected = np.where(born, expected, 0.0)
    exp_cum = (b_w[:, None] * expected).sum(axis=0)
    n_born = (b_w[:, None] * born).sum(axis=0)
    # actual repeat occasions of the cohort, by the grid period in which they are known
    repeat = np.ones(occ.code.shape[0], dtype=bool)
    repeat[occ.start] = False
    repeat &= cohort[occ.code]
    j = np.searchsorted(g, occ.known[repeat], side="left")
    act_inc = _numeric.bincount(j, minlength=g.shape[0] + 1)[: g.shape[0]].astype(np.float64)
    return TrackingResult(
        time=np.array(parsed),
        actual_incremental=act_inc,
        expected_incremental=np.diff(exp_cum, prepend=0.0),
        actual_cumulative=np.cumsum(act_inc),
        expected_cumulative=exp_cum,
        n_customers=n_born,
        calibration_end=calibration_end,
    )


# ---------------------------------------------------------------------------
# Entry points used by RepeatPurchaseModel's delegators
# ---------------------------------------------------------------------------


def same_rows(**arrays: FloatArray) -> None:
    """Refuse 1-D arguments of different lengths (scalars broadcast)."""
    sizes = {k: a.shape[0] for k, a in arrays.items() if a.ndim == 1 and a.shape[0] != 1}
    if len(set(sizes.values())) > 1:
        shown = ", ".join(f"{k} has {n}" for k, n in sizes.items())
        raise InvalidInputError(
            f"the arguments must have one value or one per customer, but {shown} values"
        )


def new_customer(
    model: Any, t: FloatArray, what: str, purchase_covariates: Any, dropout_covariates: Any
) -> FloatArray:
    """E[X(t)] (``what="expected"``) or P(active at t) of a customer born today."""
    kind = family(model)
    _, p = bind(model, t.shape[0] if t.ndim else None, purchase_covariates, dropout_covariates)
    shape = np.broadcast_shapes(t.shape, *(np.shape(q) for q in p.values()))
    tb = np.broadcast_to(t, shape).ravel().astype(np.float64)
    pb = {k: (np.broadcast_to(q, shape).ravel() if np.ndim(q) else q) for k, q in p.items()}
    if kind == "ggomnbd" or (kind in ("bgnbd", "mbgnbd") and what == "alive"):
        v.check_budget(
            float(tb.shape[0]) * 400.0,
            "the new-customer quadrature (values x nodes)",
            budget=v.max_cells(),
            culprit=f"{tb.shape[0]} values",
            env="CUSTREL_MAX_CELLS",
        )
    if what == "expected":
        out = new_customer_expected(kind, tb, pb)
    else:
        out = new_customer_alive(kind, tb, pb)
    return np.asarray(out, dtype=np.float64).reshape(shape)
