"""Audit and limits (issue #17) on a real service (catalog) in-process, on the real PostgreSQL
and Kafka: every write leaves an audit record a regulator can query; per-organisation rate
limits answer 429 with Retry-After; a slow request is cut off and its work cancelled."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.catalog.app import SPEC
from services.runtime.app import create_app
from services.runtime.clock import FixedClock
from services.runtime.settings import Settings
from tests.integration.apps import bearer, eventually, running

pytestmark = pytest.mark.integration

PROGRAM = {
    "program_id": "CQ-STENT-2023", "category": "冠脉支架", "region": "重庆",
    "notice_no": "渝医保办〔2023〕3号", "organiser": "national",
    "execution_start": "2023-01-31T00:00:00+08:00", "cycle_years": 3,
    "preset": "chongqing-stents-2023",
}
REGULATOR = bearer("regulator", "BUREAU")
HOSPITAL = bearer("institution", "H0001")
NOW = datetime(2024, 3, 5, 2, 30, tzinfo=UTC)


def catalog(clock: FixedClock | None = None) -> Any:
    def make(settings: Settings) -> FastAPI:
        return create_app(SPEC, settings, clock=clock, configure_logging=False)
    return make


async def test_every_write_is_audited_and_only_regulators_read_it(
        database_url: str, bootstrap: str) -> None:
    clock = FixedClock(NOW)
    async with running(catalog(clock), "catalog", database_url, bootstrap) as c:
        created = await c.post("/v1/programs", json=PROGRAM,
                               headers={**REGULATOR, "X-Request-Id": "req-audit-1"})
        assert created.status_code == 201, created.text
        clock.advance(timedelta(hours=1))
        refused = await c.post("/v1/programs", json=PROGRAM,
                               headers={**HOSPITAL, "X-Request-Id": "req-audit-2"})
        assert refused.status_code == 403
        await c.get("/v1/programs", headers=REGULATOR)  # reads are not audited

        async def both_recorded() -> None:
            r = await c.get("/v1/audit", headers=REGULATOR)
            assert r.status_code == 200, r.text
            assert len(r.json()["items"]) == 2
        await eventually(both_recorded, timeout=10)

        items = (await c.get("/v1/audit", headers=REGULATOR)).json()["items"]
        first, second = items
        assert {k: first[k] for k in ("subject", "role", "org", "method", "route", "status",
                                      "object_id", "request_id")} == {
            "subject": "regulator-BUREAU", "role": "regulator", "org": "BUREAU",
            "method": "POST", "route": "/v1/programs", "status": 201,
            "object_id": "CQ-STENT-2023", "request_id": "req-audit-1"}
        assert datetime.fromisoformat(first["at"]) == NOW  # the injectable clock
        assert (second["org"], second["role"], second["status"], second["request_id"]) == (
            "H0001", "institution", 403, "req-audit-2")

        # filters: organisation, subject, time; pages
        by_org = (await c.get("/v1/audit", params={"org": "H0001"}, headers=REGULATOR)).json()
        assert [i["request_id"] for i in by_org["items"]] == ["req-audit-2"]
        by_subject = (await c.get("/v1/audit", params={"subject": "regulator-BUREAU"},
                                  headers=REGULATOR)).json()
        assert [i["request_id"] for i in by_subject["items"]] == ["req-audit-1"]
        later = (await c.get("/v1/audit", headers=REGULATOR, params={
            "since": (NOW + timedelta(minutes=30)).isoformat()})).json()
        assert [i["request_id"] for i in later["items"]] == ["req-audit-2"]
        page = (await c.get("/v1/audit", params={"limit": 1}, headers=REGULATOR)).json()
        assert len(page["items"]) == 1 and page["next_cursor"] is not None
        rest = (await c.get("/v1/audit", params={"cursor": page["next_cursor"]},
                            headers=REGULATOR)).json()
        assert [i["request_id"] for i in rest["items"]] == ["req-audit-2"]
        naive = await c.get("/v1/audit", params={"since": "2024-03-05T00:00:00"},
                            headers=REGULATOR)
        assert naive.status_code == 422
        assert naive.json()["errors"][0]["field"] == "query.since"

        # regulators only
        for who in (HOSPITAL, bearer("operator", "OPS"), bearer("enterprise", "E1")):
            assert (await c.get("/v1/audit", headers=who)).status_code == 403
        assert (await c.get("/v1/audit")).status_code == 401


async def test_writes_are_rate_limited_per_organisation(database_url: str,
                                                        bootstrap: str) -> None:
    async with running(catalog(), "catalog", database_url, bootstrap,
                       rate_limit_writes_per_s=0.5, rate_limit_writes_burst=2) as c:
        statuses = [(await c.post("/v1/programs", json={**PROGRAM, "program_id": f"P-{i}"},
                                  headers=REGULATOR)).status_code for i in range(3)]
        assert statuses == [201, 201, 429]
        limited = await c.post("/v1/programs", json={**PROGRAM, "program_id": "P-9"},
                               headers={**REGULATOR, "X-Request-Id": "req-limited"})
        assert limited.status_code == 429
        assert limited.headers["X-Request-Id"] == "req-limited"  # like every other answer
        assert limited.headers["content-type"] == "application/problem+json"
        assert limited.json()["type"] == "urn:vbp:problem:rate-limited"
        assert 1 <= int(limited.headers["Retry-After"]) <= 2
        # nothing was written by the refused request
        assert (await c.get("/v1/programs/P-9", headers=REGULATOR)).status_code == 404
        # another organisation has its own bucket (a 403 here: it passed the limiter)
        assert (await c.post("/v1/programs", json=PROGRAM,
                             headers=HOSPITAL)).status_code == 403
        # cheap reads are not limited by the writes' bucket
        assert (await c.get("/v1/programs/P-0", headers=REGULATOR)).status_code == 200


async def test_expensive_reads_are_rate_limited_but_single_objects_are_not(
        database_url: str, bootstrap: str) -> None:
    async with running(catalog(), "catalog", database_url, bootstrap,
                       rate_limit_reads_per_s=0.5, rate_limit_reads_burst=1) as c:
        assert (await c.post("/v1/programs", json=PROGRAM, headers=REGULATOR)).status_code \
            == 201
        assert (await c.get("/v1/listings", headers=HOSPITAL)).status_code == 200
        limited = await c.get("/v1/listings", headers=HOSPITAL)
        assert limited.status_code == 429
        assert "Retry-After" in limited.headers
        assert (await c.get("/v1/listings", headers=REGULATOR)).status_code == 200
        for _ in range(3):  # an object by id is not an expensive read
            assert (await c.get("/v1/programs/CQ-STENT-2023",
                                headers=HOSPITAL)).status_code in (200, 404)


async def test_a_slow_request_is_answered_503_and_its_work_cancelled(
        database_url: str, bootstrap: str) -> None:
    async with running(catalog(), "catalog", database_url, bootstrap,
                       request_timeout_s=0.5) as c:
        app: FastAPI = c.app  # type: ignore[attr-defined]
        runtime = app.state.runtime
        outcome: dict[str, Any] = {}

        async def slow() -> dict[str, str]:
            try:
                async with runtime.engine.connect() as conn:
                    await conn.execute(text("SELECT pg_sleep(10)"))
                outcome["finished"] = True
            except asyncio.CancelledError:
                outcome["cancelled"] = True
                raise
            return {}

        app.router.add_api_route("/v1/test-slow", slow, methods=["GET"])
        started = time.perf_counter()
        r = await c.get("/v1/test-slow", headers={**REGULATOR, "X-Request-Id": "req-slow"})
        elapsed = time.perf_counter() - started
        assert r.status_code == 503
        assert r.headers["X-Request-Id"] == "req-slow"
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"] == "urn:vbp:problem:request-timeout"
        assert elapsed < 3
        assert outcome == {"cancelled": True}

        async def no_query_left() -> None:  # the database stopped the statement too
            async with runtime.engine.connect() as conn:
                n = (await conn.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(10)'"
                    " AND state = 'active'"))).scalar_one()
            assert n == 0
        await eventually(no_query_left, timeout=5)


async def test_every_list_route_caps_its_page_size(postgres: Any, bootstrap: str) -> None:
    """``limit=100000`` on every GET route of every service's OpenAPI that takes a ``limit``:
    refused (422) or answered with at most ``max_page_size`` items."""
    import importlib

    checked: list[str] = []
    for name in ("catalog", "orders", "supply", "payments", "monitoring"):
        module = importlib.import_module(f"services.{name}.app")
        url = postgres.create_database(f"sec_pages_{name}_{int(time.time())}")
        async with running(module.create_app, name, url, bootstrap) as c:
            spec = (await c.get("/openapi.json")).json()
            for path, ops in spec["paths"].items():
                op = ops.get("get")
                if op is None or "{" in path:
                    continue
                if not any(p["name"] == "limit" for p in op.get("parameters", [])):
                    continue
                r = await c.get(path, params={"limit": 100000}, headers=REGULATOR)
                checked.append(f"{name} {path}")
                if r.status_code == 422:
                    assert any(e["field"] == "query.limit" for e in r.json()["errors"]), r.text
                    continue
                assert r.status_code == 200, (path, r.text)
                body = r.json()
                items = body["items"] if isinstance(body, dict) else body
                assert len(items) <= Settings().max_page_size, path
    assert "catalog /v1/listings" in checked and "orders /v1/orders" in checked
    assert "catalog /v1/audit" in checked
