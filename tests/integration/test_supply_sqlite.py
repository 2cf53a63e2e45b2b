"""The supply service on its embedded default, SQLite (with the real broker): the paths that
differ by dialect (insert-or-ignore, row locks, window functions, integer division) work there
too. The rules themselves are covered on PostgreSQL in test_supply_service.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tests.integration.test_supply_service import (
    REGION,
    REGULATOR,
    Bus,
    assign,
    bearer,
    keyed,
    move,
    now,
    placed,
    register,
    supply_app,
    uid,
    wait_status,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def sqlite_supply(tmp_path: Path, bootstrap: str) -> AsyncIterator[httpx.AsyncClient]:
    async with supply_app(f"sqlite+aiosqlite:///{tmp_path / 'supply.db'}", bootstrap) as c:
        yield c


async def test_routing_delivery_and_bar_on_sqlite(
        sqlite_supply: httpx.AsyncClient, bootstrap: str) -> None:
    client = sqlite_supply
    ent, h1, bad, backup = uid("E"), uid("H"), uid("D"), uid("D")
    await register(client, bad, backup)
    await assign(client, ent, bad, institution=h1)
    placed_at = now() - timedelta(hours=10)
    o1, o2, o3 = uid("O"), uid("O"), uid("O")
    async with Bus(bootstrap) as bus:
        event = placed(o1, enterprise=ent, institution=h1, units=2, placed_at=placed_at)
        await bus.send(event)
        await bus.send(event)  # the same order again: not routed twice
        await bus.send(placed(o2, enterprise=ent, institution=h1, placed_at=placed_at))
        await bus.send(placed(o3, enterprise=uid("E"), institution=h1))
        await wait_status(client, o1, "routed")
        await wait_status(client, o2, "routed")
        await wait_status(client, o3, "pending")
    assert (await move(client, o1, "shipments", bad, 2,
                       at=placed_at + timedelta(hours=1))).status_code == 201
    r = await move(client, o1, "deliveries", bad, 2, at=placed_at + timedelta(hours=5))
    assert r.json()["delivery_seconds"] == 5 * 3600
    stats = await client.get(f"/v1/delivery-stats?enterprise_id={ent}", headers=REGULATOR)
    assert stats.json() == [{"distributor_id": bad, "enterprise_id": ent, "count": 1,
                             "mean_hours": "5.00", "p90_hours": "5.00"}]
    await assign(client, ent, backup, region=REGION)
    r = await client.post("/v1/violations", headers={**REGULATOR, **keyed()},
                          json={"distributor_id": bad, "reason": "违规", "years": 1})
    assert r.status_code == 201, r.text
    assert (r.json()["taken_back"], r.json()["rerouted"]) == (1, 1)
    view = await client.get(f"/v1/deliveries/{o2}", headers=bearer("distributor", backup))
    assert view.json()["distributor_id"] == backup
    items = await client.get("/v1/account-open-items", headers=bearer("institution", h1))
    assert {i["distributor_id"] for i in items.json()["items"]} == {backup}
