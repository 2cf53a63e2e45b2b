"""Events owned by the supply service (distributors, assignments, routing, delivery,
violation list)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from contracts.base import Event

ASSIGNMENTS_TOPIC = "vbp.supply.assignments.v1"
DELIVERIES_TOPIC = "vbp.supply.deliveries.v1"

AssignmentScope = Literal["institution", "region"]


class DistributorRegistered(Event):
    TYPE: ClassVar[str] = "vbp.supply.distributor.registered.v1"
    TOPIC: ClassVar[str] = ASSIGNMENTS_TOPIC

    distributor_id: str
    name: str
    qualified: bool = True
    registered_by: str
    registered_at: AwareDatetime

    def key(self) -> str:
        return self.distributor_id


class AssignmentRecorded(Event):
    """A winning enterprise chose a distributor for a product, per institution or region
    (R-SUP-1)."""

    TYPE: ClassVar[str] = "vbp.supply.assignment.recorded.v1"
    TOPIC: ClassVar[str] = ASSIGNMENTS_TOPIC

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

    def key(self) -> str:
        return self.assignment_id


class AssignmentRevoked(Event):
    """By the enterprise, or because its distributor was barred (R-SUP-4)."""

    TYPE: ClassVar[str] = "vbp.supply.assignment.revoked.v1"
    TOPIC: ClassVar[str] = ASSIGNMENTS_TOPIC

    assignment_id: str
    enterprise_id: str
    distributor_id: str
    reason: str
    revoked_by: str
    revoked_at: AwareDatetime

    def key(self) -> str:
        return self.assignment_id


class DistributorBarred(Event):
    """Placed on the violation list (违规名单): loses its qualification at once (R-SUP-4)."""

    TYPE: ClassVar[str] = "vbp.supply.distributor.barred.v1"
    TOPIC: ClassVar[str] = ASSIGNMENTS_TOPIC

    distributor_id: str
    reason: str
    barred_from: AwareDatetime
    barred_until: AwareDatetime
    measure_id: str | None = None
    barred_by: str

    def key(self) -> str:
        return self.distributor_id


class DistributorReinstated(Event):
    """Lifted from the violation list: qualification back, revoked assignments not."""

    TYPE: ClassVar[str] = "vbp.supply.distributor.reinstated.v1"
    TOPIC: ClassVar[str] = ASSIGNMENTS_TOPIC

    distributor_id: str
    reason: str
    reinstated_by: str
    reinstated_at: AwareDatetime

    def key(self) -> str:
        return self.distributor_id


class OrderRouted(Event):
    """An order was routed to the enterprise's assigned distributor (also after re-routing)."""

    TYPE: ClassVar[str] = "vbp.supply.order.routed.v1"
    TOPIC: ClassVar[str] = DELIVERIES_TOPIC

    order_id: str
    institution_id: str
    enterprise_id: str
    distributor_id: str
    assignment_id: str
    rerouted_from: str | None = None
    routed_at: AwareDatetime

    def key(self) -> str:
        return self.order_id


class SupplyRiskOpened(Event):
    """No valid assignment for an order: an open supply risk, visible to the regulator, until
    an assignment appears and the order is routed (R-SUP-4)."""

    TYPE: ClassVar[str] = "vbp.supply.risk.opened.v1"
    TOPIC: ClassVar[str] = DELIVERIES_TOPIC

    order_id: str
    enterprise_id: str
    registration_no: str
    institution_id: str
    reason: str
    opened_at: AwareDatetime

    def key(self) -> str:
        return self.order_id


class OrderShipped(Event):
    TYPE: ClassVar[str] = "vbp.supply.order.shipped.v1"
    TOPIC: ClassVar[str] = DELIVERIES_TOPIC

    order_id: str
    distributor_id: str
    units: int = Field(gt=0)
    shipped_at: AwareDatetime
    recorded_by: str

    def key(self) -> str:
        return self.order_id


class OrderDelivered(Event):
    TYPE: ClassVar[str] = "vbp.supply.order.delivered.v1"
    TOPIC: ClassVar[str] = DELIVERIES_TOPIC

    order_id: str
    distributor_id: str
    enterprise_id: str
    units: int = Field(gt=0)
    delivered_at: AwareDatetime
    delivery_seconds: int = Field(ge=0, description="placed → delivered (R-SUP-3)")
    recorded_by: str

    def key(self) -> str:
        return self.order_id
