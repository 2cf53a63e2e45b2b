"""``month_activity`` (the counted facts summed per month) on the real PostgreSQL: a month's
report read from it, plus the facts not counted yet, gives the same figures as summing the
facts themselves (``reports.grains``, the reference the SQLite path uses), for every month and
dimension (R-MON-1) — across an agreement year that starts mid-month, a delivery seen before
its order, late events, whole and partial rejections, cancellations, and a profile that
changes the late-delivery limit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from contracts.base import CloudEvent, Event
from contracts.catalog import ProgramProfileChanged, ProgramPublished
from contracts.orders import (
    AgreementRecorded,
    OrderAccepted,
    OrderCancelled,
    OrderPlaced,
    OrderRejected,
)
from contracts.supply import OrderDelivered
from services.catalog.presets import CHONGQING_STENTS_2023
from services.monitoring import readmodels, reports, store
from services.monitoring.domain import reports as rules
from services.monitoring.domain.reports import Month
from services.runtime.clock import SHANGHAI
from services.runtime.db import make_engine
from services.runtime.migrate import upgrade

pytestmark = pytest.mark.integration

REGION = "重庆市"
PRICE = Decimal("730.00")
MIGRATIONS = Path(reports.__file__).parent / "migrations"


def _ce(event: Event) -> tuple[Event, CloudEvent]:
    return event, CloudEvent.of(event, source="/test", time=datetime.now(SHANGHAI),
                                id=uuid.uuid4().hex)


def _program(program_id: str, start: datetime) -> Event:
    return ProgramPublished(program_id=program_id, category="冠脉支架", region=REGION,
                            notice_no="test", organiser="national", execution_start=start,
                            cycle_years=3, profile=CHONGQING_STENTS_2023, published_by="test")


def _placed(program_id: str, order_id: str, h: int, p: int, at: datetime,
            units: int) -> Event:
    return OrderPlaced(order_id=order_id, program_id=program_id, institution_id=f"H-{h}",
                       region=REGION, listing_id=f"L-{p}", registration_no=f"REG-{p}",
                       enterprise_id=f"E-{p}", units=units, unit_price=PRICE,
                       amount=PRICE * units, order_class="within_agreement",
                       placed_by="test", placed_at=at)


def _orders(program_id: str, start: datetime, n: int) -> list[list[Event]]:
    """Chunks of events, as consumers would apply them: per order placed, then a delivery
    (some late), then an acceptance (some partial), a whole rejection or a cancellation."""
    chunks: list[list[Event]] = []
    for i in range(n):
        h, p = i % 5, i % 3
        at = start + timedelta(days=i * 7, hours=i % 24)
        oid = f"{program_id}-O{i}"
        units = 1 + i % 4
        chunk: list[Event] = [_placed(program_id, oid, h, p, at, units)]
        hours = 10 + (i * 13) % 80
        delivered = at + timedelta(hours=hours)
        if i % 6 == 5:
            chunk.append(OrderCancelled(order_id=oid, institution_id=f"H-{h}", reason="t",
                                        cancelled_by="t", cancelled_at=at + timedelta(hours=1)))
        elif i % 6 == 4:
            chunk.append(OrderRejected(order_id=oid, institution_id=f"H-{h}",
                                       enterprise_id=f"E-{p}", reason="t", rejected_by="t",
                                       rejected_at=at + timedelta(hours=2)))
        else:
            chunk.append(OrderDelivered(order_id=oid, distributor_id=f"D-{i % 2}",
                                        enterprise_id=f"E-{p}", units=units,
                                        delivered_at=delivered, delivery_seconds=hours * 3600,
                                        recorded_by="t"))
            short = 1 if i % 6 == 3 and units > 1 else 0
            chunk.append(OrderAccepted(
                order_id=oid, program_id=program_id, institution_id=f"H-{h}",
                enterprise_id=f"E-{p}", listing_id=f"L-{p}", registration_no=f"REG-{p}",
                distributor_id=f"D-{i % 2}", accepted_units=units - short,
                rejected_units=short, unit_price=PRICE, amount=PRICE * (units - short),
                accepted_by="t", accepted_at=delivered + timedelta(hours=3)))
        chunks.append(chunk)
    return chunks


async def _apply(engine: Any, events: Sequence[Event]) -> None:
    """One chunk, as ``intake.apply`` applies it: projected by groups (the projectors count
    the facts as they insert them)."""
    async with engine.begin() as conn:
        for cls, group in readmodels.groups([_ce(e) for e in events]):
            await readmodels.PROJECTORS[cls](conn, group)


async def _same_as_the_facts(engine: Any, months: Sequence[Month]) -> None:
    async with engine.connect() as conn:
        for month in months:
            found = await reports.rolled_up(conn, month, region=REGION)
            reference = await reports.grains(conn, month, region=REGION)
            # the report's lines (the even line to 2 places: SQL and Python divide alike
            # only that far)
            assert rules.lines(month, found) == rules.report_lines(month, reference), month


async def test_month_activity_gives_the_figures_of_the_facts(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        await upgrade(engine, MIGRATIONS)
        mid = datetime(2025, 1, 15, 12, tzinfo=SHANGHAI)  # its years start mid-month
        first = datetime(2025, 1, 1, tzinfo=SHANGHAI)
        await _apply(engine, [_program("P-MID", mid), _program("P-FIRST", first)])
        await _apply(engine, [AgreementRecorded(
            agreement_id=f"A-{program}-{h}", program_id=program, agreement_year=1,
            year_start=start, year_end=start.replace(year=2026), institution_id=f"H-{h}",
            institution_type="public", enterprise_id="E-0", registration_no="REG-0",
            listing_id="L-0", units=100, winning_price=PRICE, amount=PRICE * 100,
            recorded_by="t", recorded_at=start, reason="import")
            for program, start in (("P-MID", mid), ("P-FIRST", first)) for h in range(5)])
        # a delivery seen before its order (another topic): uncounted until the order comes
        early = _placed("P-MID", "P-MID-EARLY", 1, 0, datetime(2026, 1, 10, tzinfo=SHANGHAI), 2)
        await _apply(engine, [OrderDelivered(
            order_id="P-MID-EARLY", distributor_id="D-9", enterprise_id="E-0", units=2,
            delivered_at=datetime(2026, 1, 20, tzinfo=SHANGHAI), delivery_seconds=900_000,
            recorded_by="t")])
        for chunk in _orders("P-MID", mid - timedelta(days=30), 70):
            await _apply(engine, chunk)
        for chunk in _orders("P-FIRST", first, 40):
            await _apply(engine, chunk)
        async with engine.connect() as conn:
            uncounted = await conn.scalar(select(func.count()).select_from(store.facts)
                                          .where(~store.facts.c.counted))
            summed = await conn.scalar(select(func.count()).select_from(store.month_activity))
        assert uncounted == 1 and summed
        months = [Month(2024, 12)] + [Month(2025, m) for m in range(1, 13)] + [
            Month(2026, 1), Month(2026, 2)]
        await _same_as_the_facts(engine, months)  # one fact uncounted, read from the facts
        # the order arrives; a late event of an earlier month lands in its month
        await _apply(engine, [early, _placed("P-FIRST", "P-FIRST-LATE", 2, 1,
                                             datetime(2025, 2, 28, 23, tzinfo=SHANGHAI), 9)])
        async with engine.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(store.facts)
                                     .where(~store.facts.c.counted)) == 0
        await _same_as_the_facts(engine, months)
        # a new late-delivery limit: the program's facts are summed again
        changed = CHONGQING_STENTS_2023.model_copy(update={
            "monitoring": CHONGQING_STENTS_2023.monitoring.model_copy(
                update={"late_delivery_hours": 30})})
        await _apply(engine, [ProgramProfileChanged(
            program_id="P-MID", version=2, profile=changed, reason="t", changed_by="t",
            changed_at=datetime(2026, 2, 1, tzinfo=SHANGHAI))])
        await _same_as_the_facts(engine, months)
        async with engine.connect() as conn:
            late = (await reports.rolled_up(conn, Month(2025, 3), program_id="P-MID"))[
                "program"]["P-MID"].late_deliveries
        assert late > 0
    finally:
        await engine.dispose()
