"""Orders on the real PostgreSQL and Kafka: agreement imports (R-AGR-1), progress (R-AGR-3),
renewal with the EXAMPLES.md edges (R-AGR-2), purchase orders at the listing price (R-CAT-5,
R-CAT-8, R-AGR-4/5), the lifecycle from supply's events to acceptance (R-AGR-8), history
(R-AGR-9), pacing (R-AGR-6) and who may do what.

One orders app (and one database) serves the whole module, driven by an injectable clock;
every test works in its own program, region and institutions, and feeds the app catalog's and
supply's events through the real broker, as those services would.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import openpyxl
import pytest
from aiokafka import AIOKafkaConsumer

from contracts.catalog import (
    ListingReinstated,
    ListingSuspended,
    ProductListed,
    ProgramPublished,
)
from contracts.supply import OrderDelivered, OrderRouted, OrderShipped, SupplyRiskOpened
from services.catalog.domain import enterprise_id, listing_id
from services.catalog.presets import PRESETS
from services.devstack.postgres import PostgresCluster
from services.orders.app import create_app
from services.runtime.clock import SHANGHAI, FixedClock
from services.runtime.envelope import decode
from tests.conftest import SHARED
from tests.integration.apps import bearer, eventually, publish, running

pytestmark = pytest.mark.integration

REGULATOR = bearer("regulator", "BUREAU")
OPERATOR = bearer("operator", "OPS")
CQ_START = datetime(2023, 1, 31, tzinfo=SHANGHAI)
LN_START = datetime(2021, 10, 15, tzinfo=SHANGHAI)
CQ_ROWS = list(csv.DictReader(io.StringIO(
    (SHARED / "data" / "chongqing-stents-2023-winning.csv").read_text(encoding="utf-8"))))
CSV_TYPE = "text/csv"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
AGREEMENTS_TOPIC = "vbp.orders.agreements.v1"
ORDERS_TOPIC = "vbp.orders.orders.v1"
# The seed's products used below (Chongqing table rows 1 and 2: two different enterprises).
P1, P2 = CQ_ROWS[0], CQ_ROWS[1]  # 国械注准20163132305 730.00 (上海微创), 国械注准20203131021 779.00
E1, E2 = enterprise_id(P1["declaring_enterprise"]), enterprise_id(P2["declaring_enterprise"])


@dataclass
class App:
    client: httpx.AsyncClient
    clock: FixedClock
    bootstrap: str


@pytest.fixture(scope="module")
async def app(postgres: PostgresCluster, bootstrap: str) -> AsyncIterator[App]:
    name = f"orders_{uuid.uuid4().hex[:10]}"
    url = postgres.create_database(name)
    clock = FixedClock(datetime(2023, 3, 15, 10, tzinfo=SHANGHAI))
    try:
        async with running(lambda s: create_app(s, clock=clock), "orders", url,
                           bootstrap) as client:
            yield App(client, clock, bootstrap)
    finally:
        postgres.drop_database(name)


@pytest.fixture(autouse=True)
def _clock_in_chongqing_year_1(app: App) -> None:
    app.clock.set(datetime(2023, 3, 15, 10, tzinfo=SHANGHAI))


@dataclass
class Program:
    """One test's program: its id, region, listings by registration number, institutions."""

    program_id: str
    region: str
    listings: dict[str, dict[str, Any]]
    tag: str
    extra: dict[str, Any] = field(default_factory=dict)

    def institution(self, n: int) -> str:
        return f"H{n}-{self.tag}"

    def lid(self, registration_no: str) -> str:
        return str(self.listings[registration_no]["listing_id"])

    def price(self, registration_no: str) -> str:
        return str(self.listings[registration_no]["listing_price"])


def keyed() -> dict[str, str]:
    """A fresh Idempotency-Key (required on every recording POST)."""
    return {"Idempotency-Key": uuid.uuid4().hex}


def hospital(org: str) -> dict[str, str]:
    return bearer("institution", org)


def listed(program_id: str, category: str, registration_no: str, name: str, enterprise: str,
           product: str, service: str, *, winning: bool = True) -> ProductListed:
    price = Decimal(product) + Decimal(service)
    return ProductListed(
        listing_id=listing_id(program_id, registration_no), program_id=program_id,
        category=category, registration_no=registration_no, product_name=name,
        enterprise_id=enterprise_id(enterprise), enterprise_name=enterprise,
        registrant=enterprise, product_price=Decimal(product), service_price=Decimal(service),
        listing_price=price, winning=winning, listed_at=datetime.now(UTC),
        listed_by="regulator:BUREAU/test")


async def seed(app: App, preset: str = "chongqing-stents-2023", *,
               non_winning: bool = False) -> Program:
    """Publish a program and its listings as catalog would, and wait for the read models."""
    tag = uuid.uuid4().hex[:8]
    cq = preset.startswith("chongqing")
    pid, region = (f"CQ-{tag}", f"重庆市-{tag}") if cq else (f"LN-{tag}", f"辽宁省-{tag}")
    category = "冠脉支架" if cq else "冠脉导引导丝"
    events: list[Any] = [ProgramPublished(
        program_id=pid, category=category, region=region,
        notice_no="渝医保办〔2023〕3号" if cq else "辽医保〔2021〕87号",
        organiser="national" if cq else "alliance",
        execution_start=CQ_START if cq else LN_START, cycle_years=3 if cq else 2,
        profile=PRESETS[preset], published_by="regulator:BUREAU/test")]
    if cq:
        events += [listed(pid, category, r["registration_no"], r["product_name"],
                          r["declaring_enterprise"], r["product_price"], r["service_price"])
                   for r in CQ_ROWS]
    else:
        events += [listed(pid, category, "国械注进20163130001", "导引导丝A", "甲公司", "700", "30"),
                   listed(pid, category, "国械注准20163130002", "导引导丝B", "乙公司", "660", "30")]
    if non_winning:
        events.append(listed(pid, category, "国械注准20183130099", "药物洗脱支架系统X",
                             "丙医疗有限公司", "980", "0", winning=False))
    await publish(app.bootstrap, *events)
    expected = len(events) - 1

    async def ready() -> None:
        r = await app.client.get("/v1/listings", params={"program_id": pid, "limit": 100},
                                 headers=REGULATOR)
        assert len(r.json()["items"]) == expected
        programs = (await app.client.get("/v1/programs", headers=REGULATOR)).json()
        assert pid in {p["program_id"] for p in programs}

    await eventually(ready, timeout=60)
    items = (await app.client.get("/v1/listings", params={"program_id": pid, "limit": 100},
                                  headers=REGULATOR)).json()["items"]
    return Program(pid, region, {i["registration_no"]: i for i in items}, tag)


def agreement_csv(rows: list[tuple[Any, ...]], *, enterprise: bool = True) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["institution_id", "institution_type", "enterprise_id", "registration_no", "units"]
    writer.writerow(header if enterprise else [h for h in header if h != "enterprise_id"])
    for row in rows:
        writer.writerow(row)
    return out.getvalue().encode()


async def import_agreements(app: App, program: Program, body: bytes, *, year: int = 1,
                            content_type: str = CSV_TYPE, **params: str) -> httpx.Response:
    return await app.client.post(
        f"/v1/programs/{program.program_id}/agreements", content=body,
        params={"agreement_year": year, **params},
        headers={**REGULATOR, "Content-Type": content_type, **keyed()})


async def agree(app: App, program: Program, *rows: tuple[int, dict[str, str], int],
                year: int = 1) -> None:
    """Agreement volumes: (institution number, product row, units)."""
    body = agreement_csv([(program.institution(n), "public",
                           enterprise_id(p["declaring_enterprise"]), p["registration_no"], units)
                          for n, p, units in rows])
    r = await import_agreements(app, program, body, year=year)
    assert r.status_code == 201, r.text


async def order(app: App, program: Program, n: int, registration_no: str, units: int,
                price: str | None = None, key: str | None = None) -> httpx.Response:
    inst = program.institution(n)
    body = {"institution_id": inst, "listing_id": program.lid(registration_no), "units": units,
            "unit_price": price or program.price(registration_no)}
    return await app.client.post("/v1/orders", json=body, headers={
        **hospital(inst), "Idempotency-Key": key or uuid.uuid4().hex})


async def placed(app: App, program: Program, n: int, registration_no: str,
                 units: int) -> dict[str, Any]:
    r = await order(app, program, n, registration_no, units)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def get_order(app: App, program: Program, n: int, order_id: str) -> dict[str, Any]:
    r = await app.client.get(f"/v1/orders/{order_id}", headers=hospital(program.institution(n)))
    assert r.status_code == 200, r.text
    return dict(r.json())


STEPS = ("routed", "shipped", "delivered")


async def deliver(app: App, program: Program, o: dict[str, Any], units: int | None = None,
                  *, frm: str = "routed", upto: str = "delivered") -> None:
    """supply's events for an order: routed, shipped, delivered (from ``frm`` to ``upto``)."""
    now = datetime.now(UTC)
    made: dict[str, Any] = {
        "routed": OrderRouted(
            order_id=o["order_id"], institution_id=o["institution_id"],
            enterprise_id=o["enterprise_id"], distributor_id="D-1", assignment_id="AS-1",
            routed_at=now),
        "shipped": OrderShipped(order_id=o["order_id"], distributor_id="D-1",
                                units=units or o["units"], shipped_at=now,
                                recorded_by="distributor:D-1/u"),
        "delivered": OrderDelivered(order_id=o["order_id"], distributor_id="D-1",
                                    enterprise_id=o["enterprise_id"], units=units or o["units"],
                                    delivered_at=now, delivery_seconds=3600,
                                    recorded_by="distributor:D-1/u"),
    }
    wanted = STEPS[STEPS.index(frm):STEPS.index(upto) + 1]
    await publish(app.bootstrap, *(made[step] for step in wanted))
    n = int(o["institution_id"].split("-")[0][1:])

    async def arrived() -> None:
        assert (await get_order(app, program, n, o["order_id"]))["status"] == upto

    await eventually(arrived, timeout=60)


async def act(app: App, program: Program, n: int, order_id: str, action: str,
              body: dict[str, Any]) -> httpx.Response:
    return await app.client.post(f"/v1/orders/{order_id}/{action}", json=body, headers={
        **hospital(program.institution(n)), "Idempotency-Key": uuid.uuid4().hex})


async def accepted(app: App, program: Program, n: int, registration_no: str, units: int
                   ) -> dict[str, Any]:
    o = await placed(app, program, n, registration_no, units)
    await deliver(app, program, o)
    r = await act(app, program, n, o["order_id"], "acceptance", {"accepted_units": units})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def events(bootstrap: str, topic: str, ce_type: str, *, expect: int,
                 timeout: float = 20, **match: Any) -> list[dict[str, Any]]:
    """The data of the events of one type on a topic whose fields match, read from the start;
    waits for ``expect`` of them, then a moment more (so a duplicate would show)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest")
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        settle: float | None = None
        while loop.time() < deadline and (settle is None or loop.time() < settle):
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                for record in records:
                    ce = decode(record.value, record.headers)
                    if ce.type == ce_type and all(ce.data.get(k) == v for k, v in match.items()):
                        found.append(ce.data)
            if len(found) >= expect and settle is None:
                settle = loop.time() + 1.0
    finally:
        await consumer.stop()
    return found


async def progress(app: App, program: Program, headers: dict[str, str],
                   **params: Any) -> dict[str, Any]:
    r = await app.client.get("/v1/progress", params={"program_id": program.program_id,
                                                     **params}, headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


# === R-AGR-1 agreement imports =================================================================


async def test_r_agr_1_csv_import_records_every_agreement_and_reimport_is_a_no_op(
        app: App) -> None:
    p = await seed(app)
    body = agreement_csv([
        (p.institution(1), "public", E1, P1["registration_no"], 30),
        (p.institution(1), "public", "", P2["registration_no"], 100),  # enterprise implied
        (p.institution(2), "military", E2, "国械注准 20203131021", 0),  # spaces folded; 0 ok
    ])
    r = await import_agreements(app, p, body)
    assert r.status_code == 201, r.text
    result = r.json()
    assert (result["rows"], result["recorded"], result["changed"], result["unchanged"],
            result["replayed"]) == (3, 3, 0, 0, False)
    assert result["imported_by"].startswith("regulator:BUREAU")
    recorded = await events(app.bootstrap, AGREEMENTS_TOPIC, "vbp.orders.agreement.recorded.v1",
                            expect=3, program_id=p.program_id)
    assert len(recorded) == 3
    first = next(e for e in recorded if e["registration_no"] == P1["registration_no"])
    # amount = units × winning price: 30 × 730.00
    assert (first["units"], first["winning_price"], first["amount"]) == (30, "730.00",
                                                                         "21900.00")
    assert first["enterprise_id"] == E1 and first["institution_type"] == "public"
    assert first["year_start"].startswith("2023-01-31T00:00:00+08:00")
    assert first["year_end"].startswith("2024-01-31T00:00:00+08:00")
    assert first["recorded_by"].startswith("regulator:BUREAU") and first["reason"]
    # the same file again: nothing happens
    again = await import_agreements(app, p, body)
    assert again.status_code == 201
    assert (again.json()["replayed"], again.json()["import_id"]) == (True, result["import_id"])
    assert len(await events(app.bootstrap, AGREEMENTS_TOPIC,
                            "vbp.orders.agreement.recorded.v1", expect=3,
                            program_id=p.program_id)) == 3
    r = await app.client.get("/v1/agreements", params={"program_id": p.program_id},
                             headers=REGULATOR)
    items = r.json()["items"]
    assert len(items) == 3
    assert {(i["institution_id"], i["units"], i["version"]) for i in items} == {
        (p.institution(1), 30, 1), (p.institution(1), 100, 1), (p.institution(2), 0, 1)}


async def test_r_agr_1_xlsx_import(app: App) -> None:
    p = await seed(app)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["医疗机构编码", "机构类型", "注册证编号", "协议采购量"])  # Chinese header
    sheet.append([p.institution(1), "公立", P1["registration_no"], 30])
    sheet.append([p.institution(2), "public", P2["registration_no"], 12.0])  # numeric cell
    out = io.BytesIO()
    book.save(out)
    r = await import_agreements(app, p, out.getvalue(), content_type=XLSX_TYPE)
    assert r.status_code == 201, r.text
    assert r.json()["recorded"] == 2
    items = (await app.client.get("/v1/agreements", params={"program_id": p.program_id},
                                  headers=REGULATOR)).json()["items"]
    assert sorted((i["institution_type"], i["units"], i["amount"]) for i in items) == [
        ("public", 12, "9348.00"), ("public", 30, "21900.00")]


async def test_r_agr_1_every_bad_row_is_reported_and_nothing_is_imported(app: App) -> None:
    p = await seed(app)
    r = await app.client.post("/v1/institutions", headers={**REGULATOR, **keyed()}, json={
        "institutions": [{"institution_id": p.institution(n), "region": p.region,
                          "institution_type": "public"} for n in (1, 2)]})
    assert r.status_code == 201, r.text
    body = agreement_csv([
        (p.institution(1), "public", E1, P1["registration_no"], 30),  # row 1 good
        (p.institution(1), "public", E1, "国械注准20990000000", 5),  # 2 unknown product
        (p.institution(2), "public", E2, P2["registration_no"], -3),  # 3 negative units
        (p.institution(1), "public", E1, P1["registration_no"], 7),  # 4 duplicate of row 1
        ("H-ELSEWHERE", "public", E1, P1["registration_no"], 1),  # 5 outside the region
        (p.institution(2), "hospital", E1, P1["registration_no"], 1),  # 6 bad type
        (p.institution(1), "public", E1, P2["registration_no"], 1),  # 7 wrong enterprise
        (p.institution(2), "military", "", CQ_ROWS[2]["registration_no"], 1.5),  # 8 registered
        # as public; a fraction of a unit
    ])
    r = await import_agreements(app, p, body)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["type"] == "urn:vbp:problem:agreements-rejected"
    assert {(e["row"], e["field"]) for e in problem["errors"]} == {
        (2, "registration_no"), (3, "units"), (4, None), (5, "institution_id"),
        (6, "institution_type"), (7, "enterprise_id"), (8, "institution_type"), (8, "units")}
    assert "negative" in next(e["reason"] for e in problem["errors"] if e["row"] == 3)
    assert "rows 1 and 4" in next(e["reason"] for e in problem["errors"] if e["row"] == 4)
    assert (await app.client.get("/v1/agreements", params={"program_id": p.program_id},
                                 headers=REGULATOR)).json()["items"] == []
    # structural problems and other formats
    r = await import_agreements(app, p, b"institution_id,units\nH1,3\n")
    assert r.status_code == 422 and "registration_no" in r.json()["errors"][0]["reason"]
    r = await import_agreements(app, p, b"%PDF", content_type="application/pdf")
    assert r.status_code == 415
    r = await import_agreements(app, p, agreement_csv([]), year=4)
    assert r.status_code == 422  # the cycle has 3 agreement years (R-PRG-2)
    r = await app.client.post("/v1/programs/NO-SUCH/agreements", params={"agreement_year": 1},
                              content=body, headers={**REGULATOR, "Content-Type": CSV_TYPE,
                                                     **keyed()})
    assert r.status_code == 404


async def test_r_agr_9_a_changed_agreement_is_a_new_version_with_who_when_why(
        app: App) -> None:
    p = await seed(app)
    await agree(app, p, (1, P1, 30), (1, P2, 40))
    changed = agreement_csv([(p.institution(1), "public", E1, P1["registration_no"], 36),
                             (p.institution(1), "public", E2, P2["registration_no"], 40)])
    r = await import_agreements(app, p, changed, reason="医院补充确认 2023-02-10")
    assert r.status_code == 201, r.text
    assert (r.json()["recorded"], r.json()["changed"], r.json()["unchanged"]) == (0, 1, 1)
    items = (await app.client.get("/v1/agreements", params={
        "program_id": p.program_id, "registration_no": P1["registration_no"]},
        headers=REGULATOR)).json()["items"]
    assert (items[0]["units"], items[0]["version"], items[0]["amount"]) == (36, 2, "26280.00")
    history = (await app.client.get(f"/v1/agreements/{items[0]['agreement_id']}/history",
                                    headers=hospital(p.institution(1)))).json()
    assert [(h["change"], h["detail"]["units"]) for h in history] == [("recorded", 30),
                                                                       ("changed", 36)]
    assert history[1]["reason"] == "医院补充确认 2023-02-10"
    assert history[1]["detail"]["previous_units"] == 30
    assert history[1]["actor"].startswith("regulator:BUREAU")
    versions = await events(app.bootstrap, AGREEMENTS_TOPIC, "vbp.orders.agreement.recorded.v1",
                            expect=3, program_id=p.program_id)
    assert sorted((e["registration_no"] == P1["registration_no"], e["version"], e["units"])
                  for e in versions) == [(False, 1, 40), (True, 1, 30), (True, 2, 36)]


async def test_agreements_institutions_see_their_own_regulators_filter_and_page(
        app: App) -> None:
    p = await seed(app)
    await agree(app, p, (1, P1, 30), (1, P2, 40), (2, P1, 50))
    mine = (await app.client.get("/v1/agreements", headers=hospital(p.institution(1)))).json()
    assert {i["institution_id"] for i in mine["items"]} == {p.institution(1)}
    assert len(mine["items"]) == 2
    assert mine["items"][0]["progress"] == "0.0000" and mine["items"][0]["remaining"] > 0
    theirs = (await app.client.get("/v1/agreements", params={"institution_id": p.institution(2)},
                                   headers=REGULATOR)).json()["items"][0]
    for path in (f"/v1/agreements/{theirs['agreement_id']}",
                 f"/v1/agreements/{theirs['agreement_id']}/history"):
        assert (await app.client.get(path, headers=hospital(p.institution(1)))).status_code == 404
        assert (await app.client.get(path, headers=REGULATOR)).status_code == 200
    assert (await app.client.get("/v1/agreements", params={"institution_id": p.institution(2)},
                                 headers=hospital(p.institution(1)))).json()["items"] == []
    by_enterprise = (await app.client.get("/v1/agreements", params={
        "program_id": p.program_id, "enterprise_id": E1}, headers=REGULATOR)).json()["items"]
    assert len(by_enterprise) == 2
    # an enterprise sees the agreements on its own products
    assert len((await app.client.get("/v1/agreements", params={"program_id": p.program_id},
                                     headers=bearer("enterprise", E2))).json()["items"]) == 1
    by_region = (await app.client.get("/v1/agreements", params={"region": p.region},
                                      headers=REGULATOR)).json()["items"]
    assert len(by_region) == 3
    seen: list[str] = []
    cursor = None
    while True:
        page = (await app.client.get("/v1/agreements", params={
            "program_id": p.program_id, "limit": 2, **({"cursor": cursor} if cursor else {})},
            headers=REGULATOR)).json()
        seen += [i["agreement_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 3 and seen == sorted(seen)
    assert (await app.client.get("/v1/agreements", params={"limit": 501},
                                 headers=REGULATOR)).status_code == 422


# === purchase orders ===========================================================================


async def test_r_cat_5_price_must_be_exactly_the_listing_price(app: App) -> None:
    p = await seed(app)
    reg = P1["registration_no"]
    for price in ("730.01", "729.99", "0.00"):  # one fen off either way: no second negotiation
        r = await order(app, p, 1, reg, 3, price=price)
        assert r.status_code == 422, (price, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert (r.json()["type"], r.json()["listing_price"]) == (
            "urn:vbp:problem:price-mismatch", "730.00")
    r = await order(app, p, 1, reg, 3, price="730")
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["unit_price"], body["amount"], body["status"], body["order_class"]) == (
        "730.00", "2190.00", "placed", "no_agreement")
    r = await app.client.post("/v1/orders", headers={**hospital(p.institution(1)),
                                                     "Idempotency-Key": "k-float"}, json={
        "institution_id": p.institution(1), "listing_id": p.lid(reg), "units": 1,
        "unit_price": 730.0})
    assert r.status_code == 422  # money is never a float
    r = await app.client.post("/v1/orders", headers={**hospital(p.institution(1)),
                                                     "Idempotency-Key": "k-unknown"}, json={
        "institution_id": p.institution(1), "listing_id": "L-NO-SUCH", "units": 1,
        "unit_price": "730.00"})
    assert (r.status_code, r.json()["type"]) == (422, "urn:vbp:problem:unknown-listing")


async def test_r_cat_8_a_suspended_listing_cannot_be_ordered(app: App) -> None:
    p = await seed(app)
    reg = P1["registration_no"]
    listing = p.listings[reg]
    await publish(app.bootstrap, ListingSuspended(
        listing_id=listing["listing_id"], program_id=p.program_id,
        enterprise_id=listing["enterprise_id"], reason="credit measure: unfilled orders",
        measure_id="M-1", suspended_by="credit:regulator", suspended_at=datetime.now(UTC),
        version=2))

    async def refused() -> None:
        r = await order(app, p, 1, reg, 1)
        assert r.status_code == 422, r.text
        assert r.json()["type"] == "urn:vbp:problem:listing-suspended"
        assert "unfilled orders" in r.json()["detail"]

    await eventually(refused, timeout=60)
    await publish(app.bootstrap, ListingReinstated(
        listing_id=listing["listing_id"], program_id=p.program_id,
        enterprise_id=listing["enterprise_id"], reason="repaired", measure_id="M-1",
        reinstated_by="credit:regulator", reinstated_at=datetime.now(UTC), version=3))

    async def taken() -> None:
        assert (await order(app, p, 1, reg, 1)).status_code == 201

    await eventually(taken, timeout=60)


async def test_r_agr_4_5_beyond_and_without_agreement_at_the_winning_price(app: App) -> None:
    p = await seed(app, non_winning=True)
    reg = P1["registration_no"]
    await agree(app, p, (1, P1, 10))
    first = await placed(app, p, 1, reg, 6)
    second = await placed(app, p, 1, reg, 6)  # 4 remain: does not fit
    assert (first["order_class"], second["order_class"]) == ("within_agreement",
                                                             "beyond_agreement")
    assert second["unit_price"] == "730.00" and second["amount"] == "4380.00"
    history = (await app.client.get(f"/v1/orders/{second['order_id']}/history",
                                    headers=hospital(p.institution(1)))).json()
    assert (history[0]["detail"]["units_within_agreement"],
            history[0]["detail"]["units_beyond_agreement"]) == (4, 2)
    none = await placed(app, p, 3, reg, 5)  # an institution with no agreement volume
    assert none["order_class"] == "no_agreement"
    other = await placed(app, p, 1, "国械注准20183130099", 2)  # R-AGR-5: a non-winning listing
    assert (other["order_class"], other["unit_price"]) == ("non_winning", "980.00")
    placed_events = await events(app.bootstrap, ORDERS_TOPIC, "vbp.orders.order.placed.v1",
                                 expect=4, program_id=p.program_id)
    assert sorted(e["order_class"] for e in placed_events) == [
        "beyond_agreement", "no_agreement", "non_winning", "within_agreement"]
    assert {e["region"] for e in placed_events} == {p.region}
    # only accepted units count (R-AGR-8), non-winning apart (R-AGR-5)
    for o in (first, second, other):
        await deliver(app, p, o)
        r = await act(app, p, 1, o["order_id"], "acceptance", {"accepted_units": o["units"]})
        assert r.status_code == 200, r.text
    report = await progress(app, p, hospital(p.institution(1)), agreement_year=1)
    assert report["total"] == {"registration_no": None, "enterprise_id": None,
                               "enterprise_name": None,
                               "agreement_units": 10, "accepted_units": 12,
                               "progress": "1.2000", "remaining": 0}
    assert report["non_winning_accepted_units"] == 2
    assert [(line["enterprise_id"], line["accepted_units"]) for line in
            report["by_enterprise"]] == [(E1, 12)]


async def test_orders_belong_to_their_institution(app: App) -> None:
    p = await seed(app)
    reg = P1["registration_no"]
    body = {"institution_id": p.institution(2), "listing_id": p.lid(reg), "units": 1,
            "unit_price": "730.00"}
    r = await app.client.post("/v1/orders", json=body, headers={
        **hospital(p.institution(1)), "Idempotency-Key": "x"})
    assert (r.status_code, r.json()["type"]) == (403, "urn:vbp:problem:not-your-institution")
    o = await placed(app, p, 2, reg, 4)
    intruder = hospital(p.institution(1))
    for path in (f"/v1/orders/{o['order_id']}", f"/v1/orders/{o['order_id']}/history"):
        assert (await app.client.get(path, headers=intruder)).status_code == 404
        assert (await app.client.get(path, headers=REGULATOR)).status_code == 200
    for action, payload in (("cancel", {"reason": "x"}), ("acceptance", {"accepted_units": 1}),
                            ("rejection", {"reason": "x"})):
        r = await act(app, p, 1, o["order_id"], action, payload)
        assert r.status_code == 404, (action, r.text)
    assert (await app.client.get("/v1/orders", headers=intruder)).json()["items"] == []
    assert (await app.client.get("/v1/orders", params={"institution_id": p.institution(2)},
                                 headers=intruder)).json()["items"] == []
    # the supplier sees the orders of its own products, another enterprise does not
    assert (await app.client.get(f"/v1/orders/{o['order_id']}",
                                 headers=bearer("enterprise", E1))).status_code == 200
    assert (await app.client.get(f"/v1/orders/{o['order_id']}",
                                 headers=bearer("enterprise", E2))).status_code == 404
    # registered regions accept only their institutions
    r = await app.client.post("/v1/institutions", headers={**REGULATOR, **keyed()}, json={
        "institutions": [{"institution_id": p.institution(2), "region": p.region,
                          "institution_type": "public"}]})
    assert r.status_code == 201
    r = await order(app, p, 3, reg, 1)
    assert (r.status_code, r.json()["type"]) == (403,
                                                 "urn:vbp:problem:institution-not-in-region")
    assert (await order(app, p, 2, reg, 1)).status_code == 201


async def test_idempotency_key_replays_the_first_order(app: App) -> None:
    p = await seed(app)
    reg = P1["registration_no"]
    first = await order(app, p, 1, reg, 2, key="same-key")
    again = await order(app, p, 1, reg, 2, key="same-key")
    assert first.status_code == again.status_code == 201
    assert first.json()["order_id"] == again.json()["order_id"]
    assert again.headers.get("idempotent-replayed") == "true"
    other = await order(app, p, 1, reg, 3, key="same-key")
    assert other.status_code == 422
    assert len((await app.client.get("/v1/orders", params={"program_id": p.program_id},
                                     headers=REGULATOR)).json()["items"]) == 1
    assert len(await events(app.bootstrap, ORDERS_TOPIC, "vbp.orders.order.placed.v1",
                            expect=1, program_id=p.program_id)) == 1


async def test_every_post_that_moves_goods_or_money_requires_an_idempotency_key(
        app: App) -> None:
    """Item 13: one policy. Placing an order (direct path and FastAPI), its lifecycle moves,
    renewals and their exceptions, imports and registrations: without the key, 400
    ``idempotency-key-required`` naming the header, and nothing happens."""
    p = await seed(app)
    reg = P1["registration_no"]
    inst = p.institution(1)
    o = await placed(app, p, 1, reg, 2)
    good = {"institution_id": inst, "listing_id": p.lid(reg), "units": 2,
            "unit_price": p.price(reg)}
    csv_body = agreement_csv([(inst, "public", E1, reg, 10)])
    attempts: list[tuple[str, dict[str, str], dict[str, Any]]] = [
        ("/v1/orders", hospital(inst), {"json": good}),  # the direct path
        ("/v1/orders", hospital(inst), {"content": json.dumps(good), "headers": {
            "Content-Type": "application/vnd.vbp+json"}}),  # FastAPI's
        (f"/v1/orders/{o['order_id']}/cancel", hospital(inst), {"json": {"reason": "x"}}),
        (f"/v1/orders/{o['order_id']}/acceptance", hospital(inst),
         {"json": {"accepted_units": 2}}),
        (f"/v1/orders/{o['order_id']}/rejection", hospital(inst), {"json": {"reason": "x"}}),
        ("/v1/renewals", hospital(inst), {"json": {
            "program_id": p.program_id, "agreement_year": 2, "institution_id": inst,
            "demand": []}}),
        ("/v1/renewals/R-NONE/exception", REGULATOR, {"json": {"reason": "x"}}),
        (f"/v1/programs/{p.program_id}/agreements?agreement_year=1", REGULATOR, {
            "content": csv_body, "headers": {"Content-Type": CSV_TYPE}}),
        ("/v1/institutions", REGULATOR, {"json": {"institutions": [
            {"institution_id": inst, "region": p.region, "institution_type": "public"}]}}),
    ]
    for path, who, kwargs in attempts:
        headers = {**who, **kwargs.pop("headers", {})}
        r = await app.client.post(path, headers=headers, **kwargs)
        assert (r.status_code, r.json()["type"]) == (
            400, "urn:vbp:problem:idempotency-key-required"), (path, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"] == [{"field": "header.Idempotency-Key",
                                       "message": "required"}]
    assert (await get_order(app, p, 1, o["order_id"]))["status"] == "placed"
    listed = await app.client.get("/v1/orders", params={"program_id": p.program_id},
                                  headers=REGULATOR)
    assert [x["order_id"] for x in listed.json()["items"]] == [o["order_id"]]
    assert (await app.client.get("/v1/agreements", params={"program_id": p.program_id},
                                 headers=REGULATOR)).json()["items"] == []
    assert (await app.client.get("/v1/renewals", headers=hospital(inst))).json()["items"] == []


async def test_the_direct_path_and_fastapi_answer_orders_alike(app: App) -> None:
    """POST /v1/orders is served by runtime/direct.py when it is plain JSON with a bearer
    token, and by FastAPI otherwise (here: a ``+json`` media type): same orders, same problems,
    and one Idempotency-Key across both paths is one order."""
    p = await seed(app)
    reg = P1["registration_no"]
    inst = p.institution(1)

    async def send(body: dict[str, Any], content_type: str, key: str) -> httpx.Response:
        return await app.client.post("/v1/orders", content=json.dumps(body), headers={
            **hospital(inst), "Idempotency-Key": key, "Content-Type": content_type})

    good = {"institution_id": inst, "listing_id": p.lid(reg), "units": 2,
            "unit_price": "730.00"}
    direct = await send(good, "application/json", "k-direct")
    routed = await send(good, "application/vnd.vbp+json", "k-fastapi")
    assert direct.status_code == routed.status_code == 201, (direct.text, routed.text)
    varying = {"order_id", "placed_at", "updated_at"}
    assert ({k: v for k, v in direct.json().items() if k not in varying}
            == {k: v for k, v in routed.json().items() if k not in varying})
    assert direct.json()["order_id"] != routed.json()["order_id"]
    # the key first used on the direct path replays through FastAPI, and the other way round
    again = await send(good, "application/vnd.vbp+json", "k-direct")
    assert (again.json(), again.headers.get("idempotent-replayed")) == (direct.json(), "true")
    again = await send(good, "application/json", "k-fastapi")
    assert (again.json(), again.headers.get("idempotent-replayed")) == (routed.json(), "true")
    for bad, status in (({**good, "unit_price": "730.01"}, 422),       # one fen off
                        ({**good, "institution_id": p.institution(2)}, 403),
                        ({**good, "units": 0}, 422)):                  # FastAPI's own refusal
        a = await send(bad, "application/json", uuid.uuid4().hex)
        b = await send(bad, "application/vnd.vbp+json", uuid.uuid4().hex)
        assert a.status_code == b.status_code == status, (a.text, b.text)
        assert a.headers["content-type"] == b.headers["content-type"] == (
            "application/problem+json")
        assert a.json() == b.json()
    assert len((await app.client.get("/v1/orders", params={"program_id": p.program_id},
                                     headers=REGULATOR)).json()["items"]) == 2


async def test_orders_only_inside_the_cycle(app: App) -> None:
    p = await seed(app)
    app.clock.set(CQ_START - timedelta(seconds=1))
    r = await order(app, p, 1, P1["registration_no"], 1)
    assert (r.status_code, r.json()["type"]) == (422, "urn:vbp:problem:outside-cycle")
    app.clock.set(datetime(2026, 1, 31, tzinfo=SHANGHAI))  # the cycle's (exclusive) end
    assert (await order(app, p, 1, P1["registration_no"], 1)).status_code == 422
    app.clock.set(datetime(2026, 1, 30, 23, 59, tzinfo=SHANGHAI))
    r = await order(app, p, 1, P1["registration_no"], 1)
    assert r.status_code == 201 and r.json()["agreement_year"] == 3


# === R-AGR-8 lifecycle =========================================================================


async def test_r_agr_8_full_lifecycle_to_acceptance_with_history(app: App) -> None:
    p = await seed(app)
    app.clock.set(datetime(2023, 3, 15, 10, tzinfo=SHANGHAI))
    await agree(app, p, (1, P1, 30))
    o = await placed(app, p, 1, P1["registration_no"], 10)
    await deliver(app, p, o, upto="routed")
    assert (await get_order(app, p, 1, o["order_id"]))["distributor_id"] == "D-1"
    await deliver(app, p, o, frm="shipped")
    app.clock.set(datetime(2023, 3, 31, 20, tzinfo=UTC))  # 2023-04-01 04:00 in Shanghai
    r = await act(app, p, 1, o["order_id"], "acceptance", {"accepted_units": 10})
    assert r.status_code == 200, r.text
    done = r.json()
    assert (done["status"], done["accepted_units"], done["accepted_amount"]) == (
        "accepted", 10, "7300.00")
    accepted_events = await events(app.bootstrap, ORDERS_TOPIC, "vbp.orders.order.accepted.v1",
                                   expect=1, program_id=p.program_id)
    assert len(accepted_events) == 1
    e = accepted_events[0]
    assert (e["accepted_units"], e["rejected_units"], e["amount"], e["unit_price"]) == (
        10, 0, "7300.00", "730.00")
    assert datetime.fromisoformat(e["accepted_at"]) == datetime(2023, 3, 31, 20, tzinfo=UTC)
    assert (e["distributor_id"], e["enterprise_id"]) == ("D-1", E1)
    assert e["accepted_by"].startswith(f"institution:{p.institution(1)}")
    history = (await app.client.get(f"/v1/orders/{o['order_id']}/history",
                                    headers=hospital(p.institution(1)))).json()
    assert [h["change"] for h in history] == ["placed", "routed", "shipped", "delivered",
                                              "accepted"]
    assert history[0]["actor"].startswith(f"institution:{p.institution(1)}")
    assert history[2]["actor"] == "distributor:D-1/u"
    assert [h["detail"]["status"] for h in history][-1] == "accepted"
    report = await progress(app, p, hospital(p.institution(1)), agreement_year=1)
    assert (report["total"]["accepted_units"], report["total"]["progress"],
            report["total"]["remaining"]) == (10, "0.3333", 20)
    agreement = (await app.client.get("/v1/agreements", headers=hospital(
        p.institution(1)), params={"program_id": p.program_id})).json()["items"][0]
    assert (agreement["accepted_units"], agreement["progress"], agreement["remaining"]) == (
        10, "0.3333", 20)
    # a supply risk on the order is noted, the status stands
    await publish(app.bootstrap, SupplyRiskOpened(
        order_id=o["order_id"], enterprise_id=E1, registration_no=P1["registration_no"],
        institution_id=p.institution(1), reason="no distributor", opened_at=datetime.now(UTC)))

    async def noted() -> None:
        got = await get_order(app, p, 1, o["order_id"])
        assert (got["supply_risk"], got["status"]) == ("no distributor", "accepted")

    await eventually(noted, timeout=60)


async def test_r_agr_8_partial_acceptance_and_rejection(app: App) -> None:
    p = await seed(app)
    await agree(app, p, (1, P1, 30))
    o = await placed(app, p, 1, P1["registration_no"], 10)
    await deliver(app, p, o)
    r = await act(app, p, 1, o["order_id"], "acceptance", {"accepted_units": 7})
    assert (r.status_code, r.json()["type"]) == (422, "urn:vbp:problem:reason-required")
    r = await act(app, p, 1, o["order_id"], "acceptance", {"accepted_units": 11})
    assert (r.status_code, r.json()["type"]) == (422, "urn:vbp:problem:invalid-acceptance")
    r = await act(app, p, 1, o["order_id"], "acceptance",
                  {"accepted_units": 7, "reason": "3 packages damaged"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["accepted_units"], r.json()["accepted_amount"]) == (
        "partially_accepted", 7, "5110.00")
    e = (await events(app.bootstrap, ORDERS_TOPIC, "vbp.orders.order.accepted.v1", expect=1,
                      program_id=p.program_id))[0]
    assert (e["accepted_units"], e["rejected_units"], e["amount"], e["rejection_reason"]) == (
        7, 3, "5110.00", "3 packages damaged")
    # a short delivery: all of it accepted, no reason needed
    short = await placed(app, p, 1, P1["registration_no"], 5)
    await deliver(app, p, short, units=4)
    r = await act(app, p, 1, short["order_id"], "acceptance", {"accepted_units": 4})
    assert (r.status_code, r.json()["status"]) == (200, "partially_accepted")
    # rejection of the whole delivery, with a reason
    bad = await placed(app, p, 1, P1["registration_no"], 2)
    await deliver(app, p, bad)
    r = await act(app, p, 1, bad["order_id"], "rejection", {"reason": "  "})
    assert r.status_code == 422
    r = await act(app, p, 1, bad["order_id"], "rejection", {"reason": "sterility seal broken"})
    assert (r.status_code, r.json()["status"], r.json()["reason"]) == (
        200, "rejected", "sterility seal broken")
    rejected = await events(app.bootstrap, ORDERS_TOPIC, "vbp.orders.order.rejected.v1",
                            expect=1, order_id=bad["order_id"])
    assert rejected[0]["reason"] == "sterility seal broken"
    report = await progress(app, p, REGULATOR, agreement_year=1,
                            institution_id=p.institution(1))
    assert report["total"]["accepted_units"] == 11  # 7 + 4; the rejected order counts nothing


async def test_r_agr_8_illegal_transitions_are_refused(app: App) -> None:
    p = await seed(app)
    reg = P1["registration_no"]
    o = await placed(app, p, 1, reg, 3)
    for action, payload in (("acceptance", {"accepted_units": 3}),
                            ("rejection", {"reason": "x"})):
        r = await act(app, p, 1, o["order_id"], action, payload)
        assert (r.status_code, r.json()["type"]) == (409, "urn:vbp:problem:illegal-transition")
        assert r.json()["status_now"] == "placed"
    r = await act(app, p, 1, o["order_id"], "cancel", {"reason": "ordered twice"})
    assert (r.status_code, r.json()["status"]) == (200, "cancelled")
    cancelled = await events(app.bootstrap, ORDERS_TOPIC, "vbp.orders.order.cancelled.v1",
                             expect=1, order_id=o["order_id"])
    assert cancelled[0]["reason"] == "ordered twice"
    r = await act(app, p, 1, o["order_id"], "cancel", {"reason": "again"})
    assert r.status_code == 409 and "final" in r.json()["detail"]
    # routed may still be cancelled; shipped may not
    routed = await placed(app, p, 1, reg, 3)
    await deliver(app, p, routed, upto="routed")
    assert (await act(app, p, 1, routed["order_id"], "cancel",
                      {"reason": "not needed"})).status_code == 200
    shipped = await placed(app, p, 1, reg, 3)
    await deliver(app, p, shipped, upto="shipped")
    r = await act(app, p, 1, shipped["order_id"], "cancel", {"reason": "late"})
    assert (r.status_code, r.json()["status_now"]) == (409, "shipped")
    await deliver(app, p, shipped, frm="delivered")
    assert (await act(app, p, 1, shipped["order_id"], "acceptance",
                      {"accepted_units": 3})).status_code == 200
    r = await act(app, p, 1, shipped["order_id"], "acceptance", {"accepted_units": 3})
    assert r.status_code == 409
    # a supply event the status does not allow is noted, not applied: routed after cancel
    await publish(app.bootstrap, OrderShipped(order_id=o["order_id"], distributor_id="D-1",
                                              units=3, shipped_at=datetime.now(UTC),
                                              recorded_by="distributor:D-1/u"))

    async def noted() -> None:
        history = (await app.client.get(f"/v1/orders/{o['order_id']}/history",
                                        headers=REGULATOR)).json()
        assert history[-1]["change"] == "shipped_ignored"

    await eventually(noted, timeout=60)
    assert (await get_order(app, p, 1, o["order_id"]))["status"] == "cancelled"


async def test_r_agr_8_supply_events_sent_together_apply_as_one_after_the_other(
        app: App) -> None:
    """Supply's events for several orders, interleaved and sent at once (applied a chunk at a
    time, set-wise): each order ends as if they were applied one by one, every change in its
    history with consecutive versions, the one its status forbids noted, an unknown order's
    ignored."""
    p = await seed(app)
    reg = P1["registration_no"]
    a, b, c = [await placed(app, p, 1, reg, 4) for _ in range(3)]
    r = await act(app, p, 1, c["order_id"], "cancel", {"reason": "ordered twice"})
    assert r.status_code == 200, r.text
    now = datetime.now(UTC)

    def routed(o: dict[str, Any]) -> OrderRouted:
        return OrderRouted(order_id=o["order_id"], institution_id=o["institution_id"],
                           enterprise_id=o["enterprise_id"], distributor_id="D-1",
                           assignment_id="AS-1", routed_at=now)

    def shipped(o: dict[str, Any]) -> OrderShipped:
        return OrderShipped(order_id=o["order_id"], distributor_id="D-1", units=4,
                            shipped_at=now, recorded_by="distributor:D-1/u")

    unknown = {**a, "order_id": "O-NOT-HERE"}
    await publish(app.bootstrap, routed(a), routed(b), shipped(a), shipped(c),
                  OrderDelivered(order_id=a["order_id"], distributor_id="D-1",
                                 enterprise_id=a["enterprise_id"], units=4, delivered_at=now,
                                 delivery_seconds=60, recorded_by="distributor:D-1/u"),
                  SupplyRiskOpened(order_id=b["order_id"], enterprise_id=E1,
                                   registration_no=reg, institution_id=b["institution_id"],
                                   reason="stock short", opened_at=now),
                  routed(unknown), shipped(b))

    async def history(o: dict[str, Any]) -> list[dict[str, Any]]:
        got = await app.client.get(f"/v1/orders/{o['order_id']}/history", headers=REGULATOR)
        return list(got.json())

    async def applied() -> None:
        assert [h["change"] for h in await history(b)] == [
            "placed", "routed", "supply_risk_opened", "shipped"]

    await eventually(applied, timeout=60)
    got_a, got_b = (await get_order(app, p, 1, a["order_id"]),
                    await get_order(app, p, 1, b["order_id"]))
    assert (got_a["status"], got_a["distributor_id"], got_a["delivered_units"]) == (
        "delivered", "D-1", 4)
    assert (got_b["status"], got_b["supply_risk"], got_b["shipped_units"]) == (
        "shipped", "stock short", 4)
    hist_a, hist_b = await history(a), await history(b)
    assert [h["change"] for h in hist_a] == ["placed", "routed", "shipped", "delivered"]
    assert [h["detail"].get("version") for h in hist_a[1:]] == [2, 3, 4]
    assert [h["detail"].get("version") for h in hist_b[1:]] == [2, 3, 4]
    assert [h["detail"]["status"] for h in hist_b[1:]] == ["routed", "routed", "shipped"]
    hist_c = await history(c)
    assert [h["change"] for h in hist_c][-2:] == ["cancelled", "shipped_ignored"]
    assert (await get_order(app, p, 1, c["order_id"]))["status"] == "cancelled"


# === R-AGR-2 renewal ===========================================================================


async def renewal(app: App, p: Program, n: int, e1: int, e2: int | None = None,
                  year: int = 2) -> httpx.Response:
    demand = [{"enterprise_id": E1, "units": e1}]
    if e2 is not None:
        demand.append({"enterprise_id": E2, "units": e2})
    return await app.client.post("/v1/renewals", json={
        "program_id": p.program_id, "agreement_year": year, "institution_id": p.institution(n),
        "demand": demand}, headers={**hospital(p.institution(n)),
                                    "Idempotency-Key": uuid.uuid4().hex})


async def test_r_agr_2_renewal_thresholds_on_both_sides_of_the_edges(app: App) -> None:
    """EXAMPLES.md: last year H accepted E1 120 + E2 80 = 200 units; agreements E1 100,
    E2 100. Total ≥ 95 % of 200 = 190; each enterprise ≥ 90 % of 100 = 90."""
    p = await seed(app)
    app.clock.set(datetime(2023, 6, 1, 10, tzinfo=SHANGHAI))
    await agree(app, p, (1, P1, 100), (1, P2, 100))
    await accepted(app, p, 1, P1["registration_no"], 120)
    await accepted(app, p, 1, P2["registration_no"], 80)
    app.clock.set(datetime(2024, 1, 10, 10, tzinfo=SHANGHAI))
    r = await renewal(app, p, 1, 90, 99)  # 189 < 190
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    refused = r.json()
    assert refused["type"] == "urn:vbp:problem:renewal-refused"
    assert [(f["check"], f["basis"], f["required"], f["offered"]) for f in
            refused["failures"]] == [("total", 200, 190, 189)]
    assert "189" in refused["detail"] and "190" in refused["detail"]
    r = await renewal(app, p, 1, 89, 110)  # E1 89 < 90
    assert r.status_code == 422
    assert [(f["check"], f["enterprise_id"], f["required"], f["offered"]) for f in
            r.json()["failures"]] == [("per_enterprise", E1, 90, 89)]
    r = await renewal(app, p, 1, 88, 99)  # both fail: every failed check is named
    assert [f["check"] for f in r.json()["failures"]] == ["total", "per_enterprise"]
    r = await renewal(app, p, 1, 90, 100)  # 190 ≥ 190; 90 ≥ 90
    assert r.status_code == 201, r.text
    ok = r.json()
    assert (ok["status"], ok["failures"], ok["last_year_accepted_total"],
            ok["last_year_agreement"]) == ("accepted", [], 200, {E1: 100, E2: 100})
    assert (await renewal(app, p, 1, 95, 100)).status_code == 409  # already accepted
    # an exception for an earlier refusal is moot now
    r = await app.client.post(f"/v1/renewals/{refused['renewal_id']}/exception",
                              json={"reason": "x"}, headers={**REGULATOR,
                                                             "Idempotency-Key": "e0"})
    assert r.status_code == 409
    decided = await events(app.bootstrap, AGREEMENTS_TOPIC, "vbp.orders.renewal.decided.v1",
                           expect=4, program_id=p.program_id)
    assert sorted(e["accepted"] for e in decided) == [False, False, False, True]
    mine = (await app.client.get("/v1/renewals", headers=hospital(p.institution(1)))).json()
    assert sorted(i["status"] for i in mine["items"]) == ["accepted", "refused", "refused",
                                                          "refused"]


# === enterprises by name, listings scoped (issue 12, item 14) =================================


async def test_enterprises_are_named_beside_their_ids_and_see_only_their_listings(
        app: App) -> None:
    """Refusals and views say the enterprise's name beside its opaque id (from catalog's
    ``ProductListed``); an enterprise caller's ``GET /v1/listings`` is scoped to its own
    products, as catalog's is."""
    p = await seed(app)
    h, r1 = p.institution(1), P1["registration_no"]
    n1, n2 = P1["declaring_enterprise"], P2["declaring_enterprise"]
    assert n1 != n2
    mine = await app.client.get("/v1/listings", params={"program_id": p.program_id},
                                headers=bearer("enterprise", E1))
    assert {item["enterprise_id"] for item in mine.json()["items"]} == {E1}
    assert len(mine.json()["items"]) == sum(
        1 for r in CQ_ROWS if enterprise_id(r["declaring_enterprise"]) == E1)
    other = await app.client.get("/v1/listings", params={
        "program_id": p.program_id, "enterprise_id": E2}, headers=bearer("enterprise", E1))
    assert other.json()["items"] == []
    every = await app.client.get("/v1/listings", params={"program_id": p.program_id,
                                                          "limit": 100}, headers=hospital(h))
    assert len(every.json()["items"]) == len(CQ_ROWS)
    # an agreement row naming the wrong enterprise: both named
    r = await import_agreements(app, p, agreement_csv([(h, "public", E2, r1, 10)]))
    assert r.status_code == 422
    [error] = r.json()["errors"]
    assert (error["field"], f"'{E1}' ({n1})" in error["reason"],
            f"'{E2}' ({n2})" in error["reason"]) == ("enterprise_id", True, True), error
    # views
    await agree(app, p, (1, P1, 100), (1, P2, 100))
    o = await placed(app, p, 1, r1, 2)
    view = await get_order(app, p, 1, o["order_id"])
    assert (view["enterprise_id"], view["enterprise_name"]) == (E1, n1)
    listed_orders = (await app.client.get("/v1/orders", params={"program_id": p.program_id},
                                          headers=hospital(h))).json()["items"]
    assert [x["enterprise_name"] for x in listed_orders] == [n1]
    agreements_seen = (await app.client.get("/v1/agreements", params={
        "program_id": p.program_id}, headers=hospital(h))).json()["items"]
    assert {(a["enterprise_id"], a["enterprise_name"]) for a in agreements_seen} == {
        (E1, n1), (E2, n2)}
    progress = (await app.client.get("/v1/progress", params={
        "program_id": p.program_id, "agreement_year": 1}, headers=hospital(h))).json()
    assert {(line["enterprise_id"], line["enterprise_name"])
            for line in progress["by_enterprise"]} == {(E1, n1), (E2, n2)}
    # a renewal refused for one enterprise names it
    app.clock.set(datetime(2024, 1, 10, 10, tzinfo=SHANGHAI))
    r = await renewal(app, p, 1, 0, 100)
    assert r.status_code == 422, r.text
    failure = next(f for f in r.json()["failures"] if f["check"] == "per_enterprise")
    assert (failure["enterprise_id"], failure["enterprise_name"]) == (E1, n1)
    assert f"{E1} ({n1})" in failure["message"] and f"({n1})" in r.json()["detail"]


# === onboarding a program under way: history import (issue 12, item 18) =======================

HISTORY_HEADER = ("agreement_year", "institution_id", "institution_type", "enterprise_id",
                  "registration_no", "agreement_units", "accepted_units")


def history_csv(rows: list[tuple[Any, ...]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HISTORY_HEADER)
    writer.writerows(rows)
    return out.getvalue().encode()


async def import_history(app: App, p: Program, body: bytes, *, who: dict[str, str] = REGULATOR,
                         content_type: str = CSV_TYPE) -> httpx.Response:
    return await app.client.post(f"/v1/programs/{p.program_id}/history", content=body,
                                 headers={**who, "Content-Type": content_type, **keyed()})


async def test_r_agr_2_history_import_is_the_renewal_basis_with_no_live_orders(
        app: App) -> None:
    """A bureau adopting the platform in year 2 loads year 1: H's agreement volumes E1 100,
    E2 100 and its actual accepted purchases E1 120, E2 80 (EXAMPLES.md). With no live order
    at all, the year-2 renewal is then judged exactly as on live acceptances (R-AGR-2), and
    year 1's progress reads the imported actuals (R-AGR-3)."""
    p = await seed(app)
    app.clock.set(datetime(2024, 1, 10, 10, tzinfo=SHANGHAI))  # late in agreement year 1
    h, r1, r2 = p.institution(1), P1["registration_no"], P2["registration_no"]
    # all or nothing, every bad row named
    bad = await import_history(app, p, history_csv([
        (1, h, "public", E1, r1, 100, 120),
        (2, h, "public", E1, r1, 100, 5),              # year 2 has not started
        (1, h, "public", E2, "国械注准20990000001", 1, 1),  # not a winning product
        (1, h, "public", E2, r2, 100, "eighty"),       # accepted units not a number
        (1, h, "public", E1, r1, 100, 3),              # row 1 again, same year
        ("x", h, "hospital", "", r2, "-1", 0),         # three problems in one row
    ]))
    assert (bad.status_code, bad.json()["type"]) == (422, "urn:vbp:problem:history-rejected")
    assert bad.headers["content-type"] == "application/problem+json"
    named = {(e["row"], e["field"]) for e in bad.json()["errors"]}
    assert named == {(2, "agreement_year"), (3, "registration_no"), (4, "accepted_units"),
                     (5, None), (6, "agreement_year"), (6, "institution_type"),
                     (6, "agreement_units")}, bad.json()["errors"]
    assert "rows 1 and 5" in str(bad.json()["errors"])
    assert (await app.client.get("/v1/agreements", params={"program_id": p.program_id},
                                 headers=REGULATOR)).json()["items"] == []
    assert (await import_history(app, p, history_csv([(1, h, "public", E1, r1, 1, 1)]),
                                 who=hospital(h))).status_code == 403

    body = history_csv([(1, h, "public", E1, r1, 100, 120), (1, h, "public", "", r2, 100, 80)])
    r = await import_history(app, p, body)
    assert r.status_code == 201, r.text
    done = r.json()
    assert (done["rows"], done["agreement_years"], done["agreements_recorded"],
            done["purchases_recorded"], done["replayed"]) == (2, [1], 2, 2, False)
    again = await import_history(app, p, body)  # another key, the same file: a no-op
    assert (again.status_code, again.json()["replayed"],
            again.json()["import_id"]) == (201, True, done["import_id"])
    recorded = await events(app.bootstrap, AGREEMENTS_TOPIC,
                            "vbp.orders.history.purchase-recorded.v1", expect=2,
                            program_id=p.program_id)
    assert sorted((e["enterprise_id"], e["accepted_units"]) for e in recorded) == sorted(
        [(E1, 120), (E2, 80)])
    assert len(await events(app.bootstrap, AGREEMENTS_TOPIC, "vbp.orders.agreement.recorded.v1",
                            expect=2, program_id=p.program_id)) == 2
    # progress and the agreements read the imported actuals as accepted orders
    progress = (await app.client.get("/v1/progress", params={
        "program_id": p.program_id, "agreement_year": 1}, headers=hospital(h))).json()
    assert (progress["total"]["agreement_units"], progress["total"]["accepted_units"]) == (
        200, 200)
    assert {line["enterprise_id"]: line["accepted_units"]
            for line in progress["by_enterprise"]} == {E1: 120, E2: 80}
    mine = (await app.client.get("/v1/agreements", params={"program_id": p.program_id},
                                 headers=hospital(h))).json()["items"]
    assert sorted(a["accepted_units"] for a in mine) == [80, 120]
    # the year-2 renewal, per EXAMPLES.md, with no live order at all
    assert (await app.client.get("/v1/orders", params={"program_id": p.program_id},
                                 headers=REGULATOR)).json()["items"] == []
    r = await renewal(app, p, 1, 90, 99)
    assert [(f["check"], f["basis"], f["required"], f["offered"])
            for f in r.json()["failures"]] == [("total", 200, 190, 189)], r.text
    r = await renewal(app, p, 1, 89, 110)
    assert [(f["check"], f["enterprise_id"], f["basis"], f["required"], f["offered"])
            for f in r.json()["failures"]] == [("per_enterprise", E1, 100, 90, 89)], r.text
    r = await renewal(app, p, 1, 90, 100)
    assert r.status_code == 201, r.text
    assert (r.json()["status"], r.json()["last_year_accepted_total"],
            r.json()["last_year_agreement"]) == ("accepted", 200, {E1: 100, E2: 100})
    # a corrected file is a new version of what changed, with who, when, why
    fixed = history_csv([(1, h, "public", E1, r1, 100, 121), (1, h, "public", E2, r2, 100, 80)])
    r = await import_history(app, p, fixed)
    assert (r.json()["purchases_changed"], r.json()["purchases_unchanged"],
            r.json()["agreements_unchanged"]) == (1, 1, 2), r.text
    progress = (await app.client.get("/v1/progress", params={
        "program_id": p.program_id, "agreement_year": 1}, headers=REGULATOR)).json()
    assert progress["total"]["accepted_units"] == 201
    # the product may be named by its listing id (XLSX reads the same columns)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["agreement_year", "institution_id", "institution_type", "listing_id",
                  "agreement_units", "accepted_units"])
    sheet.append([1, p.institution(2), "public", p.lid(r1), 50, 40])
    data = io.BytesIO()
    book.save(data)
    r = await import_history(app, p, data.getvalue(), content_type=XLSX_TYPE)
    assert (r.status_code, r.json()["purchases_recorded"]) == (201, 1), r.text
    progress = (await app.client.get("/v1/progress", params={
        "program_id": p.program_id, "agreement_year": 1,
        "institution_id": p.institution(2)}, headers=REGULATOR)).json()
    assert (progress["total"]["agreement_units"], progress["total"]["accepted_units"]) == (
        50, 40)


async def test_r_agr_2_regulator_exception_with_a_reason(app: App) -> None:
    p = await seed(app)
    app.clock.set(datetime(2023, 6, 1, 10, tzinfo=SHANGHAI))
    await agree(app, p, (2, P1, 100))
    r = await renewal(app, p, 2, 50)
    assert r.status_code == 422
    rid = r.json()["renewal_id"]
    path = f"/v1/renewals/{rid}/exception"
    for who in (hospital(p.institution(2)), OPERATOR):
        assert (await app.client.post(path, json={"reason": "x"}, headers={
            **who, "Idempotency-Key": uuid.uuid4().hex})).status_code == 403
    r = await app.client.post(path, json={"reason": ""}, headers={
        **REGULATOR, "Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 422
    r = await app.client.post(path, json={"reason": "department closed for renovation"},
                              headers={**REGULATOR, "Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 201, r.text
    assert (r.json()["status"], r.json()["exception_reason"]) == (
        "accepted_with_exception", "department closed for renovation")
    assert r.json()["decided_by"].startswith("regulator:BUREAU")
    decided = await events(app.bootstrap, AGREEMENTS_TOPIC, "vbp.orders.renewal.decided.v1",
                           expect=2, renewal_id=rid)
    assert [(e["accepted"], e["exception_reason"]) for e in decided] == [
        (False, None), (True, "department closed for renovation")]
    history = (await app.client.get(f"/v1/renewals/{rid}/history",
                                    headers=hospital(p.institution(2)))).json()
    assert [h["change"] for h in history] == ["refused", "exception_approved"]
    assert (await app.client.get(f"/v1/renewals/{rid}",
                                 headers=hospital(p.institution(1)))).status_code == 404
    assert (await renewal(app, p, 2, 100)).status_code == 409
    r = await app.client.post("/v1/renewals", json={
        "program_id": p.program_id, "agreement_year": 2, "institution_id": p.institution(2),
        "demand": []}, headers={**hospital(p.institution(1)), "Idempotency-Key": "z"})
    assert r.status_code == 403  # only for one's own institution


async def test_r_agr_2_a_profile_without_thresholds_accepts_any_renewal(app: App) -> None:
    p = await seed(app, "liaoning-guide-wires-2021")
    app.clock.set(datetime(2021, 12, 1, 10, tzinfo=SHANGHAI))
    reg = "国械注进20163130001"
    body = agreement_csv([(p.institution(1), "public", "", reg, 100)], enterprise=True)
    assert (await import_agreements(app, p, body)).status_code == 201
    r = await app.client.post("/v1/renewals", json={
        "program_id": p.program_id, "agreement_year": 2, "institution_id": p.institution(1),
        "demand": [{"enterprise_id": enterprise_id("甲公司"), "units": 0}]},
        headers={**hospital(p.institution(1)), "Idempotency-Key": uuid.uuid4().hex})
    assert (r.status_code, r.json()["status"]) == (201, "accepted")
    r = await app.client.post("/v1/renewals", json={
        "program_id": p.program_id, "agreement_year": 1, "institution_id": p.institution(3),
        "demand": []}, headers={**hospital(p.institution(3)), "Idempotency-Key": "y1"})
    assert r.status_code == 422  # year 1 is not a renewal


# === R-AGR-6 pacing ============================================================================


async def test_r_agr_6_pacing_warning_once_per_institution_product_and_month(
        app: App) -> None:
    """EXAMPLES.md: annual 240 → 20 a month, tolerance 60. 40, 40, 40 in months 1–3: no
    warning; 40 more in month 4: cumulative 160 vs line 80 → one warning. Another institution
    ordering 41 in month 1 → a warning (41 > 40)."""
    p = await seed(app, "liaoning-guide-wires-2021")
    reg = "国械注进20163130001"
    body = agreement_csv([(p.institution(1), "public", "", reg, 240),
                          (p.institution(2), "public", "", reg, 240)])
    assert (await import_agreements(app, p, body)).status_code == 201
    for month in range(3):
        app.clock.set(datetime(2021, 10 + month, 20, 10, tzinfo=SHANGHAI))
        await placed(app, p, 1, reg, 40)
    assert (await app.client.get("/v1/pacing-warnings", params={"program_id": p.program_id},
                                 headers=REGULATOR)).json()["items"] == []
    app.clock.set(datetime(2022, 1, 20, 10, tzinfo=SHANGHAI))  # month 4
    await placed(app, p, 1, reg, 40)
    await placed(app, p, 1, reg, 5)  # still month 4: no second warning
    app.clock.set(datetime(2021, 10, 16, 10, tzinfo=SHANGHAI))  # month 1
    await placed(app, p, 2, reg, 40)  # exactly 2 × 20: allowed
    await placed(app, p, 2, reg, 1)  # 41 > 40
    raised = await events(app.bootstrap, AGREEMENTS_TOPIC,
                          "vbp.orders.pacing.warning-raised.v1", expect=2,
                          program_id=p.program_id)
    assert len(raised) == 2
    by_inst = {e["institution_id"]: e for e in raised}
    h1, h2 = by_inst[p.institution(1)], by_inst[p.institution(2)]
    assert (h1["agreement_month"], h1["month"], h1["checks"], h1["cumulative_units"]) == (
        4, "2022-01-01", ["cumulative"], 160)
    assert "80 ahead of the even line 80" in h1["reason"]
    assert (h2["agreement_month"], h2["month"], h2["checks"], h2["ordered_units"]) == (
        1, "2021-10-01", ["monthly"], 41)
    mine = (await app.client.get("/v1/pacing-warnings",
                                 headers=hospital(p.institution(1)))).json()["items"]
    assert [w["warning_id"] for w in mine] == [h1["warning_id"]]
    report = await progress(app, p, hospital(p.institution(2)), agreement_year=1)
    assert [w["warning_id"] for w in report["pacing_warnings"]] == [h2["warning_id"]]
    everyone = (await app.client.get("/v1/pacing-warnings", params={"region": p.region},
                                     headers=REGULATOR)).json()["items"]
    assert len(everyone) == 2


async def test_r_agr_6_closed_months_are_judged_behind_the_line_too(app: App) -> None:
    p = await seed(app, "liaoning-guide-wires-2021")
    reg = "国械注进20163130001"
    body = agreement_csv([(p.institution(3), "public", "", reg, 240)])
    assert (await import_agreements(app, p, body)).status_code == 201
    app.clock.set(datetime(2022, 2, 20, 10, tzinfo=SHANGHAI))  # month 5: months 1–4 closed
    r = await app.client.post("/v1/pacing/evaluations", json={"program_id": p.program_id},
                              headers=OPERATOR)
    assert r.status_code == 200, r.text
    result = r.json()
    # nothing ordered: months 1–3 within 60 of the line (20, 40, 60), month 4: 80 behind
    assert (result["agreement_year"], result["closed_months"], result["raised"]) == (1, 4, 1)
    warning = (await app.client.get("/v1/pacing-warnings", params={
        "program_id": p.program_id}, headers=REGULATOR)).json()["items"][0]
    assert (warning["agreement_month"], warning["checks"]) == (4, ["cumulative"])
    assert "behind" in warning["reason"] and warning["raised_by"].startswith("operator:OPS")
    again = await app.client.post("/v1/pacing/evaluations", json={
        "program_id": p.program_id}, headers=REGULATOR)
    assert again.json()["raised"] == 0  # once per month
    r = await app.client.post("/v1/pacing/evaluations", json={"program_id": p.program_id},
                              headers=hospital(p.institution(3)))
    assert r.status_code == 403


async def test_a_profile_without_pacing_raises_no_warning(app: App) -> None:
    p = await seed(app)  # Chongqing sets no pacing rule
    app.clock.set(datetime(2023, 2, 10, 10, tzinfo=SHANGHAI))
    await agree(app, p, (1, P1, 12))
    await placed(app, p, 1, P1["registration_no"], 12)
    assert (await app.client.get("/v1/pacing-warnings", params={"program_id": p.program_id},
                                 headers=REGULATOR)).json()["items"] == []


# === who may do what ===========================================================================

ROUTES = [
    ("GET", "/v1/listings", "all"),
    ("GET", "/v1/programs", "all"),
    ("POST", "/v1/institutions", {"regulator", "operator"}),
    ("GET", "/v1/institutions", {"regulator", "operator"}),
    ("POST", "/v1/programs/P/agreements?agreement_year=1", {"regulator", "operator"}),
    ("GET", "/v1/agreements", {"institution", "enterprise", "regulator", "operator"}),
    ("GET", "/v1/agreements/A", {"institution", "enterprise", "regulator", "operator"}),
    ("GET", "/v1/agreements/A/history", {"institution", "enterprise", "regulator",
                                         "operator"}),
    ("GET", "/v1/progress?program_id=P", {"institution", "regulator", "operator"}),
    ("POST", "/v1/renewals", {"institution"}),
    ("GET", "/v1/renewals", {"institution", "regulator", "operator"}),
    ("GET", "/v1/renewals/R", {"institution", "regulator", "operator"}),
    ("GET", "/v1/renewals/R/history", {"institution", "regulator", "operator"}),
    ("POST", "/v1/renewals/R/exception", {"regulator"}),
    ("POST", "/v1/orders", {"institution"}),
    ("GET", "/v1/orders", "all"),
    ("GET", "/v1/orders/O", "all"),
    ("GET", "/v1/orders/O/history", "all"),
    ("POST", "/v1/orders/O/cancel", {"institution"}),
    ("POST", "/v1/orders/O/acceptance", {"institution"}),
    ("POST", "/v1/orders/O/rejection", {"institution"}),
    ("GET", "/v1/pacing-warnings", {"institution", "regulator", "operator"}),
    ("POST", "/v1/pacing/evaluations", {"regulator", "operator"}),
]


@pytest.mark.parametrize(("method", "path", "allowed"), ROUTES)
async def test_every_route_checks_the_token_and_the_role(
        app: App, method: str, path: str, allowed: set[str] | str) -> None:
    r = await app.client.request(method, path, json={})
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/problem+json"
    bad = await app.client.request(method, path, json={},
                                   headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401
    for role in ("regulator", "operator", "institution", "enterprise", "distributor"):
        r = await app.client.request(method, path, json={}, headers=bearer(role, "X1"))
        if allowed == "all" or role in allowed:
            assert r.status_code != 403, (role, r.text)
        else:
            assert r.status_code == 403, (role, r.text)
