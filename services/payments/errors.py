"""The payments service's refusals, in one place: each a ``Problem`` (status, stable slug,
title) that the application layer raises and the runtime renders as problem+json."""

from __future__ import annotations

from decimal import Decimal

from contracts.money import from_fen
from services.payments.domain.ledger import LedgerRefused
from services.runtime.problems import Problem, not_found


def ledger_refused(refused: LedgerRefused) -> Problem:
    """R-PAY-6: a transfer that would break an account's limit; nothing was posted."""
    return Problem(
        409, "ledger-limit", "The ledger refuses this movement",
        f"{refused.transfer.code} of {from_fen(refused.transfer.amount)} would break account "
        f"{refused.account}: {refused.limit.replace('_', ' ')}",
        account=refused.account, limit=refused.limit,
        amount=str(from_fen(refused.transfer.amount)),
        debits_posted=str(from_fen(refused.debits)),
        credits_posted=str(from_fen(refused.credits)))


def overpayment(payable_id: str, amount: Decimal, outstanding: Decimal) -> Problem:
    return Problem(409, "overpayment", "Payment exceeds what is outstanding",
                   f"payable {payable_id!r}: 'amount' {amount} exceeds the outstanding "
                   f"{outstanding}", field="amount", outstanding=str(outstanding))


def over_disbursement(schedule_id: str, seq: int, amount: Decimal,
                      outstanding: Decimal) -> Problem:
    return Problem(409, "over-disbursement", "Disbursement exceeds the installment",
                   f"installment {seq} of {schedule_id!r}: 'amount' {amount} exceeds the "
                   f"undisbursed {outstanding}", field="amount", outstanding=str(outstanding))


def fund_payment_conflict(row: int | None, fund_payment_id: str, submitted: Decimal,
                          amount: Decimal) -> Problem:
    where = f"row {row}: " if row is not None else ""
    return Problem(409, "fund-payment-conflict", "Fund payment already submitted",
                   f"{where}{fund_payment_id} was submitted with {submitted}, not {amount}; a "
                   "submitted month is not changed", row=row, field="amount")


def unknown_institution(institution_id: str, agency_id: str) -> Problem:
    return Problem(422, "unknown-institution", "Institution not known to this agency",
                   f"no prepayment or payable of institution {institution_id!r} in region "
                   f"{agency_id!r}", field="institution_id")


def payable_not_found(payable_id: str) -> Problem:
    return not_found("payable", payable_id)


def installment_not_found(schedule_id: str, seq: int) -> Problem:
    return not_found("installment", f"{schedule_id}#{seq}")
