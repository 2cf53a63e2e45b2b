"""End to end: every service as its own process, on the real Kafka broker and PostgreSQL.

A regulator publishes the Chongqing stent program and its 14 winning products to catalog; the
listings appear in orders' read model. Then the broker is stopped for 10 seconds: the services
keep taking requests, reconnect by themselves when it is back, and the outbox drains.
"""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from contracts.identity import enterprise_id
from contracts.monitoring import CreditMeasureApplied
from services.devstack.kafka import KafkaBroker
from tests.conftest import SHARED
from tests.e2e.conftest import SECRET, bearer
from tests.integration.apps import publish as publish_events

pytestmark = pytest.mark.e2e
RUN = uuid.uuid4().hex[:6]  # topics outlive a test run: ids of this run are its own
CQ, OUTAGE = f"CQ-STENT-2023-{RUN}", f"CQ-STENT-OUTAGE-{RUN}"
REGULATOR = bearer("regulator", "BUREAU")
HOSPITAL = bearer("institution", "H0001")


def program(program_id: str) -> dict[str, Any]:
    return {"program_id": program_id, "category": "冠脉支架", "region": "重庆市",
            "notice_no": "渝医保办〔2023〕3号", "organiser": "national",
            "execution_start": "2023-01-31T00:00:00+08:00", "cycle_years": 3,
            "preset": "chongqing-stents-2023"}


def winning_rows() -> list[dict[str, Any]]:
    with (SHARED / "data" / "chongqing-stents-2023-winning.csv").open(encoding="utf-8") as f:
        return [{**row, "seq": int(row["seq"])} for row in csv.DictReader(f)]


def wait_for_listings(orders: str, program_id: str, n: int, timeout: float = 60) -> list[Any]:
    deadline = time.monotonic() + timeout
    items: list[Any] = []
    while time.monotonic() < deadline:
        r = httpx.get(f"{orders}/v1/listings", params={"program_id": program_id, "limit": 100},
                      headers=HOSPITAL)
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        if len(items) >= n:
            return items
        time.sleep(0.2)
    return items


def publish(catalog: str, program_id: str) -> None:
    r = httpx.post(f"{catalog}/v1/programs", json=program(program_id), headers=REGULATOR)
    assert r.status_code == 201, r.text
    r = httpx.post(f"{catalog}/v1/programs/{program_id}/winning-products",
                   json={"rows": winning_rows()}, headers=REGULATOR, timeout=30)
    assert r.status_code == 201, r.text
    assert r.json()["imported"] == 14


def test_winning_products_published_in_catalog_appear_in_orders(
        platform: dict[str, str]) -> None:
    """The notice's own text, imported with the command line, reaches orders' read model."""
    r = httpx.post(f"{platform['catalog']}/v1/programs", json=program(CQ),
                   headers=REGULATOR)
    assert r.status_code == 201, r.text
    seed = SHARED / "seeds" / "000_7fa77ec0ebae0095.txt"
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "import", "winning", "--program",
         CQ, "--url", platform["catalog"], str(seed)],
        capture_output=True, text=True, env={**os.environ, "VBP_JWT_SECRET": SECRET},
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"imported": 14' in done.stdout
    items = wait_for_listings(platform["orders"], CQ, 14)
    assert len(items) == 14
    prices = sorted(item["listing_price"] for item in items)
    assert prices[0] == "730.00" and prices[-1] == "848.00"
    medtronic = next(i for i in items if i["registration_no"] == "国械注进20163130682")
    assert medtronic["enterprise_name"] == "美敦力（上海）管理有限公司"
    assert medtronic["listing_price"] == "806.00"
    metrics = httpx.get(f"{platform['orders']}/metrics").text
    assert any(line.startswith("vbp_consumer_events_total{") and 'outcome="processed"' in line
               and 'topic="vbp.catalog.listings.v1"' in line for line in metrics.splitlines())


def test_a_credit_measure_suspends_the_listing_everywhere(
        platform: dict[str, str], kafka: KafkaBroker) -> None:
    """monitoring's measure → catalog suspends the listing → orders sees it suspended."""
    measure = CreditMeasureApplied(
        measure_id=f"M-{CQ}", subject_id=enterprise_id("美敦力（上海）管理有限公司"),
        subject_kind="enterprise", region="重庆市", level="严重",
        measure="suspend_listing_involved", registration_nos=["国械注进20163130682"],
        effective_from=datetime.now(UTC), reason="late delivery", decided_by="BUREAU")
    asyncio.run(publish_events(kafka.bootstrap_servers, measure))
    deadline = time.monotonic() + 60
    status = None
    while time.monotonic() < deadline:
        items = wait_for_listings(platform["orders"], CQ, 14)
        status = next(i["status"] for i in items
                      if i["registration_no"] == "国械注进20163130682")
        if status == "suspended":
            break
        time.sleep(0.3)
    assert status == "suspended"


def test_broker_down_for_10_seconds_nothing_is_lost(
        platform: dict[str, str], kafka: KafkaBroker) -> None:
    kafka.stop()
    try:
        time.sleep(2)
        publish(platform["catalog"], OUTAGE)  # accepted: it only needs the database
        ready = httpx.get(f"{platform['catalog']}/readyz", timeout=10)
        assert ready.status_code == 503
        assert ready.json()["checks"]["kafka"].startswith("unavailable")
        time.sleep(8)
    finally:
        kafka.start()
    items = wait_for_listings(platform["orders"], OUTAGE, 14, timeout=90)
    assert len(items) == 14
    assert httpx.get(f"{platform['catalog']}/readyz").status_code == 200
    # nothing applied twice: the earlier program's listings are still exactly 14
    assert len(wait_for_listings(platform["orders"], CQ, 14)) == 14
