"""Which ledger transfers each movement posts (R-PAY-6): one function per movement, returning
the linked transfers (all or none), their ids derived from the cause."""

from __future__ import annotations

from decimal import Decimal

from contracts.money import to_fen
from services.payments.domain.ledger import Transfer, transfer_id


def schedule_account(program_id: str, year: int, institution_id: str) -> str:
    return f"sched:{program_id}:{year}:{institution_id}"


def prepay_account(program_id: str, year: int, institution_id: str) -> str:
    return f"prepay:{program_id}:{year}:{institution_id}"


def payable_account(payer_id: str, enterprise_id: str) -> str:
    return f"payable:{payer_id}:{enterprise_id}"


def _t(cause: tuple[str, ...], debit: str, credit: str, amount: Decimal, code: str
       ) -> list[Transfer]:
    fen = to_fen(amount)
    if fen == 0:
        return []
    return [Transfer(transfer_id(*cause, code), debit, credit, fen, code)]


def scheduled(cause: str, agency_id: str, sched: str, change: Decimal) -> list[Transfer]:
    """R-PAY-2/3: a schedule computed or adjusted: the agency's obligation moves by ``change``
    (an adjustment down is a correcting transfer in the other direction)."""
    if change >= 0:
        return _t((cause,), f"agency:{agency_id}", sched, change, "scheduled")
    return _t((cause,), sched, f"agency:{agency_id}", -change, "schedule-reduced")


def disbursed(cause: str, agency_id: str, sched: str, prepay: str, amount: Decimal
              ) -> list[Transfer]:
    """R-PAY-2/3/6: the agency disburses: its obligation goes down, the fund pays the
    institution, the institution's prepayment balance goes up."""
    return [*_t((cause,), sched, f"agency:{agency_id}", amount, "disbursed"),
            *_t((cause,), prepay, f"fund:{agency_id}", amount, "prepaid")]


def fund_payment(cause: str, agency_id: str, institution_id: str, amount: Decimal,
                 offsets: list[tuple[str, Decimal]], direct: Decimal, net: Decimal
                 ) -> list[Transfer]:
    """R-PAY-4/5: a month's fund payment owed to the institution, the offsets of its
    prepayment balances and the direct-settlement deduction against it, and the net paid."""
    owed = f"fundpay:{institution_id}"
    out = _t((cause,), f"claims:{agency_id}", owed, amount, "fund-payment")
    for prepay, amt in offsets:
        out += _t((cause, prepay), owed, prepay, amt, "offset")
    out += _t((cause,), owed, f"direct:{institution_id}", direct, "direct-deducted")
    out += _t((cause,), owed, f"fund:{agency_id}", net, "net-paid")
    return out


def payable_opened(cause: str, payer_id: str, enterprise_id: str, institution_id: str,
                   amount: Decimal, fund_pays: bool) -> list[Transfer]:
    """R-PAY-1: accepted goods owed to the enterprise by the institution; R-PAY-5: owed by the
    fund, and to be deducted from the institution's fund payments."""
    debit = f"direct:{institution_id}" if fund_pays else f"purchases:{institution_id}"
    return _t((cause,), debit, payable_account(_payer(payer_id, fund_pays), enterprise_id),
              amount, "payable")


def payable_paid(cause: str, payer_id: str, enterprise_id: str, amount: Decimal,
                 fund_pays: bool) -> list[Transfer]:
    source = f"fund:{payer_id}" if fund_pays else f"cash:{payer_id}"
    return _t((cause,), payable_account(_payer(payer_id, fund_pays), enterprise_id), source,
              amount, "paid")


def _payer(payer_id: str, fund_pays: bool) -> str:
    """An agency's id is its region: marked, so it never meets an institution's id."""
    return f"agency@{payer_id}" if fund_pays else payer_id
