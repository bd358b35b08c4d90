"""Figures of the customer pyramid and of value concentration (private; see custrel.plot)."""

from __future__ import annotations

from typing import Any

import numpy as np

from custrel._plotting import subplots, tight
from custrel.errors import InvalidTypeError
from custrel.models import Tier
from custrel.pyramid import LorenzCurve, Pyramid, WhaleCurve

__all__ = ["plot_lorenz", "plot_pyramid"]

_COLOURS = {
    Tier.PLATINUM: "#b8c4cc",
    Tier.GOLD: "#d4a72c",
    Tier.IRON: "#7a7f85",
    Tier.LEAD: "#4a4e54",
}


def plot_pyramid(pyramid: Pyramid, *, title: str | None = None) -> Any:
    """Draw the customer pyramid: one band per tier, platinum on top.

    Each band is labelled with the tier's share of customers and share of
    value, so the picture shows at a glance how few customers carry how much.

    Parameters
    ----------
    pyramid : Pyramid
        The result of :func:`custrel.customer_pyramid`.
    title : str, optional
        The figure title (default: "Customer pyramid").

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InvalidTypeError
        If ``pyramid`` is not a :class:`~custrel.pyramid.Pyramid`.
    MissingDependencyError
        If matplotlib is not installed.

    Examples
    --------
    >>> import custrel
    >>> from custrel.plot import plot_pyramid
    >>> fig = plot_pyramid(custrel.customer_pyramid(np.arange(1.0, 101.0)))
    >>> [t.get_text().split(":")[0] for t in fig.axes[0].texts]
    ['platinum', 'gold', 'iron', 'lead']
    """
    if not isinstance(pyramid, Pyramid):
        raise InvalidTypeError(
            f"pyramid must be a Pyramid (from customer_pyramid), got {type(pyramid).__name__}"
        )
    fig, ax = subplots((6.0, 4.5))
    tiers = list(Tier)
    levels = len(tiers)
    for i, tier in enumerate(tiers):
        # band i spans heights y0..y1; the half-width at height y is 1 - y/levels
        y0, y1 = levels - 1 - i, levels - i
        w0, w1 = 1.0 - (levels - 1 - i) / levels, 1.0 - (levels - i) / levels
        xs = [-w0, w0, w1, -w1]
        ys = [y0, y0, y1, y1]
        ax.fill(xs, ys, color=_COLOURS[tier], edgecolor="white", linewidth=2)
        k = tier - 1
        share = pyramid.value_share[k]
        value_txt = "n/a" if np.isnan(share) else f"{100 * share:.0f}% of value"
        ax.text(
            0.0,
            (y0 + y1) / 2,
            f"{tier.name.lower()}: {int(pyramid.count[k])} customers "
            f"({100 * pyramid.customer_share[k]:.0f}%), {value_txt}",
            ha="center",
            va="center",
            fontsize=8,
            color="black" if tier in (Tier.PLATINUM, Tier.GOLD) else "white",
        )
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(0, levels)
    ax.axis("off")
    ax.set_title(title or "Customer pyramid")
    tight(fig)
    return fig


def plot_lorenz(curve: LorenzCurve | WhaleCurve, *, title: str | None = None) -> Any:
    """Draw the Lorenz curve (with its Gini) or the profit whale curve.

    Parameters
    ----------
    curve : LorenzCurve or WhaleCurve
        From :func:`custrel.lorenz_curve` (customers poorest first, against
        the line of equality) or :func:`custrel.whale_curve` (customers most
        profitable first; the hump above 100 % is the profit the loss-making
        customers destroy).
    title : str, optional
        The figure title.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InvalidTypeError
        If ``curve`` is neither curve.
    MissingDependencyError
        If matplotlib is not installed.

    Examples
    --------
    >>> import custrel
    >>> from custrel.plot import plot_lorenz
    >>> fig = plot_lorenz(custrel.whale_curve([100, 60, 20, -30, -50]))
    >>> fig.axes[0].get_ylabel()
    'cumulative share of profit'
    """
    if isinstance(curve, LorenzCurve):
        fig, ax = subplots((5.0, 5.0))
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="equality")
        ax.plot(curve.customer_share, curve.value_share, color="C0", label="Lorenz curve")
        ax.fill_between(curve.customer_share, curve.value_share, curve.customer_share, alpha=0.15)
        ax.set_xlabel("cumulative share of customers (lowest value first)")
        ax.set_ylabel("cumulative share of value")
        ax.set_title(title or f"Lorenz curve (Gini {curve.gini:.2f})")
    elif isinstance(curve, WhaleCurve):
        fig, ax = subplots((5.5, 4.5))
        ax.plot(curve.customer_share, curve.profit_share, color="C3", label="whale curve")
        ax.axhline(1.0, color="grey", linestyle="--", label="total profit")
        ax.plot(
            [curve.peak_customer_share],
            [curve.peak_share],
            "o",
            color="C3",
            label=f"peak {100 * curve.peak_share:.0f}% at {100 * curve.peak_customer_share:.0f}%",
        )
        ax.set_xlabel("cumulative share of customers (most profitable first)")
        ax.set_ylabel("cumulative share of profit")
        ax.set_title(title or "Profit whale curve")
    else:
        raise InvalidTypeError(
            f"curve must be a LorenzCurve or a WhaleCurve, got {type(curve).__name__}"
        )
    ax.set_xlim(0, 1)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    tight(fig)
    return fig
