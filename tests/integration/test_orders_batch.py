"""Orders placed together (group commit, ``purchasing.place_orders``) on the real PostgreSQL:
each is decided as if placed after the ones before it (R-AGR-4: the agreement volume is used up
once), a refused one writes nothing and costs the others nothing, and placements for one
institution from two processes wait for each other instead of both using the same remaining
volume."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.orders import OrderIn
from services.orders import purchasing, store
from services.orders.app import SPEC
from services.runtime.auth import Principal
from services.runtime.clock import SHANGHAI, FixedClock
from services.runtime.db import UnitOfWork, make_engine
from services.runtime.groupcommit import GroupCommit
from services.runtime.idempotency import IdempotentRequest
from services.runtime.migrate import upgrade
from services.runtime.problems import Problem

pytestmark = pytest.mark.integration

START = datetime(2023, 1, 31, tzinfo=SHANGHAI)
CLOCK = FixedClock(datetime(2023, 3, 15, 10, tzinfo=SHANGHAI))
LISTING, REG, PRICE = "L-1", "国械注准20163132305", Decimal("730.00")


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    await upgrade(engine, SPEC.migrations)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(insert(store.programs).values(
            program_id="P", category="冠脉支架", region="R", execution_start=START,
            cycle_years=3, profile=None, profile_version=1, updated_at=now))
        await conn.execute(insert(store.listings).values(
            listing_id=LISTING, program_id="P", category="冠脉支架", registration_no=REG,
            product_name="支架", enterprise_id="E-1", enterprise_name="E", registrant="E",
            listing_price=PRICE, winning=True, status="listed", version=1, listed_at=now))
        await conn.execute(insert(store.agreements).values(
            agreement_id="A-1", program_id="P", region="R", agreement_year=1,
            year_start=START, year_end=START, institution_id="H1", institution_type="public",
            enterprise_id="E-1", registration_no=REG, listing_id=LISTING, units=10,
            winning_price=PRICE, amount=PRICE * 10, version=1, recorded_by="t", recorded_at=now,
            reason="t", import_id="I-1"))
    yield engine
    await engine.dispose()


def uow(engine: AsyncEngine) -> UnitOfWork:
    return UnitOfWork(engine, clock=CLOCK, source="test")


def orders(*units: int, price: Decimal = PRICE, institution: str = "H1"
           ) -> list[tuple[OrderIn, Principal]]:
    caller = Principal(role="institution", org=institution, subject="u")
    return [(OrderIn(institution_id=institution, listing_id=LISTING, units=u, unit_price=price),
             caller) for u in units]


async def within_units(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(store.history.c.detail)
                                   .where(store.history.c.change == "placed"))).scalars()
        return sum(json.loads(d)["units_within_agreement"] for d in rows)


async def test_r_agr_4_orders_of_one_batch_use_the_agreement_volume_once(
        engine: AsyncEngine) -> None:
    async with uow(engine) as u:
        outcomes = await purchasing.place_orders(u, orders(4, 4, 4, 4))
        await u.commit()
    assert [o.order_class for o in outcomes if not isinstance(o, Problem)] == [
        "within_agreement", "within_agreement", "beyond_agreement", "beyond_agreement"]
    assert await within_units(engine) == 10  # 4 + 4 + 2 (the third splits), then 0


async def test_a_refused_order_in_a_batch_writes_nothing_and_the_others_stand(
        engine: AsyncEngine) -> None:
    one_fen_off = orders(3, price=PRICE - Decimal("0.01"))
    batch = orders(3) + one_fen_off + orders(3, institution="H2") + orders(3)
    async with uow(engine) as u:
        outcomes = await purchasing.place_orders(u, batch)
        await u.commit()
    refused = outcomes[1]
    assert isinstance(refused, Problem) and refused.status == 422
    assert refused.type == "price-mismatch"
    placed = [o for o in outcomes if not isinstance(o, Problem)]
    assert [(o.institution_id, o.order_class) for o in placed] == [
        ("H1", "within_agreement"), ("H2", "no_agreement"), ("H1", "within_agreement")]
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(store.orders)) == 3
        assert await conn.scalar(select(func.count()).select_from(store.history)) == 3


async def test_placements_for_one_institution_in_two_processes_wait_for_each_other(
        engine: AsyncEngine) -> None:
    """Two processes' group commits (two transactions), placing for one institution under its
    placement lock as ``POST /v1/orders`` does: the second waits for the first's commit and
    then sees its units, so 8 + 8 against a volume of 10 is 10 within, not 16."""
    release = asyncio.Event()

    async def place_and_hold(u: UnitOfWork, items: list[Any]) -> list[Any]:
        outcomes = await purchasing.place_orders(u, items)
        await release.wait()  # the first process's transaction stays open meanwhile
        return outcomes

    lock = purchasing.placement_lock("H1")
    (item,) = orders(8)
    first = asyncio.create_task(writer(engine).run_batched(
        placement("k-1"), "institution:H1/u", place_and_hold, item, lock=lock))
    await asyncio.sleep(0.3)
    second = asyncio.create_task(writer(engine).run_batched(
        placement("k-2"), "institution:H1/u", purchasing.place_orders, item, lock=lock))
    await asyncio.sleep(0.5)
    assert not second.done(), "the second placement did not wait for the first"
    release.set()
    assert json.loads(bytes((await first).body))["order_class"] == "within_agreement"
    answer = json.loads(bytes((await asyncio.wait_for(second, 10)).body))
    assert answer["order_class"] == "beyond_agreement"
    assert await within_units(engine) == 10


async def test_another_institutions_placement_does_not_wait(engine: AsyncEngine) -> None:
    release = asyncio.Event()

    async def place_and_hold(u: UnitOfWork, items: list[Any]) -> list[Any]:
        outcomes = await purchasing.place_orders(u, items)
        await release.wait()
        return outcomes

    first = asyncio.create_task(writer(engine).run_batched(
        placement("k-1"), "institution:H1/u", place_and_hold, orders(8)[0],
        lock=purchasing.placement_lock("H1")))
    await asyncio.sleep(0.3)
    other = await asyncio.wait_for(writer(engine).run_batched(
        placement("k-2"), "institution:H2/u", purchasing.place_orders,
        orders(1, institution="H2")[0], lock=purchasing.placement_lock("H2")), 5)
    assert json.loads(bytes(other.body))["order_class"] == "no_agreement"
    release.set()
    await first


def writer(engine: AsyncEngine) -> GroupCommit:
    """One process's group commit."""
    return GroupCommit(lambda: uow(engine), service="test")


def placement(key: str) -> IdempotentRequest:
    return IdempotentRequest(key=key, route="POST /v1/orders", request_hash=key)
