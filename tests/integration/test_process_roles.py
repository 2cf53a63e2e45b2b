"""One service as two processes (``Settings.role``): an ``api`` process serving HTTP only and a
``worker`` process running the outbox relay and the consumers, on one database. The worker's
consumers keep the read models the api serves; the api's commits wake the worker's relay
through PostgreSQL NOTIFY, so an order's event is on Kafka at once, not at the relay's next
poll."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from contracts.catalog import PROGRAMS_TOPIC, ProgramPublished
from services.catalog.app import create_app as create_catalog
from services.catalog.presets import PRESETS
from services.devstack.kafka import KafkaBroker, ensure_jars
from services.devstack.net import free_loopback_port
from services.devstack.postgres import PostgresCluster
from services.orders.app import create_app
from services.runtime.app import Runtime
from services.runtime.db import make_engine
from tests.integration.apps import bearer, eventually, publish, running
from tests.integration.harness import Harness
from tests.integration.test_catalog import program
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


async def test_without_its_broker_a_service_serves_at_once_and_is_ready_when_its_role_is(
        postgres: PostgresCluster, tmp_path: Path) -> None:
    """Issue #12 item 17. Started while nothing listens at the Kafka address, every role
    serves /healthz at once; an ``api`` process is ready (it needs its database only: no
    producer, no topics) and takes writes; ``worker`` and ``all`` say 503 naming kafka and
    keep trying in the background. The broker comes up later at that address: they turn
    ready without a restart, and the api's write reaches Kafka once."""
    broker = KafkaBroker(ensure_jars(), tmp_path / "kafka", port=free_loopback_port(),
                         heap="384m")
    name = f"late_{uuid.uuid4().hex[:10]}"
    url = postgres.create_database(name)
    program_id = f"CQ-{uuid.uuid4().hex[:8]}"
    try:
        async with AsyncExitStack() as stack:
            apps: dict[str, httpx.AsyncClient] = {}
            for role in ("api", "worker", "all"):
                started = asyncio.get_running_loop().time()
                apps[role] = await stack.enter_async_context(running(
                    create_catalog, "catalog", url, broker.bootstrap_servers, ready=False,
                    role=role, kafka_retry_max_s=1.0))
                took = asyncio.get_running_loop().time() - started
                assert took < 30, f"{role} took {took:.1f} s to start without its broker"
                assert (await apps[role].get("/healthz")).status_code == 200

            api: Runtime = apps["api"].app.state.runtime  # type: ignore[attr-defined]
            r = await apps["api"].get("/readyz")
            assert r.status_code == 200, r.text
            assert r.json()["checks"] == {"database": "ok"}
            assert api.producer is None and api.relay is None and not api.consumers
            r = await apps["api"].post("/v1/programs", json=program(program_id),
                                       headers=bearer("regulator", "BUREAU"))
            assert r.status_code == 201, r.text

            await asyncio.sleep(3)  # several connection attempts fail meanwhile
            for role in ("worker", "all"):
                r = await apps[role].get("/readyz")
                assert r.status_code == 503, r.text
                assert r.headers["content-type"] == "application/problem+json"
                assert r.json()["checks"]["database"] == "ok"
                assert r.json()["checks"]["kafka"].startswith("unavailable")
                runtime: Runtime = apps[role].app.state.runtime  # type: ignore[attr-defined]
                assert not runtime.kafka_connected and runtime.producer is None

            await asyncio.to_thread(broker.start)
            for role in ("worker", "all"):
                async def ready(client: httpx.AsyncClient = apps[role]) -> None:
                    r = await client.get("/readyz")
                    assert r.status_code == 200, r.text
                    assert r.json()["checks"] == {"database": "ok", "kafka": "ok"}

                await eventually(ready, timeout=90)
            assert (await apps["api"].get("/readyz")).status_code == 200
            assert api.producer is None  # still: the api role never connects

            engine = make_engine(url)
            try:
                records = await Harness(engine, broker.bootstrap_servers, PROGRAMS_TOPIC
                                        ).read_topic(expect=2, timeout=10)
            finally:
                await engine.dispose()
            assert [r.key.decode() for r in records] == [program_id]
    finally:
        await asyncio.to_thread(broker.stop)
        postgres.drop_database(name)
