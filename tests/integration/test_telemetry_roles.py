"""Business metrics are sampled by the process that relays and consumes (role all or worker),
never by an api process, so a figure is reported once per service however many api processes
run (issue 16); the sampler goes away with the process's runtime."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.orders.app import create_app
from services.runtime import metrics
from tests.integration.apps import running

pytestmark = pytest.mark.integration


async def test_only_the_worker_samples(database_url: str, bootstrap: str) -> None:
    async with running(create_app, "orders", database_url, bootstrap, role="api") as api:
        assert "orders" not in metrics._samplers
        text = (await api.get("/metrics")).text
        pools = [s for f in text_string_to_metric_families(text) for s in f.samples
                 if s.name == "vbp_db_pool_max_connections" and s.labels["service"] == "orders"]
        assert pools and pools[0].value == 40  # PostgreSQL: pool of 20 + 20 overflow
        async with running(create_app, "orders", database_url, bootstrap, role="worker") as w:
            assert "orders" in metrics._samplers
            assert "vbp_orders_placed_total" in (await w.get("/metrics")).text
        assert "orders" not in metrics._samplers
