"""custrel: customer-relationship analytics.

Customer value and lifetime value, RFM, the customer pyramid, lifecycle
stages, buy-till-you-die models and channel-partner selection, as plain
functions over columnar customer data that return frozen, documented results.

The public API is the union of the submodules' ``__all__``.
"""

from __future__ import annotations

from custrel import (
    btyd,
    channels,
    clv,
    datasets,
    errors,
    frames,
    lifecycle,
    models,
    pyramid,
    report,
    rfm,
)
from custrel.btyd import *  # noqa: F403
from custrel.channels import *  # noqa: F403
from custrel.clv import *  # noqa: F403
from custrel.datasets import *  # noqa: F403
from custrel.errors import *  # noqa: F403
from custrel.frames import *  # noqa: F403
from custrel.lifecycle import *  # noqa: F403
from custrel.models import *  # noqa: F403
from custrel.pyramid import *  # noqa: F403
from custrel.report import *  # noqa: F403
from custrel.rfm import *  # noqa: F403

__version__ = "0.1.0"

__all__ = sorted(
    {
        *btyd.__all__,
        *channels.__all__,
        *clv.__all__,
        *datasets.__all__,
        *errors.__all__,
        *frames.__all__,
        *lifecycle.__all__,
        *models.__all__,
        *pyramid.__all__,
        *report.__all__,
        *rfm.__all__,
    }
)
