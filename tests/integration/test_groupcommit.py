"""Group commit (services/runtime/groupcommit.py) on the real PostgreSQL: requests queued
together share one transaction, and each still gets exactly its own outcome."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.runtime.clock import SystemClock
from services.runtime.db import UnitOfWork, make_engine, runtime_metadata
from services.runtime.groupcommit import GroupCommit
from services.runtime.idempotency import IdempotentRequest
from services.runtime.problems import Problem

pytestmark = pytest.mark.integration

metadata = MetaData()
things = Table("things", metadata, Column("name", String(50), primary_key=True),
               Column("units", Integer, nullable=False))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(runtime_metadata.create_all)
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


class Recorder:
    """The action under test: writes a row, remembers which transaction it ran in."""

    def __init__(self) -> None:
        self.transactions: list[int] = []

    def action(self, name: str, units: int) -> Any:
        async def write(uow: UnitOfWork) -> dict[str, Any]:
            self.transactions.append(id(uow))
            if units < 0:  # written first, refused after: must not survive in others' commit
                await uow.conn.execute(insert(things).values(name=name, units=units))
                raise Problem(422, "negative", "Negative units", f"{name}: {units}")
            if units == 13:
                raise RuntimeError("unlucky")
            await uow.conn.execute(insert(things).values(name=name, units=units))
            total = (await uow.conn.execute(select(func.sum(things.c.units)))).scalar()
            return {"name": name, "total_seen": int(total)}
        return write


def request(key: str | None, body: str) -> IdempotentRequest:
    return IdempotentRequest(key=key, route="POST /things", request_hash=body)


async def rows(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {r.name: r.units for r in await conn.execute(select(things))}


def writer(engine: AsyncEngine, linger_s: float = 0.0) -> GroupCommit:
    clock = SystemClock()
    return GroupCommit(lambda: UnitOfWork(engine, clock=clock, source="/test"), service="test",
                       linger_s=linger_s)


async def test_requests_queued_together_share_one_transaction_and_see_each_other(
        engine: AsyncEngine) -> None:
    writes, rec = writer(engine), Recorder()
    responses = await asyncio.gather(*(
        writes.run(request(f"k{i}", f"b{i}"), "hospital", rec.action(f"t{i}", 1))
        for i in range(20)))
    await writes.stop()
    assert [r.status_code for r in responses] == [201] * 20
    bodies = [json.loads(r.body) for r in responses]
    assert [b["total_seen"] for b in bodies] == list(range(1, 21))  # as if one after the other
    assert len(set(rec.transactions)) < 20  # batched: fewer transactions than requests
    assert await rows(engine) == {f"t{i}": 1 for i in range(20)}


@pytest.mark.parametrize("linger_s", [0.0, 0.5])
async def test_a_write_lingers_for_company_when_told_to(engine: AsyncEngine,
                                                        linger_s: float) -> None:
    """Requests a moment apart: without a linger the first goes at once, alone; with one, the
    second shares its transaction (fewer transactions under load, at a little latency)."""
    writes, rec = writer(engine, linger_s), Recorder()

    async def later() -> Any:
        await asyncio.sleep(0.1)
        return await writes.run(request("k2", "b2"), "hospital", rec.action("t2", 1))

    await asyncio.gather(writes.run(request("k1", "b1"), "hospital", rec.action("t1", 1)),
                         later())
    await writes.stop()
    assert len(set(rec.transactions)) == (1 if linger_s else 2)
    assert await rows(engine) == {"t1": 1, "t2": 1}


async def test_a_refused_request_leaves_nothing_and_the_others_are_committed_once(
        engine: AsyncEngine) -> None:
    writes, rec = writer(engine), Recorder()
    outcomes = await asyncio.gather(*(
        writes.run(request(f"k{i}", f"b{i}"), "hospital",
                   rec.action(f"t{i}", -1 if i in (3, 7) else 1))
        for i in range(10)), return_exceptions=True)
    await writes.stop()
    refused = [i for i, o in enumerate(outcomes) if isinstance(o, Problem)]
    assert refused == [3, 7]
    assert await rows(engine) == {f"t{i}": 1 for i in range(10) if i not in (3, 7)}


async def test_an_unexpected_failure_falls_back_to_one_transaction_each(
        engine: AsyncEngine) -> None:
    writes, rec = writer(engine), Recorder()
    outcomes = await asyncio.gather(*(
        writes.run(request(f"k{i}", f"b{i}"), "hospital",
                   rec.action(f"t{i}", 13 if i == 4 else 1))
        for i in range(8)), return_exceptions=True)
    await writes.stop()
    assert isinstance(outcomes[4], RuntimeError)
    assert all(not isinstance(o, BaseException) for i, o in enumerate(outcomes) if i != 4)
    assert await rows(engine) == {f"t{i}": 1 for i in range(8) if i != 4}


async def test_a_key_twice_in_a_batch_is_applied_once_and_replayed_and_a_reused_key_refused(
        engine: AsyncEngine) -> None:
    writes, rec = writer(engine), Recorder()
    same, again, other_body, no_key = await asyncio.gather(
        writes.run(request("k", "b"), "hospital", rec.action("once", 1)),
        writes.run(request("k", "b"), "hospital", rec.action("twice", 1)),
        writes.run(request("k", "changed"), "hospital", rec.action("thrice", 1)),
        writes.run(request(None, "b"), "hospital", rec.action("keyless", 1)),
        return_exceptions=True)
    assert json.loads(same.body) == json.loads(again.body)  # type: ignore[union-attr]
    assert again.headers["Idempotent-Replayed"] == "true"  # type: ignore[union-attr]
    assert isinstance(other_body, Problem) and other_body.status == 422
    assert no_key.status_code == 201  # type: ignore[union-attr]
    later = await writes.run(request("k", "b"), "hospital", rec.action("later", 1))
    await writes.stop()
    assert json.loads(later.body) == json.loads(same.body)  # type: ignore[union-attr]
    assert await rows(engine) == {"once": 1, "keyless": 1}


async def test_a_key_committed_meanwhile_by_another_process_is_replayed_not_applied_twice(
        engine: AsyncEngine) -> None:
    """Two processes (two GroupCommits) with the same key, both past the key lookup before
    either commits: the key row written at commit (with the outbox rows, one statement) makes
    the second fail, and it then replays the first's response."""
    both_inside = asyncio.Event()
    inside = 0

    def racing(name: str) -> Any:
        async def write(uow: UnitOfWork) -> dict[str, Any]:
            nonlocal inside
            inside += 1
            if inside == 2:
                both_inside.set()
            await asyncio.wait_for(both_inside.wait(), 10)
            await uow.conn.execute(insert(things).values(name=name, units=1))
            return {"name": name}
        return write

    first, second = writer(engine), writer(engine)
    a, b = await asyncio.gather(
        first.run(request("same", "b"), "hospital", racing("a")),
        second.run(request("same", "b"), "hospital", racing("b")))
    await first.stop()
    await second.stop()
    assert json.loads(a.body) == json.loads(b.body)
    assert "true" in (a.headers.get("Idempotent-Replayed"), b.headers.get("Idempotent-Replayed"))
    assert len(await rows(engine)) == 1
