"""HTTP errors as real clients meet them (issue #12, items 3, 10, 11 and 12), on the real
PostgreSQL and Kafka: services served by uvicorn on a loopback port where the connection
matters, in-process otherwise.

- A database outage answers 503 problems with ``Retry-After`` on the same keep-alive
  connection, logs one line when it starts and one when it ends, none per request.
- Bad input is a 422 naming the field: prices of 0, blank platforms, agreement years beyond
  any integer column.
- An unforeseen error is one ERROR line with the request id, and a 500 problem carrying it,
  with ``x-request-id`` and ``traceparent``; the connection stays open.
- The OpenAPI documents say which statuses each route answers, as problem+json; 405 says
  ``Allow``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from services.devstack.net import free_loopback_port
from services.devstack.postgres import PostgresCluster
from services.runtime.settings import Settings
from services.runtime.tracing import request_id_var
from tests.integration.apps import SECRET, bearer, running

pytestmark = pytest.mark.integration
REGULATOR = bearer("regulator", "BUREAU")
OBSERVATION = {"registration_no": "国械注准20163132305", "platform": "四川省医保平台",
               "price": "700.00", "observed_on": "2023-03-01", "source_type": "platform"}


# --- a service on a real socket -----------------------------------------------------------------


class Logged(logging.Handler):
    """Every log record, with the request id in force when it was logged."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[logging.LogRecord, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record, request_id_var.get()))

    def of_requests(self) -> list[logging.LogRecord]:
        """Records logged while a request was being answered, and uvicorn's own."""
        return [r for r, rid in self.records if rid is not None or r.name.startswith("uvicorn")]


@asynccontextmanager
async def served(create_app: Callable[[Settings], FastAPI], service: str, database_url: str,
                 bootstrap: str, *, routes: Callable[[FastAPI], None] | None = None,
                 ) -> AsyncIterator[tuple[int, Logged]]:
    """The service under uvicorn on a free loopback port, as in production (uvicorn's own
    error handling included); its port and what it logs."""
    settings = Settings.for_service(service, database_url=database_url,
                                    kafka_bootstrap_servers=bootstrap, jwt_secret=SECRET,
                                    relay_interval_s=0.5)
    app = create_app(settings)
    if routes is not None:
        routes(app)
    port = free_loopback_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                           lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.05)
    logged = Logged()
    logging.getLogger().addHandler(logged)  # after start-up: the app configures logging then
    try:
        yield port, logged
    finally:
        logging.getLogger().removeHandler(logged)
        server.should_exit = True
        await task


class Connection:
    """One HTTP/1.1 keep-alive connection, spoken by hand: a request the server answers by
    closing the connection fails here (httpx would quietly open another)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                      body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
        head = [f"{method} {path} HTTP/1.1", "host: test", f"content-length: {len(body)}",
                *(f"{k}: {v}" for k, v in (headers or {}).items())]
        self._writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await self._writer.drain()
        status_line = await asyncio.wait_for(self._reader.readline(), 30)
        if not status_line:
            raise ConnectionError(f"the server closed the connection instead of answering "
                                  f"{method} {path}")
        status = int(status_line.split()[1])
        answer: dict[str, str] = {}
        while (line := (await self._reader.readline()).decode("latin-1").strip()):
            name, _, value = line.partition(":")
            answer[name.strip().lower()] = value.strip()
        content = await self._reader.readexactly(int(answer.get("content-length", "0")))
        return status, answer, content

    async def close(self) -> None:
        self._writer.close()
        await self._writer.wait_closed()


@pytest.fixture
def own_postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster of this test's own, to stop under a running service."""
    root = Path(tempfile.mkdtemp(prefix="vbp-outage-"))
    os.chmod(root, 0o755)
    cluster = PostgresCluster(root / "pg")
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


# --- item 3: a database outage ------------------------------------------------------------------


async def test_a_database_outage_is_503_with_retry_after_logged_once_connection_kept(
        own_postgres: PostgresCluster, bootstrap: str) -> None:
    from services.catalog.app import create_app

    url = own_postgres.create_database("outage")
    async with served(create_app, "catalog", url, bootstrap) as (port, logged):
        conn = await Connection.open(port)
        status, _, _ = await conn.request("GET", "/v1/programs", REGULATOR)
        assert status == 200

        await asyncio.to_thread(own_postgres.stop)
        for i in range(30):
            status, headers, body = await conn.request(
                "GET", "/v1/programs", {**REGULATOR, "x-request-id": f"outage-{i}"})
            assert status == 503, body
            assert headers["content-type"] == "application/problem+json"
            assert headers["retry-after"] == "5"
            assert headers["x-request-id"] == f"outage-{i}"
            problem = json.loads(body)
            assert problem["type"] == "urn:vbp:problem:service-unavailable"
            assert problem["status"] == 503
        status, _, body = await conn.request("POST", "/v1/price-observations",
                                             {**REGULATOR, "content-type": "application/json"},
                                             json.dumps(OBSERVATION).encode())
        assert status == 503, body

        await asyncio.to_thread(own_postgres.start)
        for _ in range(100):  # the first requests may still meet the old pool's connections
            status, headers, body = await conn.request("GET", "/v1/programs", REGULATOR)
            if status == 200:
                break
            assert status == 503, body
            await asyncio.sleep(0.1)
        assert status == 200, body
        await conn.close()

    records = logged.of_requests()
    assert [r.levelname for r in records if r.levelno >= logging.ERROR] == [], [
        r.getMessage() for r in records]
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert len(warnings) == 2, warnings
    assert "database unavailable" in warnings[0]
    assert "database available again" in warnings[1]
    assert all(r.exc_info is None for r in records)


# --- item 11: an unforeseen error ---------------------------------------------------------------


def failing_route(app: FastAPI) -> None:
    @app.get("/v1/boom")
    async def boom() -> None:
        raise RuntimeError("a bug nobody foresaw")


async def test_an_unforeseen_error_is_one_log_line_with_the_request_id_and_a_500_problem(
        database_url: str, bootstrap: str) -> None:
    from services.catalog.app import create_app

    async with served(create_app, "catalog", database_url, bootstrap,
                      routes=failing_route) as (port, logged):
        conn = await Connection.open(port)
        status, headers, body = await conn.request(
            "GET", "/v1/boom", {"x-request-id": "rid-boom-1",
                                "traceparent": "00-0af7651916cd43dd8448eb211c80319c-"
                                               "b7ad6b7169203331-01"})
        assert status == 500
        assert headers["content-type"] == "application/problem+json"
        assert headers["x-request-id"] == "rid-boom-1"
        assert headers["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")
        problem = json.loads(body)
        assert problem["type"] == "urn:vbp:problem:internal"
        assert problem["request_id"] == "rid-boom-1"
        assert "a bug nobody foresaw" not in body.decode()  # no internals to the client
        status, _, _ = await conn.request("GET", "/healthz")  # the same connection
        assert status == 200
        await conn.close()

    records = logged.of_requests()
    assert [(r.levelname, r.name) for r in records] == [("ERROR", "vbp.app")], [
        (r.name, r.getMessage()) for r in records]
    record, rid = next((r, rid) for r, rid in logged.records if r in records)
    assert rid == "rid-boom-1"
    assert record.exc_info is not None and "a bug nobody foresaw" in str(record.exc_info[1])


# --- item 10: bad input is a 422 naming the field ------------------------------------------------


def fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return [e["field"] for e in response.json()["errors"]]


@pytest.mark.parametrize(("change", "field"), [
    ({"price": "0"}, "body.price"), ({"price": "0.00"}, "body.price"),
    ({"price": "-5.00"}, "body.price"), ({"price": "1000000.01"}, "body.price"),
    ({"platform": "   "}, "body.platform"), ({"platform": ""}, "body.platform"),
])
async def test_a_price_observation_of_zero_or_on_a_blank_platform_is_422_naming_the_field(
        client: httpx.AsyncClient, change: dict[str, str], field: str) -> None:
    """R-CAT-6: a price is positive and seen somewhere (it used to be a 500 from pricing.py)."""
    r = await client.post("/v1/price-observations", json={**OBSERVATION, **change},
                          headers=REGULATOR)
    assert fields(r) == [field]
    observations = await client.get("/v1/price-observations", headers=REGULATOR,
                                    params={"registration_no": OBSERVATION["registration_no"]})
    assert observations.json()["items"] == []  # nothing changed
    ok = await client.post("/v1/price-observations", json=OBSERVATION, headers=REGULATOR)
    assert ok.status_code == 201, ok.text


async def test_an_agreement_year_beyond_any_integer_is_422_naming_the_parameter(
        database_url: str, bootstrap: str) -> None:
    from services.orders.app import create_app

    huge = "18446744073709551615"
    async with running(create_app, "orders", database_url, bootstrap) as orders:
        for path in ("/v1/agreements", "/v1/renewals", "/v1/pacing-warnings"):
            r = await orders.get(path, params={"agreement_year": huge}, headers=REGULATOR)
            assert fields(r) == ["query.agreement_year"], path
            ok = await orders.get(path, params={"agreement_year": "1"}, headers=REGULATOR)
            assert ok.status_code == 200, ok.text
        hospital = {**bearer("institution", "H1"), "Idempotency-Key": "k-huge"}
        r = await orders.post("/v1/orders", headers=hospital, json={
            "institution_id": "H1", "listing_id": "L-X", "units": 1,
            "unit_price": "99999999999999999999.00"})  # beyond BIGINT fen
        assert fields(r) == ["body.unit_price"]


async def test_supply_offsets_and_cursors_beyond_bigint_are_422(
        database_url: str, bootstrap: str) -> None:
    from services.supply.app import create_app

    async with running(create_app, "supply", database_url, bootstrap) as supply:
        for path, name in (("/v1/accounts", "offset"), ("/v1/delivery-stats", "offset"),
                           ("/v1/supply-risks", "cursor"), ("/v1/account-open-items", "cursor")):
            r = await supply.get(path, params={name: str(2**64)}, headers=REGULATOR)
            assert fields(r) == [f"query.{name}"], path


# --- item 12: the OpenAPI documents -------------------------------------------------------------


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


async def test_openapi_documents_every_error_as_a_problem(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert {"type", "title", "status"} <= set(schemas["ProblemDetails"]["required"])
    for method, path, op in operations(doc):
        for status, response in op["responses"].items():
            if int(status) >= 400:
                assert response["content"] == {"application/problem+json": {"schema": {
                    "$ref": "#/components/schemas/ProblemDetails"}}}, (method, path, status)
        if path.startswith("/v1/"):
            assert {"401", "403"} <= set(op["responses"]), (method, path)
    programs = doc["paths"]["/v1/programs"]["post"]["responses"]
    assert set(programs) == {"201", "400", "401", "403", "409", "413", "422", "503"}
    assert programs["503"]["headers"]["Retry-After"]
    listing = doc["paths"]["/v1/listings/{listing_id}"]["get"]["responses"]
    assert set(listing) == {"200", "401", "403", "404", "503"}
    winning = doc["paths"]["/v1/programs/{program_id}/winning-products"]["post"]
    assert {"409", "415", "422"} <= set(winning["responses"])
    body = winning["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["rows"]["items"] == {"$ref": "#/components/schemas/"
                                                          "WinningProductIn"}
    assert "WinningProductIn" in schemas
    assert "Idempotency-Key" in [p["name"] for p in winning["parameters"]]
    price = schemas["PriceObservationIn"]["properties"]["price"]
    assert price["pattern"] and "more than 0.00" in price["description"]


def test_every_service_documents_its_errors_as_problems() -> None:
    """Also the services whose routes the test above does not start."""
    from services.monitoring.app import create_app as monitoring
    from services.orders.app import create_app as orders
    from services.payments.app import create_app as payments
    from services.supply.app import create_app as supply

    for create_app, name in ((orders, "orders"), (supply, "supply"), (payments, "payments"),
                             (monitoring, "monitoring")):
        doc = create_app(Settings.for_service(name)).openapi()
        assert "HTTPValidationError" not in doc["components"]["schemas"], name
        for method, path, op in operations(doc):
            for status, response in op["responses"].items():
                if int(status) >= 400:
                    assert "application/problem+json" in response["content"], (method, path)
        if name == "supply":
            bar = doc["components"]["schemas"]["BarIn"]
            assert [b["required"] for b in bar["oneOf"]] == [["until"], ["years"]]
            violations = doc["paths"]["/v1/violations"]["post"]["responses"]
            assert {"404", "422"} <= set(violations)
        if name == "orders":
            cancel = doc["paths"]["/v1/orders/{order_id}/cancel"]["post"]["responses"]
            assert "409" in cancel


async def test_405_says_every_method_of_the_resource_in_allow(
        client: httpx.AsyncClient) -> None:
    r = await client.delete("/v1/programs", headers=REGULATOR)
    assert r.status_code == 405
    assert r.headers["content-type"] == "application/problem+json"
    assert set(r.headers["allow"].split(", ")) >= {"GET", "POST"}
    r = await client.put("/v1/price-observations", headers=REGULATOR)
    assert r.status_code == 405
    assert set(r.headers["allow"].split(", ")) >= {"GET", "POST"}


async def test_nul_characters_in_parameters_or_bodies_are_422_not_500(
        database_url: str, bootstrap: str) -> None:
    """PostgreSQL takes no NUL in text: in a query parameter the parameter is named; in a
    JSON string, which no contract forbids, the database's refusal is still a 422."""
    from services.orders.app import create_app

    async with running(create_app, "orders", database_url, bootstrap) as orders:
        r = await orders.get("/v1/orders", params={"cursor": "a\x00b", "limit": "5"},
                             headers=REGULATOR)
        assert fields(r) == ["query.cursor"]
        r = await orders.get("/v1/agreements/A%00B", headers=REGULATOR)
        assert fields(r) == ["path"]
        r = await orders.post("/v1/institutions", headers={**REGULATOR, "Idempotency-Key": "k-nul"},
                              json={"institutions": [
            {"institution_id": "H\x001", "region": "重庆市", "institution_type": "public"}]})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"] in ("urn:vbp:problem:invalid-value",
                                    "urn:vbp:problem:validation")
        listed = await orders.get("/v1/institutions", headers=REGULATOR)
        assert listed.json()["items"] == []
