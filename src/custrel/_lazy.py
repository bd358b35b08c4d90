"""Modules imported on first use (private): ``import custrel`` stays quick.

``scipy.special`` alone costs about 0.3 s to import (scipy's array-API layer
pulls in ``numpy.testing``, ``unittest`` and more), four times ``import
numpy``. The modules that need it hold a :class:`LazyModule` instead and pay
that cost on their first call of a special function, not at ``import
custrel``. Attribute access after the first goes straight to the real
function (it is cached on the proxy), and the first access is as thread-safe
as ``import`` itself.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__: list[str] = []


class LazyModule:
    """A stand-in for a module that imports it when an attribute is first read.

    Examples
    --------
    >>> special = LazyModule("scipy.special")
    >>> float(special.gammaln(4.0))  # log(3!)
    1.791759469228055
    """

    def __init__(self, name: str) -> None:
        self._lazy_name = name

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):  # copy/pickle/inspect probes: not the module's
            raise AttributeError(attr)
        value = getattr(importlib.import_module(self._lazy_name), attr)
        setattr(self, attr, value)  # later reads skip __getattr__
        return value

    def __repr__(self) -> str:
        return f"<lazy module {self._lazy_name!r}>"
