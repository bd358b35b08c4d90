"""Tests of custrel.errors: the hierarchy every deliberate failure belongs to."""

from __future__ import annotations

import pytest

import custrel
from custrel import errors


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.InvalidInputError, ValueError),
        (errors.EmptyInputError, ValueError),
        (errors.InvalidTypeError, TypeError),
        (errors.ConvergenceError, RuntimeError),
        (errors.MissingDependencyError, ImportError),
    ],
)
def test_each_error_is_a_custrel_error_and_its_builtin(
    cls: type[Exception], builtin: type[Exception]
) -> None:
    assert issubclass(cls, errors.CustrelError)
    assert issubclass(cls, builtin)
    with pytest.raises(errors.CustrelError, match="boom"):
        raise cls("boom")


def test_empty_input_is_an_invalid_input() -> None:
    assert issubclass(errors.EmptyInputError, errors.InvalidInputError)


def test_warnings_are_runtime_warnings() -> None:
    assert issubclass(errors.FitWarning, errors.CustrelWarning)
    assert issubclass(errors.CustrelWarning, RuntimeWarning)
    assert not issubclass(errors.CustrelWarning, errors.CustrelError)


def test_all_is_sorted_and_exported() -> None:
    assert errors.__all__ == sorted(errors.__all__)
    for name in errors.__all__:
        assert getattr(custrel, name) is getattr(errors, name)


def test_a_library_failure_is_caught_by_the_base_class() -> None:
    # the message names the argument, the value and the row (CONVENTIONS.md, Errors)
    with pytest.raises(errors.CustrelError) as info:
        custrel.TransactionLog.from_arrays(customer_id=[1, 2], time=[0.0, 1.0], amount=[1.0, "x"])
    assert isinstance(info.value, errors.CustrelError)
    with pytest.raises(ValueError, match=r"amount must be finite, got inf at row 1"):
        custrel.TransactionLog.from_arrays(
            customer_id=[1, 2], time=[0.0, 1.0], amount=[1.0, float("inf")]
        )
