"""Business metrics (issue 16) read from the embedded default, SQLite: every sampler's queries
run there (the Prometheus test in tests/ops covers PostgreSQL), and supply's figures are the
traffic's: a delivery of 5 hours in the histogram, an open supply risk and its age."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.catalog.app import create_app as catalog_app
from services.orders.app import create_app as orders_app
from tests.integration.apps import running
from tests.integration.test_supply_service import (
    Bus,
    assign,
    move,
    now,
    placed,
    register,
    supply_app,
    uid,
    wait_status,
)

pytestmark = pytest.mark.integration


def samples(text: str, name: str, **labels: str) -> list[float]:
    return [s.value for family in text_string_to_metric_families(text) for s in family.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]


def sampled_cleanly(text: str, service: str) -> None:
    assert samples(text, "vbp_telemetry_sample_duration_seconds", service=service), service
    assert not [v for v in samples(text, "vbp_telemetry_errors_total", service=service) if v]


async def test_catalog_and_orders_sample_on_sqlite(tmp_path: Path, bootstrap: str) -> None:
    for service, create in (("catalog", catalog_app), ("orders", orders_app)):
        url = f"sqlite+aiosqlite:///{tmp_path / service}.db"
        async with running(create, service, url, bootstrap) as client:
            sampled_cleanly((await client.get("/metrics")).text, service)


async def test_supply_figures_on_sqlite(tmp_path: Path, bootstrap: str) -> None:
    async with supply_app(f"sqlite+aiosqlite:///{tmp_path / 'supply.db'}", bootstrap) as client:
        ent, h1, dist = uid("E"), uid("H"), uid("D")
        await register(client, dist)
        await assign(client, ent, dist, institution=h1)
        placed_at = now() - timedelta(hours=10)
        delivered, stranded = uid("O"), uid("O")
        async with Bus(bootstrap) as bus:
            await bus.send(placed(delivered, enterprise=ent, institution=h1, units=2,
                                  placed_at=placed_at))
            await bus.send(placed(stranded, enterprise=uid("E"), institution=h1))  # no one
            await wait_status(client, delivered, "routed")
            await wait_status(client, stranded, "pending")
        for kind, hours in (("shipments", 1), ("deliveries", 5)):
            r = await move(client, delivered, kind, dist, 2, at=placed_at + timedelta(hours=hours))
            assert r.status_code == 201, r.text
        text = (await client.get("/metrics")).text
    sampled_cleanly(text, "supply")
    assert samples(text, "vbp_supply_delivery_duration_seconds_count", distributor=dist) == [1]
    assert samples(text, "vbp_supply_delivery_duration_seconds_sum", distributor=dist) == [
        5 * 3600]
    assert samples(text, "vbp_supply_delivery_duration_seconds_bucket", distributor=dist,
                   le="14400.0") == [0]  # 5 h: above the 4 h bucket, within 12 h
    assert samples(text, "vbp_supply_delivery_duration_seconds_bucket", distributor=dist,
                   le="43200.0") == [1]
    assert sum(samples(text, "vbp_supply_risks_open")) >= 1
    assert max(samples(text, "vbp_supply_risks_oldest_open_age_seconds")) >= 0
