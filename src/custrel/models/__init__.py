"""The domain vocabulary: customer classifications, records and the columnar log.

This module holds what every other module shares:

* the enums of the customer classification axes (relation to the firm, value
  class, loyalty, state), the pyramid tiers and the lifecycle stage models;
* the one-record values :class:`Customer` and :class:`Transaction`, for
  ergonomics;
* :class:`TransactionLog`, the columnar form every algorithm consumes, its
  intake bookkeeping :class:`IntakeSummary` and its per-customer summary
  :class:`CustomerSummary`.

Values that only one algorithm module uses (a decision matrix, a fitted
model) live in that module, so that this module stays the small shared core
the import direction requires. The code lives in private submodules
(``_domain``, ``_times``, ``_ids``, ``_csv``, ``_log``); import from here.
"""

from __future__ import annotations

from custrel._ids import _factorize
from custrel.models._domain import (
    COST_FIELDS,
    DWYER_SCHURR_OH,
    FORD,
    FOUR_STAGE,
    IACOBUCCI_ZERRILLO,
    JAP_GANESAN,
    OPTIONAL_FIELDS,
    SIX_STAGE,
    STAGE_MODELS,
    Customer,
    CustomerState,
    EquityDriver,
    LifecyclePattern,
    Loyalty,
    RelationshipDimension,
    RelationType,
    StageModel,
    Tier,
    Transaction,
    ValueClass,
)
from custrel.models._log import CustomerSummary, IntakeSummary, TransactionLog
from custrel.models._times import UNIT_DAYS, TimeKind, _unit_seconds, parse_times, time_to_float

__all__ = [
    "COST_FIELDS",
    "DWYER_SCHURR_OH",
    "FORD",
    "FOUR_STAGE",
    "IACOBUCCI_ZERRILLO",
    "JAP_GANESAN",
    "OPTIONAL_FIELDS",
    "SIX_STAGE",
    "STAGE_MODELS",
    "Customer",
    "CustomerState",
    "CustomerSummary",
    "EquityDriver",
    "IntakeSummary",
    "LifecyclePattern",
    "Loyalty",
    "RelationType",
    "RelationshipDimension",
    "StageModel",
    "Tier",
    "Transaction",
    "TransactionLog",
    "ValueClass",
]

# Private names other custrel modules import from here (kept importable).
_SHARED = (_factorize, _unit_seconds, parse_times, time_to_float, UNIT_DAYS, TimeKind)
