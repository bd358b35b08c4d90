"""The exceptions and warnings custrel raises on purpose.

Everything custrel raises deliberately derives from :class:`CustrelError`, so
``except custrel.CustrelError`` catches every failure the library diagnosed.
Each concrete error also derives from the matching built-in exception
(``ValueError``, ``TypeError``, ``RuntimeError``), so code written against
the built-ins keeps working.

Messages name the argument, the offending value and, for tabular data, the row
or the customer, and add a hint where one exists::

    amount must be finite, got nan at row 17

Examples
--------
>>> import custrel
>>> try:
...     custrel.TransactionLog.from_arrays(customer_id=[1], time=[0.0], amount=[float("nan")])
... except custrel.InvalidInputError as exc:
...     print(exc)
amount must be finite, got nan at row 0
"""

from __future__ import annotations

__all__ = [
    "ConsistencyWarning",
    "ConvergenceError",
    "CustrelError",
    "CustrelWarning",
    "EmptyInputError",
    "FitWarning",
    "InvalidInputError",
    "InvalidTypeError",
    "MissingDependencyError",
    "RFMCollapseWarning",
]


class CustrelError(Exception):
    """Base class of every error custrel raises on purpose."""


class InvalidInputError(CustrelError, ValueError):
    """An argument has the right type but a value custrel cannot accept.

    The message names the argument, the value and, for data, the row or the
    customer it was found in.
    """


class EmptyInputError(InvalidInputError):
    """The input holds no rows (for example a CSV file with a header only)."""


class InvalidTypeError(CustrelError, TypeError):
    """An argument has a type custrel cannot accept."""


class ConvergenceError(CustrelError, RuntimeError):
    """A numerical fit failed; the message carries the optimizer's own message."""


class MissingDependencyError(CustrelError, ImportError):
    """An optional extra (``frames``, ``plot``) is needed but not installed.

    The message names the ``pip install`` command that fixes it.
    """


class CustrelWarning(RuntimeWarning):
    """Base class of the warnings custrel emits."""


class FitWarning(CustrelWarning):
    """A fit finished but its result deserves a second look (poor residual, boundary)."""


class ConsistencyWarning(CustrelWarning):
    """AHP judgements whose consistency ratio exceeds the accepted maximum."""


class RFMCollapseWarning(CustrelWarning):
    """RFM quantile scores use fewer than k levels because of tied values.

    Ties are never split (equal values always share a score), so on heavily
    tied data, typically frequency when most customers bought once, some
    scores are never given. :meth:`RFMScores.levels_used` lists the levels
    each dimension uses; pass ``on_collapse="ignore"`` to :func:`rfm_scores`
    to silence this warning or ``"raise"`` to make it an error.

    Examples
    --------
    >>> import warnings
    >>> from custrel import RFMTable, rfm_scores
    >>> t = RFMTable.from_arrays(customer_id=range(5), recency=range(5),
    ...                          frequency=[1, 1, 1, 1, 4], monetary_value=range(5))
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = rfm_scores(t)
    >>> print(caught[0].message)
    frequency uses 2 of 5 levels (1, 5) (80% of customers share the value 1). Ties are never split; see RFMScores.levels_used(), give thresholds=..., or pass on_collapse='ignore'
    """


# ---------------------------------------------------------------------------
# Time helpers
# ---------------------------------------------------------------------------
