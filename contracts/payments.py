"""Events and API models owned by the payments service: prepayment schedules, disbursements,
offsets against monthly fund payments (R-PAY-2/3/4/6/7), and settlements of accepted goods
(R-PAY-1, R-PAY-5).

Keys: every prepayment event is keyed by the institution (its prepayment ledger is the
aggregate: schedules, disbursements and offsets of one institution stay in order); every
settlement event of one payable by the payable id (the accepted order's id: one payable per
acceptance); the overdue payables, published in batches (``PayablesOverdue``), by the program.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.base import Event
from contracts.money import Money

PREPAYMENTS_TOPIC = "vbp.payments.prepayments.v1"
SETTLEMENTS_TOPIC = "vbp.payments.settlements.v1"

Payer = Literal["institution", "fund"]
"""Who pays a payable: the institution (R-PAY-1), or the fund directly (R-PAY-5)."""


# --- prepayments (key: institution_id) ----------------------------------------------------------


class InstallmentLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    seq: int = Field(ge=1)
    due_at: AwareDatetime = Field(description="exclusive bound (R-PAY-2/3)")
    amount: Money


class PrepaymentScheduled(Event):
    """A prepayment schedule computed, or adjusted after an agreement changed (R-PAY-2/3):
    the whole schedule as it now stands, and the change against the previous version."""

    TYPE: ClassVar[str] = "vbp.payments.prepayment.scheduled.v1"
    TOPIC: ClassVar[str] = PREPAYMENTS_TOPIC
    KEY: ClassVar[str] = "institution_id"

    schedule_id: str
    program_id: str
    agreement_year: int = Field(ge=1)
    institution_id: str
    agency_id: str = Field(description="the paying agency (one per region)")
    amount: Money = Field(description="the prepayment as it now stands")
    adjustment: Money = Field(description="change against the previous version (R-PAY-6)")
    installments: list[InstallmentLine]
    version: int = Field(ge=1)
    cause: str = Field(description="what changed it: the agreement id and version")
    computed_at: AwareDatetime


class InstallmentDisbursed(Event):
    """The paying agency disbursed (part of) an installment (R-PAY-2/3, R-PAY-7)."""

    TYPE: ClassVar[str] = "vbp.payments.installment.disbursed.v1"
    TOPIC: ClassVar[str] = PREPAYMENTS_TOPIC
    KEY: ClassVar[str] = "institution_id"

    disbursement_id: str
    schedule_id: str
    program_id: str
    agreement_year: int
    institution_id: str
    agency_id: str
    seq: int
    amount: Money
    disbursed_total: Money = Field(description="of this installment, after this one")
    installment_amount: Money
    due_at: AwareDatetime
    on_time: bool = Field(description="R-PAY-7: disbursed before the due bound")
    disbursed_by: str
    disbursed_at: AwareDatetime


class InstallmentOverdue(Event):
    """An installment not fully disbursed by its due date: overdue for the agency (R-PAY-7).
    Published once per installment, by the clock."""

    TYPE: ClassVar[str] = "vbp.payments.installment.overdue.v1"
    TOPIC: ClassVar[str] = PREPAYMENTS_TOPIC
    KEY: ClassVar[str] = "institution_id"

    schedule_id: str
    program_id: str
    agreement_year: int
    institution_id: str
    agency_id: str
    seq: int
    due_at: AwareDatetime
    outstanding: Money
    detected_at: AwareDatetime


class PrepaymentOffset(Event):
    """Outstanding prepayment deducted from a month's fund payment (R-PAY-4)."""

    TYPE: ClassVar[str] = "vbp.payments.prepayment.offset.v1"
    TOPIC: ClassVar[str] = PREPAYMENTS_TOPIC
    KEY: ClassVar[str] = "institution_id"

    fund_payment_id: str
    schedule_id: str
    program_id: str
    agreement_year: int
    institution_id: str
    month: date = Field(description="first day of the Shanghai month")
    amount: Money
    outstanding_after: Money
    offset_at: AwareDatetime


class NetPayablePublished(Event):
    """A month's fund payment to an institution after offsets and direct-settlement
    deductions (R-PAY-4, R-PAY-5): what the fund pays the institution."""

    TYPE: ClassVar[str] = "vbp.payments.net-payable.published.v1"
    TOPIC: ClassVar[str] = PREPAYMENTS_TOPIC
    KEY: ClassVar[str] = "institution_id"

    fund_payment_id: str
    agency_id: str
    institution_id: str
    month: date
    fund_payment: Money
    offset: Money
    direct_settlement: Money = Field(default=Decimal("0.00"), description="R-PAY-5 deductions")
    net_payable: Money
    published_at: AwareDatetime


# --- settlements (key: payable_id) -------------------------------------------------------------


class PayableOpened(Event):
    """Accepted goods to be paid to the enterprise (R-PAY-1) — by the institution, or by the
    fund in a direct-settlement program (R-PAY-5)."""

    TYPE: ClassVar[str] = "vbp.payments.payable.opened.v1"
    TOPIC: ClassVar[str] = SETTLEMENTS_TOPIC
    KEY: ClassVar[str] = "payable_id"

    payable_id: str = Field(description="the accepted order's id")
    program_id: str
    institution_id: str
    enterprise_id: str
    distributor_id: str | None = None
    payer: Payer
    payer_id: str = Field(description="institution id, or the paying agency's id")
    amount: Money
    accepted_at: AwareDatetime
    due_at: AwareDatetime = Field(description="exclusive bound, Asia/Shanghai (R-PAY-1)")
    opened_at: AwareDatetime


class PayablePaid(Event):
    """A payment (partial allowed) against a payable (R-PAY-1)."""

    TYPE: ClassVar[str] = "vbp.payments.payable.paid.v1"
    TOPIC: ClassVar[str] = SETTLEMENTS_TOPIC
    KEY: ClassVar[str] = "payable_id"

    payment_id: str
    payable_id: str
    program_id: str
    institution_id: str
    enterprise_id: str
    payer: Payer
    amount: Money
    paid_total: Money
    outstanding: Money
    due_at: AwareDatetime
    on_time: bool
    paid_by: str
    paid_at: AwareDatetime


class PayableOverdue(Event):
    """A payable unpaid at its deadline (R-PAY-1); superseded by PayablesOverdue.

    No longer published: kept so that those already on the topic are still read (a rebuild
    of monitoring replays them)."""

    TYPE: ClassVar[str] = "vbp.payments.payable.overdue.v1"
    TOPIC: ClassVar[str] = SETTLEMENTS_TOPIC
    KEY: ClassVar[str] = "payable_id"

    payable_id: str
    program_id: str
    institution_id: str
    enterprise_id: str
    payer: Payer
    outstanding: Money
    due_at: AwareDatetime
    detected_at: AwareDatetime


OVERDUE_ITEMS_MAX = 500
"""Payables in one ``PayablesOverdue`` at most. An item is at most about 1.3 kB (three ids of
64 characters, each escaped to six bytes in JSON), so an event stays under 700 kB, within
Kafka's 1 MB message whatever the ids; with ordinary ids an item is about 200 bytes."""


class OverduePayable(BaseModel):
    """One payable of a ``PayablesOverdue``."""

    model_config = ConfigDict(frozen=True)

    payable_id: str = Field(description="the accepted order's id")
    institution_id: str
    enterprise_id: str
    payer: Payer
    outstanding: Money = Field(description="unpaid at the deadline")
    due_at: AwareDatetime = Field(description="exclusive bound, Asia/Shanghai (R-PAY-1)")


class PayablesOverdue(Event):
    """Payables of one program still (partly) unpaid at their deadline (R-PAY-1).

    Found by the clock; each payable is in one such event, once. Days overdue are counted
    from each item's ``due_at`` (a day started counts). Published in batches of at most
    ``OVERDUE_ITEMS_MAX`` payables (the payables whose deadline passed at one instant are a
    few events, not one each), keyed by the program."""

    TYPE: ClassVar[str] = "vbp.payments.payables.overdue.v1"
    TOPIC: ClassVar[str] = SETTLEMENTS_TOPIC
    KEY: ClassVar[str] = "program_id"

    program_id: str
    detected_at: AwareDatetime
    items: list[OverduePayable] = Field(min_length=1, max_length=OVERDUE_ITEMS_MAX)


# --- requests and responses --------------------------------------------------------------------


class PaymentIn(BaseModel):
    """Body of ``POST /v1/payables/{payable_id}/payments`` (partial allowed)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: Money = Field(gt=0)


class DisbursementIn(BaseModel):
    """Body of ``POST /v1/schedules/{schedule_id}/installments/{seq}/disbursements``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: Money = Field(gt=0)


class FundPaymentIn(BaseModel):
    """One month's fund payment to one institution (R-PAY-4)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    institution_id: str = Field(min_length=1, max_length=64)
    month: date = Field(description="any day of the month; the month counts")
    amount: Money = Field(ge=0)


class FundPaymentsIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    payments: list[FundPaymentIn] = Field(min_length=1, max_length=50_000)


class NetPayableOut(BaseModel):
    fund_payment_id: str
    institution_id: str
    month: date
    fund_payment: Money
    offset: Money
    direct_settlement: Money
    net_payable: Money
    replayed: bool = False


class FundPaymentsResult(BaseModel):
    submitted: int
    replayed: int
    results: list[NetPayableOut]


class PayableOut(BaseModel):
    payable_id: str
    program_id: str
    institution_id: str
    enterprise_id: str
    distributor_id: str | None
    payer: Payer
    payer_id: str
    amount: Money
    paid: Money
    outstanding: Money
    accepted_at: AwareDatetime
    due_at: AwareDatetime
    status: Literal["open", "paid"]
    days_overdue: int
    age_bucket: str


class PayablesPage(BaseModel):
    items: list[PayableOut]
    next_cursor: str | None = None


class AgeingRow(BaseModel):
    institution_id: str
    not_due: Money
    days_0_30: Money
    days_31_60: Money
    days_61_90: Money
    days_over_90: Money
    total: Money


class AgeingPage(BaseModel):
    """What is owed, one row per institution: a page, since it grows with the institutions."""

    items: list[AgeingRow]
    next_cursor: str | None = None


class InstallmentOut(BaseModel):
    schedule_id: str
    program_id: str
    agreement_year: int
    institution_id: str
    agency_id: str
    seq: int
    due_at: AwareDatetime
    amount: Money
    disbursed: Money
    outstanding: Money
    overdue: bool


class InstallmentsPage(BaseModel):
    items: list[InstallmentOut]
    next_cursor: str | None = None


class BalanceOut(BaseModel):
    institution_id: str
    program_id: str
    agreement_year: int
    scheduled: Money
    disbursed: Money
    offset: Money
    balance: Money = Field(description="prepayment outstanding: disbursed − offset (R-PAY-6)")


class BalancesPage(BaseModel):
    """Prepayment balances, one per institution, program and agreement year: a page, since
    the list grows with the institutions."""

    items: list[BalanceOut]
    next_cursor: str | None = None
