"""End to end, repayment reaching the regulator's monthly report, every service its own process
(R-MON-1, R-PAY-1): two orders of one hospital listed, placed, routed, delivered and accepted;
payments opens a payable for each; the hospital pays one in full before its deadline; the
other is still unpaid when payments' overdue job runs at an instant past its deadline (the
services keep the real clock, so the test runs the payments scheduler's job itself, on
payments' database, as the scheduler would then: ``PayablesOverdue``, keyed by the program,
leaves through payments' own outbox and relay). Monitoring's report for the hospital shows the
payment on time in the month it was paid and the overdue one in the month its deadline passed,
and nothing else."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from services.devstack.kafka import KafkaBroker
from services.monitoring.domain.reports import Month
from services.payments import overdue
from services.runtime.clock import FixedClock
from services.runtime.db import UnitOfWork, make_engine
from tests.e2e.conftest import DATABASES, bearer
from tests.e2e.test_payment_path import settlement_events
from tests.e2e.world import (
    assign_distributor,
    deliver_and_accept,
    listing_in_orders,
    post,
    publish_program,
    until,
)

pytestmark = pytest.mark.e2e
RUN = uuid.uuid4().hex[:6]
PROGRAM = f"CQ-REPAY-{RUN}"
REGION = f"重庆市-{RUN}"
HOSPITAL_ID = f"H-{RUN}"
OPERATOR = bearer("operator", "OPS")
HOSPITAL = bearer("institution", HOSPITAL_ID)
DISTRIBUTOR = bearer("distributor", f"D-{RUN}")


def accepted_order(platform: dict[str, str], listing_id: str) -> str:
    """One order of 10 units from placement to acceptance; its id (= its payable's)."""
    placed = post(f"{platform['orders']}/v1/orders", {
        "institution_id": HOSPITAL_ID, "listing_id": listing_id, "units": 10,
        "unit_price": "730.00"}, HOSPITAL)
    assert placed.status_code == 201, placed.text
    order_id = str(placed.json()["order_id"])
    deliver_and_accept(platform, order_id, 10, HOSPITAL, DISTRIBUTOR)
    return order_id


async def run_overdue_job(at: datetime) -> int:
    """Payments' scheduled job ``payables-overdue`` at ``at``, on payments' database."""
    engine = make_engine(DATABASES["payments"])
    clock = FixedClock(at)
    try:
        return await overdue.scan_payables(
            lambda: UnitOfWork(engine, clock=clock, source="/vbp/payments", notify=True), at)
    finally:
        await engine.dispose()


def institution_line(monitoring: str, month: Month) -> dict[str, Any] | None:
    r = httpx.get(f"{monitoring}/v1/reports/monthly/{month}", headers=OPERATOR,
                  params={"region": REGION, "dimension": "institution"})
    assert r.status_code == 200, r.text
    found = [ln for ln in r.json()["lines"] if ln["key"] == HOSPITAL_ID]
    return dict(found[0]) if found else None


def repayment(line: dict[str, Any] | None) -> tuple[int, int] | None:
    return None if line is None else (line["settlements_on_time"], line["settlements_overdue"])


def test_a_payable_paid_on_time_and_another_overdue_in_the_monthly_report(
        platform: dict[str, str], kafka: KafkaBroker) -> None:
    catalog, supply = platform["catalog"], platform["supply"]
    payments, monitoring = platform["payments"], platform["monitoring"]
    listing_id = publish_program(catalog, PROGRAM, REGION)
    assign_distributor(supply, f"D-{RUN}", REGION)
    listing_in_orders(platform["orders"], PROGRAM, HOSPITAL)
    on_time, late = accepted_order(platform, listing_id), accepted_order(platform, listing_id)

    def payable(order_id: str) -> dict[str, Any] | None:
        r = httpx.get(f"{payments}/v1/payables/{order_id}", headers=HOSPITAL)
        return dict(r.json()) if r.status_code == 200 else None

    until(lambda: payable(on_time), what="the first payable in payments")
    due = datetime.fromisoformat(until(lambda: payable(late), what="the second payable")
                                 ["due_at"])

    # the hospital pays the first in full, before its deadline
    r = post(f"{payments}/v1/payables/{on_time}/payments", {"amount": "7300.00"}, HOSPITAL)
    assert r.status_code == 201 and r.json()["status"] == "paid", r.text
    paid = asyncio.run(settlement_events(kafka.bootstrap_servers, on_time, 2))[1]
    assert paid[0] == "vbp.payments.payable.paid.v1" and paid[1]["on_time"] is True

    # payments' overdue job, run a minute past the second one's deadline, flags it (once)
    assert asyncio.run(run_overdue_job(due + timedelta(minutes=1))) == 1
    assert asyncio.run(run_overdue_job(due + timedelta(minutes=2))) == 0
    (flagged,) = asyncio.run(settlement_events(kafka.bootstrap_servers, PROGRAM, 1))
    assert flagged[0] == "vbp.payments.payables.overdue.v1"
    assert [i["payable_id"] for i in flagged[1]["items"]] == [late]
    still = payable(late)
    assert still is not None and still["days_overdue"] == 0  # by payments' own (real) clock

    # monitoring: paid on time in the month of payment; overdue in the month the deadline
    # passed (the Shanghai month beginning at the exclusive bound)
    paid_month = Month.of(datetime.fromisoformat(paid[1]["paid_at"]))
    overdue_month = Month.of(due)
    assert paid_month != overdue_month
    until(lambda: repayment(institution_line(monitoring, overdue_month)) == (0, 1),
          what="the overdue settlement in monitoring's report")
    until(lambda: repayment(institution_line(monitoring, paid_month)) == (1, 0),
          what="the settlement on time in monitoring's report")
    line = institution_line(monitoring, paid_month)
    assert line is not None and line["accepted_units"] == 20  # both acceptances, this month
    between = Month.of(due - timedelta(days=1))  # the deadline's own month: neither
    assert repayment(institution_line(monitoring, between)) in (None, (0, 0))
