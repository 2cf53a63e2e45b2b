"""The payments service's refusals, in one place: each a ``Problem`` (status, stable slug,
title) that the application layer raises and the runtime renders as problem+json."""

from __future__ import annotations

from decimal import Decimal

from contracts.money import from_fen
from services.payments.domain.ledger import LedgerRefused
from services.runtime.problems import Problem, Refusal, not_found

LEDGER_LIMIT = Refusal(409, "ledger-limit", "The ledger refuses this movement")
OVERPAYMENT = Refusal(409, "overpayment", "Payment exceeds what is outstanding")
OVER_DISBURSEMENT = Refusal(409, "over-disbursement", "Disbursement exceeds the installment")
FUND_PAYMENT_CONFLICT = Refusal(409, "fund-payment-conflict", "Fund payment already submitted")
IMPORT_REJECTED = Refusal(422, "import-rejected", "The file was not imported")
UNKNOWN_INSTITUTION = Refusal(422, "unknown-institution", "Institution not known to this agency")


def ledger_refused(refused: LedgerRefused) -> Problem:
    """R-PAY-6: a transfer that would break an account's limit; nothing was posted."""
    return LEDGER_LIMIT(
        f"{refused.transfer.code} of {from_fen(refused.transfer.amount)} would break account "
        f"{refused.account}: {refused.limit.replace('_', ' ')}",
        account=refused.account, limit=refused.limit,
        amount=str(from_fen(refused.transfer.amount)),
        debits_posted=str(from_fen(refused.debits)),
        credits_posted=str(from_fen(refused.credits)))


def overpayment(payable_id: str, amount: Decimal, outstanding: Decimal) -> Problem:
    return OVERPAYMENT(
        f"payable {payable_id!r}: 'amount' {amount} exceeds the outstanding {outstanding}",
        field="amount", outstanding=str(outstanding))


def over_disbursement(schedule_id: str, seq: int, amount: Decimal,
                      outstanding: Decimal) -> Problem:
    return OVER_DISBURSEMENT(
        f"installment {seq} of {schedule_id!r}: 'amount' {amount} exceeds the undisbursed "
        f"{outstanding}", field="amount", outstanding=str(outstanding))


def fund_payment_conflict(row: int | None, fund_payment_id: str, submitted: Decimal,
                          amount: Decimal) -> Problem:
    where = f"row {row}: " if row is not None else ""
    return FUND_PAYMENT_CONFLICT(
        f"{where}{fund_payment_id} was submitted with {submitted}, not {amount}; a submitted "
        "month is not changed", row=row, field="amount")


def unknown_institution(institution_id: str, agency_id: str, row: int | None = None
                        ) -> Problem:
    """An agency submits fund payments for its own region's institutions only."""
    where = f"row {row}: " if row is not None else ""
    return UNKNOWN_INSTITUTION(
        f"{where}no prepayment or payable of institution {institution_id!r} in region "
        f"{agency_id!r}", field="institution_id", row=row)


def payable_not_found(payable_id: str) -> Problem:
    return not_found("payable", payable_id)


def installment_not_found(schedule_id: str, seq: int) -> Problem:
    return not_found("installment", f"{schedule_id}#{seq}")
