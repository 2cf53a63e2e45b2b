"""One service as two processes (``Settings.role``): an ``api`` process serving HTTP only and a
``worker`` process running the outbox relay and the consumers, on one database. The worker's
consumers keep the read models the api serves; the api's commits wake the worker's relay
through PostgreSQL NOTIFY, so an order's event is on Kafka at once, not at the relay's next
poll."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from contracts.catalog import ProgramPublished
from services.catalog.presets import PRESETS
from services.devstack.postgres import PostgresCluster
from services.orders.app import create_app
from tests.integration.apps import bearer, eventually, publish, running
from tests.integration.test_orders import CQ_ROWS, ORDERS_TOPIC, events, listed

pytestmark = pytest.mark.integration
POLL_S = 60.0  # the relays' own polling interval: far longer than the test may take


async def test_api_and_worker_processes_share_the_work(postgres: PostgresCluster,
                                                       bootstrap: str) -> None:
    name = f"roles_{uuid.uuid4().hex[:10]}"
    url = postgres.create_database(name)
    tag = uuid.uuid4().hex[:8]
    program_id, row = f"CQ-{tag}", CQ_ROWS[0]
    try:
        async with running(create_app, "orders", url, bootstrap, role="worker",
                           relay_interval_s=POLL_S) as worker, \
                running(create_app, "orders", url, bootstrap, role="api",
                        relay_interval_s=POLL_S) as api:
            runtime = api.app.state.runtime  # type: ignore[attr-defined]
            assert runtime.relay is None and runtime.consumers == []
            assert worker.app.state.runtime.consumers  # type: ignore[attr-defined]
            await publish(bootstrap, ProgramPublished(
                program_id=program_id, category="冠脉支架", region=f"重庆市-{tag}",
                notice_no="渝医保办〔2023〕3号", organiser="national",
                execution_start=datetime.now(UTC) - timedelta(days=30), cycle_years=3,
                profile=PRESETS["chongqing-stents-2023"], published_by="regulator:B/t"),
                listed(program_id, "冠脉支架", row["registration_no"], row["product_name"],
                       row["declaring_enterprise"], row["product_price"],
                       row["service_price"]))
            regulator = bearer("regulator", "BUREAU")

            async def listed_by_the_worker() -> None:  # the api runs no consumer
                r = await api.get("/v1/listings", params={"program_id": program_id},
                                  headers=regulator)
                assert len(r.json()["items"]) == 1

            await eventually(listed_by_the_worker, timeout=60)
            item = (await api.get("/v1/listings", params={"program_id": program_id},
                                  headers=regulator)).json()["items"][0]
            await asyncio.sleep(1)  # the worker's relay is idle now, for POLL_S
            institution = f"H1-{tag}"
            r = await api.post("/v1/orders", json={
                "institution_id": institution, "listing_id": item["listing_id"], "units": 3,
                "unit_price": item["listing_price"]}, headers={
                **bearer("institution", institution), "Idempotency-Key": uuid.uuid4().hex})
            assert r.status_code == 201, r.text
            placed_at = datetime.now(UTC)
            found = await events(bootstrap, ORDERS_TOPIC, "vbp.orders.order.placed.v1",
                                 expect=1, timeout=POLL_S / 3,
                                 order_id=r.json()["order_id"])
            assert len(found) == 1
            assert (datetime.now(UTC) - placed_at).total_seconds() < POLL_S / 3
    finally:
        postgres.drop_database(name)
