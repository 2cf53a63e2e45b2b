"""Supply rules as plain code (R-SUP-1..5, R-AGR-7, R-CRD-3). No framework imports.

Everything here is a value or a pure function: it takes instants, assignments, distributors and
orders as arguments and returns decisions. Storing them, publishing events and reading the clock
belong to the service around it.

Instants are timezone-aware (naive ones are refused); validity windows are half-open
``[valid_from, valid_until)`` and a revocation or a bar takes effect at its own instant.

By rule area: ``distributors`` (qualification and bars), ``assignments`` (R-SUP-1),
``routing``, ``deliveries`` (R-SUP-3), ``violations`` (what a bar decides, R-SUP-4),
``accounts`` (R-SUP-2); ``common`` holds the base refusal. Every public name is importable from
``services.supply.domain`` as before the split.
"""

from services.supply.domain.accounts import (
    AccountStatus,
    DistributorAccount,
    OpenAccountItem,
    open_items,
)
from services.supply.domain.assignments import (
    Assignment,
    Scope,
    assignment_problems,
    is_in_force,
    is_live,
    is_revoked,
    resolve_assignment,
    revoke,
    validate_assignment,
)
from services.supply.domain.common import SupplyError
from services.supply.domain.deliveries import (
    DeliveredOrder,
    DeliveryStats,
    Movement,
    NotYourOrder,
    QuantityError,
    ShipmentState,
    TimeOrderError,
    delivery_stats,
    delivery_time,
    hours,
    p90_rank,
    stats_from_totals,
    to_decimal,
)
from services.supply.domain.distributors import (
    BAR_YEARS_2025,
    Bar,
    CalendarYears,
    Distributor,
    apply_bar,
    bar_period_for_level,
    credit_bar_until,
    is_barred,
    is_qualified,
    lift_bar,
)
from services.supply.domain.routing import (
    OrderToRoute,
    RiskReason,
    Routed,
    SupplyRisk,
    route,
    route_each,
)
from services.supply.domain.violations import (
    BarOutcome,
    Contingency,
    Gap,
    Reroute,
    bar_distributor,
)

__all__ = [
    "BAR_YEARS_2025",
    "AccountStatus",
    "Assignment",
    "Bar",
    "BarOutcome",
    "CalendarYears",
    "Contingency",
    "DeliveredOrder",
    "DeliveryStats",
    "Distributor",
    "DistributorAccount",
    "Gap",
    "Movement",
    "NotYourOrder",
    "OpenAccountItem",
    "OrderToRoute",
    "QuantityError",
    "Reroute",
    "RiskReason",
    "Routed",
    "Scope",
    "ShipmentState",
    "SupplyError",
    "SupplyRisk",
    "TimeOrderError",
    "apply_bar",
    "assignment_problems",
    "bar_distributor",
    "bar_period_for_level",
    "credit_bar_until",
    "delivery_stats",
    "delivery_time",
    "hours",
    "is_barred",
    "is_in_force",
    "is_live",
    "is_qualified",
    "is_revoked",
    "lift_bar",
    "open_items",
    "p90_rank",
    "resolve_assignment",
    "revoke",
    "route",
    "route_each",
    "stats_from_totals",
    "to_decimal",
    "validate_assignment",
]
