"""Events and API models owned by the orders service (agreements, renewals, purchase orders,
acceptance, pacing)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from contracts.base import Event
from contracts.money import Amount, Money

AGREEMENTS_TOPIC = "vbp.orders.agreements.v1"
ORDERS_TOPIC = "vbp.orders.orders.v1"

InstitutionType = Literal["public", "military", "private"]
PacingCheck = Literal["monthly", "cumulative"]
OrderClass = Literal["within_agreement", "beyond_agreement", "no_agreement", "non_winning"]


class AgreementRecorded(Event):
    """An institution's agreement volume for one product in one agreement year (R-AGR-1), as
    imported, or a new version of it (every change is an event with who, when and why)."""

    TYPE: ClassVar[str] = "vbp.orders.agreement.recorded.v1"
    TOPIC: ClassVar[str] = AGREEMENTS_TOPIC
    KEY: ClassVar[str] = "agreement_id"

    agreement_id: str
    program_id: str
    agreement_year: int = Field(ge=1)
    year_start: AwareDatetime
    year_end: AwareDatetime
    institution_id: str
    institution_type: InstitutionType
    enterprise_id: str
    registration_no: str
    listing_id: str
    units: int = Field(ge=0)
    winning_price: Money
    amount: Money = Field(description="units × winning price (prepayment basis, R-PAY-2)")
    recorded_by: str
    recorded_at: AwareDatetime
    reason: str
    version: int = 1


class HistoricalPurchaseRecorded(Event):
    """Units an institution actually accepted of one product in one agreement year before the
    platform ran the program (a program onboarded under way), imported by the regulator, or a
    new version of them. They count exactly as accepted orders do: toward progress (R-AGR-3)
    and as last year's actual purchases of a renewal (R-AGR-2)."""

    TYPE: ClassVar[str] = "vbp.orders.history.purchase-recorded.v1"
    TOPIC: ClassVar[str] = AGREEMENTS_TOPIC
    KEY: ClassVar[str] = "purchase_id"

    purchase_id: str
    program_id: str
    agreement_year: int = Field(ge=1)
    institution_id: str
    enterprise_id: str
    registration_no: str
    listing_id: str
    accepted_units: int = Field(ge=0)
    recorded_by: str
    recorded_at: AwareDatetime
    reason: str
    version: int = 1


class RenewalDecided(Event):
    """An institution's demand for the next agreement year was accepted or refused (R-AGR-2)."""

    TYPE: ClassVar[str] = "vbp.orders.renewal.decided.v1"
    TOPIC: ClassVar[str] = AGREEMENTS_TOPIC
    KEY: ClassVar[str] = "renewal_id"

    renewal_id: str
    program_id: str
    agreement_year: int
    institution_id: str
    accepted: bool
    failures: list[str] = Field(default_factory=list)
    exception_reason: str | None = None
    decided_by: str
    decided_at: AwareDatetime


class OrderPlaced(Event):
    """A purchase order at the listing price (R-CAT-5, R-AGR-4/5)."""

    TYPE: ClassVar[str] = "vbp.orders.order.placed.v1"
    TOPIC: ClassVar[str] = ORDERS_TOPIC
    KEY: ClassVar[str] = "order_id"

    order_id: str
    program_id: str
    institution_id: str
    region: str
    listing_id: str
    registration_no: str
    enterprise_id: str
    units: int = Field(gt=0)
    unit_price: Money
    amount: Money
    order_class: OrderClass
    placed_by: str
    placed_at: AwareDatetime
    agreement_year: int | None = Field(
        default=None, description="the agreement year (R-PRG-2) the order was placed in")


class OrderCancelled(Event):
    """Cancelled before shipping (R-AGR-8)."""

    TYPE: ClassVar[str] = "vbp.orders.order.cancelled.v1"
    TOPIC: ClassVar[str] = ORDERS_TOPIC
    KEY: ClassVar[str] = "order_id"

    order_id: str
    institution_id: str
    reason: str
    cancelled_by: str
    cancelled_at: AwareDatetime


class OrderAccepted(Event):
    """The institution accepted a delivery (交货验收合格), possibly partly. Only accepted units
    count toward progress; the acceptance instant starts the settlement clock (R-PAY-1)."""

    TYPE: ClassVar[str] = "vbp.orders.order.accepted.v1"
    TOPIC: ClassVar[str] = ORDERS_TOPIC
    KEY: ClassVar[str] = "order_id"

    order_id: str
    program_id: str
    institution_id: str
    enterprise_id: str
    listing_id: str
    registration_no: str
    distributor_id: str | None = None
    accepted_units: int = Field(gt=0)
    rejected_units: int = Field(ge=0, default=0)
    unit_price: Money
    amount: Money = Field(description="accepted units × unit price")
    rejection_reason: str | None = None
    accepted_by: str
    accepted_at: AwareDatetime


class OrderRejected(Event):
    """The institution rejected the whole delivery, with a reason (R-AGR-8)."""

    TYPE: ClassVar[str] = "vbp.orders.order.rejected.v1"
    TOPIC: ClassVar[str] = ORDERS_TOPIC
    KEY: ClassVar[str] = "order_id"

    order_id: str
    institution_id: str
    enterprise_id: str
    reason: str
    rejected_by: str
    rejected_at: AwareDatetime


class PacingWarningRaised(Event):
    """Bunched or lagging purchases against the even line (R-AGR-6): once per institution,
    product and month."""

    TYPE: ClassVar[str] = "vbp.orders.pacing.warning-raised.v1"
    TOPIC: ClassVar[str] = AGREEMENTS_TOPIC
    KEY: ClassVar[str] = "warning_id"

    warning_id: str
    program_id: str
    agreement_year: int
    institution_id: str
    registration_no: str
    month: date = Field(description="first day of the Shanghai month")
    reason: str
    raised_at: AwareDatetime
    agreement_month: int | None = Field(
        default=None, ge=1, le=12,
        description="month 1..12 of the agreement year, counted from the execution start by "
        "calendar months; 'month' is the calendar month it starts in")
    month_start: AwareDatetime | None = None
    month_end: AwareDatetime | None = Field(default=None, description="exclusive")
    checks: list[PacingCheck] = Field(
        default_factory=list,
        description="which bounds were exceeded: 'monthly' (the month's orders above the "
        "profile's multiple of annual / 12), 'cumulative' (further from the even line than "
        "the tolerance)")
    annual_units: int | None = None
    ordered_units: int | None = Field(default=None, description="units ordered in the month")
    cumulative_units: int | None = Field(
        default=None, description="units ordered from the year's start through the month")
    raised_by: str | None = Field(
        default=None, description="'order:<id>' when an order placement crossed the bound, "
        "or who ran the month-end evaluation")


# --- HTTP API models -------------------------------------------------------------------------

Share = Annotated[
    Decimal,
    PlainSerializer(lambda d: f"{d:f}", return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^\d+(\.\d+)?$", "examples": ["0.9500"]}),
]
"""A ratio such as progress (accepted / agreement), a decimal string; may exceed 1."""

OrderStatus = Literal["placed", "routed", "shipped", "delivered", "accepted",
                      "partially_accepted", "rejected", "cancelled"]
RenewalStatus = Literal["accepted", "refused", "accepted_with_exception"]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\s]+$")]


class InstitutionIn(BaseModel):
    """One institution of a region (R-PRG-3)."""

    model_config = ConfigDict(extra="forbid")

    institution_id: Id
    region: str = Field(min_length=1, max_length=100)
    institution_type: InstitutionType
    name: str | None = Field(default=None, max_length=200)


class InstitutionsIn(BaseModel):
    """Body of ``POST /v1/institutions``: the institutions of a region. Once a region has any,
    agreement imports and orders of that region's programs accept only them."""

    model_config = ConfigDict(extra="forbid")

    institutions: list[InstitutionIn] = Field(min_length=1, max_length=50_000)
    reason: str = Field(default="institution register", min_length=1, max_length=1000)


class InstitutionOut(InstitutionIn):
    model_config = ConfigDict(extra="ignore")

    registered_by: str
    registered_at: datetime


class InstitutionsPage(BaseModel):
    items: list[InstitutionOut]
    next_cursor: str | None = None


class InstitutionsRegistered(BaseModel):
    registered: int
    updated: int
    unchanged: int


class HistoryImportResult(BaseModel):
    """What a history import (``POST /v1/programs/{id}/history``) did: per agreement year, the
    agreement volumes (as an agreement import would record them) and the actual purchases.
    ``replayed`` = the same file was imported before (same content hash): nothing changed."""

    import_id: str
    program_id: str
    rows: int
    agreement_years: list[int]
    agreements_recorded: int = Field(description="new agreements")
    agreements_changed: int = Field(description="agreements whose units changed")
    purchases_recorded: int = Field(description="new actual-purchase records")
    purchases_changed: int = Field(description="actual purchases whose units changed")
    agreements_unchanged: int
    purchases_unchanged: int
    content_sha256: str
    replayed: bool = False
    imported_by: str
    imported_at: datetime


class AgreementImportResult(BaseModel):
    """What an agreement-volume import did (R-AGR-1). ``replayed`` = the same file was imported
    before (same content hash): nothing changed."""

    import_id: str
    program_id: str
    agreement_year: int
    rows: int
    recorded: int = Field(description="new agreements")
    changed: int = Field(description="agreements whose units changed (a new version)")
    unchanged: int
    content_sha256: str
    replayed: bool = False
    imported_by: str
    imported_at: datetime


class AgreementOut(BaseModel):
    """An agreement volume with its progress (R-AGR-3): accepted units / agreement units."""

    agreement_id: str
    program_id: str
    region: str
    agreement_year: int
    year_start: datetime
    year_end: datetime
    institution_id: str
    institution_type: InstitutionType
    enterprise_id: str
    enterprise_name: str | None = Field(
        default=None, description="the enterprise's name, from catalog's listings")
    registration_no: str
    listing_id: str
    units: int
    winning_price: Money
    amount: Money
    version: int
    recorded_by: str
    recorded_at: datetime
    reason: str
    accepted_units: int = 0
    progress: Share | None = None
    remaining: int = 0


class AgreementsPage(BaseModel):
    items: list[AgreementOut]
    next_cursor: str | None = None


class ProgressLine(BaseModel):
    """Progress of one product, one enterprise, or the total (R-AGR-3). ``progress`` is null
    where there is no agreement volume to measure against (R-AGR-4)."""

    registration_no: str | None = None
    enterprise_id: str | None = None
    enterprise_name: str | None = Field(
        default=None, description="the enterprise's name, from catalog's listings")
    agreement_units: int
    accepted_units: int
    progress: Share | None
    remaining: int


class PacingWarningOut(BaseModel):
    warning_id: str
    program_id: str
    agreement_year: int
    institution_id: str
    registration_no: str
    agreement_month: int
    month: date
    month_start: datetime
    month_end: datetime
    checks: list[PacingCheck]
    annual_units: int
    ordered_units: int
    cumulative_units: int
    reason: str
    raised_by: str
    raised_at: datetime


class PacingWarningsPage(BaseModel):
    items: list[PacingWarningOut]
    next_cursor: str | None = None


class ProgressReport(BaseModel):
    """An institution's (or, for a regulator, every matching institution's) execution of one
    program's agreement year: per product, per enterprise and in total, winning products only;
    non-winning purchases (R-AGR-5) are counted apart."""

    program_id: str
    agreement_year: int
    institution_id: str | None
    enterprise_id: str | None = None
    by_product: list[ProgressLine]
    by_enterprise: list[ProgressLine]
    total: ProgressLine
    non_winning_accepted_units: int
    pacing_warnings: list[PacingWarningOut]


class DemandLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enterprise_id: Id
    units: int = Field(ge=0, lt=10**9)


class RenewalIn(BaseModel):
    """Body of ``POST /v1/renewals``: next agreement year's demand, per winning enterprise."""

    model_config = ConfigDict(extra="forbid")

    program_id: Id
    agreement_year: int = Field(ge=2, le=50, description="the year being renewed for")
    institution_id: Id
    demand: list[DemandLine] = Field(max_length=1000)


class RenewalFailureOut(BaseModel):
    check: Literal["total", "per_enterprise"]
    enterprise_id: str | None
    enterprise_name: str | None = Field(
        default=None, description="the enterprise's name, from catalog's listings")
    ratio: Share
    basis: int
    required: int
    offered: int
    message: str


class RenewalOut(BaseModel):
    renewal_id: str
    program_id: str
    agreement_year: int
    institution_id: str
    demand: dict[str, int]
    status: RenewalStatus
    last_year_accepted_total: int
    last_year_agreement: dict[str, int]
    failures: list[RenewalFailureOut]
    exception_reason: str | None = None
    submitted_by: str
    submitted_at: datetime
    decided_by: str
    decided_at: datetime


class RenewalsPage(BaseModel):
    items: list[RenewalOut]
    next_cursor: str | None = None


class ExceptionIn(BaseModel):
    """Body of ``POST /v1/renewals/{id}/exception``: a regulator's approved exception."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000)


class OrderIn(BaseModel):
    """Body of ``POST /v1/orders``: at exactly the listing price (R-CAT-5)."""

    model_config = ConfigDict(extra="forbid")

    institution_id: Id
    listing_id: Id
    units: int = Field(gt=0, lt=10**9)
    unit_price: Amount = Field(description="exactly the listing price (R-CAT-5)")


class OrderOut(BaseModel):
    order_id: str
    program_id: str
    region: str
    agreement_year: int
    institution_id: str
    listing_id: str
    registration_no: str
    enterprise_id: str
    enterprise_name: str | None = Field(
        default=None, description="the enterprise's name, from catalog's listings")
    units: int
    unit_price: Money
    amount: Money
    order_class: OrderClass
    status: OrderStatus
    distributor_id: str | None = None
    shipped_units: int | None = None
    delivered_units: int | None = None
    accepted_units: int | None = None
    accepted_amount: Money | None = None
    accepted_at: datetime | None = None
    reason: str | None = Field(default=None, description="of a rejection or a cancellation")
    supply_risk: str | None = None
    placed_by: str
    placed_at: datetime
    updated_at: datetime
    version: int


class OrdersPage(BaseModel):
    items: list[OrderOut]
    next_cursor: str | None = None


class ReasonIn(BaseModel):
    """Body of ``POST /v1/orders/{id}/cancel`` and ``/rejection``."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000)


class AcceptanceIn(BaseModel):
    """Body of ``POST /v1/orders/{id}/acceptance`` (交货验收): all delivered units, or fewer
    (a partial acceptance, with a reason for the units refused)."""

    model_config = ConfigDict(extra="forbid")

    accepted_units: int = Field(gt=0, lt=10**9)
    reason: str | None = Field(default=None, max_length=1000)


class HistoryEntryOut(BaseModel):
    """One change of an order, agreement or renewal: what, who, when, why (R-AGR-9)."""

    seq: int
    change: str
    detail: dict[str, Any]
    actor: str
    reason: str
    at: datetime


class PacingEvaluationIn(BaseModel):
    """Body of ``POST /v1/pacing/evaluations``: judge every closed month of a program's agreement
    year (default: the year holding now) that has not been judged yet."""

    model_config = ConfigDict(extra="forbid")

    program_id: Id
    agreement_year: int | None = Field(default=None, ge=1, le=50)


class PacingEvaluationResult(BaseModel):
    program_id: str
    agreement_year: int
    closed_months: int
    agreements: int
    raised: int
    warning_ids: list[str]


class ProgramView(BaseModel):
    """The orders service's read model of a program (from catalog's events)."""

    program_id: str
    category: str
    region: str
    execution_start: datetime
    cycle_years: int
    profile_version: int
    renewal_thresholds: dict[str, str | None]
    pacing_enabled: bool
