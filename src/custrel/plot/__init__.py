"""Matplotlib figures (the ``plot`` extra: ``pip install 'custrel[plot]'``).

Each function takes a custrel result and returns a :class:`matplotlib.figure.Figure`
without showing it; save it with ``fig.savefig(...)``. matplotlib is imported
only when a figure is drawn, so ``import custrel`` never needs it.

The figures live in one private submodule per area (``_pyramid``,
``_lifecycle``, ``_btyd``) so the areas can grow independently; this module
re-exports them all.
"""

from __future__ import annotations

from custrel.plot._btyd import (
    plot_calibration_holdout,
    plot_frequency_recency_matrix,
    plot_repeat_purchases,
    plot_tracking,
)
from custrel.plot._lifecycle import plot_stage_mix, plot_survival, plot_value_curve
from custrel.plot._pyramid import plot_lorenz, plot_pyramid
from custrel.plot._rfm import plot_rfm_heatmap

__all__: list[str] = [
    "plot_calibration_holdout",
    "plot_frequency_recency_matrix",
    "plot_lorenz",
    "plot_pyramid",
    "plot_repeat_purchases",
    "plot_rfm_heatmap",
    "plot_stage_mix",
    "plot_survival",
    "plot_tracking",
    "plot_value_curve",
]
