"""End to end, from an order to its payment across every service, each its own process:
listed (catalog) → placed (orders) → routed, shipped, delivered (supply) → accepted (orders) →
payable opened, due at the end of the next Shanghai month (payments, R-PAY-1) → paid in two
parts by the hospital, with an Idempotency-Key (payments) → PayablePaid on Kafka."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from contracts.payments import SETTLEMENTS_TOPIC
from services.devstack.kafka import KafkaBroker
from services.payments.domain.deadlines import settlement_due
from tests.e2e.conftest import bearer
from tests.e2e.world import (
    ENTERPRISE,
    assign_distributor,
    deliver_and_accept,
    listing_in_orders,
    post,
    publish_program,
    until,
)

pytestmark = pytest.mark.e2e
RUN = uuid.uuid4().hex[:6]
PROGRAM = f"CQ-PAY-PATH-{RUN}"
REGION = f"重庆市-{RUN}"
HOSPITAL = bearer("institution", f"H-{RUN}")
DISTRIBUTOR = bearer("distributor", f"D-{RUN}")


def test_an_order_from_placement_to_payment(platform: dict[str, str],
                                            kafka: KafkaBroker) -> None:
    catalog, orders, supply = platform["catalog"], platform["orders"], platform["supply"]
    payments = platform["payments"]
    listing_id = publish_program(catalog, PROGRAM, REGION)
    assign_distributor(supply, f"D-{RUN}", REGION)
    listing_in_orders(orders, PROGRAM, HOSPITAL)
    placed = post(f"{orders}/v1/orders", {"institution_id": f"H-{RUN}",
                                          "listing_id": listing_id, "units": 10,
                                          "unit_price": "730.00"}, HOSPITAL)
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["order_id"]
    deliver_and_accept(platform, order_id, 10, HOSPITAL, DISTRIBUTOR)

    # payments: the acceptance opened a payable from the hospital to the enterprise
    def payable() -> dict[str, Any] | None:
        r = httpx.get(f"{payments}/v1/payables/{order_id}", headers=HOSPITAL)
        return dict(r.json()) if r.status_code == 200 else None

    opened = until(payable, what="the payable in payments")
    assert (opened["amount"], opened["outstanding"], opened["payer"]) == (
        "7300.00", "7300.00", "institution")
    accepted_at = datetime.fromisoformat(opened["accepted_at"])
    assert datetime.fromisoformat(opened["due_at"]) == settlement_due(accepted_at)
    owed = httpx.get(f"{payments}/v1/payables", headers=ENTERPRISE,
                     params={"program_id": PROGRAM}).json()["items"]
    assert [p["payable_id"] for p in owed] == [order_id]
    other = bearer("institution", "H-other")
    assert httpx.get(f"{payments}/v1/payables/{order_id}", headers=other).status_code == 404

    # the hospital pays in two parts; a retried request pays once
    key = uuid.uuid4().hex
    first = post(f"{payments}/v1/payables/{order_id}/payments", {"amount": "3000.00"},
                 HOSPITAL, key=key)
    again = post(f"{payments}/v1/payables/{order_id}/payments", {"amount": "3000.00"},
                 HOSPITAL, key=key)
    assert first.status_code == again.status_code == 201, first.text
    assert again.json()["outstanding"] == "4300.00"
    rest = post(f"{payments}/v1/payables/{order_id}/payments", {"amount": "4300.00"}, HOSPITAL)
    assert rest.status_code == 201 and rest.json()["status"] == "paid", rest.text
    events = asyncio.run(settlement_events(kafka.bootstrap_servers, order_id, 3))
    assert [e[0] for e in events] == ["vbp.payments.payable.opened.v1",
                                      "vbp.payments.payable.paid.v1",
                                      "vbp.payments.payable.paid.v1"]
    assert sum(Decimal(e[1]["amount"]) for e in events[1:]) == Decimal("7300.00")


async def settlement_events(bootstrap: str, payable_id: str, n: int,
                            timeout: float = 30) -> list[tuple[str, dict[str, Any]]]:
    consumer = AIOKafkaConsumer(SETTLEMENTS_TOPIC, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest")
    await consumer.start()
    found: list[tuple[str, dict[str, Any]]] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline and len(found) < n:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for rec in records:
                    headers = dict(rec.headers)
                    if rec.key == payable_id.encode():
                        found.append((headers["ce_type"].decode(), json.loads(rec.value)))
    finally:
        await consumer.stop()
    assert len(found) == n, found
    return found
