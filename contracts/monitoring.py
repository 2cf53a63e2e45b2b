"""Events owned by the monitoring service (credit ratings and measures, R-CRD-*).

Monitoring publishes them; catalog (listings) and supply (violation list) act on them.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from contracts.base import Event

CREDIT_TOPIC = "vbp.monitoring.credit.v1"
REPORTS_TOPIC = "vbp.monitoring.reports.v1"

MeasureKind = Literal[
    "reminder",
    "warning",
    "restrict_listing",
    "suspend_listing_involved",
    "suspend_distribution_involved",
    "suspend_all_products_region",
    "public_disclosure",
    "distributor_bar",
]
Scope = Literal["involved", "all_in_region", "all_everywhere"]
SUSPENDING: frozenset[str] = frozenset(
    {"restrict_listing", "suspend_listing_involved", "suspend_all_products_region"}
)
"""Measures that suspend listings (R-CAT-8, R-CRD-3)."""


class CreditMeasureApplied(Event):
    """A credit rating's measure took effect against an enterprise or distributor (R-CRD-3)."""

    TYPE: ClassVar[str] = "vbp.monitoring.credit.measure-applied.v1"
    TOPIC: ClassVar[str] = CREDIT_TOPIC

    measure_id: str
    subject_id: str = Field(description="enterprise_id or distributor_id the measure is against")
    subject_kind: Literal["enterprise", "distributor"]
    region: str
    level: str = Field(description="rating level, e.g. 严重失信 (scheme from the profile)")
    measure: MeasureKind
    scope: Scope = "involved"
    registration_nos: list[str] = Field(
        default_factory=list, description="products involved (scope 'involved')"
    )
    effective_from: AwareDatetime
    effective_until: AwareDatetime | None = None
    reason: str
    decided_by: str

    def key(self) -> str:
        return self.subject_id


class CreditMeasureLifted(Event):
    """A measure ended: credit repair approved (R-CRD-4) or its period is over."""

    TYPE: ClassVar[str] = "vbp.monitoring.credit.measure-lifted.v1"
    TOPIC: ClassVar[str] = CREDIT_TOPIC

    measure_id: str
    subject_id: str
    subject_kind: Literal["enterprise", "distributor"]
    reason: str
    lifted_by: str
    lifted_at: AwareDatetime

    def key(self) -> str:
        return self.subject_id
