"""Orders rules as plain code, by rule area (R-PRG-2, R-PRG-3, R-AGR-1..9, R-CAT-5):

| module | rules |
|---|---|
| ``calendar`` | agreement years and months (R-PRG-2, R-AGR-6) |
| ``rows`` | agreement-import and history-import rows, agreement ids (R-AGR-1/2/3) |
| ``renewal`` | renewal thresholds and exceptions (R-AGR-2) |
| ``progress`` | progress, remaining volume (R-AGR-3) and even pacing (R-AGR-6) |
| ``lifecycle`` | statuses, legal moves, acceptance (R-AGR-8) |
| ``pricing`` | the listing price, the amount, order classes (R-CAT-5, R-AGR-4/5) |
| ``placement`` | placing an order: the checks, the class and the pacing judged, as a decision |
| ``common`` | exact arithmetic and checks the others share |

No framework imports: the standard library, ``contracts.identity`` and
:mod:`services.runtime.clock` only, so every rule can be tested with plain values. Counts of
units are ``int``; money is ``Decimal`` (yuan, two places); ratios are ``Decimal``; pacing
arithmetic uses ``Fraction``. Never a float.

The profile parameters (:class:`RenewalPolicy`, :class:`PacingPolicy`) are small dataclasses
here; the functions accept anything with the same attributes (:class:`RenewalThresholds`,
:class:`PacingThresholds`), so ``contracts.profiles.RenewalPolicy`` / ``PacingPolicy`` from a
program's profile can be passed as they are.

Every name is importable from ``services.orders.domain`` as before the split.
"""

from __future__ import annotations

from services.orders.domain.calendar import (
    MAX_CYCLE_YEARS,
    AgreementMonth,
    AgreementYear,
    agreement_month,
    agreement_months,
    agreement_year_of,
    agreement_years,
)
from services.orders.domain.common import (
    CENT,
)
from services.orders.domain.lifecycle import (
    COMMITS_NOTHING,
    COUNTS_TOWARD_PROGRESS,
    FINAL_STATUSES,
    NOT_ORDERED,
    TRANSITIONS,
    Acceptance,
    IllegalTransition,
    InvalidAcceptance,
    OrderAction,
    OrderStatus,
    accept,
    committed_units,
    ordered_units,
    rejection_reason,
    transition,
)
from services.orders.domain.placement import (
    LISTED,
    AgreementVolume,
    Decision,
    Earlier,
    InstitutionNotInRegion,
    ListingFacts,
    ListingSuspended,
    OrderRequest,
    OutsideCycle,
    PlacementContext,
    PlacementRefused,
    PlaceOrder,
    ProgramFacts,
    UnknownListing,
    UnknownProgram,
    decide_order,
)
from services.orders.domain.pricing import (
    MAX_PRICE,
    OrderClass,
    PriceMismatch,
    check_order_price,
    classify_order,
    order_amount,
    split_units,
)
from services.orders.domain.progress import (
    PacingCheck,
    PacingPolicy,
    PacingThresholds,
    PacingWarning,
    month_pacing_warnings,
    pacing_warning_id,
    pacing_warnings,
    progress,
    remaining,
)
from services.orders.domain.renewal import (
    CHONGQING_RENEWAL,
    RenewalCheck,
    RenewalFailure,
    RenewalPolicy,
    RenewalThresholds,
    check_renewal,
    failure_message,
    renewal_allowed,
    required_units,
)
from services.orders.domain.rows import (
    INSTITUTION_TYPES,
    MAX_UNITS,
    ROW_FIELDS,
    AgreementRow,
    HistoryRow,
    InstitutionType,
    agreement_id,
    certificate_key,
    enterprise_label,
    historical_purchase_id,
    parse_units,
    parse_year,
    resolve_listings,
    validate_agreement_rows,
    validate_history_rows,
)
from services.runtime.rows import RowError

__all__ = [
    "CENT",
    "CHONGQING_RENEWAL",
    "COMMITS_NOTHING",
    "COUNTS_TOWARD_PROGRESS",
    "FINAL_STATUSES",
    "INSTITUTION_TYPES",
    "LISTED",
    "MAX_CYCLE_YEARS",
    "MAX_PRICE",
    "MAX_UNITS",
    "NOT_ORDERED",
    "ROW_FIELDS",
    "TRANSITIONS",
    "Acceptance",
    "AgreementMonth",
    "AgreementRow",
    "AgreementVolume",
    "AgreementYear",
    "Decision",
    "Earlier",
    "HistoryRow",
    "IllegalTransition",
    "InstitutionNotInRegion",
    "InstitutionType",
    "InvalidAcceptance",
    "ListingFacts",
    "ListingSuspended",
    "OrderAction",
    "OrderClass",
    "OrderRequest",
    "OrderStatus",
    "OutsideCycle",
    "PacingCheck",
    "PacingPolicy",
    "PacingThresholds",
    "PacingWarning",
    "PlaceOrder",
    "PlacementContext",
    "PlacementRefused",
    "PriceMismatch",
    "ProgramFacts",
    "RenewalCheck",
    "RenewalFailure",
    "RenewalPolicy",
    "RenewalThresholds",
    "RowError",
    "UnknownListing",
    "UnknownProgram",
    "accept",
    "agreement_id",
    "agreement_month",
    "agreement_months",
    "agreement_year_of",
    "agreement_years",
    "certificate_key",
    "check_order_price",
    "check_renewal",
    "classify_order",
    "committed_units",
    "decide_order",
    "enterprise_label",
    "failure_message",
    "historical_purchase_id",
    "month_pacing_warnings",
    "order_amount",
    "ordered_units",
    "pacing_warning_id",
    "pacing_warnings",
    "parse_units",
    "parse_year",
    "progress",
    "rejection_reason",
    "remaining",
    "renewal_allowed",
    "required_units",
    "resolve_listings",
    "split_units",
    "transition",
    "validate_agreement_rows",
    "validate_history_rows",
]
