"""End to end, one order's whole path across catalog, orders and supply, each its own process:
listed (catalog) → placed (orders) → routed to the enterprise's distributor (supply) → shipped
and delivered by that distributor (supply) → accepted by the hospital (orders) → OrderAccepted
on Kafka with the accepted units, amount and instant (payments' settlement clock, R-PAY-1)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from contracts.orders import ORDERS_TOPIC
from services.devstack.kafka import KafkaBroker
from tests.e2e.conftest import bearer
from tests.e2e.world import (
    assign_distributor,
    listing_in_orders,
    post,
    publish_program,
    until,
)

pytestmark = pytest.mark.e2e
RUN = uuid.uuid4().hex[:6]
PROGRAM = f"CQ-ORDER-PATH-{RUN}"
HOSPITAL = bearer("institution", f"H-{RUN}")
DISTRIBUTOR = bearer("distributor", f"D-{RUN}")
STRANGER = bearer("distributor", f"D2-{RUN}")


def test_an_order_from_placement_to_acceptance(platform: dict[str, str],
                                               kafka: KafkaBroker) -> None:
    catalog, orders, supply = platform["catalog"], platform["orders"], platform["supply"]
    listing_id = publish_program(catalog, PROGRAM, "重庆市")
    # supply: the regulator registers a distributor; the enterprise assigns it for the region
    assign_distributor(supply, f"D-{RUN}", "重庆市")

    # orders: the hospital orders at exactly the listing price, once its read model has it
    listing_in_orders(orders, PROGRAM, HOSPITAL)
    body = {"institution_id": f"H-{RUN}", "listing_id": listing_id, "units": 10,
            "unit_price": "730.00"}
    one_fen_off = post(f"{orders}/v1/orders", {**body, "unit_price": "729.99"}, HOSPITAL)
    assert one_fen_off.status_code == 422, one_fen_off.text  # no second negotiation
    key = uuid.uuid4().hex
    placed = post(f"{orders}/v1/orders", body, HOSPITAL, key=key)
    assert placed.status_code == 201, placed.text
    again = post(f"{orders}/v1/orders", body, HOSPITAL, key=key)
    assert again.json() == placed.json()  # the same Idempotency-Key places one order
    order_id = placed.json()["order_id"]

    def order() -> dict[str, Any]:
        r = httpx.get(f"{orders}/v1/orders/{order_id}", headers=HOSPITAL)
        assert r.status_code == 200, r.text
        return dict(r.json())

    routed = until(lambda: order()["status"] == "routed" and order(), what="routing")
    assert routed["distributor_id"] == f"D-{RUN}"

    # supply: only the distributor the order was routed to may ship and deliver it
    path = f"{supply}/v1/deliveries/{order_id}"
    assert post(f"{path}/shipments", {"units": 10}, STRANGER).status_code == 404
    r = post(f"{path}/shipments", {"units": 10}, DISTRIBUTOR)
    assert r.status_code == 201, r.text
    r = post(f"{path}/deliveries", {"units": 10}, DISTRIBUTOR)
    assert r.status_code == 201, r.text
    until(lambda: order()["status"] == "delivered", what="delivery reaching orders")

    # orders: the hospital accepts; only now does the order count and the clock start
    r = post(f"{orders}/v1/orders/{order_id}/acceptance", {"accepted_units": 10}, HOSPITAL)
    assert r.status_code in (200, 201), r.text
    accepted = order()
    assert (accepted["status"], accepted["accepted_units"], accepted["accepted_amount"]) == (
        "accepted", 10, "7300.00")
    event = asyncio.run(find_event(kafka.bootstrap_servers, order_id,
                                   "vbp.orders.order.accepted.v1"))
    assert (event["accepted_units"], event["amount"]) == (10, "7300.00")
    assert datetime.fromisoformat(event["accepted_at"]).tzinfo is not None
    history = httpx.get(f"{orders}/v1/orders/{order_id}/history", headers=HOSPITAL).json()
    changes = [h["change"] for h in history]
    for step in ("placed", "routed", "shipped", "delivered", "accepted"):
        assert any(step in c for c in changes), changes
    other = bearer("institution", "H-other")
    assert httpx.get(f"{orders}/v1/orders/{order_id}", headers=other).status_code == 404


async def find_event(bootstrap: str, order_id: str, ce_type: str,
                     timeout: float = 30) -> dict[str, Any]:
    consumer = AIOKafkaConsumer(ORDERS_TOPIC, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for rec in records:
                    headers = dict(rec.headers)
                    if rec.key == order_id.encode() and headers["ce_type"] == ce_type.encode():
                        return dict(json.loads(rec.value))
    finally:
        await consumer.stop()
    raise AssertionError(f"no {ce_type} for {order_id} on {ORDERS_TOPIC}")
