"""The monitoring service on its embedded default, SQLite (what ``make run`` starts), with the
real Kafka broker: migrations, a record and its measures, the read models and a month's
report with its repayment columns, the assessment, the public feed — so the PostgreSQL paths'
SQL also runs there."""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from services.runtime.clock import SHANGHAI
from tests.integration.test_monitoring import (
    OPERATOR,
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
from tests.integration.test_monitoring_payments import overdue, paid

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
            jan = datetime(2025, 1, 20, tzinfo=SHANGHAI)  # due 2025-03-01: overdue in March
            await w.bus.send(paid(w, uid("O"), hosp, ent, at=mar,  # due 2025-04-01
                                  accepted=datetime(2025, 2, 10, tzinfo=SHANGHAI)))
            await w.bus.send(overdue(w, uid("O"), hosp, ent, accepted=jan))

            async def seen() -> None:
                e = line(await report(w, "2025-03"), "enterprise", ent)
                assert (e["agreement_units"], e["ordered_units"], e["accepted_units"]) == (
                    120, 6, 6), e
                assert e["progress"] == "0.0500"
                assert (e["settlements_on_time"], e["settlements_overdue"]) == (1, 1), e

            await eventually(seen)
            r = await w.client.get(f"/v1/assessments/{w.program_id}/1/{hosp}",
                                   headers=OPERATOR)
            rep = {p["name"]: p for p in r.json()["parts"]}["repayment"]
            assert rep["value"] == "0.5000" and rep["applied_weight"] == "0.3000", rep
            r = await w.client.get("/v1/public/credit-ratings")
            assert r.status_code == 200 and r.headers["etag"]
            assert any(i["subject_id"] == ent for i in r.json()["items"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
