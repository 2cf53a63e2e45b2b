"""Routing OrderPlaced in batches (the consumer's batch route) on the real PostgreSQL and
Kafka: events wait on the broker while the service is down, so it meets them in chunks, as
after a restart or under load. Each order is routed once (R-SUP-1), a duplicate or a re-sent
order changes nothing, an order nobody may distribute opens a supply risk (R-SUP-4), and an
order's cancellation after its placement in the same chunk still comes after it."""

from __future__ import annotations

import uuid
from collections import Counter

from contracts.orders import OrderCancelled
from tests.integration.test_supply_service import (
    DELIVERIES,
    REGION,
    REGULATOR,
    Bus,
    assign,
    now,
    placed,
    published,
    register,
    supply_app,
    uid,
    wait_status,
)


def product() -> str:
    """A registration number of this test alone (the listings topic is shared by the session:
    another test's listing must not make it someone else's product)."""
    return f"国械注准{uuid.uuid4().int % 10**11:011d}"


async def test_orders_met_in_chunks_are_routed_once_each_in_order_per_order(
        database_url: str, bootstrap: str) -> None:
    ent, h1, h2 = uid("E"), uid("H"), uid("H")
    d_inst, d_region = uid("D"), uid("D")
    stent, other = product(), product()
    async with supply_app(database_url, bootstrap) as supply:
        await register(supply, d_inst, d_region)
        await assign(supply, ent, d_inst, institution=h1, product=stent)
        await assign(supply, ent, d_region, region=REGION, product=stent)

    to_h1 = [uid("O") for _ in range(30)]
    to_h2 = [uid("O") for _ in range(30)]
    lonely, cancelled = uid("O"), uid("O")
    async with Bus(bootstrap) as bus:  # the service is down: all of this waits on the broker
        first_ce = None
        for i, (a, b) in enumerate(zip(to_h1, to_h2, strict=True)):
            ce = await bus.send(placed(a, enterprise=ent, institution=h1, product=stent))
            first_ce = first_ce or ce
            await bus.send(placed(b, enterprise=ent, institution=h2, product=stent))
            if i == 10:
                await bus.send(placed(lonely, enterprise=ent, institution=h1, product=other))
                await bus.send(placed(cancelled, enterprise=ent, institution=h2,
                                      product=stent))
            if i == 12:
                await bus.send(OrderCancelled(
                    order_id=cancelled, institution_id=h2, reason="不再需要",
                    cancelled_by=f"institution:{h2}/u", cancelled_at=now()))
        assert first_ce is not None
        await bus.send_ce("vbp.orders.orders.v1", first_ce)  # the same event again
        await bus.send(placed(to_h2[0], enterprise=ent, institution=h2,  # re-sent order
                              product=stent))

    async with supply_app(database_url, bootstrap) as supply:
        await wait_status(supply, cancelled, "cancelled")
        # orders are keyed by id, so they sit on different partitions, met in different
        # chunks: each is waited for, not only the last one sent
        for oid in to_h1:
            assert (await wait_status(supply, oid, "routed"))["distributor_id"] == d_inst
        for oid in to_h2:
            assert (await wait_status(supply, oid, "routed"))["distributor_id"] == d_region
        view = await wait_status(supply, lonely, "pending")
        assert view["distributor_id"] is None
        risks = await supply.get("/v1/supply-risks?status=all", headers=REGULATOR)
        assert {(r["order_id"], r["resolution"]) for r in risks.json()["items"]
                if r["enterprise_id"] == ent} == {(lonely, None)}

        ours = {*to_h1, *to_h2, lonely, cancelled}
        events = await published(bootstrap, DELIVERIES, lambda ce: ce.subject in ours,
                                 expect=len(ours), settle=3.0)
        routed = Counter(ce.subject for ce in events if ce.type == "vbp.supply.order.routed.v1")
        assert routed == Counter({*to_h1, *to_h2, cancelled}), "one OrderRouted per order"
        opened = [ce for ce in events if ce.type == "vbp.supply.risk.opened.v1"]
        assert [(ce.subject, ce.data["registration_no"], ce.data["reason"])
                for ce in opened] == [(lonely, other, "no_valid_assignment")]
        assert len(events) == len(ours)
        by_id = {ce.subject: ce for ce in events}
        assert by_id[to_h1[0]].data["distributor_id"] == d_inst
        assert by_id[to_h2[0]].data["distributor_id"] == d_region
