"""Events owned by the supply service (distributors, assignments, routing, delivery,
violation list)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from contracts.base import Event

ASSIGNMENTS_TOPIC = "vbp.supply.assignments.v1"
DELIVERIES_TOPIC = "vbp.supply.deliveries.v1"

AssignmentScope = Literal["institution", "region"]


class DistributorRegistered(Event):
    TYPE: ClassVar[str] = "vbp.supply.distributor.registered.v1"
    TOPIC: ClassVar[str] = ASSIGNMENTS_TOPIC
    KEY: ClassVar[str] = "distributor_id"

    distributor_id: str
    name: str
    qualified: bool = True
    registered_by: str
    registered_at: AwareDatetime
    reason: str | None = None


class AssignmentRecorded(Event):
    """A winning enterprise chose a distributor for a product, per institution or region
    (R-SUP-1)."""

    TYPE: ClassVar[str] = "vbp.supply.assignment.recorded.v1"
    TOPIC: ClassVar[str] = ASSIGNMENTS_TOPIC
    KEY: ClassVar[str] = "assignment_id"

    assignment_id: str
    enterprise_id: str
    registration_no: str
    distributor_id: str
    scope: AssignmentScope
    institution_id: str | None = None
    region: str | None = None
    valid_from: AwareDatetime
    valid_until: AwareDatetime | None = None
    recorded_by: str
    recorded_at: AwareDatetime
    reason: str


class AssignmentRevoked(Event):
    """By the enterprise, or because its distributor was barred (R-SUP-4)."""

    TYPE: ClassVar[str] = "vbp.supply.assignment.revoked.v1"
    TOPIC: ClassVar[str] = ASSIGNMENTS_TOPIC
    KEY: ClassVar[str] = "assignment_id"

    assignment_id: str
    enterprise_id: str
    distributor_id: str
    reason: str
    revoked_by: str
    revoked_at: AwareDatetime


class DistributorBarred(Event):
    """Placed on the violation list (违规名单): loses its qualification at once (R-SUP-4)."""

    TYPE: ClassVar[str] = "vbp.supply.distributor.barred.v1"
    TOPIC: ClassVar[str] = ASSIGNMENTS_TOPIC
    KEY: ClassVar[str] = "distributor_id"

    distributor_id: str
    reason: str
    barred_from: AwareDatetime
    barred_until: AwareDatetime
    measure_id: str | None = None
    barred_by: str
    bar_id: str | None = Field(default=None, description="the violation-list entry")


class DistributorReinstated(Event):
    """Lifted from the violation list: qualification back, revoked assignments not."""

    TYPE: ClassVar[str] = "vbp.supply.distributor.reinstated.v1"
    TOPIC: ClassVar[str] = ASSIGNMENTS_TOPIC
    KEY: ClassVar[str] = "distributor_id"

    distributor_id: str
    reason: str
    reinstated_by: str
    reinstated_at: AwareDatetime
    bar_id: str | None = Field(default=None, description="the violation-list entry lifted")
    measure_id: str | None = None


class OrderRouted(Event):
    """An order was routed to the enterprise's assigned distributor (also after re-routing)."""

    TYPE: ClassVar[str] = "vbp.supply.order.routed.v1"
    TOPIC: ClassVar[str] = DELIVERIES_TOPIC
    KEY: ClassVar[str] = "order_id"

    order_id: str
    institution_id: str
    enterprise_id: str
    distributor_id: str
    assignment_id: str
    rerouted_from: str | None = None
    routed_at: AwareDatetime


class SupplyRiskOpened(Event):
    """No valid assignment for an order: an open supply risk, visible to the regulator, until
    an assignment appears and the order is routed (R-SUP-4)."""

    TYPE: ClassVar[str] = "vbp.supply.risk.opened.v1"
    TOPIC: ClassVar[str] = DELIVERIES_TOPIC
    KEY: ClassVar[str] = "order_id"

    order_id: str
    enterprise_id: str
    registration_no: str
    institution_id: str
    reason: str
    opened_at: AwareDatetime
    taken_back_from: str | None = Field(
        default=None,
        description="the barred distributor the order was taken back from (R-SUP-4), if any",
    )


class OrderShipped(Event):
    TYPE: ClassVar[str] = "vbp.supply.order.shipped.v1"
    TOPIC: ClassVar[str] = DELIVERIES_TOPIC
    KEY: ClassVar[str] = "order_id"

    order_id: str
    distributor_id: str
    units: int = Field(gt=0)
    shipped_at: AwareDatetime
    recorded_by: str


class OrderDelivered(Event):
    TYPE: ClassVar[str] = "vbp.supply.order.delivered.v1"
    TOPIC: ClassVar[str] = DELIVERIES_TOPIC
    KEY: ClassVar[str] = "order_id"

    order_id: str
    distributor_id: str
    enterprise_id: str
    units: int = Field(gt=0)
    delivered_at: AwareDatetime
    delivery_seconds: int = Field(ge=0, description="placed → delivered (R-SUP-3)")
    recorded_by: str
    complete: bool = Field(
        default=True, description="the ordered quantity is now fully delivered"
    )


# --- HTTP API of the supply service ------------------------------------------------------------

Ident = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
OrderStatus = Literal["pending", "routed", "shipped", "delivered", "cancelled"]
AccountState = Literal["requested", "opened"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DistributorIn(_In):
    """Register a distribution company (配送企业)."""

    distributor_id: Ident
    name: str = Field(min_length=1, max_length=200)
    qualified: bool = True
    reason: str | None = Field(default=None, max_length=1000)


class DistributorOut(BaseModel):
    distributor_id: str
    name: str
    qualified: bool = Field(description="standing qualification, untouched by bars")
    status: Literal["qualified", "barred", "unqualified"]
    barred_from: datetime | None = None
    barred_until: datetime | None = None
    registered_by: str
    registered_at: datetime


class DistributorsPage(BaseModel):
    items: list[DistributorOut]
    next_cursor: str | None = None


class AssignmentIn(_In):
    """An enterprise chooses a distributor for one of its products, per institution or per
    region, on ``[valid_from, valid_until)`` (R-SUP-1). The enterprise is the caller."""

    registration_no: str = Field(min_length=1, max_length=40)
    distributor_id: Ident
    scope: AssignmentScope
    institution_id: str | None = Field(default=None, min_length=1, max_length=64)
    region: str | None = Field(default=None, min_length=1, max_length=100)
    valid_from: AwareDatetime | None = Field(default=None, description="default: now")
    valid_until: AwareDatetime | None = None
    reason: str = Field(min_length=1, max_length=1000)


class ReasonIn(_In):
    reason: str = Field(min_length=1, max_length=1000)


class AssignmentOut(BaseModel):
    assignment_id: str
    enterprise_id: str
    enterprise_name: str | None = Field(
        default=None, description="the enterprise's name, from catalog's listings")
    registration_no: str
    distributor_id: str
    scope: AssignmentScope
    institution_id: str | None = None
    region: str | None = None
    valid_from: datetime
    valid_until: datetime | None = None
    status: Literal["in_force", "future", "expired", "revoked"]
    recorded_by: str
    recorded_at: datetime
    reason: str
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    revoke_reason: str | None = None


class AssignmentRecordedOut(AssignmentOut):
    routed_orders: int = Field(
        default=0, description="pending orders this assignment routed at once")
    contingencies_closed: list[str] = Field(default_factory=list)


class AssignmentsPage(BaseModel):
    items: list[AssignmentOut]
    next_cursor: str | None = None


class HistoryOut(BaseModel):
    change: str
    detail: dict[str, object]
    actor: str
    reason: str
    at: datetime


class BarIn(_In):
    """Place a distributor on the violation list (违规名单, R-SUP-4): give exactly one of
    ``until`` and ``years`` (calendar years in Asia/Shanghai)."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"title": "until", "required": ["until"],
         "properties": {"until": {"type": "string", "format": "date-time"}}},
        {"title": "years", "required": ["years"],
         "properties": {"years": {"type": "integer"}}},
    ]})

    distributor_id: Ident
    reason: str = Field(min_length=1, max_length=1000)
    until: AwareDatetime | None = None
    years: int | None = Field(default=None, ge=1, le=20)

    @model_validator(mode="after")
    def _one_period(self) -> BarIn:
        if (self.until is None) == (self.years is None):
            raise ValueError("give exactly one of 'until' and 'years'")
        return self


class BarOut(BaseModel):
    bar_id: str
    distributor_id: str
    reason: str
    barred_from: datetime
    barred_until: datetime
    measure_id: str | None = None
    barred_by: str
    active: bool
    lifted_at: datetime | None = None
    lifted_by: str | None = None
    lift_reason: str | None = None


class BarOutcomeOut(BaseModel):
    """What barring did, at once (R-SUP-4)."""

    bar: BarOut
    revoked_assignments: list[str]
    taken_back: int = Field(description="unshipped orders taken back from the distributor")
    rerouted: int
    supply_risks: int = Field(description="taken-back orders no other assignment covers")
    kept: int = Field(description="orders already (partly) shipped: they stay with it")
    contingencies: list[str] = Field(description="contingency items opened, one per enterprise")


class BarsPage(BaseModel):
    items: list[BarOut]
    next_cursor: str | None = None


class AccountIn(_In):
    """An institution requested, or opened, an account for a distributor (R-SUP-2)."""

    distributor_id: Ident
    status: AccountState
    note: str | None = Field(default=None, max_length=1000)


class AccountOut(BaseModel):
    institution_id: str
    distributor_id: str
    status: AccountState
    requested_at: datetime | None = None
    opened_at: datetime | None = None
    updated_by: str
    updated_at: datetime


class OpenAccountItemOut(BaseModel):
    """An assigned institution–distributor pair without an opened account: followed up, never
    a reason to refuse or delay supply (R-SUP-2, R-AGR-7)."""

    institution_id: str
    distributor_id: str
    status: AccountState | None = Field(description="None: not even requested")


class OpenAccountItemsPage(BaseModel):
    items: list[OpenAccountItemOut]
    next_cursor: str | None = None


class ShipmentIn(_In):
    units: int = Field(gt=0, le=1_000_000)
    shipped_at: AwareDatetime | None = Field(default=None, description="default: now")


class DeliveryIn(_In):
    units: int = Field(gt=0, le=1_000_000)
    delivered_at: AwareDatetime | None = Field(default=None, description="default: now")


class MovementOut(BaseModel):
    kind: Literal["shipment", "delivery"]
    units: int
    at: datetime
    recorded_by: str


class SupplyOrderOut(BaseModel):
    """An order as supply sees it: where it was routed, what was shipped and delivered."""

    order_id: str
    program_id: str
    institution_id: str
    region: str
    enterprise_id: str
    enterprise_name: str | None = Field(
        default=None, description="the enterprise's name, from catalog's listings")
    registration_no: str
    units: int
    placed_at: datetime
    status: OrderStatus
    distributor_id: str | None = None
    assignment_id: str | None = None
    routed_at: datetime | None = None
    shipped_units: int = 0
    delivered_units: int = 0
    delivered_at: datetime | None = None
    delivery_seconds: int | None = None
    movements: list[MovementOut] = Field(default_factory=list)


class SupplyOrdersPage(BaseModel):
    items: list[SupplyOrderOut]
    next_cursor: str | None = None


class DeliveryStatsOut(BaseModel):
    """Delivery time (placed → fully delivered) per distributor and enterprise (R-SUP-3)."""

    distributor_id: str
    enterprise_id: str
    count: int
    mean_hours: Decimal
    p90_hours: Decimal = Field(description="nearest-rank 90th percentile")


class SupplyRiskOut(BaseModel):
    risk_id: int
    order_id: str
    enterprise_id: str
    registration_no: str
    institution_id: str
    reason: str
    taken_back_from: str | None = None
    opened_at: datetime
    closed_at: datetime | None = None
    resolution: str | None = None


class SupplyRisksPage(BaseModel):
    items: list[SupplyRiskOut]
    next_cursor: str | None = None


class GapOut(BaseModel):
    registration_no: str
    scope: AssignmentScope
    place: str
    closed_at: datetime | None = None
    closed_by: str | None = None


class ContingencyOut(BaseModel):
    """R-SUP-4: an enterprise that lost assignments to a barred distributor must assign another;
    open until it does (every gap covered again)."""

    contingency_id: str
    enterprise_id: str
    distributor_id: str
    bar_id: str
    registration_nos: list[str]
    status: Literal["open", "closed"]
    opened_at: datetime
    closed_at: datetime | None = None
    closed_by: str | None = None
    gaps: list[GapOut] = Field(default_factory=list)


class ContingenciesPage(BaseModel):
    items: list[ContingencyOut]
    next_cursor: str | None = None


class SweepOut(BaseModel):
    routed: int
    still_pending: int
