"""The supply service on the real PostgreSQL and Kafka: distributors, assignments chosen by
enterprises (R-SUP-1), account opening (R-SUP-2), routing of OrderPlaced and delivery (R-SUP-3,
R-SUP-5), the violation list (R-SUP-4) and credit-measure bars (R-CRD-3).

The app runs in-process with its real lifespan (migrations, relay, consumers); OrderPlaced and
credit measures are put on the broker as the orders and monitoring relays would, with chosen
CloudEvent ids where a duplicate is replayed. Topics are shared by the session, so every test
uses its own ids.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts.base import CloudEvent, Event
from contracts.orders import OrderPlaced
from services.runtime.envelope import decode, encode
from services.runtime.kafka import ensure_topics
from tests.integration.apps import bearer, running

pytestmark = pytest.mark.integration

REGULATOR = bearer("regulator", "BUREAU")
OPERATOR = bearer("operator", "OPS")
ENTERPRISE_E1 = bearer("enterprise", "E1")
# a product of this session alone: the listings topic is shared, and another module's listing
# of the real stent would make it another enterprise's product (R-SUP-1 refuses)
STENT = f"国械注准2016{uuid.uuid4().int % 10**7:07d}"
REGION = "重庆"


def keyed() -> dict[str, str]:
    """A fresh Idempotency-Key: every recording POST requires one."""
    return {"Idempotency-Key": uid("k")}


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def now() -> datetime:
    return datetime.now(UTC)


def iso(t: datetime) -> str:
    return t.isoformat()


@asynccontextmanager
async def supply_app(database_url: str, bootstrap: str) -> AsyncIterator[httpx.AsyncClient]:
    from services.supply.app import create_app

    async with running(create_app, "supply", database_url, bootstrap) as client:
        yield client


def placed(order_id: str, *, enterprise: str, institution: str, region: str = REGION,
           product: str = STENT, units: int = 10,
           placed_at: datetime | None = None) -> OrderPlaced:
    price = Decimal("730.00")
    return OrderPlaced(
        order_id=order_id, program_id="CQ-STENT-2023", institution_id=institution,
        region=region, listing_id=f"L-{product}", registration_no=product,
        enterprise_id=enterprise, units=units, unit_price=price, amount=price * units,
        order_class="within_agreement", placed_by=f"institution:{institution}/u",
        placed_at=placed_at or now() - timedelta(hours=1))


class Bus:
    """One producer for a test: events as another service's relay would put them."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._producer: AIOKafkaProducer | None = None
        self._topics: set[str] = set()

    async def __aenter__(self) -> Bus:
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap,
                                          enable_idempotence=True)
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._producer is not None
        await self._producer.stop()

    async def send(self, event: Event, *, ce_id: str | None = None) -> CloudEvent:
        if event.TOPIC not in self._topics:
            await ensure_topics(self.bootstrap, [event.TOPIC])
            self._topics.add(event.TOPIC)
        ce = CloudEvent.of(event, source="/vbp/test", time=now(), id=ce_id)
        await self.send_ce(event.TOPIC, ce)
        return ce

    async def send_ce(self, topic: str, ce: CloudEvent) -> None:
        assert self._producer is not None
        key, value, headers = encode(ce)
        await self._producer.send_and_wait(topic, value=value, key=key, headers=headers)


async def published(bootstrap: str, topic: str, match: Callable[[CloudEvent], bool], *,
                    expect: int, timeout: float = 20.0, settle: float = 1.0
                    ) -> list[CloudEvent]:
    """The CloudEvents on ``topic`` that ``match``: waits until ``expect`` arrived, then a
    little longer so that an extra (duplicate) one would show."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest")
    await consumer.start()
    found: list[CloudEvent] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    settle_until: float | None = None
    try:
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                for r in records:
                    ce = decode(r.value, r.headers)
                    if match(ce):
                        found.append(ce)
            if len(found) >= expect:
                settle_until = settle_until or loop.time() + settle
                if loop.time() >= settle_until:
                    break
    finally:
        await consumer.stop()
    return found


def of_type(ce_type: str, **data: Any) -> Callable[[CloudEvent], bool]:
    return lambda ce: ce.type == ce_type and all(ce.data.get(k) == v for k, v in data.items())


async def eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            return result
        except AssertionError:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.2)


def dump(r: httpx.Response) -> str:
    try:
        return json.dumps(r.json(), ensure_ascii=False)
    except ValueError:
        return r.text


# --- building blocks ---------------------------------------------------------------------------


DELIVERIES = "vbp.supply.deliveries.v1"
ASSIGNMENTS = "vbp.supply.assignments.v1"


@pytest.fixture
async def supply(database_url: str, bootstrap: str) -> AsyncIterator[httpx.AsyncClient]:
    async with supply_app(database_url, bootstrap) as client:
        yield client


@pytest.fixture
async def bus(bootstrap: str) -> AsyncIterator[Bus]:
    async with Bus(bootstrap) as b:
        yield b


async def register(client: httpx.AsyncClient, *ids: str) -> None:
    for d in ids:
        r = await client.post("/v1/distributors", headers={**REGULATOR, **keyed()},
                              json={"distributor_id": d, "name": f"配送 {d}"})
        assert r.status_code == 201, dump(r)


async def assign(client: httpx.AsyncClient, enterprise: str, distributor: str, *,
                 institution: str | None = None, region: str | None = None,
                 product: str = STENT, valid_from: datetime | None = None,
                 valid_until: datetime | None = None, expect: int = 201) -> dict[str, Any]:
    body: dict[str, Any] = {
        "registration_no": product, "distributor_id": distributor,
        "scope": "institution" if institution else "region",
        "reason": "中选企业自主选择配送企业"}
    if valid_from:
        body["valid_from"] = iso(valid_from)
    if institution:
        body["institution_id"] = institution
    if region:
        body["region"] = region
    if valid_until:
        body["valid_until"] = iso(valid_until)
    r = await client.post("/v1/assignments", json=body,
                          headers={**bearer("enterprise", enterprise),
                                   "Idempotency-Key": uid("k")})
    assert r.status_code == expect, dump(r)
    result: dict[str, Any] = r.json()
    return result


async def order_view(client: httpx.AsyncClient, order_id: str,
                     headers: dict[str, str] = REGULATOR) -> dict[str, Any]:
    r = await client.get(f"/v1/deliveries/{order_id}", headers=headers)
    assert r.status_code == 200, dump(r)
    view: dict[str, Any] = r.json()
    return view


async def wait_status(client: httpx.AsyncClient, order_id: str, status: str,
                      timeout: float = 30) -> dict[str, Any]:
    async def check() -> dict[str, Any]:
        r = await client.get(f"/v1/deliveries/{order_id}", headers=REGULATOR)
        assert r.status_code == 200, dump(r)
        assert r.json()["status"] == status, r.json()
        view: dict[str, Any] = r.json()
        return view

    result: dict[str, Any] = await eventually(check, timeout)
    return result


async def move(client: httpx.AsyncClient, order_id: str, kind: str, distributor: str,
               units: int, key: str | None = None, at: datetime | None = None
               ) -> httpx.Response:
    field = "shipped_at" if kind == "shipments" else "delivered_at"
    body: dict[str, Any] = {"units": units}
    if at is not None:
        body[field] = iso(at)
    return await client.post(f"/v1/deliveries/{order_id}/{kind}", json=body,
                             headers={**bearer("distributor", distributor),
                                      "Idempotency-Key": key or uid("k")})


# --- auth, problems, pagination ----------------------------------------------------------------


async def test_every_route_checks_the_caller(supply: httpx.AsyncClient) -> None:
    r = await supply.get("/v1/distributors")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    r = await supply.post("/v1/distributors", json={"distributor_id": "D", "name": "x"},
                          headers={**bearer("enterprise", "E1"), **keyed()})
    assert r.status_code == 403
    r = await supply.post("/v1/violations", headers={**OPERATOR, **keyed()},
                          json={"distributor_id": "D", "reason": "x", "years": 1})
    assert r.status_code == 403, "only a regulator places on the violation list"
    r = await supply.post("/v1/assignments", headers={**REGULATOR, **keyed()}, json={})
    assert r.status_code == 403, "only an enterprise assigns its distributors"
    r = await supply.get("/v1/contingencies", headers=bearer("distributor", "D"))
    assert r.status_code == 403
    r = await supply.get("/v1/distributors?limit=501", headers=REGULATOR)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "query.limit"


async def test_bad_input_names_the_fields(supply: httpx.AsyncClient) -> None:
    await register(supply, "D-BAD")
    r = await supply.post("/v1/assignments", headers={**ENTERPRISE_E1, **keyed()}, json={
        "registration_no": STENT, "distributor_id": "D-BAD", "scope": "county",
        "valid_from": "2023-01-31T00:00:00", "reason": "x"})
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"body.scope", "body.valid_from"}
    r = await supply.post("/v1/assignments", headers={**ENTERPRISE_E1, **keyed()}, json={
        "registration_no": STENT, "distributor_id": "D-BAD", "scope": "institution",
        "valid_from": iso(now()), "valid_until": iso(now() - timedelta(days=1)),
        "reason": "x"})
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"body.institution_id",
                                                        "body.valid_until"}
    r = await supply.post("/v1/violations", headers={**REGULATOR, **keyed()},
                          json={"distributor_id": "D-BAD", "reason": "x"})
    assert r.status_code == 422, "a bar needs a period"
    r = await supply.post("/v1/assignments", headers={**ENTERPRISE_E1, **keyed()}, json={
        "registration_no": STENT, "distributor_id": "D-NOBODY", "scope": "region",
        "region": REGION, "valid_from": iso(now()), "reason": "x"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.distributor_id"


async def test_distributor_registry(supply: httpx.AsyncClient) -> None:
    await register(supply, "D-A", "D-B", "D-C")
    again = await supply.post("/v1/distributors", headers={**OPERATOR, **keyed()},
                              json={"distributor_id": "D-A", "name": "again"})
    assert again.status_code == 409
    page = await supply.get("/v1/distributors?limit=2", headers=bearer("enterprise", "E"))
    assert [d["distributor_id"] for d in page.json()["items"]] == ["D-A", "D-B"]
    rest = await supply.get(f"/v1/distributors?cursor={page.json()['next_cursor']}",
                            headers=REGULATOR)
    assert [d["distributor_id"] for d in rest.json()["items"]] == ["D-C"]
    one = await supply.get("/v1/distributors/D-A", headers=bearer("institution", "H"))
    assert one.json()["status"] == "qualified"
    history = await supply.get("/v1/distributors/D-A/history", headers=REGULATOR)
    assert history.json()[0]["change"] == "registered"
    assert history.json()[0]["actor"].startswith("regulator:BUREAU/")
    other = await supply.get("/v1/distributors/D-A/history", headers=bearer("distributor", "D-B"))
    assert other.status_code == 404


# --- assignments and routing (R-SUP-1, R-SUP-5) ------------------------------------------------


async def test_institution_assignment_wins_over_regional(
        supply: httpx.AsyncClient, bus: Bus, bootstrap: str) -> None:
    ent, h1, h2 = uid("E"), uid("H"), uid("H")
    await register(supply, "D-REG", "D-INST")
    regional = await assign(supply, ent, "D-REG", region=REGION)
    own = await assign(supply, ent, "D-INST", institution=h1)
    assert (regional["status"], own["status"]) == ("in_force", "in_force")
    o1, o2, o3 = uid("O"), uid("O"), uid("O")
    await bus.send(placed(o1, enterprise=ent, institution=h1))
    await bus.send(placed(o2, enterprise=ent, institution=h2))
    await bus.send(placed(o3, enterprise=ent, institution=h2, units=100_000))  # beyond any
    assert (await wait_status(supply, o1, "routed"))["distributor_id"] == "D-INST"
    assert (await wait_status(supply, o2, "routed"))["distributor_id"] == "D-REG"
    assert (await wait_status(supply, o3, "routed"))["distributor_id"] == "D-REG"  # R-SUP-5
    routed = await published(bootstrap, DELIVERIES, lambda ce: ce.subject in (o1, o2),
                             expect=2)
    assert {(ce.data["order_id"], ce.data["distributor_id"], ce.data["assignment_id"])
            for ce in routed} == {(o1, "D-INST", own["assignment_id"]),
                                  (o2, "D-REG", regional["assignment_id"])}
    assert all(ce.type == "vbp.supply.order.routed.v1" for ce in routed)
    # the distributor sees its queue, the institution its orders, nobody else's
    queue = await supply.get("/v1/deliveries?status=routed",
                             headers=bearer("distributor", "D-INST"))
    assert [o["order_id"] for o in queue.json()["items"]] == [o1]
    mine = await supply.get("/v1/deliveries", headers=bearer("institution", h2))
    assert {o["order_id"] for o in mine.json()["items"]} == {o2, o3}
    assert (await supply.get(f"/v1/deliveries/{o1}",
                             headers=bearer("institution", h2))).status_code == 404


async def test_only_the_owning_enterprise_changes_its_assignments(
        supply: httpx.AsyncClient, bootstrap: str) -> None:
    ent, other, h1 = uid("E"), uid("E"), uid("H")
    await register(supply, "D-1")
    a = await assign(supply, ent, "D-1", institution=h1)
    aid = a["assignment_id"]
    assert a["recorded_by"].startswith(f"enterprise:{ent}/")
    stranger = bearer("enterprise", other)
    r = await supply.post(f"/v1/assignments/{aid}/revoke", headers={**stranger, **keyed()},
                          json={"reason": "not mine"})
    assert r.status_code == 404
    assert (await supply.get(f"/v1/assignments/{aid}", headers=stranger)).status_code == 404
    assert (await supply.get("/v1/assignments", headers=stranger)).json()["items"] == []
    seen = await supply.get(f"/v1/assignments?enterprise_id={ent}", headers=REGULATOR)
    assert [x["assignment_id"] for x in seen.json()["items"]] == [aid]
    named = await supply.get("/v1/assignments", headers=bearer("distributor", "D-1"))
    assert aid in [x["assignment_id"] for x in named.json()["items"]]
    # overlapping the same product and institution is refused; the owner revokes with a reason
    await assign(supply, ent, "D-1", institution=h1, expect=409)
    r = await supply.post(f"/v1/assignments/{aid}/revoke",
                          headers={**bearer("enterprise", ent), **keyed()},
                          json={"reason": "合同到期"})
    assert r.status_code == 200, dump(r)
    assert (r.json()["status"], r.json()["revoke_reason"]) == ("revoked", "合同到期")
    history = (await supply.get(f"/v1/assignments/{aid}/history",
                                headers=bearer("enterprise", ent))).json()
    assert [h["change"] for h in history] == ["recorded", "revoked"]
    assert history[1]["reason"] == "合同到期"
    events = await published(bootstrap, ASSIGNMENTS, lambda ce: ce.subject == aid, expect=2)
    assert [ce.type for ce in events] == ["vbp.supply.assignment.recorded.v1",
                                          "vbp.supply.assignment.revoked.v1"]
    assert events[1].data["revoked_by"].startswith(f"enterprise:{ent}/")


async def test_an_enterprise_assigns_only_its_own_products(
        supply: httpx.AsyncClient, bus: Bus) -> None:
    from contracts.catalog import ProductListed

    owner, product = uid("E"), f"国械注准2016{uuid.uuid4().int % 10**7:07d}"
    await register(supply, "D-P")
    listing = ProductListed.model_validate({
        "listing_id": uid("L"), "program_id": "CQ", "category": "冠脉支架",
        "registration_no": product, "product_name": "支架", "enterprise_id": owner,
        "enterprise_name": "某公司", "registrant": "某公司", "product_price": "680.00",
        "service_price": "50.00", "listing_price": "730.00", "winning": True,
        "listed_at": iso(now()), "listed_by": "regulator:B/x"})
    await bus.send(listing)

    async def refused() -> None:
        who = {**bearer("enterprise", uid("E")), **keyed()}
        r = await supply.post("/v1/assignments", headers=who, json={
            "registration_no": product, "distributor_id": "D-P", "scope": "region",
            "region": REGION, "valid_from": iso(now()), "reason": "x"})
        assert r.status_code == 422, dump(r)
        assert r.json()["errors"][0]["field"] == "body.registration_no"

    await eventually(refused)
    await assign(supply, owner, "D-P", region=REGION, product=product)


NAME = "上海微创医疗器械(集团)有限公司"


async def test_enterprises_are_named_beside_their_ids(supply: httpx.AsyncClient,
                                                     bus: Bus) -> None:
    """Item 14: supply keeps the enterprise's name from catalog's ``ProductListed`` and says it
    beside the id in its views and refusals (never the owner of a product that is not the
    caller's)."""
    from contracts.catalog import ProductListed

    def listed(enterprise: str, name: str, product: str) -> ProductListed:
        return ProductListed.model_validate({
            "listing_id": uid("L"), "program_id": "CQ", "category": "冠脉支架",
            "registration_no": product, "product_name": "支架", "enterprise_id": enterprise,
            "enterprise_name": name, "registrant": name, "product_price": "680.00",
            "service_price": "50.00", "listing_price": "730.00", "winning": True,
            "listed_at": iso(now()), "listed_by": "regulator:B/x"})

    ent, other, prober, h1 = uid("E"), uid("E"), uid("E"), uid("H")
    mine, theirs, probers = (f"国械注准2016{uuid.uuid4().int % 10**7:07d}" for _ in range(3))
    await bus.send(listed(ent, NAME, mine))
    await bus.send(listed(other, "美敦力（上海）管理有限公司", theirs))
    await bus.send(listed(prober, "乐普（北京）医疗器械股份有限公司", probers))
    await register(supply, "D-N")

    async def refused() -> None:
        # a third enterprise probes: supply takes an assignment of a product it has not seen
        # listed yet, so a probe that runs before the listings arrive records one, of its own
        r = await supply.post("/v1/assignments", headers={**bearer("enterprise", prober),
                                                          **keyed()}, json={
            "registration_no": theirs, "distributor_id": "D-N", "scope": "region",
            "region": REGION, "reason": "x"})
        assert r.status_code == 422, dump(r)
        assert f"{prober} (乐普（北京）医疗器械股份有限公司)" in r.json()["detail"], dump(r)
        assert other not in r.text and "美敦力" not in r.text

    await eventually(refused)
    made = await assign(supply, ent, "D-N", institution=h1, product=mine)
    seen = await supply.get(f"/v1/assignments/{made['assignment_id']}",
                            headers=bearer("enterprise", ent))
    assert seen.json()["enterprise_name"] == NAME
    page = await supply.get(f"/v1/assignments?enterprise_id={ent}", headers=REGULATOR)
    assert [a["enterprise_name"] for a in page.json()["items"]] == [NAME]
    oid = uid("O")
    await bus.send(placed(oid, enterprise=ent, institution=h1, product=mine))
    view = await wait_status(supply, oid, "routed")
    assert (view["enterprise_id"], view["enterprise_name"]) == (ent, NAME)
    page = await supply.get(f"/v1/deliveries?institution_id={h1}",
                            headers=bearer("institution", h1))
    assert [o["enterprise_name"] for o in page.json()["items"]] == [NAME]


async def test_expired_assignment_leaves_a_supply_risk(
        supply: httpx.AsyncClient, bus: Bus, bootstrap: str) -> None:
    ent, h1 = uid("E"), uid("H")
    await register(supply, "D-OLD")
    old = await assign(supply, ent, "D-OLD", institution=h1,
                       valid_from=now() - timedelta(days=30),
                       valid_until=now() - timedelta(days=1))
    assert old["status"] == "expired"
    oid = uid("O")
    await bus.send(placed(oid, enterprise=ent, institution=h1))
    view = await wait_status(supply, oid, "pending")
    assert view["distributor_id"] is None
    risks = await published(bootstrap, DELIVERIES, lambda ce: ce.subject == oid, expect=1)
    assert risks[0].type == "vbp.supply.risk.opened.v1"
    assert risks[0].data | {"opened_at": None} == {
        "order_id": oid, "enterprise_id": ent, "registration_no": STENT, "institution_id": h1,
        "reason": "no_valid_assignment", "opened_at": None, "taken_back_from": None}
    listed = await supply.get("/v1/supply-risks", headers=bearer("enterprise", ent))
    assert [r["order_id"] for r in listed.json()["items"]] == [oid]
    assert (await supply.get("/v1/supply-risks",
                             headers=bearer("enterprise", uid("E")))).json()["items"] == []
    own = await supply.get("/v1/supply-risks", headers=bearer("institution", h1))
    assert [r["order_id"] for r in own.json()["items"]] == [oid]


async def test_late_assignment_routes_the_pending_orders(
        supply: httpx.AsyncClient, bus: Bus, bootstrap: str) -> None:
    ent, h1, h2 = uid("E"), uid("H"), uid("H")
    await register(supply, "D-LATE", "D-ELSEWHERE")
    o1, o2, o3 = uid("O"), uid("O"), uid("O")
    await bus.send(placed(o1, enterprise=ent, institution=h1))
    await bus.send(placed(o2, enterprise=ent, institution=h2))
    await bus.send(placed(o3, enterprise=ent, institution=h2, region="四川"))
    for oid in (o1, o2, o3):
        await wait_status(supply, oid, "pending")
    a = await assign(supply, ent, "D-LATE", region=REGION)
    assert a["routed_orders"] == 2
    for oid in (o1, o2):
        assert (await order_view(supply, oid))["distributor_id"] == "D-LATE"
    assert (await order_view(supply, o3))["status"] == "pending", "another region"
    # a future assignment routes nothing now; the sweep routes once it has started
    events = await published(bootstrap, DELIVERIES, lambda ce: ce.subject in (o1, o2, o3),
                             expect=5)
    assert sorted(ce.type.split(".")[-2] for ce in events) == [
        "opened", "opened", "opened", "routed", "routed"]
    closed = await supply.get("/v1/supply-risks?status=closed", headers=REGULATOR)
    assert {r["order_id"]: r["resolution"] for r in closed.json()["items"]
            if r["enterprise_id"] == ent} == {o1: "routed", o2: "routed"}
    starts = now() + timedelta(seconds=2)
    future = await assign(supply, ent, "D-ELSEWHERE", region="四川", valid_from=starts)
    assert (future["status"], future["routed_orders"]) == ("future", 0)
    assert (await order_view(supply, o3))["status"] == "pending"
    await asyncio.sleep(max((starts - now()).total_seconds(), 0) + 0.2)
    sweep = await supply.post("/v1/pending-orders/route", headers=OPERATOR)
    assert sweep.status_code == 200
    assert sweep.json()["routed"] >= 1
    assert (await order_view(supply, o3))["distributor_id"] == "D-ELSEWHERE"
    assert (await supply.post("/v1/pending-orders/route",
                              headers=bearer("enterprise", ent))).status_code == 403


async def test_cancelled_order_stops_being_tracked(
        supply: httpx.AsyncClient, bus: Bus) -> None:
    from contracts.orders import OrderCancelled

    ent, h1 = uid("E"), uid("H")
    await register(supply, "D-X")
    oid = uid("O")
    await bus.send(placed(oid, enterprise=ent, institution=h1))
    await wait_status(supply, oid, "pending")
    await bus.send(OrderCancelled(order_id=oid, institution_id=h1, reason="不再需要",
                                  cancelled_by=f"institution:{h1}/u", cancelled_at=now()))
    await wait_status(supply, oid, "cancelled")
    a = await assign(supply, ent, "D-X", institution=h1)
    assert a["routed_orders"] == 0
    assert (await order_view(supply, oid))["status"] == "cancelled"
    risks = await supply.get("/v1/supply-risks?status=all", headers=bearer("enterprise", ent))
    assert [(r["order_id"], r["resolution"]) for r in risks.json()["items"]] == [
        (oid, "cancelled")]


async def test_duplicate_events_take_effect_once(
        supply: httpx.AsyncClient, bus: Bus, bootstrap: str) -> None:
    ent, h1 = uid("E"), uid("H")
    await register(supply, "D-DUP")
    await assign(supply, ent, "D-DUP", institution=h1)
    oid = uid("O")
    event = placed(oid, enterprise=ent, institution=h1)
    ce_id = str(uuid.uuid4())
    await bus.send(event, ce_id=ce_id)
    await bus.send(event, ce_id=ce_id)  # the same event again (a relay re-send)
    await bus.send(event)  # the same order under another event id: never routed twice
    await wait_status(supply, oid, "routed")
    routed = await published(bootstrap, DELIVERIES, lambda ce: ce.subject == oid, expect=1,
                             settle=4.0)
    assert len(routed) == 1, [ce.data for ce in routed]


# --- shipment and delivery (R-SUP-3) -----------------------------------------------------------


async def test_an_order_not_seen_yet_is_told_apart_from_another_orgs_order(
        supply: httpx.AsyncClient, bus: Bus) -> None:
    """Item 15: right after placement supply has not seen the order. It answers 404
    ``order-not-known-yet`` with ``Retry-After`` (not the "not yours" answer); once it has seen
    the order, another organisation still gets the plain ``not-found`` and nothing of the
    order."""
    ent, h1, h2 = uid("E"), uid("H"), uid("H")
    await register(supply, "D-W1", "D-W2")
    await assign(supply, ent, "D-W1", institution=h1)
    oid = uid("O")
    for who in (bearer("institution", h1), bearer("institution", h2), REGULATOR):
        r = await supply.get(f"/v1/deliveries/{oid}", headers=who)
        assert (r.status_code, r.json()["type"]) == (
            404, "urn:vbp:problem:order-not-known-yet"), dump(r)
        assert r.headers["retry-after"] == "1"
        assert r.headers["content-type"] == "application/problem+json"
        assert "eventual consistency" in r.json()["detail"]
        assert set(r.json()) == {"type", "title", "status", "detail", "instance", "order_id",
                                 "retry_after_s"}, "nothing about any organisation"
    r = await move(supply, oid, "shipments", "D-W1", 1)
    assert (r.status_code, r.json()["type"], r.headers["retry-after"]) == (
        404, "urn:vbp:problem:order-not-known-yet", "1"), dump(r)

    await bus.send(placed(oid, enterprise=ent, institution=h1, units=3))
    await wait_status(supply, oid, "routed")
    assert (await supply.get(f"/v1/deliveries/{oid}",
                             headers=bearer("institution", h1))).status_code == 200
    for who in (bearer("institution", h2), bearer("enterprise", uid("E")),
                bearer("distributor", "D-W2")):
        r = await supply.get(f"/v1/deliveries/{oid}", headers=who)
        assert (r.status_code, r.json()["type"]) == (404, "urn:vbp:problem:not-found"), dump(r)
        assert "retry-after" not in r.headers
        assert ent not in r.text and h1 not in r.text
    r = await move(supply, oid, "shipments", "D-W2", 1)
    assert (r.status_code, r.json()["type"]) == (404, "urn:vbp:problem:not-found"), dump(r)
    assert "retry-after" not in r.headers


async def test_every_post_that_moves_goods_requires_an_idempotency_key(
        supply: httpx.AsyncClient, bus: Bus) -> None:
    """Item 13: the same policy as orders: without the key, 400 ``idempotency-key-required``
    naming the header, and nothing is recorded."""
    ent, h1 = uid("E"), uid("H")
    await register(supply, "D-K")
    made = await assign(supply, ent, "D-K", institution=h1)
    oid = uid("O")
    await bus.send(placed(oid, enterprise=ent, institution=h1, units=3))
    await wait_status(supply, oid, "routed")
    attempts: list[tuple[str, dict[str, str], dict[str, Any]]] = [
        ("/v1/distributors", REGULATOR, {"distributor_id": uid("D"), "name": "x"}),
        ("/v1/violations", REGULATOR, {"distributor_id": "D-K", "reason": "x", "years": 1}),
        ("/v1/violations/B-NONE/lift", REGULATOR, {"reason": "x"}),
        ("/v1/assignments", bearer("enterprise", ent), {
            "registration_no": STENT, "distributor_id": "D-K", "scope": "region",
            "region": REGION, "reason": "x"}),
        (f"/v1/assignments/{made['assignment_id']}/revoke",
         bearer("enterprise", ent), {"reason": "x"}),
        ("/v1/accounts", bearer("institution", h1), {"distributor_id": "D-K",
                                                      "status": "requested"}),
        (f"/v1/deliveries/{oid}/shipments", bearer("distributor", "D-K"), {"units": 1}),
        (f"/v1/deliveries/{oid}/deliveries", bearer("distributor", "D-K"), {"units": 1}),
    ]
    for path, who, body in attempts:
        r = await supply.post(path, json=body, headers=who)
        assert (r.status_code, r.json()["type"]) == (
            400, "urn:vbp:problem:idempotency-key-required"), (path, dump(r))
        assert r.json()["errors"] == [{"field": "header.Idempotency-Key",
                                       "message": "required"}]
    view = await order_view(supply, oid)
    assert (view["status"], view["shipped_units"]) == ("routed", 0)
    assert (await supply.get(f"/v1/assignments?enterprise_id={ent}",
                             headers=REGULATOR)).json()["items"][0]["status"] == "in_force"
    assert (await supply.get("/v1/violations?distributor_id=D-K",
                             headers=REGULATOR)).json()["items"] == []


async def test_distributors_ship_and_deliver_their_own_orders_only(
        supply: httpx.AsyncClient, bus: Bus, bootstrap: str) -> None:
    ent, h1 = uid("E"), uid("H")
    await register(supply, "D-MINE", "D-OTHER")
    await assign(supply, ent, "D-MINE", institution=h1)
    placed_at = now() - timedelta(hours=30)
    oid = uid("O")
    await bus.send(placed(oid, enterprise=ent, institution=h1, units=10, placed_at=placed_at))
    await wait_status(supply, oid, "routed")

    r = await move(supply, oid, "shipments", "D-OTHER", 10)
    assert r.status_code == 404, "another distributor's order does not exist for it"
    r = await supply.post(f"/v1/deliveries/{oid}/shipments", json={"units": 1},
                          headers=bearer("distributor", "D-MINE"))
    assert r.status_code == 400, "Idempotency-Key required"
    r = await supply.post(f"/v1/deliveries/{oid}/shipments", json={"units": 1},
                          headers=bearer("institution", h1))
    assert r.status_code == 403
    r = await move(supply, oid, "shipments", "D-MINE", 11)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.units"
    r = await move(supply, oid, "deliveries", "D-MINE", 1)
    assert r.status_code == 422, "nothing shipped yet"

    shipped_at = placed_at + timedelta(hours=6)
    first = await move(supply, oid, "shipments", "D-MINE", 10, key="ship-1", at=shipped_at)
    assert first.status_code == 201, dump(first)
    assert (first.json()["status"], first.json()["shipped_units"]) == ("shipped", 10)
    replay = await move(supply, oid, "shipments", "D-MINE", 10, key="ship-1", at=shipped_at)
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()

    await move(supply, oid, "deliveries", "D-MINE", 4, at=placed_at + timedelta(hours=12))
    done = await move(supply, oid, "deliveries", "D-MINE", 6, at=placed_at + timedelta(hours=24))
    assert done.status_code == 201, dump(done)
    view = done.json()
    assert (view["status"], view["delivered_units"], view["delivery_seconds"]) == (
        "delivered", 10, 24 * 3600)
    assert [m["kind"] for m in view["movements"]] == ["shipment", "delivery", "delivery"]
    late = await move(supply, oid, "deliveries", "D-MINE", 1)
    assert late.status_code == 409

    events = await published(bootstrap, DELIVERIES, lambda ce: ce.subject == oid, expect=4)
    assert [ce.type.split(".")[-2] for ce in events] == ["routed", "shipped", "delivered",
                                                         "delivered"]
    assert [(ce.data["units"], ce.data["complete"], ce.data["delivery_seconds"])
            for ce in events[2:]] == [(4, False, 12 * 3600), (6, True, 24 * 3600)]

    # a second order, delivered in 12 hours: mean 18 h, p90 (nearest rank of 2) 24 h
    o2 = uid("O")
    await bus.send(placed(o2, enterprise=ent, institution=h1, units=1, placed_at=placed_at))
    await wait_status(supply, o2, "routed")
    await move(supply, o2, "shipments", "D-MINE", 1, at=placed_at + timedelta(hours=1))
    await move(supply, o2, "deliveries", "D-MINE", 1, at=placed_at + timedelta(hours=12))
    stats = await supply.get(f"/v1/delivery-stats?enterprise_id={ent}", headers=REGULATOR)
    assert stats.json() == [{"distributor_id": "D-MINE", "enterprise_id": ent, "count": 2,
                             "mean_hours": "18.00", "p90_hours": "24.00"}]
    own = await supply.get("/v1/delivery-stats", headers=bearer("distributor", "D-MINE"))
    assert [s["enterprise_id"] for s in own.json()] == [ent]
    assert (await supply.get("/v1/delivery-stats",
                             headers=bearer("enterprise", uid("E")))).json() == []
    assert (await supply.get("/v1/delivery-stats",
                             headers=bearer("institution", h1))).status_code == 403


# --- accounts (R-SUP-2, R-AGR-7) ------------------------------------------------------------------


async def test_unopened_accounts_are_open_items_and_never_block_supply(
        supply: httpx.AsyncClient, bus: Bus) -> None:
    ent, h1, h2 = uid("E"), uid("H"), uid("H")
    await register(supply, "D-ACC", "D-ACC2")
    await assign(supply, ent, "D-ACC", institution=h1)
    await assign(supply, ent, "D-ACC2", region="西藏")
    oid = uid("O")
    await bus.send(placed(oid, enterprise=ent, institution=h1))
    await wait_status(supply, oid, "routed")  # no account opened: routed all the same
    hospital = bearer("institution", h1)
    items = (await supply.get("/v1/account-open-items", headers=hospital)).json()["items"]
    assert items == [{"institution_id": h1, "distributor_id": "D-ACC", "status": None}]
    r = await supply.post("/v1/accounts", headers={**hospital, **keyed()},
                          json={"distributor_id": "D-ACC", "status": "requested"})
    assert r.status_code == 201, dump(r)
    items = (await supply.get("/v1/account-open-items", headers=hospital)).json()["items"]
    assert items[0]["status"] == "requested"
    regulator_view = await supply.get(f"/v1/account-open-items?institution_id={h1}",
                                      headers=REGULATOR)
    assert regulator_view.json()["items"] == items
    other = await supply.get(f"/v1/account-open-items?institution_id={h1}",
                             headers=bearer("institution", h2))
    assert other.json()["items"] == []
    r = await supply.post("/v1/accounts", headers={**hospital, **keyed()},
                          json={"distributor_id": "D-ACC", "status": "opened"})
    assert r.json()["status"] == "opened"
    assert (await supply.get("/v1/account-open-items",
                             headers=hospital)).json()["items"] == []
    r = await supply.post("/v1/accounts", headers={**hospital, **keyed()},
                          json={"distributor_id": "D-NONE", "status": "requested"})
    assert r.status_code == 422
    accounts = await supply.get("/v1/accounts", headers=bearer("distributor", "D-ACC"))
    assert [(a["institution_id"], a["status"]) for a in accounts.json()] == [(h1, "opened")]


# --- violation list (R-SUP-4, R-CRD-3) -----------------------------------------------------------


async def test_barring_takes_back_unshipped_orders_and_keeps_shipped_ones(
        supply: httpx.AsyncClient, bus: Bus, bootstrap: str) -> None:
    ent, ent2, h1, h2 = uid("E"), uid("E"), uid("H"), uid("H")
    bad, backup, fresh = uid("D"), uid("D"), uid("D")
    await register(supply, bad, backup, fresh)
    a_h1 = await assign(supply, ent, bad, institution=h1)
    await assign(supply, ent, backup, region=REGION)
    a_e2 = await assign(supply, ent2, bad, region=REGION)
    o_unshipped, o_shipped, o_e2 = uid("O"), uid("O"), uid("O")
    await bus.send(placed(o_unshipped, enterprise=ent, institution=h1))
    await bus.send(placed(o_shipped, enterprise=ent, institution=h1))
    await bus.send(placed(o_e2, enterprise=ent2, institution=h2))
    for oid in (o_unshipped, o_shipped, o_e2):
        assert (await wait_status(supply, oid, "routed"))["distributor_id"] == bad
    assert (await move(supply, o_shipped, "shipments", bad, 10)).status_code == 201

    r = await supply.post("/v1/violations", headers={**REGULATOR, **keyed()},
                          json={"distributor_id": bad, "reason": "商业贿赂", "years": 3})
    assert r.status_code == 201, dump(r)
    outcome = r.json()
    assert sorted(outcome["revoked_assignments"]) == sorted(
        [a_h1["assignment_id"], a_e2["assignment_id"]])
    assert (outcome["taken_back"], outcome["rerouted"], outcome["supply_risks"],
            outcome["kept"]) == (2, 1, 1, 1)
    assert len(outcome["contingencies"]) == 2
    bar_id = outcome["bar"]["bar_id"]
    assert outcome["bar"]["active"] is True

    assert (await order_view(supply, o_unshipped))["distributor_id"] == backup
    assert (await order_view(supply, o_e2))["status"] == "pending"
    kept = await order_view(supply, o_shipped)
    assert (kept["status"], kept["distributor_id"]) == ("shipped", bad)
    assert (await move(supply, o_unshipped, "shipments", bad, 1)).status_code == 404
    assert (await move(supply, o_shipped, "deliveries", bad, 10)).status_code == 201
    d = (await supply.get(f"/v1/distributors/{bad}", headers=REGULATOR)).json()
    assert d["status"] == "barred"
    await assign(supply, ent2, bad, region="四川", expect=422)  # not qualified

    events = await published(bootstrap, DELIVERIES,
                             lambda ce: ce.subject in (o_unshipped, o_e2)
                             and ce.data.get("routed_at", ce.data.get("opened_at", ""))
                             >= outcome["bar"]["barred_from"][:19], expect=2)
    by_order = {ce.subject: ce for ce in events}
    assert by_order[o_unshipped].data["rerouted_from"] == bad
    assert by_order[o_unshipped].data["distributor_id"] == backup
    assert by_order[o_e2].type == "vbp.supply.risk.opened.v1"
    assert by_order[o_e2].data["taken_back_from"] == bad
    assert by_order[o_e2].data["reason"] == "assignment_revoked"
    barred = await published(bootstrap, ASSIGNMENTS, of_type(
        "vbp.supply.distributor.barred.v1", distributor_id=bad), expect=1)
    assert barred[0].data["bar_id"] == bar_id

    # contingencies: each enterprise sees its own; ent2 has gaps until it assigns again
    mine = (await supply.get("/v1/contingencies", headers=bearer("enterprise", ent2))).json()
    assert len(mine["items"]) == 1
    item = mine["items"][0]
    assert (item["distributor_id"], item["status"], item["registration_nos"]) == (
        bad, "open", [STENT])
    assert {(g["scope"], g["place"]) for g in item["gaps"]} == {("region", REGION),
                                                                ("institution", h2)}
    theirs = await supply.get(f"/v1/contingencies/{item['contingency_id']}",
                              headers=bearer("enterprise", ent))
    assert theirs.status_code == 404
    all_open = (await supply.get(f"/v1/contingencies?distributor_id={bad}",
                                 headers=REGULATOR)).json()["items"]
    assert {c["enterprise_id"] for c in all_open} == {ent, ent2}

    replacement = await assign(supply, ent2, fresh, region=REGION)
    assert replacement["routed_orders"] == 1
    assert replacement["contingencies_closed"] == [item["contingency_id"]]
    view = await order_view(supply, o_e2)
    assert (view["status"], view["distributor_id"]) == ("routed", fresh)
    rerouted = await published(bootstrap, DELIVERIES, of_type(
        "vbp.supply.order.routed.v1", order_id=o_e2, distributor_id=fresh), expect=1)
    assert rerouted[0].data["rerouted_from"] == bad

    # lifting restores the qualification, not the revoked assignments
    r = await supply.post(f"/v1/violations/{bar_id}/lift", headers={**REGULATOR, **keyed()},
                          json={"reason": "整改完成"})
    assert r.status_code == 200, dump(r)
    assert r.json()["active"] is False
    assert (await supply.get(f"/v1/distributors/{bad}",
                             headers=REGULATOR)).json()["status"] == "qualified"
    still = await supply.get(f"/v1/assignments/{a_h1['assignment_id']}", headers=REGULATOR)
    assert still.json()["status"] == "revoked"
    o_new = uid("O")
    await bus.send(placed(o_new, enterprise=ent, institution=h1))
    assert (await wait_status(supply, o_new, "routed"))["distributor_id"] == backup
    again = await supply.post(f"/v1/violations/{bar_id}/lift", headers={**REGULATOR, **keyed()},
                              json={"reason": "again"})
    assert again.status_code == 409
    history = (await supply.get(f"/v1/distributors/{bad}/history", headers=REGULATOR)).json()
    assert [h["change"] for h in history] == ["registered", "barred", "bar-lifted"]
    listed = (await supply.get(f"/v1/violations?distributor_id={bad}",
                               headers=bearer("institution", h1))).json()["items"]
    assert [(b["bar_id"], b["lift_reason"]) for b in listed] == [(bar_id, "整改完成")]


async def test_credit_measure_bars_and_lifting_reinstates(
        supply: httpx.AsyncClient, bus: Bus, bootstrap: str) -> None:
    from contracts.monitoring import CreditMeasureApplied, CreditMeasureLifted

    ent, h1, bad = uid("E"), uid("H"), uid("D")
    await register(supply, bad)
    a = await assign(supply, ent, bad, institution=h1)
    oid = uid("O")
    await bus.send(placed(oid, enterprise=ent, institution=h1))
    await wait_status(supply, oid, "routed")
    measure_id = uid("M")
    start = now()
    measure = CreditMeasureApplied(
        measure_id=measure_id, subject_id=bad, subject_kind="distributor", region=REGION,
        level="严重失信", measure="distributor_bar", effective_from=start,
        reason="不能良好履约", decided_by="regulator:BUREAU/x")
    ce_id = str(uuid.uuid4())
    await bus.send(measure, ce_id=ce_id)
    await bus.send(measure, ce_id=ce_id)
    await bus.send(measure)  # the same measure under another event id: one bar
    # a measure against an enterprise, or another kind of measure, is not a bar
    await bus.send(measure.model_copy(update={"measure_id": uid("M"), "measure": "warning"}))
    view = await wait_status(supply, oid, "pending")
    assert view["distributor_id"] is None

    async def one_bar() -> list[dict[str, Any]]:
        bars = (await supply.get(f"/v1/violations?distributor_id={bad}",
                                 headers=REGULATOR)).json()["items"]
        assert len(bars) == 1
        result: list[dict[str, Any]] = bars
        return result

    bars = await eventually(one_bar)
    await asyncio.sleep(2)
    bars = await one_bar()
    assert bars[0]["measure_id"] == measure_id
    assert bars[0]["barred_by"] == "credit:regulator:BUREAU/x"
    until = datetime.fromisoformat(bars[0]["barred_until"])
    assert until.astimezone(start.tzinfo).year == start.year + 3  # 严重失信: 3 years
    revoked = await supply.get(f"/v1/assignments/{a['assignment_id']}", headers=REGULATOR)
    assert revoked.json()["status"] == "revoked"
    contingencies = (await supply.get("/v1/contingencies",
                                      headers=bearer("enterprise", ent))).json()["items"]
    assert [c["distributor_id"] for c in contingencies] == [bad]

    await bus.send(CreditMeasureLifted(measure_id=measure_id, subject_id=bad,
                                       subject_kind="distributor", reason="信用修复",
                                       lifted_by="regulator:BUREAU/x", lifted_at=now()))

    async def reinstated() -> None:
        d = (await supply.get(f"/v1/distributors/{bad}", headers=REGULATOR)).json()
        assert d["status"] == "qualified"

    await eventually(reinstated)
    events = await published(bootstrap, ASSIGNMENTS, lambda ce: ce.subject == bad and ce.type in (
        "vbp.supply.distributor.barred.v1", "vbp.supply.distributor.reinstated.v1"), expect=2)
    assert [ce.type.split(".")[-2] for ce in events] == ["barred", "reinstated"]
    assert events[1].data["measure_id"] == measure_id
    assert (await supply.get(f"/v1/assignments/{a['assignment_id']}",
                             headers=REGULATOR)).json()["status"] == "revoked"


async def test_orders_routed_while_a_bar_runs_never_stay_with_the_barred_distributor(
        supply: httpx.AsyncClient, bus: Bus) -> None:
    """Routing (FOR KEY SHARE of the distributor) and barring (FOR UPDATE) exclude each other:
    an order routed just before the bar is taken back, one routed after it goes elsewhere."""
    ent, h1, bad, backup = uid("E"), uid("H"), uid("D"), uid("D")
    await register(supply, bad, backup)
    await assign(supply, ent, bad, institution=h1)
    await assign(supply, ent, backup, region=REGION)
    ids = [uid("O") for _ in range(300)]

    async def send_all() -> None:
        for oid in ids:
            await bus.send(placed(oid, enterprise=ent, institution=h1))

    sending = asyncio.create_task(send_all())

    async def some_routed() -> None:
        page = await supply.get(f"/v1/deliveries?distributor_id={bad}&limit=500",
                                headers=REGULATOR)
        assert len(page.json()["items"]) >= 20

    await eventually(some_routed)
    r = await supply.post("/v1/violations", headers={**REGULATOR, **keyed()},
                          json={"distributor_id": bad, "reason": "并发", "years": 1})
    assert r.status_code == 201, dump(r)
    assert r.json()["rerouted"] >= 20
    await sending

    async def all_known() -> list[dict[str, Any]]:
        page = await supply.get(f"/v1/deliveries?enterprise_id={ent}&limit=500",
                                headers=REGULATOR)
        items: list[dict[str, Any]] = page.json()["items"]
        assert len(items) == len(ids)
        return items

    items = await eventually(all_known, timeout=60)
    assert {(o["status"], o["distributor_id"]) for o in items} == {("routed", backup)}
