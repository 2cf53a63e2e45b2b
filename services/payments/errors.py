"""The payments service's refusals, in one place: each a ``Problem`` (status, stable slug,
title) that the application layer raises and the runtime renders as problem+json."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from contracts.money import from_fen
from services.payments.domain.ledger import LedgerRefused
from services.runtime.problems import Problem, Refusal, not_found
from services.runtime.rows import RowError, as_problem_errors
from services.runtime.texts import text

LEDGER_LIMIT = Refusal(409, "ledger-limit", "The ledger refuses this movement")
OVERPAYMENT = Refusal(409, "overpayment", "Payment exceeds what is outstanding")
OVER_DISBURSEMENT = Refusal(409, "over-disbursement", "Disbursement exceeds the installment")
FUND_PAYMENT_CONFLICT = Refusal(409, "fund-payment-conflict", "Fund payment already submitted")
IMPORT_REJECTED = Refusal(422, "import-rejected", "The file was not imported")
UNKNOWN_INSTITUTION = Refusal(422, "unknown-institution", "Institution not known to this agency")


def import_rejected(bad: Sequence[RowError]) -> Problem:
    """R-PAY-4: every bad row of a fund-payment file named; nothing imported."""
    rows = sorted({e.row for e in bad})
    return IMPORT_REJECTED(
        text("{count} problem(s) in row(s) {rows}; nothing was imported", count=len(bad),
             rows=", ".join(map(str, rows[:20]))), errors=as_problem_errors(bad))


def no_rows() -> Problem:
    return IMPORT_REJECTED(text("the file has no rows"))


def ledger_refused(refused: LedgerRefused) -> Problem:
    """R-PAY-6: a transfer that would break an account's limit; nothing was posted."""
    return LEDGER_LIMIT(
        text("{code} of {amount} would break account {account}: {limit}",
             code=refused.transfer.code, amount=from_fen(refused.transfer.amount),
             account=refused.account, limit=refused.limit.replace("_", " ")),
        account=refused.account, limit=refused.limit,
        amount=str(from_fen(refused.transfer.amount)),
        debits_posted=str(from_fen(refused.debits)),
        credits_posted=str(from_fen(refused.credits)))


def overpayment(payable_id: str, amount: Decimal, outstanding: Decimal) -> Problem:
    return OVERPAYMENT(
        text("payable {payable!r}: 'amount' {amount} exceeds the outstanding {outstanding}",
             payable=payable_id, amount=amount, outstanding=outstanding),
        field="amount", outstanding=str(outstanding))


def over_disbursement(schedule_id: str, seq: int, amount: Decimal,
                      outstanding: Decimal) -> Problem:
    return OVER_DISBURSEMENT(
        text("installment {seq} of {schedule!r}: 'amount' {amount} exceeds the undisbursed "
             "{outstanding}", seq=seq, schedule=schedule_id, amount=amount,
             outstanding=outstanding), field="amount", outstanding=str(outstanding))


def fund_payment_conflict(row: int | None, fund_payment_id: str, submitted: Decimal,
                          amount: Decimal) -> Problem:
    values = {"fund_payment": fund_payment_id, "submitted": submitted, "amount": amount}
    return FUND_PAYMENT_CONFLICT(
        text("{fund_payment} was submitted with {submitted}, not {amount}; a submitted month "
             "is not changed", **values) if row is None else
        text("row {row}: {fund_payment} was submitted with {submitted}, not {amount}; a "
             "submitted month is not changed", row=row, **values), row=row, field="amount")


def unknown_institution(institution_id: str, agency_id: str, row: int | None = None
                        ) -> Problem:
    """An agency submits fund payments for its own region's institutions only."""
    values = {"institution": institution_id, "region": agency_id}
    return UNKNOWN_INSTITUTION(
        text("no prepayment or payable of institution {institution!r} in region {region!r}",
             **values) if row is None else
        text("row {row}: no prepayment or payable of institution {institution!r} in region "
             "{region!r}", row=row, **values), field="institution_id", row=row)


def payable_not_found(payable_id: str) -> Problem:
    return not_found("payable", payable_id)


def installment_not_found(schedule_id: str, seq: int) -> Problem:
    return not_found("installment", f"{schedule_id}#{seq}")
