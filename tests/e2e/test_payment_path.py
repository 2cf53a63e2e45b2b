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
from services.catalog.domain import enterprise_id
from services.devstack.kafka import KafkaBroker
from services.payments.domain.deadlines import settlement_due
from tests.e2e.conftest import bearer
from tests.e2e.test_order_path import post, until

pytestmark = pytest.mark.e2e
RUN = uuid.uuid4().hex[:6]
PROGRAM = f"CQ-PAY-PATH-{RUN}"
REGION = f"重庆市-{RUN}"
CERT = "国械注准20163132305"  # 上海微创, winning price 730.00
MICROPORT = enterprise_id("上海微创医疗器械(集团)有限公司")
REGULATOR = bearer("regulator", "BUREAU")
HOSPITAL = bearer("institution", f"H-{RUN}")
ENTERPRISE = bearer("enterprise", MICROPORT)
DISTRIBUTOR = bearer("distributor", f"D-{RUN}")


def test_an_order_from_placement_to_payment(platform: dict[str, str],
                                            kafka: KafkaBroker) -> None:
    catalog, orders, supply = platform["catalog"], platform["orders"], platform["supply"]
    payments = platform["payments"]
    r = post(f"{catalog}/v1/programs", {
        "program_id": PROGRAM, "category": "冠脉支架", "region": REGION,
        "notice_no": "渝医保办〔2023〕3号", "organiser": "national",
        "execution_start": "2026-01-31T00:00:00+08:00", "cycle_years": 3,
        "preset": "chongqing-stents-2023"}, REGULATOR)
    assert r.status_code == 201, r.text
    r = post(f"{catalog}/v1/programs/{PROGRAM}/winning-products", {"rows": [{
        "seq": 1, "product_name": "冠脉雷帕霉素洗脱钴基合金支架系统", "registration_no": CERT,
        "declaring_enterprise": "上海微创医疗器械(集团)有限公司",
        "registrant": "上海微创医疗器械(集团)有限公司", "product_price": "680",
        "service_price": "50", "winning_price": "730"}]}, REGULATOR)
    assert r.status_code == 201, r.text
    listing_id = r.json()["listing_ids"][0]
    r = post(f"{supply}/v1/distributors", {"distributor_id": f"D-{RUN}", "name": "渝配送"},
             REGULATOR)
    assert r.status_code == 201, r.text

    def assigned() -> httpx.Response | None:
        r = post(f"{supply}/v1/assignments", {
            "registration_no": CERT, "distributor_id": f"D-{RUN}", "scope": "region",
            "region": REGION, "valid_from": "2026-01-01T00:00:00+08:00",
            "reason": "regional distributor"}, ENTERPRISE)
        return r if r.status_code == 201 else None

    until(assigned, what="the assignment (supply learns the listing from catalog)")
    until(lambda: httpx.get(f"{orders}/v1/listings", params={"program_id": PROGRAM},
                            headers=HOSPITAL).json()["items"], what="the listing in orders")
    placed = post(f"{orders}/v1/orders", {"institution_id": f"H-{RUN}",
                                          "listing_id": listing_id, "units": 10,
                                          "unit_price": "730.00"}, HOSPITAL)
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["order_id"]

    def status() -> str:
        return str(httpx.get(f"{orders}/v1/orders/{order_id}", headers=HOSPITAL)
                   .json()["status"])

    until(lambda: status() == "routed", what="routing")
    path = f"{supply}/v1/deliveries/{order_id}"
    assert post(f"{path}/shipments", {"units": 10}, DISTRIBUTOR).status_code == 201
    assert post(f"{path}/deliveries", {"units": 10}, DISTRIBUTOR).status_code == 201
    until(lambda: status() == "delivered", what="delivery reaching orders")
    r = post(f"{orders}/v1/orders/{order_id}/acceptance", {"accepted_units": 10}, HOSPITAL)
    assert r.status_code in (200, 201), r.text

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
