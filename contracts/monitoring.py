"""Events owned by the monitoring service (credit ratings and measures, R-CRD-*).

Monitoring publishes them; catalog (listings) and supply (violation list) act on them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

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
    KEY: ClassVar[str] = "subject_id"

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


class CreditMeasureLifted(Event):
    """A measure ended: credit repair approved (R-CRD-4) or its period is over."""

    TYPE: ClassVar[str] = "vbp.monitoring.credit.measure-lifted.v1"
    TOPIC: ClassVar[str] = CREDIT_TOPIC
    KEY: ClassVar[str] = "subject_id"

    measure_id: str
    subject_id: str
    subject_kind: Literal["enterprise", "distributor"]
    reason: str
    lifted_by: str
    lifted_at: AwareDatetime


SubjectKind = Literal["enterprise", "distributor"]
Conduct = Literal[
    "late_delivery", "unfilled_orders", "open_supply_risk", "quality_failure",
    "quantity_failure", "bribery", "illegal_conduct", "other",
]
"""What a credit record is for (R-CRD-1)."""
RecordStatus = Literal["proposed", "active", "dismissed", "repaired"]


class CreditRatingChanged(Event):
    """An enterprise's or distributor's rating in a region changed: the worst level among its
    active records there (R-CRD-2), or none when no record counts any more (R-CRD-4)."""

    TYPE: ClassVar[str] = "vbp.monitoring.credit.rating-changed.v1"
    TOPIC: ClassVar[str] = CREDIT_TOPIC
    KEY: ClassVar[str] = "subject_id"

    subject_id: str
    subject_kind: SubjectKind
    region: str
    scheme: str
    level: str | None = Field(description="level name (e.g. 严重), null = no active record")
    level_code: str | None = None
    active_records: int = Field(ge=0)
    changed_at: AwareDatetime
    reason: str


class BackupProductSwitched(Event):
    """R-CRD-5: for a failure of quality or quantity, a regulator switched an institution's
    volume of a product to a backup product (备选). Orders and supply act on it."""

    TYPE: ClassVar[str] = "vbp.monitoring.credit.backup-switched.v1"
    TOPIC: ClassVar[str] = CREDIT_TOPIC
    KEY: ClassVar[str] = "enterprise_id"

    switch_id: str
    program_id: str
    region: str
    institution_id: str
    enterprise_id: str = Field(description="the failing enterprise")
    registration_no: str = Field(description="the failing product")
    backup_registration_no: str = Field(description="the backup product (备选)")
    units: int | None = Field(default=None, ge=1, description="null = all remaining volume")
    reason: str
    decided_by: str
    decided_at: AwareDatetime


class EmergencySupplyTriggered(Event):
    """R-CRD-5: a regulator triggered emergency supply of a product for the region (or for the
    institutions named). Supply acts on it."""

    TYPE: ClassVar[str] = "vbp.monitoring.credit.emergency-supply.v1"
    TOPIC: ClassVar[str] = CREDIT_TOPIC
    KEY: ClassVar[str] = "enterprise_id"

    emergency_id: str
    program_id: str
    region: str
    enterprise_id: str = Field(description="the failing enterprise")
    registration_no: str
    institution_ids: list[str] = Field(default_factory=list, description="empty = the region")
    reason: str
    decided_by: str
    decided_at: AwareDatetime


class MonthlyReportClosed(Event):
    """R-MON-1: a month's monitoring report was closed (as of the month's end, by event time)."""

    TYPE: ClassVar[str] = "vbp.monitoring.report.month-closed.v1"
    TOPIC: ClassVar[str] = REPORTS_TOPIC
    KEY: ClassVar[str] = "report_id"

    report_id: str
    month: str = Field(pattern=r"^\d{4}-\d{2}$", description="the Shanghai month, YYYY-MM")
    region: str | None = Field(default=None, description="null = every region")
    program_id: str | None = None
    totals: dict[str, str] = Field(description="the report's totals, decimal strings")
    rows: int = Field(ge=0)
    sha256: str = Field(description="of the report's JSON: the same month gives the same hash")
    closed_by: str
    closed_at: AwareDatetime


# --- HTTP API models -------------------------------------------------------------------------

_Id = Field(min_length=1, max_length=64, pattern=r"^[^\s]+$")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CreditRecordIn(_In):
    """A regulator files a credit record (R-CRD-1): who, what, evidence, where, when."""

    subject_kind: SubjectKind
    subject_id: str = _Id
    program_id: str = Field(min_length=1, max_length=64,
                            description="the program whose profile's scheme rates the record; "
                            "its region is the record's region")
    level: str = Field(min_length=1, max_length=40, description="level code or name")
    conduct: Conduct
    description: str = Field(min_length=1, max_length=2000)
    evidence: list[str] = Field(min_length=1, max_length=50)
    registration_nos: list[str] = Field(default_factory=list, max_length=200,
                                        description="products involved")
    occurred_on: date


class ReasonIn(_In):
    reason: str = Field(min_length=1, max_length=2000)


class ConfirmIn(ReasonIn):
    level: str | None = Field(default=None, max_length=40,
                              description="the level confirmed; default: the one proposed")


class RepairIn(_In):
    """An enterprise (or distributor) applies for credit repair of one of its records (R-CRD-4)."""

    reason: str = Field(min_length=1, max_length=2000)
    evidence: list[str] = Field(default_factory=list, max_length=50)


class StepOut(BaseModel):
    """One step of a record's life: who decided what, when and why (R-CRD-4)."""

    step: str
    actor: str
    reason: str
    at: datetime


class CreditRecordOut(BaseModel):
    record_id: str
    subject_kind: SubjectKind
    subject_id: str
    program_id: str
    region: str
    scheme: str
    level: str
    level_code: str
    conduct: Conduct
    description: str
    evidence: list[str]
    registration_nos: list[str]
    occurred_on: date
    status: RecordStatus
    effective_from: datetime | None = None
    filed_by: str
    filed_at: datetime
    repair: Literal["pending", "approved", "refused"] | None = None
    history: list[StepOut] = Field(default_factory=list)


class CreditRecordsPage(BaseModel):
    items: list[CreditRecordOut]
    next_cursor: str | None = None


class MeasureOut(BaseModel):
    measure_id: str
    subject_kind: SubjectKind
    subject_id: str
    region: str
    level: str
    measure: MeasureKind
    scope: Scope
    registration_nos: list[str]
    effective_from: datetime
    effective_until: datetime | None = None


class RatingOut(BaseModel):
    subject_kind: SubjectKind
    subject_id: str
    region: str
    scheme: str
    level: str | None
    level_code: str | None
    active_records: int
    measures: list[MeasureOut]


class BackupSwitchIn(_In):
    program_id: str = Field(min_length=1, max_length=64)
    institution_id: str = _Id
    enterprise_id: str = _Id
    registration_no: str = Field(min_length=1, max_length=40)
    backup_registration_no: str = Field(min_length=1, max_length=40)
    units: int | None = Field(default=None, ge=1, le=10**9)
    reason: str = Field(min_length=1, max_length=2000)


class EmergencySupplyIn(_In):
    program_id: str = Field(min_length=1, max_length=64)
    enterprise_id: str = _Id
    registration_no: str = Field(min_length=1, max_length=40)
    institution_ids: list[str] = Field(default_factory=list, max_length=5000)
    reason: str = Field(min_length=1, max_length=2000)


class MonthCloseIn(_In):
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    region: str | None = Field(default=None, max_length=100)
