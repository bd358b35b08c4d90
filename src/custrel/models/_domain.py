"""Domain values: the classification enums, stage models and one-record values (private).

Re-exported by :mod:`custrel.models`.
"""

from __future__ import annotations

import datetime as _dt
import enum
import math
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import numpy as np

from custrel import _validate as v
from custrel.errors import InvalidInputError, InvalidTypeError

# ---------------------------------------------------------------------------
# Enumerations (domain notes §1, §3, §4)
# ---------------------------------------------------------------------------


class RelationType(enum.Enum):
    """A customer's relation to the firm (domain notes §1)."""

    CONSUMER = "consumer"
    INTERMEDIARY = "intermediary"  #: distributor or dealer
    INTERNAL = "internal"
    PUBLIC_INTEREST = "public_interest"


class ValueClass(enum.Enum):
    """A customer's value to the firm (domain notes §1)."""

    KEY = "key"  #: VIP / key customer
    IMPORTANT = "important"
    ORDINARY = "ordinary"
    SMALL = "small"


class Loyalty(enum.Enum):
    """A customer's loyalty class (domain notes §1)."""

    LOYAL = "loyal"
    REPEAT = "repeat"  #: an "old" customer who has bought again
    NEW = "new"
    POTENTIAL = "potential"


class CustomerState(enum.Enum):
    """A customer's state in the relationship (domain notes §1)."""

    NON_CUSTOMER = "non_customer"
    POTENTIAL = "potential"
    TARGET = "target"
    CURRENT = "current"
    LOST = "lost"


class RelationshipDimension(enum.Enum):
    """The three measurable dimensions of a relationship (domain notes §1)."""

    LENGTH = "length"  #: duration: the lifecycle
    DEPTH = "depth"  #: quality: repeat, cross-sell, up-sell revenue and referrals
    BREADTH = "breadth"  #: number: acquired, retained, won back


class EquityDriver(enum.Enum):
    """The three drivers of customer equity (domain notes §1)."""

    VALUE = "value"
    BRAND = "brand"
    RETENTION = "retention"


class Tier(enum.IntEnum):
    """Customer pyramid tiers, ordered from the most to the least valuable.

    Platinum and gold together are the key accounts (domain notes §3). The integer
    values order the tiers: ``Tier.PLATINUM < Tier.LEAD``.
    """

    PLATINUM = 1
    GOLD = 2
    IRON = 3
    LEAD = 4


class LifecyclePattern(enum.Enum):
    """Lifecycle patterns of ended relationships, by the stage they ended in (domain notes §4)."""

    EARLY_ABORTION = "I"  #: ended in exploration
    MIDWAY = "II"  #: ended in formation
    PREMATURE = "III"  #: ended early in stability
    LONG_LASTING = "IV"  #: ended late in stability


def _str_tuple(values: Iterable[Any]) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise InvalidTypeError(
            f"stages must be a sequence of stage names, got {type(values).__name__}"
        )
    out = tuple(values)
    for i, x in enumerate(out):
        if not isinstance(x, str) or not x:
            raise InvalidTypeError(f"stages must be non-empty strings, got {x!r} at position {i}")
    return out


def _name_text(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidTypeError(f"name must be a string, got {type(value).__name__}")
    return value


def _source_text(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidTypeError(f"source must be a string, got {type(value).__name__}")
    return value


def _one_id(value: Any) -> Any:
    """One customer id: an integer or text (or a finite float), never a container or missing."""
    if isinstance(value, bool | np.bool_):
        raise InvalidTypeError(f"customer_id must be an integer or text, got {value!r}")
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(f"customer_id must be an id, got {value!r} (missing)")
        return value
    if value is None:
        raise InvalidInputError("customer_id is missing (None)")
    raise InvalidTypeError(
        f"customer_id must be one id (an integer or text), got {type(value).__name__}"
    )


def _record_id(value: Any) -> Any:
    """A record's customer id: one id, or None (missing: the log builder's policy decides)."""
    return None if value is None else _one_id(value)


def _frozen_attributes(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidTypeError(
            f"attributes must be a mapping of names to values, got {type(value).__name__}"
        )
    for key, item in value.items():
        if isinstance(item, float | np.floating) and not math.isfinite(float(item)):
            raise InvalidInputError(f"attributes[{key!r}] must be finite, got {float(item)!r}")
        if np.ndim(item) != 0 and not isinstance(item, str | bytes):
            raise InvalidTypeError(
                f"attributes[{key!r}] must be one value, got {type(item).__name__}"
            )
    frozen: Mapping[str, Any] = v.freeze(dict(value))
    return frozen


@attrs.frozen
class StageModel:
    """An ordered set of named relationship-lifecycle stages.

    Parameters
    ----------
    name : str
        A short identifier, for example ``"four_stage"``.
    stages : tuple of str
        The stage names in lifecycle order.
    source : str
        Where the model comes from.

    Attributes
    ----------
    name, stages, source
        As given.

    Examples
    --------
    >>> from custrel.models import FOUR_STAGE
    >>> FOUR_STAGE.stages
    ('exploration', 'formation', 'stability', 'decline')
    >>> FOUR_STAGE.index("stability")
    2
    """

    name: str = attrs.field(converter=_name_text)
    stages: tuple[str, ...] = attrs.field(converter=_str_tuple)
    source: str = attrs.field(default="", converter=_source_text)

    def __attrs_post_init__(self) -> None:
        if len(self.stages) < 2:
            raise InvalidInputError(
                f"stages must name at least 2 stages, got {len(self.stages)} for {self.name!r}"
            )
        if len(set(self.stages)) != len(self.stages):
            raise InvalidInputError(f"stages must be distinct, got {self.stages!r}")

    def __len__(self) -> int:
        return len(self.stages)

    def index(self, stage: str) -> int:
        """Return the position (0-based) of ``stage`` in the lifecycle order."""
        if not isinstance(stage, str):
            raise InvalidTypeError(f"stage must be a stage name, got {type(stage).__name__}")
        try:
            return self.stages.index(stage)
        except ValueError:
            raise InvalidInputError(
                f"stage must be one of {self.stages!r} for stage model {self.name!r}, got {stage!r}"
            ) from None


#: The four stage stage model (domain notes §4).
FOUR_STAGE = StageModel(
    "four_stage", ("exploration", "formation", "stability", "decline"), "the CRM textbook (default)"
)
#: The six stage stage model (domain notes §4).
SIX_STAGE = StageModel(
    "six_stage",
    ("potential", "development", "growth", "maturity", "decline", "termination"),
    "the CRM textbook",
)
#: The dwyer schurr oh stage model (domain notes §4).
DWYER_SCHURR_OH = StageModel(
    "dwyer_schurr_oh",
    ("awareness", "exploration", "expansion", "commitment", "dissolution"),
    "Dwyer, Schurr & Oh (1987)",
)
#: The ford stage model (domain notes §4).
FORD = StageModel(
    "ford", ("pre_relationship", "early", "development", "long_term", "final"), "Ford (1980)"
)
#: The jap ganesan stage model (domain notes §4).
JAP_GANESAN = StageModel(
    "jap_ganesan",
    ("exploration", "build_up", "maturity", "decline", "deterioration"),
    "Jap & Ganesan (2000)",
)
#: The iacobucci zerrillo stage model (domain notes §4).
IACOBUCCI_ZERRILLO = StageModel(
    "iacobucci_zerrillo", ("beginning", "middle", "end"), "Iacobucci & Zerrillo (1996)"
)
#: Every predefined stage model, by name.
STAGE_MODELS: Mapping[str, StageModel] = {
    m.name: m
    for m in (FOUR_STAGE, SIX_STAGE, DWYER_SCHURR_OH, FORD, JAP_GANESAN, IACOBUCCI_ZERRILLO)
}

# ---------------------------------------------------------------------------
# One-record values
# ---------------------------------------------------------------------------

#: The four cost components of domain notes §2.1 (C1..C4).
COST_FIELDS: tuple[str, ...] = (
    "product_cost",
    "service_cost",
    "marketing_cost",
    "transaction_cost",
)
#: Optional per-transaction columns of a :class:`TransactionLog`.
OPTIONAL_FIELDS: tuple[str, ...] = ("volume", "unit_price", *COST_FIELDS, "indirect_benefit")


@attrs.frozen
class Customer:
    """A customer and its classification along the axes of domain notes §1.

    Parameters
    ----------
    customer_id : Hashable
        The customer's identifier.
    relation, value_class, loyalty, state : enum or None
        The classification axes; ``None`` where unknown.
    attributes : Mapping
        Any further attributes (region, segment, ...).

    Attributes
    ----------
    customer_id, relation, value_class, loyalty, state, attributes
        As given.

    Examples
    --------
    >>> from custrel import Customer, RelationType, ValueClass
    >>> c = Customer("C-17", relation=RelationType.INTERMEDIARY, value_class=ValueClass.KEY)
    >>> c.relation.value
    'intermediary'
    """

    customer_id: Any = attrs.field(converter=_one_id)
    relation: RelationType | None = None
    value_class: ValueClass | None = None
    loyalty: Loyalty | None = None
    state: CustomerState | None = None
    attributes: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_attributes)


def _opt_float(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, str | bytes | bool | np.bool_) or np.ndim(value) != 0:
        raise InvalidTypeError(
            f"a transaction's numbers must be one number each, got {value!r:.60}"
        )
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidTypeError(
            f"a transaction's numbers must be numbers, got {value!r:.60}"
        ) from None
    if not math.isfinite(number):
        raise InvalidInputError(f"a transaction's numbers must be finite, got {number!r}")
    return number


def _one_time(value: Any) -> Any:
    """One time: a date, datetime, datetime64, ISO text or finite number."""
    if isinstance(value, np.generic):
        if isinstance(value, np.datetime64):
            if np.isnat(value):
                raise InvalidInputError("time is missing (NaT)")
            return value
        value = value.item()
    if isinstance(value, _dt.date | str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise InvalidInputError(f"time must be finite, got {value!r}")
        return value
    raise InvalidTypeError(
        f"time must be one date or number, got {type(value).__name__} {value!r:.60}"
    )


@attrs.frozen
class Transaction:
    """One purchase (or return) by one customer.

    Parameters
    ----------
    customer_id : Hashable
        Who bought.
    time : datetime.date, datetime.datetime, numpy.datetime64 or float
        When. A log holds either calendar times or plain numbers, not both.
    amount : float or None
        Money received; negative for a return or cancellation. ``None`` for a
        record of a log without money (:attr:`TransactionLog.has_amount`).
    volume, unit_price : float, optional
        Quantity and price paid (domain notes §2.1: TV = V·p).
    product_cost, service_cost, marketing_cost, transaction_cost : float, optional
        The costs C1..C4 the customer consumed with this transaction.
    indirect_benefit : float, optional
        IB: the value of referrals and word of mouth (negative for bad word of mouth).

    Attributes
    ----------
    customer_id, time, amount, volume, unit_price, product_cost, service_cost,
    marketing_cost, transaction_cost, indirect_benefit
        As given.

    Examples
    --------
    >>> from custrel import Transaction
    >>> t = Transaction("A", 3.0, 0.0, volume=10, unit_price=5.0, product_cost=20.0)
    >>> t.transaction_value, t.profit
    (50.0, 30.0)
    """

    customer_id: Any = attrs.field(converter=_record_id)
    time: Any = attrs.field(converter=_one_time)
    amount: float | None = attrs.field(converter=_opt_float)
    volume: float | None = attrs.field(default=None, converter=_opt_float)
    unit_price: float | None = attrs.field(default=None, converter=_opt_float)
    product_cost: float | None = attrs.field(default=None, converter=_opt_float)
    service_cost: float | None = attrs.field(default=None, converter=_opt_float)
    marketing_cost: float | None = attrs.field(default=None, converter=_opt_float)
    transaction_cost: float | None = attrs.field(default=None, converter=_opt_float)
    indirect_benefit: float | None = attrs.field(default=None, converter=_opt_float)

    @property
    def transaction_value(self) -> float:
        """TV = V·p when volume and unit price are known, else the amount."""
        if self.volume is not None and self.unit_price is not None:
            return self.volume * self.unit_price
        if self.amount is None:
            raise InvalidInputError(
                "this transaction has no amount and no volume and unit_price; its value is unknown"
            )
        return self.amount

    @property
    def total_cost(self) -> float:
        """C1 + C2 + C3 + C4 (missing components count as 0)."""
        return sum(getattr(self, f) or 0.0 for f in COST_FIELDS)

    @property
    def profit(self) -> float:
        """P = TV − (C1 + C2 + C3 + C4) + IB (domain notes §2.1)."""
        return self.transaction_value - self.total_cost + (self.indirect_benefit or 0.0)
