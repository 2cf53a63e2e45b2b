"""The orders service on its embedded default, SQLite (one machine, no setup), with the real
Kafka broker: the main paths once, so what runs on PostgreSQL in production also runs there
(bulk inserts, the one-statement order insert and ON CONFLICT take another path)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from services.orders.app import create_app
from services.runtime.clock import SHANGHAI, FixedClock
from tests.integration.apps import running
from tests.integration.test_orders import (
    AGREEMENTS_TOPIC,
    E1,
    OPERATOR,
    P1,
    P2,
    REGULATOR,
    App,
    act,
    agree,
    agreement_csv,
    deliver,
    events,
    hospital,
    import_agreements,
    order,
    placed,
    progress,
    renewal,
    seed,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def app(bootstrap: str) -> AsyncIterator[App]:
    folder = Path(tempfile.mkdtemp(prefix="vbp-orders-sqlite-"))
    url = f"sqlite+aiosqlite:///{folder / 'orders.db'}"
    clock = FixedClock(datetime(2023, 3, 15, 10, tzinfo=SHANGHAI))
    try:
        async with running(lambda s: create_app(s, clock=clock), "orders", url,
                           bootstrap) as client:
            yield App(client, clock, bootstrap)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def test_sqlite_agreements_orders_acceptance_and_renewal(app: App) -> None:
    app.clock.set(datetime(2023, 3, 15, 10, tzinfo=SHANGHAI))
    p = await seed(app)
    await agree(app, p, (1, P1, 100), (1, P2, 100))
    again = await import_agreements(app, p, agreement_csv([
        (p.institution(1), "public", E1, P1["registration_no"], 100),
        (p.institution(1), "public", "", P2["registration_no"], 100)]))
    assert again.status_code == 201 and again.json()["unchanged"] == 2
    assert (await order(app, p, 1, P1["registration_no"], 1, price="730.01")).status_code == 422
    first = await placed(app, p, 1, P1["registration_no"], 120)
    assert first["order_class"] == "beyond_agreement"
    await deliver(app, p, first)
    r = await act(app, p, 1, first["order_id"], "acceptance",
                  {"accepted_units": 120})
    assert (r.status_code, r.json()["accepted_amount"]) == (200, "87600.00")
    second = await placed(app, p, 1, P2["registration_no"], 90)
    await deliver(app, p, second)
    r = await act(app, p, 1, second["order_id"], "acceptance",
                  {"accepted_units": 80, "reason": "10 expired"})
    assert r.json()["status"] == "partially_accepted"
    report = await progress(app, p, hospital(p.institution(1)), agreement_year=1)
    assert (report["total"]["agreement_units"], report["total"]["accepted_units"]) == (200, 200)
    history = (await app.client.get(f"/v1/orders/{second['order_id']}/history",
                                    headers=REGULATOR)).json()
    assert [h["change"] for h in history] == ["placed", "routed", "shipped", "delivered",
                                              "partially_accepted"]
    assert (await renewal(app, p, 1, 90, 99)).status_code == 422
    assert (await renewal(app, p, 1, 90, 100)).status_code == 201


async def test_sqlite_pacing_once_per_month(app: App) -> None:
    p = await seed(app, "liaoning-guide-wires-2021")
    reg = "国械注进20163130001"
    body = agreement_csv([(p.institution(1), "public", "", reg, 240),
                          (p.institution(2), "public", "", reg, 240)])
    assert (await import_agreements(app, p, body)).status_code == 201
    app.clock.set(datetime(2021, 10, 20, 10, tzinfo=SHANGHAI))
    await placed(app, p, 1, reg, 41)
    await placed(app, p, 1, reg, 1)
    app.clock.set(datetime(2022, 2, 20, 10, tzinfo=SHANGHAI))
    r = await app.client.post("/v1/pacing/evaluations", json={"program_id": p.program_id},
                              headers=OPERATOR)
    assert r.status_code == 200, r.text
    assert r.json()["raised"] == 1  # institution 2, month 4, behind; institution 1's month 1
    raised = await events(app.bootstrap, AGREEMENTS_TOPIC,
                          "vbp.orders.pacing.warning-raised.v1", expect=2,
                          program_id=p.program_id)
    assert sorted((e["institution_id"], e["agreement_month"]) for e in raised) == [
        (p.institution(1), 1), (p.institution(2), 4)]
