"""Bugs the adversarial suite found in the new BTYD API, each kept as a plain test.

Helper "adversarial" (issue 10's suite over this session's covariate, correlated,
uncertainty and prediction API). Each row is one failing input as found, with the
CustrelError it must give now.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import custrel as C
from custrel.errors import InvalidInputError

_BG = C.BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
_BB = C.BGBBModel.from_params({"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.78})
_PN = C.ParetoNBDModel.from_params({"r": 0.55, "alpha": 10.6, "s": 0.61, "beta": 11.7})
_Z = np.array([[0.5], [-1.0]])

# -- a plain model's prediction methods given covariate keywords -------------------------
# They raised Python's TypeError ("unexpected keyword argument"): the seven classic
# methods of RepeatPurchaseModel had no covariate keywords while the newer ones did.

_CALLS: dict[str, Callable[[Any, dict[str, Any]], Any]] = {
    "probability_alive": lambda m, kw: m.probability_alive([0, 1], [0, 2], [3, 3], **kw),
    "customer_log_likelihood": lambda m, kw: m.customer_log_likelihood(
        [0, 1], [0, 2], [3, 3], **kw
    ),
    "conditional_expected_purchases": lambda m, kw: m.conditional_expected_purchases(
        2, [0, 1], [0, 2], [3, 3], **kw
    ),
    "expected_purchases": lambda m, kw: m.expected_purchases([1, 2], **kw),
    "probability_of_purchases": lambda m, kw: m.probability_of_purchases(1, 2, **kw),
    "customer_lifetime_value": lambda m, kw: m.customer_lifetime_value(
        [0, 1], [0, 2], [3, 3], 10.0, horizon=2, discount_rate=0.1, **kw
    ),
    "simulate": lambda m, kw: m.simulate(2, 3, rng=1, **kw),
    "new_customer_expected_purchases": lambda m, kw: m.new_customer_expected_purchases(2, **kw),
    "conditional_probability_of_purchases": lambda m, kw: m.conditional_probability_of_purchases(
        1, 2, [0, 1], [0, 2], [3, 3], **kw
    ),
}

_PLAIN_CASES = [
    pytest.param(model, method, arg, id=f"{type(model).__name__}.{method}-{arg}")
    for model in (_BG, _BB, _PN)
    for method in _CALLS
    for arg in ("purchase_covariates", "dropout_covariates")
]


@pytest.mark.parametrize(("model", "method", "argument"), _PLAIN_CASES)
def test_plain_model_refuses_covariates_naming_the_argument(
    model: Any, method: str, argument: str
) -> None:
    name = type(model).__name__
    with pytest.raises(InvalidInputError, match=rf"{argument} was given, but {name} has no cov"):
        _CALLS[method](model, {argument: _Z})


@pytest.mark.parametrize("method", sorted(_CALLS))
def test_plain_model_still_predicts_without_covariates(method: str) -> None:
    out = _CALLS[method](_BG, {})
    values = out.frequency if isinstance(out, C.BTYDSummary) else np.asarray(out)
    assert np.isfinite(values).all()


def test_explicit_none_covariates_are_the_plain_call() -> None:
    plain = _BG.probability_alive([0, 1], [0, 2], [3, 3])
    none = _BG.probability_alive(
        [0, 1], [0, 2], [3, 3], purchase_covariates=None, dropout_covariates=None
    )
    np.testing.assert_array_equal(plain, none)
