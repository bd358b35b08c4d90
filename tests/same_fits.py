"""The check that fits agree to the last bit, shared by the thread and process tests."""

from __future__ import annotations

from typing import Any

import numpy as np


def fit_fields(m: Any) -> list[Any]:
    """What a fit reports: estimates, log-likelihood, standard errors, covariance, iterations."""
    return [
        np.asarray(list(m.params.values())),
        m.log_likelihood,
        np.asarray(list(m.standard_errors.values())),
        np.asarray(m.covariance),
        m.n_iterations,
    ]


def assert_same_fits(*fits: Any) -> None:
    """Every fit equals the first to the last bit (NaN where NaN), shapes included."""
    first = fit_fields(fits[0])
    for other in fits[1:]:
        for a, b in zip(first, fit_fields(other), strict=True):
            a, b = np.asarray(a), np.asarray(b)
            assert a.shape == b.shape
            assert np.array_equal(a, b, equal_nan=True), np.max(np.abs(a - b))
