"""Events owned by the orders service (agreements, purchase orders, acceptance, pacing).

API request/response models of the orders service live here too (added with its routes).
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from contracts.base import Event
from contracts.money import Money

AGREEMENTS_TOPIC = "vbp.orders.agreements.v1"
ORDERS_TOPIC = "vbp.orders.orders.v1"

InstitutionType = Literal["public", "military", "private"]
OrderClass = Literal["within_agreement", "beyond_agreement", "no_agreement", "non_winning"]


class AgreementRecorded(Event):
    """An institution's agreement volume for one product in one agreement year (R-AGR-1), as
    imported, or a new version of it (every change is an event with who, when and why)."""

    TYPE: ClassVar[str] = "vbp.orders.agreement.recorded.v1"
    TOPIC: ClassVar[str] = AGREEMENTS_TOPIC

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

    def key(self) -> str:
        return self.agreement_id


class RenewalDecided(Event):
    """An institution's demand for the next agreement year was accepted or refused (R-AGR-2)."""

    TYPE: ClassVar[str] = "vbp.orders.renewal.decided.v1"
    TOPIC: ClassVar[str] = AGREEMENTS_TOPIC

    renewal_id: str
    program_id: str
    agreement_year: int
    institution_id: str
    accepted: bool
    failures: list[str] = Field(default_factory=list)
    exception_reason: str | None = None
    decided_by: str
    decided_at: AwareDatetime

    def key(self) -> str:
        return self.renewal_id


class OrderPlaced(Event):
    """A purchase order at the listing price (R-CAT-5, R-AGR-4/5)."""

    TYPE: ClassVar[str] = "vbp.orders.order.placed.v1"
    TOPIC: ClassVar[str] = ORDERS_TOPIC

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

    def key(self) -> str:
        return self.order_id


class OrderCancelled(Event):
    """Cancelled before shipping (R-AGR-8)."""

    TYPE: ClassVar[str] = "vbp.orders.order.cancelled.v1"
    TOPIC: ClassVar[str] = ORDERS_TOPIC

    order_id: str
    institution_id: str
    reason: str
    cancelled_by: str
    cancelled_at: AwareDatetime

    def key(self) -> str:
        return self.order_id


class OrderAccepted(Event):
    """The institution accepted a delivery (交货验收合格), possibly partly. Only accepted units
    count toward progress; the acceptance instant starts the settlement clock (R-PAY-1)."""

    TYPE: ClassVar[str] = "vbp.orders.order.accepted.v1"
    TOPIC: ClassVar[str] = ORDERS_TOPIC

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

    def key(self) -> str:
        return self.order_id


class OrderRejected(Event):
    """The institution rejected the whole delivery, with a reason (R-AGR-8)."""

    TYPE: ClassVar[str] = "vbp.orders.order.rejected.v1"
    TOPIC: ClassVar[str] = ORDERS_TOPIC

    order_id: str
    institution_id: str
    enterprise_id: str
    reason: str
    rejected_by: str
    rejected_at: AwareDatetime

    def key(self) -> str:
        return self.order_id


class PacingWarningRaised(Event):
    """Bunched or lagging purchases against the even line (R-AGR-6): once per institution,
    product and month."""

    TYPE: ClassVar[str] = "vbp.orders.pacing.warning-raised.v1"
    TOPIC: ClassVar[str] = AGREEMENTS_TOPIC

    warning_id: str
    program_id: str
    agreement_year: int
    institution_id: str
    registration_no: str
    month: date = Field(description="first day of the Shanghai month")
    reason: str
    raised_at: AwareDatetime

    def key(self) -> str:
        return self.warning_id
