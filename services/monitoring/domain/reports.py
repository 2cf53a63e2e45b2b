"""Monthly monitoring (R-MON-1): the figures of a month, per institution, enterprise,
distributor, program and region, rolled up from per-product grains, as of the month's end by
event time (R-PRG-4: Shanghai months).

Additive counters are summed up the dimensions; ratios (progress, pacing, mean delivery time)
are derived after the roll-up, never averaged. Settlement and disbursement figures are counts
of outcomes from the payments service's events (``repayment``): settlements on time and
overdue per institution and enterprise (R-PAY-1), installments disbursed on time and late per
institution (R-PAY-7; no enterprise is involved, so they are not in the enterprise or
distributor lines).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from services.monitoring import errors
from services.runtime.clock import local, month_start

Dimension = Literal["institution", "enterprise", "distributor", "program", "region"]
DIMENSIONS: tuple[Dimension, ...] = ("institution", "enterprise", "distributor", "program",
                                     "region")
FOUR = Decimal("0.0001")
TWO = Decimal("0.01")


@dataclass(frozen=True)
class Month:
    """A Shanghai calendar month: ``[start, end)`` (R-PRG-4: month end is 24:00 of the last
    day, local time)."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        try:
            year, month = (int(part) for part in text.split("-"))
        except ValueError:
            raise errors.not_a_month(text) from None
        if not (1 <= month <= 12 and 2000 <= year <= 2100):
            raise errors.not_a_month(text)
        return cls(year, month)

    @classmethod
    def of(cls, instant: datetime) -> Month:
        here = local(instant)
        return cls(here.year, here.month)

    @property
    def start(self) -> datetime:
        return month_start(self.year, self.month)

    @property
    def end(self) -> datetime:
        """Exclusive: 00:00 Shanghai on the next month's first day."""
        return month_start(self.year, self.month + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def year_fraction(year_start: datetime, year_end: datetime, at: datetime) -> Decimal:
    """Share of an agreement year elapsed at ``at`` (0..1): the even line (R-AGR-6) at that
    instant is the annual volume times this share."""
    total = (year_end - year_start).total_seconds()
    done = (min(max(at, year_start), year_end) - year_start).total_seconds()
    return Decimal(int(done)) / Decimal(int(total)) if total > 0 else Decimal(0)


@dataclass
class Figures:
    """Additive figures of one grain (program × institution × product [× distributor]) or of
    a roll-up. ``expected_units`` is the even line (agreement × share of the year elapsed at
    the month's end)."""

    agreement_units: int = 0
    expected_units: Decimal = Decimal(0)
    orders_placed: int = 0
    ordered_units: int = 0
    ordered_amount: Decimal = Decimal(0)
    cancelled_units: int = 0
    accepted_units: int = 0
    accepted_amount: Decimal = Decimal(0)
    accepted_units_ytd: int = 0
    rejected_units: int = 0
    orders_delivered: int = 0
    delivery_seconds: int = 0
    late_deliveries: int = 0
    settlements_on_time: int = 0
    settlements_overdue: int = 0
    disbursements_on_time: int = 0
    disbursements_late: int = 0

    def add(self, other: Figures) -> None:
        for name in _FIGURES:
            setattr(self, name, getattr(self, name) + getattr(other, name))


_FIGURES = tuple(f.name for f in fields(Figures))


@dataclass(frozen=True)
class Grain:
    program_id: str
    region: str
    institution_id: str
    enterprise_id: str | None
    """None: a prepayment installment's figures (the institution's, no enterprise's)"""
    registration_no: str | None
    """None: payments' figures (a payable or installment names no product)"""
    distributor_id: str | None
    figures: Figures = field(default_factory=Figures)

    def key(self, dimension: Dimension) -> str | None:
        return {"institution": self.institution_id, "enterprise": self.enterprise_id,
                "distributor": self.distributor_id, "program": self.program_id,
                "region": self.region}[dimension]


def roll_up(grains: Iterable[Grain], dimension: Dimension) -> dict[str, Figures]:
    """Sum the grains per key of the dimension (grains without one, e.g. no distributor yet,
    or an installment's figures in the enterprise dimension, are left out of it)."""
    out: dict[str, Figures] = {}
    for grain in grains:
        key = grain.key(dimension)
        if key is None:
            continue
        out.setdefault(key, Figures()).add(grain.figures)
    return out


def ratio(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    """part / whole to 4 places (half up); None where there is nothing to measure against."""
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(FOUR, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Column:
    name: str
    heading: str
    """Chinese column heading of the CSV and XLSX files"""


COLUMNS: tuple[Column, ...] = (
    Column("month", "月份"),
    Column("dimension", "维度"),
    Column("key", "对象"),
    Column("agreement_units", "协议采购量"),
    Column("expected_units", "均衡进度应采购量"),
    Column("ordered_units", "当月订单量"),
    Column("orders_placed", "当月订单数"),
    Column("ordered_amount", "当月订单金额(元)"),
    Column("cancelled_units", "当月取消量"),
    Column("accepted_units", "当月验收量"),
    Column("accepted_amount", "当月验收金额(元)"),
    Column("accepted_units_ytd", "协议年度累计验收量"),
    Column("progress", "完成进度"),
    Column("pacing", "均衡采购比"),
    Column("rejected_units", "当月验收不合格量"),
    Column("orders_delivered", "当月配送完成订单数"),
    Column("mean_delivery_hours", "平均配送时长(小时)"),
    Column("late_deliveries", "超时配送订单数"),
    Column("settlements_on_time", "按时回款笔数"),
    Column("settlements_overdue", "逾期回款笔数"),
    Column("disbursements_on_time", "医保基金按时拨付笔数"),
    Column("disbursements_late", "医保基金逾期拨付笔数"),
)


def line(month: Month, dimension: Dimension, key: str, f: Figures) -> dict[str, object]:
    """One report line: the additive figures and the ratios derived from them (R-MON-1).
    progress = accepted this agreement year / agreement volume (R-AGR-3); pacing = accepted
    this year / the even line at the month's end (R-AGR-6); mean delivery time in hours over
    the orders delivered in the month (R-SUP-3); payables settled in the month on time /
    overdue (R-PAY-1) and prepayment installments disbursed on time / late (R-PAY-7), by the
    outcome's event time (``repayment``)."""
    mean_hours = (None if not f.orders_delivered else
                  (Decimal(f.delivery_seconds) / Decimal(3600 * f.orders_delivered))
                  .quantize(TWO, rounding=ROUND_HALF_UP))
    out: dict[str, object] = {
        "month": str(month), "dimension": dimension, "key": key,
        "agreement_units": f.agreement_units,
        "expected_units": f.expected_units.quantize(TWO, rounding=ROUND_HALF_UP),
        "ordered_units": f.ordered_units, "orders_placed": f.orders_placed,
        "ordered_amount": f.ordered_amount.quantize(TWO),
        "cancelled_units": f.cancelled_units,
        "accepted_units": f.accepted_units, "accepted_amount": f.accepted_amount.quantize(TWO),
        "accepted_units_ytd": f.accepted_units_ytd,
        "progress": ratio(f.accepted_units_ytd, f.agreement_units),
        "pacing": ratio(f.accepted_units_ytd, f.expected_units),
        "rejected_units": f.rejected_units, "orders_delivered": f.orders_delivered,
        "mean_delivery_hours": mean_hours, "late_deliveries": f.late_deliveries,
        "settlements_on_time": f.settlements_on_time,
        "settlements_overdue": f.settlements_overdue,
        "disbursements_on_time": f.disbursements_on_time,
        "disbursements_late": f.disbursements_late,
    }
    return out


def report_lines(month: Month, grains: list[Grain],
                 dimensions: Iterable[Dimension] = DIMENSIONS) -> list[dict[str, object]]:
    """Every line of the month's report, by dimension then key (a stable order, so the same
    month gives the same report)."""
    return lines(month, {d: roll_up(grains, d) for d in dimensions}, dimensions)


def lines(month: Month, rolled: Mapping[Dimension, Mapping[str, Figures]],
          dimensions: Iterable[Dimension] = DIMENSIONS) -> list[dict[str, object]]:
    """The report's lines from the figures rolled up per dimension and key: by dimension then
    key."""
    return [line(month, dimension, key, figures) for dimension in dimensions
            for key, figures in sorted(rolled[dimension].items())]


def totals(grains: Iterable[Grain]) -> dict[str, str]:
    """The report's totals (all grains), as decimal strings."""
    return totals_of(grain.figures for grain in grains)


def totals_of(figures: Iterable[Figures]) -> dict[str, str]:
    """The sum of figures, as decimal strings."""
    total = Figures()
    for f in figures:
        total.add(f)
    return {name: str(getattr(total, name)) for name in _FIGURES}
