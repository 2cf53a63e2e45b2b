"""What the end-to-end tests set up over the public APIs, written once: a program with one
winning stent (上海微创, winning price 730.00), a distributor assigned to it for a region, and an
order taken from placement to acceptance. Every call is an ordinary HTTP request with a token."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from contracts.identity import enterprise_id
from tests.e2e.conftest import bearer

CERT = "国械注准20163132305"
"""The winning stent every e2e program lists: 上海微创, 680 product + 50 service = 730.00."""
MICROPORT_NAME = "上海微创医疗器械(集团)有限公司"
MICROPORT = enterprise_id(MICROPORT_NAME)
REGULATOR = bearer("regulator", "BUREAU")
ENTERPRISE = bearer("enterprise", MICROPORT)


def until(check: Callable[[], Any], timeout: float = 60, what: str = "") -> Any:
    """Poll ``check`` until it returns something truthy (events take a moment to travel)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def post(url: str, body: dict[str, Any], headers: dict[str, str],
         key: str | None = None) -> httpx.Response:
    extra = {"Idempotency-Key": key or uuid.uuid4().hex}
    return httpx.post(url, json=body, headers={**headers, **extra}, timeout=30)


def publish_program(catalog: str, program_id: str, region: str, *,
                    profile: dict[str, Any] | None = None) -> str:
    """A Chongqing stents program (the preset, or ``profile``) with the one winning stent;
    the listing's id."""
    program: dict[str, Any] = {
        "program_id": program_id, "category": "冠脉支架", "region": region,
        "notice_no": "渝医保办〔2023〕3号", "organiser": "national",
        "execution_start": "2026-01-31T00:00:00+08:00", "cycle_years": 3}
    program.update({"profile": profile} if profile else {"preset": "chongqing-stents-2023"})
    r = post(f"{catalog}/v1/programs", program, REGULATOR)
    assert r.status_code == 201, r.text
    r = post(f"{catalog}/v1/programs/{program_id}/winning-products", {"rows": [{
        "seq": 1, "product_name": "冠脉雷帕霉素洗脱钴基合金支架系统", "registration_no": CERT,
        "declaring_enterprise": MICROPORT_NAME, "registrant": MICROPORT_NAME,
        "product_price": "680", "service_price": "50", "winning_price": "730"}]}, REGULATOR)
    assert r.status_code == 201, r.text
    return str(r.json()["listing_ids"][0])


def assign_distributor(supply: str, distributor_id: str, region: str) -> None:
    """The regulator registers the distributor; the enterprise assigns it for the region, once
    supply has learnt the listing from catalog."""
    r = post(f"{supply}/v1/distributors", {"distributor_id": distributor_id, "name": "渝配送"},
             REGULATOR)
    assert r.status_code == 201, r.text

    def assigned() -> httpx.Response | None:
        r = post(f"{supply}/v1/assignments", {
            "registration_no": CERT, "distributor_id": distributor_id, "scope": "region",
            "region": region, "valid_from": "2026-01-01T00:00:00+08:00",
            "reason": "regional distributor"}, ENTERPRISE)
        return r if r.status_code == 201 else None

    until(assigned, what="the assignment (supply learns the listing from catalog)")


def listing_in_orders(orders: str, program_id: str, headers: dict[str, str]) -> None:
    until(lambda: httpx.get(f"{orders}/v1/listings", params={"program_id": program_id},
                            headers=headers).json()["items"], what="the listing in orders")


def order_status(orders: str, order_id: str, headers: dict[str, str]) -> str:
    return str(httpx.get(f"{orders}/v1/orders/{order_id}", headers=headers).json()["status"])


def deliver_and_accept(platform: dict[str, str], order_id: str, units: int,
                       hospital: dict[str, str], distributor: dict[str, str]) -> None:
    """A placed order routed, shipped and delivered in full by its distributor, then accepted
    by the hospital."""
    orders, supply = platform["orders"], platform["supply"]
    until(lambda: order_status(orders, order_id, hospital) == "routed", what="routing")
    path = f"{supply}/v1/deliveries/{order_id}"
    assert post(f"{path}/shipments", {"units": units}, distributor).status_code == 201
    assert post(f"{path}/deliveries", {"units": units}, distributor).status_code == 201
    until(lambda: order_status(orders, order_id, hospital) == "delivered",
          what="delivery reaching orders")
    r = post(f"{orders}/v1/orders/{order_id}/acceptance", {"accepted_units": units}, hospital)
    assert r.status_code in (200, 201), r.text
