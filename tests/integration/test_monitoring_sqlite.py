"""The monitoring service on its embedded default, SQLite (what ``make run`` starts), with the
real Kafka broker: migrations, a record and its measures, the read models and a month's
report, the public feed — so the PostgreSQL paths' SQL also runs there."""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from services.runtime.clock import SHANGHAI
from tests.integration.test_monitoring import (
    START,
    accepted,
    agreement,
    eventually,
    line,
    measures,
    placed,
    report,
    uid,
    world,
)

pytestmark = pytest.mark.integration


async def test_monitoring_on_sqlite(bootstrap: str) -> None:
    folder = Path(tempfile.mkdtemp(prefix="vbp-monitoring-sqlite-"))
    url = f"sqlite+aiosqlite:///{folder / 'monitoring.db'}"
    ent, hosp = uid("E"), uid("H")
    try:
        async with world(url, bootstrap, now=datetime(2025, 4, 2, tzinfo=SHANGHAI)) as w:
            await w.file(ent, "严重", ["国械注准20163132305"])
            rating = await w.rating(ent)
            assert rating["level"] == "严重" and "suspend_listing_involved" in measures(rating)
            await w.bus.send(agreement(w, hosp, ent, 120, recorded_at=START))
            o = uid("O")
            mar = datetime(2025, 3, 3, tzinfo=SHANGHAI)
            await w.bus.send(placed(w, o, hosp, ent, mar, 6))
            await w.bus.send(accepted(w, o, hosp, ent, mar + timedelta(days=2), 6))

            async def seen() -> None:
                e = line(await report(w, "2025-03"), "enterprise", ent)
                assert (e["agreement_units"], e["ordered_units"], e["accepted_units"]) == (
                    120, 6, 6), e
                assert e["progress"] == "0.0500"

            await eventually(seen)
            r = await w.client.get("/v1/public/credit-ratings")
            assert r.status_code == 200 and r.headers["etag"]
            assert any(i["subject_id"] == ent for i in r.json()["items"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
