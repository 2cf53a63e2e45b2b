"""Offsets of outstanding prepayments against monthly fund payments (R-PAY-4), and the
deductions of direct settlement (R-PAY-5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from services.runtime.clock import local, month_start

ZERO = Decimal("0.00")


def offset_starts(period_end: datetime) -> datetime:
    """R-PAY-4: offsets start in the month after the period ends. ``period_end`` is the
    exclusive bound of the agreement year (or of the cycle, ``offset_starts_after``); the
    period's last moment is just before it. Year ending 2024-01-31 00:00 → from 2024-02-01."""
    last = local(period_end - timedelta(microseconds=1))
    return month_start(last.year, last.month + 1)


@dataclass(frozen=True)
class Outstanding:
    """One prepayment balance that may be offset this month (oldest first)."""

    key: str
    balance: Decimal


@dataclass(frozen=True)
class MonthOffsets:
    offsets: tuple[tuple[str, Decimal], ...]
    direct_settlement: Decimal
    net_payable: Decimal

    @property
    def offset_total(self) -> Decimal:
        return sum((a for _, a in self.offsets), ZERO)


def apply_month(fund_payment: Decimal, outstanding: list[Outstanding],
                direct_due: Decimal = ZERO) -> MonthOffsets:
    """R-PAY-4/5: deduct from one month's fund payment first what the fund paid enterprises
    directly for the institution (R-PAY-5), then the outstanding prepayments in the order given;
    what the month cannot cover carries over (stays outstanding); the net paid to the
    institution never goes below zero.

    24,000.00 outstanding against 10,000.00 → offset 10,000.00, net 0.00 (then 10,000.00 and
    4,000.00 → net 6,000.00 in the third month)."""
    if fund_payment < 0:
        raise ValueError("a fund payment is not negative")
    left = fund_payment
    direct = min(direct_due, left)
    left -= direct
    offsets: list[tuple[str, Decimal]] = []
    for item in outstanding:
        if left <= 0:
            break
        amount = min(item.balance, left)
        if amount > 0:
            offsets.append((item.key, amount))
            left -= amount
    return MonthOffsets(offsets=tuple(offsets), direct_settlement=direct, net_payable=left)
