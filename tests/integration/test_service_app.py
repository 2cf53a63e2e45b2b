"""A service app in-process on the real PostgreSQL and Kafka: ops endpoints, auth, problem
details, Idempotency-Key, migrations at start."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.apps import bearer

pytestmark = pytest.mark.integration

PROGRAM = {
    "program_id": "CQ-STENT-2023", "category": "冠脉支架", "region": "重庆",
    "notice_no": "渝医保办〔2023〕3号", "organiser": "national",
    "execution_start": "2023-01-31T00:00:00+08:00", "cycle_years": 3,
    "preset": "chongqing-stents-2023",
}
ROW = {
    "seq": 1, "product_name": "冠脉雷帕霉素洗脱钴基合金支架系统",
    "registration_no": "国械注准20163132305",
    "declaring_enterprise": "上海微创医疗器械(集团)有限公司",
    "registrant": "上海微创医疗器械(集团)有限公司",
    "product_price": "680", "service_price": "50", "winning_price": "730",
}


REGULATOR = bearer("regulator", "BUREAU")


async def post(client: httpx.AsyncClient, path: str, body: Any, key: str | None = None,
               headers: dict[str, str] = REGULATOR) -> httpx.Response:
    extra = {"Idempotency-Key": key} if key else {}
    return await client.post(path, json=body, headers={**headers, **extra})


async def test_ops_endpoints(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json()["status"] == "alive"
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "kafka": "ok"}
    await client.get("/healthz")
    metrics = (await client.get("/metrics")).text
    assert 'vbp_http_requests_total{method="GET",route="/healthz",service="catalog"' in metrics
    assert "vbp_outbox_backlog_events" in metrics
    assert (await client.get("/openapi.json")).json()["info"]["title"].startswith("VBP catalog")


async def test_unauthenticated_401_wrong_role_403(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/programs", json=PROGRAM)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "urn:vbp:problem:unauthorized"
    r = await post(client, "/v1/programs", PROGRAM, headers=bearer("institution", "H0001"))
    assert r.status_code == 403
    assert "institution" in r.json()["detail"]


async def test_bad_input_is_a_problem_naming_the_field_and_changes_nothing(
        client: httpx.AsyncClient) -> None:
    r = await post(client, "/v1/programs", {**PROGRAM, "cycle_years": 0,
                                            "execution_start": "2023-01-31T00:00:00"})
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"body.cycle_years", "body.execution_start"}
    assert (await client.get("/v1/programs/CQ-STENT-2023", headers=REGULATOR)).status_code == 404


async def test_float_money_is_refused(client: httpx.AsyncClient) -> None:
    await post(client, "/v1/programs", PROGRAM)
    r = await post(client, "/v1/programs/CQ-STENT-2023/winning-products",
                   {"rows": [{**ROW, "product_price": 680.0}]})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.rows.0.product_price"


async def test_idempotency_key_replays_same_body_and_refuses_another(
        client: httpx.AsyncClient) -> None:
    first = await post(client, "/v1/programs", PROGRAM, key="k-1")
    assert first.status_code == 201
    again = await post(client, "/v1/programs", PROGRAM, key="k-1")
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = await post(client, "/v1/programs", {**PROGRAM, "region": "四川"}, key="k-1")
    assert other.status_code == 422
    assert other.json()["type"] == "urn:vbp:problem:idempotency-key-reused"
    # without the key, a second publication is a conflict, not a second program
    assert (await post(client, "/v1/programs", PROGRAM)).status_code == 409


async def test_import_is_all_or_nothing_and_reimport_is_a_no_op(
        client: httpx.AsyncClient) -> None:
    await post(client, "/v1/programs", PROGRAM)
    path = "/v1/programs/CQ-STENT-2023/winning-products"
    bad = {**ROW, "seq": 2, "registration_no": "国械注准20203131021", "winning_price": "730.01"}
    r = await post(client, path, {"rows": [ROW, bad]})
    assert r.status_code == 422
    assert r.json()["errors"] == [{"row": 2, "field": "winning_price",
                                   "reason": r.json()["errors"][0]["reason"]}]
    first = await post(client, path, {"rows": [ROW]})
    assert first.json()["imported"] == 1
    again = await post(client, path, {"rows": [ROW]})
    assert (again.json()["imported"], again.json()["unchanged"]) == (0, 1)
    changed = await post(client, path, {"rows": [{**ROW, "product_name": "改名"}]})
    assert changed.status_code == 409
    assert changed.json()["type"] == "urn:vbp:problem:corrections-need-confirmation"


async def test_enterprise_sees_own_listing_and_not_anothers(client: httpx.AsyncClient) -> None:
    await post(client, "/v1/programs", PROGRAM)
    r = await post(client, "/v1/programs/CQ-STENT-2023/winning-products", {"rows": [ROW]})
    listing_id = r.json()["listing_ids"][0]
    listing = (await client.get(f"/v1/listings/{listing_id}", headers=REGULATOR)).json()
    owner = bearer("enterprise", listing["enterprise_id"])
    assert (await client.get(f"/v1/listings/{listing_id}", headers=owner)).status_code == 200
    stranger = bearer("enterprise", "E-someone-else")
    r = await client.get(f"/v1/listings/{listing_id}", headers=stranger)
    assert r.status_code == 404
    hospital = bearer("institution", "H0001")
    assert (await client.get(f"/v1/listings/{listing_id}", headers=hospital)).status_code == 200


async def test_the_embedded_sqlite_default_works_the_same(tmp_path: Any, bootstrap: str) -> None:
    """`make run` uses SQLite files: migrations, money as fen, aware timestamps, the outbox."""
    from services.catalog.app import create_app
    from tests.integration.apps import running

    url = f"sqlite+aiosqlite:///{tmp_path / 'catalog.db'}"
    async with running(create_app, "catalog", url, bootstrap) as client:
        assert (await post(client, "/v1/programs", PROGRAM)).status_code == 201
        r = await post(client, "/v1/programs/CQ-STENT-2023/winning-products", {"rows": [ROW]})
        assert r.status_code == 201, r.text
        listing = (await client.get(f"/v1/listings/{r.json()['listing_ids'][0]}",
                                    headers=REGULATOR)).json()
        assert (listing["listing_price"], listing["product_name"]) == (
            "730.00", ROW["product_name"])
        assert listing["listed_at"].endswith("Z")
        program = (await client.get("/v1/programs/CQ-STENT-2023", headers=REGULATOR)).json()
        assert program["execution_start"] == "2023-01-30T16:00:00Z"


async def test_money_and_time_columns_round_trip_exactly(database_url: str) -> None:
    from datetime import datetime
    from decimal import Decimal

    from sqlalchemy import Column, Integer, MetaData, Table, insert, select

    from services.runtime.db import Fen, UTCDateTime, make_engine

    meta = MetaData()
    t = Table("money_t", meta, Column("id", Integer, primary_key=True), Column("m", Fen()),
              Column("at", UTCDateTime()))
    for url in (database_url, "sqlite+aiosqlite://"):
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(meta.create_all)
            shanghai = datetime.fromisoformat("2023-03-31T08:00:00+08:00")
            await conn.execute(insert(t).values(id=1, m=Decimal("848.01"), at=shanghai))
            row = (await conn.execute(select(t))).one()
            raw = await conn.exec_driver_sql("SELECT m FROM money_t")
            assert raw.scalar() == 84801  # integer fen in the database
            assert row.m == Decimal("848.01")
            assert row.at == shanghai and row.at.utcoffset() is not None
            with pytest.raises(Exception, match="naive"):
                await conn.execute(insert(t).values(id=2, m=Decimal("1"),
                                                    at=datetime(2023, 1, 1)))
        await engine.dispose()
