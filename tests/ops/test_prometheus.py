"""The real Prometheus (Debian's binary, started on 127.0.0.1 by services/devstack/prometheus.py)
against the running platform, every service its own process on the session's PostgreSQL and
Kafka, with traffic through catalog, orders and supply (issue 16):

* every target is up, and ``promtool check metrics`` accepts every service's /metrics;
* every rule of deploy/prometheus/rules evaluates (health ok), every recording rule and every
  dashboard panel's query parses and, when the metrics it reads are exported by a scraped
  target, returns series;
* queries on metrics no target exports are listed in the output, and fail the test unless the
  metric belongs to payments or monitoring (not merged here), is the runtime's consumer
  last-poll time (another change), or counts failures that did not happen;
* the business figures are the traffic's: orders placed, accepted, cancelled and their amounts,
  progress against the agreement, pacing warnings, deliveries, the supply risk left by barring
  the only distributor, the violation list.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer

from contracts.catalog import LISTINGS_TOPIC
from contracts.identity import enterprise_id
from deploy.grafana.dashboards import render_all
from services.devstack import prometheus
from services.devstack.kafka import KafkaBroker
from tests.e2e.conftest import bearer, platform  # noqa: F401  (the platform fixture)
from tests.e2e.world import until
from tests.ops.metric_names import ELSEWHERE, RULES_DIR, metrics_in

pytestmark = pytest.mark.e2e
pytest.importorskip("grafana_foundation_sdk")
if prometheus.find_binaries() is None:  # scripts/test.sh installs it (prometheus-install)
    pytest.skip("prometheus/promtool not installed: python -m services.devstack "
                "prometheus-install", allow_module_level=True)

RUN = uuid.uuid4().hex[:6]
PROGRAM = f"LN-OPS-{RUN}"
REGION = "辽宁省"
CERT = "国械注准20163132305"
MAKER = "上海微创医疗器械(集团)有限公司"
REGULATOR = bearer("regulator", "BUREAU")
HOSPITAL = bearer("institution", f"H-{RUN}")
ENTERPRISE = bearer("enterprise", enterprise_id(MAKER))
DISTRIBUTOR = bearer("distributor", f"D-{RUN}")
FAILURE_COUNTERS = {"vbp_outbox_publish_failures_total", "vbp_telemetry_errors_total"}
"""Counters of failures: no series until a failure happens, which the traffic does not cause."""
OWN = ("vbp_catalog_", "vbp_orders_", "vbp_supply_")


def post(url: str, body: Any, headers: dict[str, str], **kwargs: Any) -> httpx.Response:
    extra = {"Idempotency-Key": uuid.uuid4().hex}
    return httpx.post(url, json=body, headers={**headers, **extra}, timeout=30, **kwargs)


def drive_traffic(urls: dict[str, str], bootstrap: str) -> None:
    """A Liaoning-profile program (pacing on, R-AGR-6), one listing, a distributor assigned for
    the region, an agreement of 12 units; orders of 10 (delivered and accepted: a pacing
    warning, above 2 × the monthly share), 5 (cancelled) and 3 (routed, then its distributor
    is barred: a supply risk); one unreadable event (a dead letter)."""
    catalog, orders, supply = urls["catalog"], urls["orders"], urls["supply"]
    start = (datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(days=100)).replace(
        hour=0, minute=0, second=0, microsecond=0)
    r = post(f"{catalog}/v1/programs", {
        "program_id": PROGRAM, "category": "冠脉导引导丝", "region": REGION,
        "notice_no": "辽医保〔2021〕87号", "organiser": "alliance",
        "execution_start": start.isoformat(), "cycle_years": 2,
        "preset": "liaoning-guide-wires-2021"}, REGULATOR)
    assert r.status_code == 201, r.text
    r = post(f"{catalog}/v1/programs/{PROGRAM}/winning-products", {"rows": [{
        "seq": 1, "product_name": "冠脉导引导丝", "registration_no": CERT,
        "declaring_enterprise": MAKER, "registrant": MAKER, "product_price": "680",
        "service_price": "50", "winning_price": "730"}]}, REGULATOR)
    assert r.status_code == 201, r.text
    listing_id = r.json()["listing_ids"][0]
    r = post(f"{supply}/v1/distributors", {"distributor_id": f"D-{RUN}", "name": "辽配送"},
             REGULATOR)
    assert r.status_code == 201, r.text

    def assigned() -> bool:
        r = post(f"{supply}/v1/assignments", {
            "registration_no": CERT, "distributor_id": f"D-{RUN}", "scope": "region",
            "region": REGION, "valid_from": start.isoformat(), "reason": "regional"}, ENTERPRISE)
        return r.status_code == 201

    until(assigned, what="the assignment")
    until(lambda: httpx.get(f"{orders}/v1/listings", params={"program_id": PROGRAM},
                            headers=HOSPITAL).json()["items"], what="the listing in orders")
    csv = f"institution_id,institution_type,registration_no,units\nH-{RUN},public,{CERT},12\n"
    r = httpx.post(f"{orders}/v1/programs/{PROGRAM}/agreements", params={"agreement_year": 1},
                   content=csv.encode(), timeout=30, headers={
                       **REGULATOR, "Content-Type": "text/csv",
                       "Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 201, r.text

    def place(units: int) -> str:
        r = post(f"{orders}/v1/orders", {"institution_id": f"H-{RUN}", "listing_id": listing_id,
                                          "units": units, "unit_price": "730.00"}, HOSPITAL)
        assert r.status_code == 201, r.text
        return str(r.json()["order_id"])

    def status(order_id: str) -> str:
        return str(httpx.get(f"{orders}/v1/orders/{order_id}", headers=HOSPITAL).json()["status"])

    accepted, cancelled, stranded = place(10), place(5), place(3)
    r = post(f"{orders}/v1/orders/{cancelled}/cancel", {"reason": "ordered twice"}, HOSPITAL)
    assert r.status_code == 200, r.text
    until(lambda: status(accepted) == "routed" and status(stranded) == "routed", what="routing")
    for step in ("shipments", "deliveries"):
        r = post(f"{supply}/v1/deliveries/{accepted}/{step}", {"units": 10}, DISTRIBUTOR)
        assert r.status_code == 201, r.text
    until(lambda: status(accepted) == "delivered", what="the delivery in orders")
    r = post(f"{orders}/v1/orders/{accepted}/acceptance", {"accepted_units": 10}, HOSPITAL)
    assert r.status_code == 200, r.text
    r = post(f"{supply}/v1/violations", {"distributor_id": f"D-{RUN}", "reason": "late",
                                         "years": 1}, REGULATOR)
    assert r.status_code == 201, r.text
    asyncio.run(_send_unreadable(bootstrap))


async def _send_unreadable(bootstrap: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(LISTINGS_TOPIC, b"not an event", key=b"ops-test")
    finally:
        await producer.stop()


@pytest.fixture(scope="module")
def prom(platform: dict[str, str], kafka: KafkaBroker) -> Iterator[str]:  # noqa: F811
    drive_traffic(platform, kafka.bootstrap_servers)
    targets = [prometheus.Target(name, "all", urlparse(url).netloc)
               for name, url in platform.items()]
    root = Path(tempfile.mkdtemp(prefix="vbp-prometheus-"))
    config = prometheus.write_config(root, targets, scrape_interval="1s",
                                     evaluation_interval="1s")
    server = prometheus.PrometheusServer(config, root / "data")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def query(url: str, expr: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10)
    assert r.status_code == 200, f"{expr}: {r.text}"
    body = r.json()
    assert body["status"] == "success", f"{expr}: {body}"
    return list(body["data"]["result"])


def value(url: str, expr: str) -> float:
    result = query(url, expr)
    assert len(result) == 1, f"{expr}: {result}"
    return float(result[0]["value"][1])


def exported(url: str) -> set[str]:
    r = httpx.get(f"{url}/api/v1/label/__name__/values", timeout=10)
    return set(r.json()["data"])


def recording_rules() -> dict[str, str]:
    return {rule["record"]: rule["expr"] for path in RULES_DIR.glob("*.yml")
            for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"] if "record" in rule}


def base_metrics(expr: str, records: dict[str, str]) -> set[str]:
    """The scraped metrics ``expr`` reads, through the recording rules it uses."""
    names: set[str] = set()
    for name in metrics_in(expr):
        names |= base_metrics(records[name], records) if name in records else {name}
    return names


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard, panel, PromQL with the template variables filled in as Grafana would)."""
    found = []
    for text in render_all().values():
        board = json.loads(text)
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                expr = (target["expr"].replace("$__rate_interval", "1m")
                        .replace("$program", ".*").replace("$region", ".*"))
                found.append((board["title"], panel["title"], expr))
    return found


def test_every_target_is_up(prom: str, platform: dict[str, str]) -> None:  # noqa: F811
    def all_up() -> list[dict[str, Any]] | None:
        active = httpx.get(f"{prom}/api/v1/targets").json()["data"]["activeTargets"]
        up = [t for t in active if t["health"] == "up"]
        return active if len(up) == len(platform) == len(active) else None

    active = until(all_up, timeout=30, what="every target up")
    assert {t["labels"]["service"] for t in active} == set(platform)
    assert {t["labels"]["role"] for t in active} == {"all"}


def test_promtool_accepts_every_services_metrics(platform: dict[str, str]) -> None:  # noqa: F811
    _, promtool = prometheus.ensure_installed()
    for name, url in platform.items():
        text = httpx.get(f"{url}/metrics").text
        for family in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                       "vbp_db_pool_checked_out_connections"):
            assert f"\n{family}" in text, f"{name} does not export {family}"
        result = subprocess.run([promtool, "check", "metrics"], input=text,
                                capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"


def test_business_figures_are_the_traffics(prom: str) -> None:
    p = f'program="{PROGRAM}"'
    until(lambda: query(prom, f"vbp_supply_risks_open{{{p}}} > 0")
          and query(prom, f"vbp_orders_accepted_total{{{p}}} > 0")
          and query(prom, f"vbp_orders_pacing_warnings_total{{{p}}} > 0")
          and query(prom, "vbp_dead_letters_total > 0"), timeout=60,
          what="the traffic's business metrics in Prometheus")
    assert not query(prom, "vbp_telemetry_errors_total > 0"), "a business-metric sample failed"
    assert value(prom, f"sum(vbp_orders_placed_total{{{p}}})") == 3
    assert value(prom, f"sum(vbp_orders_placed_amount_fen_total{{{p}}})") == 18 * 73_000
    assert value(prom, f"sum(vbp_orders_accepted_amount_fen_total{{{p}}})") == 730_000
    assert value(prom, f"sum(vbp_orders_cancelled_total{{{p}}})") == 1
    assert value(prom, f"sum(vbp_orders_agreement_units{{{p}}})") == 12
    assert value(prom, f"sum(vbp_orders_agreement_accepted_units{{{p}}})") == 10
    even = value(prom, f"vbp_orders_agreement_even_line_ratio{{{p}}}")
    assert 0.2 < even < 0.35  # 100 days into the agreement year
    assert value(prom, f"sum(vbp_supply_delivery_duration_seconds_count{{{p}}})") == 1
    assert value(prom, f"sum(vbp_supply_risks_open{{{p}}})") == 1
    assert value(prom, f'vbp_supply_distributor_barred{{distributor="D-{RUN}"}}') == 1
    assert value(prom, f'sum(vbp_catalog_listings{{{p},status="listed"}})') == 1
    assert value(prom, 'sum(vbp_supply_contingency_gaps_open{region="辽宁省"})') >= 0


def test_every_rule_evaluates_and_every_query_returns_series(prom: str) -> None:
    until(lambda: query(prom, "vbp_dead_letters_total > 0")
          and query(prom, f'vbp_orders_pacing_warnings_total{{program="{PROGRAM}"}}'),
          timeout=60, what="the traffic in Prometheus")
    time.sleep(5)  # a few more scrapes and rule evaluations: increase() and rate() need two
    records = recording_rules()
    groups = httpx.get(f"{prom}/api/v1/rules").json()["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert {r["name"] for r in rules if r["type"] == "recording"} == set(records)
    bad = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    assert not bad, bad
    alerts = [r["name"] for r in rules if r["type"] == "alerting"]
    assert len(alerts) >= 16, alerts

    names = exported(prom)
    checks = [("recording rule", name, name) for name in records]
    checks += [(board, panel, expr) for board, panel, expr in panel_queries()]
    empty, missing = [], []
    for where, what, expr in checks:
        result = query(prom, expr)  # parses, or the assertion in query() says why not
        absent = sorted(base_metrics(expr, records) - names)
        if absent:
            missing.append((where, what, absent))
        elif not result:
            empty.append((where, what, expr))
    print("\nqueries on metrics no scraped target exports:")
    for where, what, absent in missing:
        print(f"  {where} / {what}: {', '.join(absent)}")
    assert not empty, f"exported metrics, yet no series: {empty}"
    own = [(w, q, a) for w, q, a in missing
           if any(n not in ELSEWHERE | FAILURE_COUNTERS for n in a)]
    assert not own, f"metrics this codebase should export but does not: {own}"
    assert not any(re.match("|".join(OWN), n) for _, _, a in missing for n in a)
