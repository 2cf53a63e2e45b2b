"""Payments on the real PostgreSQL and Kafka: schedules from agreements (R-PAY-2/3) and their
adjustment after a disbursement, disbursements (R-PAY-7), offsets over several months
(R-PAY-4), payables and their Shanghai deadlines (R-PAY-1), partial payments, retried
requests and replayed events, direct settlement (R-PAY-5), the ledger (R-PAY-6) and the
clock-driven overdue checks.

One payments app (one database) serves the module, driven by an injectable clock; each test
works in its own program, region and institutions, and feeds catalog's and orders' events
through the real broker, as those services would.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import openpyxl
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select, text

from contracts.base import CloudEvent, Event
from contracts.catalog import ProgramPublished
from contracts.orders import AgreementRecorded, OrderAccepted
from contracts.payments import OVERDUE_ITEMS_MAX, OverduePayable, PayablesOverdue
from contracts.profiles import PolicyProfile, PrepaymentPolicy
from services.catalog.presets import PRESETS
from services.devstack.postgres import PostgresCluster
from services.payments import overdue, store
from services.payments.app import create_app
from services.payments.domain import postings
from services.payments.domain.ledger import LedgerRefused, Transfer
from services.payments.reconcile import reconcile
from services.runtime.clock import SHANGHAI, FixedClock
from services.runtime.db import make_engine
from services.runtime.db import outbox as outbox_table
from services.runtime.envelope import encode
from services.runtime.kafka import ensure_topics
from services.runtime.tracing import valid_traceparent
from tests.integration.apps import bearer, eventually, running

pytestmark = pytest.mark.integration

D = Decimal
REGULATOR = bearer("regulator", "BUREAU")
CQ_START = datetime(2023, 1, 31, tzinfo=SHANGHAI)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class App:
    client: httpx.AsyncClient
    clock: FixedClock
    bootstrap: str
    url: str


@pytest.fixture(scope="module")
async def app(postgres: PostgresCluster, bootstrap: str) -> AsyncIterator[App]:
    name = f"payments_{uuid.uuid4().hex[:10]}"
    url = postgres.create_database(name)
    clock = FixedClock(datetime(2023, 2, 10, 10, tzinfo=SHANGHAI))
    try:
        async with running(lambda s: create_app(s, clock=clock), "payments", url,
                           bootstrap) as client:
            yield App(client, clock, bootstrap, url)
    finally:
        postgres.drop_database(name)


@pytest.fixture(autouse=True)
def _clock_early_2023(app: App) -> None:
    app.clock.set(datetime(2023, 2, 10, 10, tzinfo=SHANGHAI))


async def send(bootstrap: str, *envelopes: tuple[Event, CloudEvent]) -> None:
    """Put events on their topics as another service's relay would (the same envelope twice
    is a replay)."""
    await ensure_topics(bootstrap, sorted({e.TOPIC for e, _ in envelopes}))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for event, ce in envelopes:
            key, value, headers = encode(ce)
            await producer.send_and_wait(event.TOPIC, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


def env(event: Event) -> tuple[Event, CloudEvent]:
    return event, CloudEvent.of(event, source="/vbp/test", time=datetime.now(UTC))


def direct_profile() -> PolicyProfile:
    cq = PRESETS["chongqing-stents-2023"]
    return cq.model_copy(update={"prepayment": PrepaymentPolicy(mode="direct_settlement"),
                                 "offset": None})


@dataclass
class Program:
    program_id: str
    region: str
    tag: str

    def institution(self, n: int) -> str:
        return f"H{n}-{self.tag}"

    @property
    def agency(self) -> dict[str, str]:
        return bearer("agency", self.region)


async def program(app: App, profile: PolicyProfile | None = None) -> Program:
    tag = uuid.uuid4().hex[:8]
    p = Program(f"CQ-{tag}", f"R-{tag}", tag)
    await send(app.bootstrap, env(ProgramPublished(
        program_id=p.program_id, category="coronary stents", region=p.region,
        notice_no="渝医保办〔2023〕3号", organiser="national",
        execution_start=CQ_START, cycle_years=3,
        profile=profile or PRESETS["chongqing-stents-2023"], published_by="regulator:B/t")))
    return p


def agreement(p: Program, inst: str, units: int, version: int = 1, price: str = "800.00",
              agreement_id: str | None = None) -> AgreementRecorded:
    return AgreementRecorded(
        agreement_id=agreement_id or f"A-{p.tag}-{inst}", program_id=p.program_id,
        agreement_year=1, year_start=CQ_START, year_end=datetime(2024, 1, 31, tzinfo=SHANGHAI),
        institution_id=inst, institution_type="public", enterprise_id="E1",
        registration_no="REG5", listing_id=f"L-{p.tag}", units=units, winning_price=D(price),
        amount=D(price) * units, recorded_by="regulator:B/t", recorded_at=datetime.now(UTC),
        reason="import", version=version)


def accepted(p: Program, inst: str, order_id: str, amount: str, at: datetime,
             enterprise: str = "E1") -> OrderAccepted:
    return OrderAccepted(
        order_id=order_id, program_id=p.program_id, institution_id=inst,
        enterprise_id=enterprise, listing_id=f"L-{p.tag}", registration_no="REG5",
        accepted_units=1, unit_price=D(amount), amount=D(amount), accepted_by="institution:x/y",
        accepted_at=at)


async def installments(app: App, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    r = await app.client.get("/v1/installments", headers=headers, params=params)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def scheduled(app: App, p: Program, inst: str, total: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    async def check() -> None:
        items = await installments(app, bearer("institution", inst))
        assert sum(D(i["amount"]) for i in items) == D(total), items
        found[:] = items

    await eventually(check)
    return found


async def outbox(app: App, ce_type: str, key: str) -> list[dict[str, Any]]:
    engine = make_engine(app.url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT payload FROM outbox WHERE ce_type = :t AND key = :k ORDER BY id"),
                {"t": ce_type, "k": key})).scalars().all()
    finally:
        await engine.dispose()
    return [json.loads(r) for r in rows]


async def overdue_items(app: App, program_id: str, payable_id: str) -> list[dict[str, Any]]:
    """R-PAY-1: the payable's items in its program's ``PayablesOverdue`` events (key: the
    program) in the outbox."""
    return [item for e in await outbox(app, PayablesOverdue.TYPE, program_id)
            for item in e["items"] if item["payable_id"] == payable_id]


async def disburse(app: App, p: Program, sid: str, seq: int, amount: str,
                   key: str | None = None) -> httpx.Response:
    headers = {**p.agency, "Idempotency-Key": key or uuid.uuid4().hex}
    return await app.client.post(f"/v1/schedules/{sid}/installments/{seq}/disbursements",
                                 json={"amount": amount}, headers=headers)


async def balance(app: App, inst: str) -> dict[str, Any]:
    r = await app.client.get("/v1/prepayments/balances", headers=bearer("institution", inst))
    assert r.status_code == 200, r.text
    (row,) = r.json()["items"]
    assert r.json()["next_cursor"] is None
    return dict(row)


# --- R-PAY-2/3: schedules -----------------------------------------------------------------------


async def test_schedule_from_the_agreement_examples(app: App) -> None:
    """R-PAY-2 EXAMPLES: 800.00 × 30 = 24,000.00 → 12,000.00 by the end of February 2023,
    12,000.00 by 2023-07-31T00:00+08:00; published as PrepaymentScheduled."""
    p = await program(app)
    h = p.institution(1)
    await send(app.bootstrap, env(agreement(p, h, 30)))
    items = await scheduled(app, p, h, "24000.00")
    assert [(i["seq"], i["amount"], datetime.fromisoformat(i["due_at"])) for i in items] == [
        (1, "12000.00", datetime(2023, 3, 1, tzinfo=SHANGHAI)),
        (2, "12000.00", datetime(2023, 7, 31, tzinfo=SHANGHAI))]
    (event,) = await outbox(app, "vbp.payments.prepayment.scheduled.v1", h)
    assert event["amount"] == "24000.00" and event["agency_id"] == p.region
    # another institution's schedule is not there for this one; the agency sees its region's
    assert await installments(app, bearer("institution", "someone-else")) == []
    assert len(await installments(app, p.agency)) == 2
    assert await installments(app, bearer("agency", "another-region")) == []


async def test_balances_are_pages_by_institution_program_and_year(app: App) -> None:
    """The prepayment balances grow with the institutions: a page of ``limit`` at a time,
    ``next_cursor`` leading to the next, none after the last; a cursor not of this list is
    a 422 naming it; the CSV export is the whole list."""
    p = await program(app)
    institutions = [p.institution(n) for n in (1, 2, 3)]
    for inst in institutions:
        await send(app.bootstrap, env(agreement(p, inst, 30)))
    for inst in institutions:
        await scheduled(app, p, inst, "24000.00")
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(4):
        params = {"region": p.region, "limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await app.client.get("/v1/prepayments/balances", headers=p.agency, params=params)
        assert r.status_code == 200, r.text
        seen += [row["institution_id"] for row in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(institutions)
    bad = await app.client.get("/v1/prepayments/balances", headers=p.agency,
                               params={"cursor": "no-such-schedule"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.cursor"
    export = await app.client.get("/v1/prepayments/balances", headers=p.agency,
                                  params={"region": p.region, "format": "csv", "limit": 1})
    assert export.status_code == 200 and len(export.text.strip().splitlines()) == 1 + 3


async def test_agreement_change_after_a_disbursement_adjusts_with_history(app: App) -> None:
    """An agreement that changes after a disbursement: the schedule follows with an
    adjustment transfer and a new version; what was disbursed stays disbursed (R-PAY-6)."""
    p = await program(app)
    h = p.institution(1)
    await send(app.bootstrap, env(agreement(p, h, 30)))
    (first, _) = await scheduled(app, p, h, "24000.00")
    sid = first["schedule_id"]
    r = await disburse(app, p, sid, 1, "12000.00")
    assert r.status_code == 201, r.text
    assert r.json()["disbursed"] == "12000.00" and r.json()["outstanding"] == "0.00"
    await send(app.bootstrap, env(agreement(p, h, 20, version=2)))  # 16,000.00
    items = await scheduled(app, p, h, "16000.00")
    assert [(i["amount"], i["disbursed"]) for i in items] == [("8000.00", "12000.00"),
                                                              ("8000.00", "0.00")]
    b = await balance(app, h)
    assert (b["scheduled"], b["disbursed"], b["balance"]) == ("16000.00", "12000.00",
                                                              "12000.00")
    events = await outbox(app, "vbp.payments.prepayment.scheduled.v1", h)
    assert [(e["version"], e["amount"], e["adjustment"]) for e in events] == [
        (1, "24000.00", "24000.00"), (2, "16000.00", "-8000.00")]
    engine = make_engine(app.url)
    try:
        async with engine.connect() as conn:
            sched = await store.balance(conn, postings.schedule_account(p.program_id, 1, h))
            history = (await conn.execute(select(store.schedule_history.c.version).where(
                store.schedule_history.c.schedule_id == sid))).scalars().all()
    finally:
        await engine.dispose()
    # scheduled 24,000, cut by 8,000 (a correcting transfer), 12,000 disbursed: 4,000 to go
    assert sched == (800_000 + 1_200_000, 2_400_000)
    assert history == [1, 2]
    # an older version replayed changes nothing
    await send(app.bootstrap, env(agreement(p, h, 30, version=1)))
    await send(app.bootstrap, env(agreement(p, h, 25, version=3)))  # 20,000.00
    await scheduled(app, p, h, "20000.00")


async def test_disbursement_retried_with_the_same_key_posts_once_and_overdisbursing_is_refused(
        app: App) -> None:
    p = await program(app)
    h = p.institution(1)
    await send(app.bootstrap, env(agreement(p, h, 30)))
    (first, _) = await scheduled(app, p, h, "24000.00")
    sid = first["schedule_id"]
    a = await disburse(app, p, sid, 1, "5000.00", key="disb-1")
    b = await disburse(app, p, sid, 1, "5000.00", key="disb-1")
    assert a.status_code == b.status_code == 201
    assert b.headers.get("Idempotent-Replayed") == "true" and a.json() == b.json()
    assert (await balance(app, h))["disbursed"] == "5000.00"
    assert (await disburse(app, p, sid, 1, "6000.00", key="disb-1")).status_code == 422
    refused = await disburse(app, p, sid, 1, "7000.01")
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["field"] == "amount" and refused.json()["outstanding"] == "7000.00"
    assert (await balance(app, h))["disbursed"] == "5000.00"
    # not the agency of this region: not found
    other = await app.client.post(
        f"/v1/schedules/{sid}/installments/1/disbursements", json={"amount": "1.00"},
        headers={**bearer("agency", "elsewhere"), "Idempotency-Key": "x"})
    assert other.status_code == 404
    forbidden = await app.client.post(
        f"/v1/schedules/{sid}/installments/1/disbursements", json={"amount": "1.00"},
        headers={**bearer("institution", h), "Idempotency-Key": "y"})
    assert forbidden.status_code == 403


# --- R-PAY-4: offsets ---------------------------------------------------------------------------


async def insert_open_payables(engine: Any, rows: list[dict[str, Any]]) -> None:
    """Payables written straight into the tables, each with its deadline queued."""
    async with engine.begin() as conn:
        await conn.execute(store.payables.insert(), rows)
        await conn.execute(store.payable_deadlines.insert(), [
            {"payable_id": r["payable_id"], "due_at": r["due_at"]} for r in rows])


async def assert_reconciles(app: App) -> None:
    """R-PAY-6: every balance recomputed from the transfers equals the stored one."""
    engine = make_engine(app.url)
    try:
        assert (await reconcile(engine)).ok
    finally:
        await engine.dispose()


async def fund_payments(app: App, p: Program, rows: list[tuple[str, str, str]],
                        key: str | None = None) -> httpx.Response:
    return await app.client.post(
        "/v1/fund-payments",
        json={"payments": [{"institution_id": i, "month": m, "amount": a} for i, m, a in rows]},
        headers={**p.agency, "Idempotency-Key": key or uuid.uuid4().hex})


async def test_offset_over_several_months_examples(app: App) -> None:
    """R-PAY-4 EXAMPLES: 24,000.00 outstanding when the agreement year ends (2024-01-31);
    10,000.00 a month from February 2024 → offsets 10,000, 10,000, 4,000; paid 0, 0, 6,000;
    balance 0, never below zero. January 2024 is still in the year: nothing is offset."""
    p = await program(app)
    h = p.institution(1)
    await send(app.bootstrap, env(agreement(p, h, 30)))
    (first, _) = await scheduled(app, p, h, "24000.00")
    sid = first["schedule_id"]
    assert (await disburse(app, p, sid, 1, "12000.00")).status_code == 201
    assert (await disburse(app, p, sid, 2, "12000.00")).status_code == 201
    jan = await fund_payments(app, p, [(h, "2024-01-15", "10000.00")])
    assert jan.status_code == 201, jan.text
    assert jan.json()["results"][0]["offset"] == "0.00"
    assert jan.json()["results"][0]["net_payable"] == "10000.00"
    seen = []
    for month in ("2024-02-01", "2024-03-01", "2024-04-01"):
        r = await fund_payments(app, p, [(h, month, "10000.00")])
        assert r.status_code == 201, r.text
        (res,) = r.json()["results"]
        seen.append((res["offset"], res["net_payable"]))
    assert seen == [("10000.00", "0.00"), ("10000.00", "0.00"), ("4000.00", "6000.00")]
    assert (await balance(app, h))["balance"] == "0.00"
    may = await fund_payments(app, p, [(h, "2024-05-01", "10000.00")])
    assert may.json()["results"][0]["net_payable"] == "10000.00"
    # re-submission: a no-op; with another amount: refused, naming the row, nothing changed
    again = await fund_payments(app, p, [(h, "2024-02-01", "10000.00")])
    assert again.status_code == 201 and again.json()["replayed"] == 1
    assert again.json()["results"][0]["replayed"] is True
    changed = await fund_payments(app, p, [(h, "2024-06-01", "1.00"),
                                           (h, "2024-03-01", "9999.00")])
    assert changed.status_code == 409 and changed.json()["row"] == 2
    assert (await fund_payments(app, p, [(h, "2024-06-01", "2.00")])).status_code == 201
    offsets = await outbox(app, "vbp.payments.prepayment.offset.v1", h)
    assert [(e["month"], e["amount"], e["outstanding_after"]) for e in offsets] == [
        ("2024-02-01", "10000.00", "14000.00"), ("2024-03-01", "10000.00", "4000.00"),
        ("2024-04-01", "4000.00", "0.00")]
    nets = await outbox(app, "vbp.payments.net-payable.published.v1", h)
    assert [e["net_payable"] for e in nets] == ["10000.00", "0.00", "0.00", "6000.00",
                                                "10000.00", "2.00"]


async def test_several_months_in_one_request_and_every_bad_row_named(app: App) -> None:
    """R-PAY-4 set-wise: the EXAMPLES' three months of one institution in one request (a later
    row sees what an earlier one offset), another institution beside them, and the same month
    twice (the second a replay of the first). A request with two bad rows names both in
    ``errors`` (the first in ``row``) and records nothing; the ledger still reconciles."""
    p = await program(app)
    h, other = p.institution(1), p.institution(2)
    await send(app.bootstrap, env(agreement(p, h, 30)))
    (first, _) = await scheduled(app, p, h, "24000.00")
    sid = first["schedule_id"]
    assert (await disburse(app, p, sid, 1, "12000.00")).status_code == 201
    assert (await disburse(app, p, sid, 2, "12000.00")).status_code == 201
    feb = await fund_payments(app, p, [(h, "2024-02-01", "10000.00"),
                                       (other, "2024-02-01", "7.00")])
    assert feb.status_code == 201, feb.text
    refused = await fund_payments(app, p, [(h, "2024-03-01", "10000.00"),
                                           (h, "2024-02-01", "9.00"),
                                           (other, "2024-02-01", "8.00")])
    assert refused.status_code == 409, refused.text
    assert refused.json()["row"] == 2
    assert [(e["row"], e["field"]) for e in refused.json()["errors"]] == [
        (2, "amount"), (3, "amount")]
    r = await fund_payments(app, p, [(h, "2024-03-01", "10000.00"),
                                     (other, "2024-03-01", "5.00"),
                                     (h, "2024-04-01", "10000.00"),
                                     (h, "2024-03-01", "10000.00")])
    assert r.status_code == 201, r.text
    got = [(x["institution_id"], x["offset"], x["net_payable"], x["replayed"])
           for x in r.json()["results"]]
    assert got == [(h, "10000.00", "0.00", False),
                   (other, "0.00", "5.00", False), (h, "4000.00", "6000.00", False),
                   (h, "10000.00", "0.00", True)]
    assert (r.json()["submitted"], r.json()["replayed"]) == (3, 1)
    assert (await balance(app, h))["balance"] == "0.00"
    offsets = await outbox(app, "vbp.payments.prepayment.offset.v1", h)
    assert [(e["month"], e["amount"], e["outstanding_after"]) for e in offsets] == [
        ("2024-02-01", "10000.00", "14000.00"), ("2024-03-01", "10000.00", "4000.00"),
        ("2024-04-01", "4000.00", "0.00")]
    await assert_reconciles(app)


async def test_the_same_months_sent_at_once_are_recorded_once(app: App) -> None:
    """R-PAY-4: the same months in several requests at once (different Idempotency-Keys, as
    an agency's retry after a lost answer sends them) are recorded by one and replayed by
    the others, none of them a server error (they once met on the transfers' ids: 500)."""
    p = await program(app)
    rows = [(p.institution(n), "2024-02-01", f"{n}.00") for n in range(1, 21)]
    answers = await asyncio.gather(*(fund_payments(app, p, rows) for _ in range(4)))
    assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
    assert sorted(a.json()["submitted"] for a in answers) == [0, 0, 0, 20]
    await assert_reconciles(app)


async def test_fund_payment_files_all_or_nothing(app: App) -> None:
    """A CSV with bad rows is refused naming every one, and nothing is imported; an XLSX
    with good rows is imported."""
    p = await program(app)
    h1, h2 = p.institution(1), p.institution(2)
    bad = "institution_id,month,amount\n" + f"{h1},2024-02,100.00\n" + f"{h2},2024-13,5\n" \
          + ",2024-02,1.00\n" + f"{h1},2024-02-01,3.001\n" + f"{h1},2024-02,100.00\n"
    r = await app.client.post("/v1/fund-payments/import", content=bad.encode(),
                              headers={**p.agency, "Content-Type": "text/csv",
                                       "Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 422, r.text
    assert sorted({e["row"] for e in r.json()["errors"]}) == [3, 4, 5, 6]
    listed = await app.client.get("/v1/payables", headers=REGULATOR)
    assert listed.status_code == 200
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["医疗机构编码", "月份", "金额"])
    sheet.append([h1, "2024-02", "100.00"])
    sheet.append([h2, "2024-02", "250.50"])
    data = io.BytesIO()
    book.save(data)
    ok = await app.client.post("/v1/fund-payments/import", content=data.getvalue(),
                               headers={**p.agency, "Content-Type": XLSX_TYPE,
                                        "Idempotency-Key": uuid.uuid4().hex})
    assert ok.status_code == 201, ok.text
    assert ok.json()["submitted"] == 2
    assert [x["net_payable"] for x in ok.json()["results"]] == ["100.00", "250.50"]
    # nothing of the refused file was imported: February of h1 is 100.00, submitted once
    assert ok.json()["replayed"] == 0


# --- R-PAY-1: payables --------------------------------------------------------------------------


async def payables(app: App, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    r = await app.client.get("/v1/payables", headers=headers, params=params)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def test_ageing_is_a_page_of_institutions(app: App) -> None:
    """What is owed grows with the institutions: ``limit`` institutions a page, in order,
    ``next_cursor`` leading on; the export (CSV) is every institution."""
    p = await program(app)
    institutions = sorted(p.institution(n) for n in (1, 2, 3))
    await send(app.bootstrap, *(env(accepted(p, h, f"O-{p.tag}-{h}", "10.00",
                                            datetime(2024, 1, 10, tzinfo=SHANGHAI)))
                                for h in institutions))

    async def opened() -> None:
        assert len(await payables(app, REGULATOR, program_id=p.program_id)) == 3

    await eventually(opened)
    seen, cursor = [], None
    for _ in range(3):
        r = await app.client.get("/v1/payables/ageing", headers=REGULATOR, params={
            "program_id": p.program_id, "limit": 2, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        seen.append([row["institution_id"] for row in r.json()["items"]])
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [institutions[:2], institutions[2:]]
    export = await app.client.get("/v1/payables/ageing", headers=REGULATOR,
                                  params={"program_id": p.program_id, "format": "csv"})
    assert len(export.content.decode("utf-8-sig").strip().splitlines()) == 1 + 3


async def test_payables_due_by_the_end_of_the_next_shanghai_month(app: App) -> None:
    """R-PAY-1: accepted at 23:30 Shanghai on 2024-01-31 → due 2024-03-01 00:00; accepted at
    16:30Z on 2024-01-31 (already 1 February in Shanghai) → due 2024-04-01 00:00; a leap
    February acceptance → due 2024-04-01; a replayed event opens nothing twice."""
    p = await program(app)
    h = p.institution(1)
    replayed = env(accepted(p, h, f"O1-{p.tag}", "848.00",
                            datetime(2024, 1, 31, 23, 30, tzinfo=SHANGHAI)))
    await send(app.bootstrap, replayed,
               env(accepted(p, h, f"O2-{p.tag}", "100.00",
                            datetime(2024, 1, 31, 16, 30, tzinfo=UTC))),
               env(accepted(p, h, f"O3-{p.tag}", "1.00",
                            datetime(2024, 2, 29, 12, tzinfo=SHANGHAI))),
               replayed)
    found: list[dict[str, Any]] = []

    async def check() -> None:
        found[:] = await payables(app, bearer("institution", h))
        assert len(found) == 3

    await eventually(check)
    due = {x["payable_id"]: datetime.fromisoformat(x["due_at"]) for x in found}
    assert due == {f"O1-{p.tag}": datetime(2024, 3, 1, tzinfo=SHANGHAI),
                   f"O2-{p.tag}": datetime(2024, 4, 1, tzinfo=SHANGHAI),
                   f"O3-{p.tag}": datetime(2024, 4, 1, tzinfo=SHANGHAI)}
    # the same order accepted again under another event id opens nothing either
    await send(app.bootstrap, env(accepted(p, h, f"O1-{p.tag}", "848.00",
                                           datetime(2024, 1, 31, 23, 30, tzinfo=SHANGHAI))))
    await send(app.bootstrap, env(accepted(p, h, f"O4-{p.tag}", "2.00",
                                           datetime(2024, 3, 1, tzinfo=SHANGHAI))))
    await eventually(lambda: _count(app, h, 4))
    opened = await outbox(app, "vbp.payments.payable.opened.v1", f"O1-{p.tag}")
    assert len(opened) == 1 and opened[0]["payer"] == "institution"
    # the enterprise sees what it is owed; another enterprise nothing; the ledger agrees
    assert len(await payables(app, bearer("enterprise", "E1"), program_id=p.program_id)) == 4
    assert await payables(app, bearer("enterprise", "E9"), program_id=p.program_id) == []
    engine = make_engine(app.url)
    try:
        async with engine.connect() as conn:
            assert await store.balance(conn, f"payable:{h}:E1") == (0, 84_800 + 10_000 + 100
                                                                    + 200)
    finally:
        await engine.dispose()


async def _count(app: App, inst: str, n: int) -> None:
    assert len(await payables(app, bearer("institution", inst))) == n


async def test_partial_payments_retries_and_overdue_by_the_clock(app: App) -> None:
    """Partial payments with an Idempotency-Key (a retry pays once), no overpayment, another
    institution's payable is not found; at the deadline the clock flags it overdue by itself,
    once, and the enterprise's ageing shows it."""
    p = await program(app)
    h = p.institution(1)
    await send(app.bootstrap, env(accepted(p, h, f"P1-{p.tag}", "1000.00",
                                           datetime(2023, 3, 15, 10, tzinfo=SHANGHAI))))
    await eventually(lambda: _count(app, h, 1))
    pid = f"P1-{p.tag}"
    pay = {**bearer("institution", h), "Idempotency-Key": "pay-1"}
    first = await app.client.post(f"/v1/payables/{pid}/payments", json={"amount": "400.00"},
                                  headers=pay)
    retry = await app.client.post(f"/v1/payables/{pid}/payments", json={"amount": "400.00"},
                                  headers=pay)
    assert first.status_code == retry.status_code == 201, first.text
    assert retry.json()["outstanding"] == "600.00" and retry.json()["paid"] == "400.00"
    over = await app.client.post(f"/v1/payables/{pid}/payments", json={"amount": "600.01"},
                                 headers={**bearer("institution", h), "Idempotency-Key": "2"})
    assert over.status_code == 409 and over.json()["outstanding"] == "600.00"
    stranger = await app.client.post(
        f"/v1/payables/{pid}/payments", json={"amount": "1.00"},
        headers={**bearer("institution", "H-other"), "Idempotency-Key": "3"})
    assert stranger.status_code == 404
    keyless = await app.client.post(f"/v1/payables/{pid}/payments", json={"amount": "1.00"},
                                    headers=bearer("institution", h))
    assert keyless.status_code == 400, keyless.text  # money moves only with a key (issue #12.13)
    assert keyless.json()["type"] == "urn:vbp:problem:idempotency-key-required"
    assert (await app.client.get(f"/v1/payables/{pid}",
                                 headers=bearer("enterprise", "E9"))).status_code == 404
    paid = await outbox(app, "vbp.payments.payable.paid.v1", pid)
    assert [(e["amount"], e["outstanding"], e["on_time"]) for e in paid] == [
        ("400.00", "600.00", True)]
    # 2023-05-01 00:00 Shanghai is the bound: one second before, not overdue
    app.clock.set(datetime(2023, 4, 30, 23, 59, 59, tzinfo=SHANGHAI))
    runtime = app.client.app.state.runtime  # type: ignore[attr-defined]
    await runtime.scheduler.tick()
    assert await overdue_items(app, p.program_id, pid) == []
    app.clock.set(datetime(2023, 6, 15, 10, tzinfo=SHANGHAI))  # day 46

    async def flagged() -> None:
        items = await overdue_items(app, p.program_id, pid)
        assert [(i["outstanding"]) for i in items] == ["600.00"]

    await eventually(flagged)
    for _ in range(2):  # later runs of the job find it flagged already: published once
        app.clock.advance(timedelta(hours=12))
        assert (await runtime.scheduler.tick()).get("payables-overdue", 0) == 0
    assert len(await overdue_items(app, p.program_id, pid)) == 1
    app.clock.set(datetime(2023, 6, 15, 10, tzinfo=SHANGHAI))
    (item,) = await payables(app, bearer("enterprise", "E1"), program_id=p.program_id,
                             overdue="true")
    assert (item["days_overdue"], item["age_bucket"]) == (46, "31-60")
    ageing = await app.client.get("/v1/payables/ageing", headers=bearer("enterprise", "E1"),
                                  params={"program_id": p.program_id})
    assert ageing.json() == {"items": [
        {"institution_id": h, "not_due": "0.00", "days_0_30": "0.00", "days_31_60": "600.00",
         "days_61_90": "0.00", "days_over_90": "0.00", "total": "600.00"}],
        "next_cursor": None}
    late = await app.client.post(f"/v1/payables/{pid}/payments", json={"amount": "600.00"},
                                 headers={**bearer("institution", h), "Idempotency-Key": "4"})
    assert late.json()["status"] == "paid"
    paid = await outbox(app, "vbp.payments.payable.paid.v1", pid)
    assert paid[-1]["on_time"] is False
    # exports
    c = await app.client.get("/v1/payables", headers=bearer("institution", h),
                             params={"format": "csv"})
    assert c.status_code == 200 and c.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(c.content.decode("utf-8-sig"))))
    assert [(r["payable_id"], r["paid"]) for r in rows] == [(pid, "1000.00")]
    x = await app.client.get("/v1/payables/ageing", headers=REGULATOR,
                             params={"format": "xlsx", "program_id": p.program_id})
    assert x.status_code == 200
    assert openpyxl.load_workbook(io.BytesIO(x.content)).active is not None


async def test_a_payable_paid_in_full_before_its_deadline_is_never_overdue(app: App) -> None:
    """R-PAY-1: paying a payable in full takes its deadline out of ``payable_deadlines``, so
    the clock never flags it; a payable left open beside it is flagged, once."""
    p = await program(app)
    h = p.institution(1)
    at = datetime(2023, 3, 15, 10, tzinfo=SHANGHAI)
    for pid in (f"PF-{p.tag}", f"PO-{p.tag}"):
        await send(app.bootstrap, env(accepted(p, h, pid, "500.00", at)))
    await eventually(lambda: _count(app, h, 2))
    paid = await app.client.post(
        f"/v1/payables/PF-{p.tag}/payments", json={"amount": "500.00"},
        headers={**bearer("institution", h), "Idempotency-Key": f"full-{p.tag}"})
    assert paid.status_code == 201 and paid.json()["status"] == "paid", paid.text
    engine = make_engine(app.url)
    try:
        async with engine.connect() as conn:
            queued = set((await conn.execute(select(store.payable_deadlines.c.payable_id).where(
                store.payable_deadlines.c.payable_id.like(f"P_-{p.tag}")))).scalars())
    finally:
        await engine.dispose()
    assert queued == {f"PO-{p.tag}"}
    app.clock.set(datetime(2023, 6, 15, 10, tzinfo=SHANGHAI))
    runtime = app.client.app.state.runtime  # type: ignore[attr-defined]
    await runtime.scheduler.tick()
    assert await overdue_items(app, p.program_id, f"PF-{p.tag}") == []
    assert [i["outstanding"] for i in await overdue_items(
        app, p.program_id, f"PO-{p.tag}")] == ["500.00"]


async def test_installment_overdue_for_the_agency_by_the_clock(app: App) -> None:
    """R-PAY-7: an installment not fully disbursed by its due date is overdue for the agency,
    found by the clock; published once."""
    p = await program(app)
    h = p.institution(1)
    await send(app.bootstrap, env(agreement(p, h, 30)))
    (first, _) = await scheduled(app, p, h, "24000.00")
    assert (await disburse(app, p, first["schedule_id"], 1, "11999.99")).status_code == 201
    app.clock.set(datetime(2023, 3, 1, tzinfo=SHANGHAI))

    async def check() -> None:
        events = await outbox(app, "vbp.payments.installment.overdue.v1", h)
        assert [(e["seq"], e["outstanding"]) for e in events] == [(1, "0.01")]

    await eventually(check)
    items = await installments(app, p.agency, overdue="true")
    assert [(i["seq"], i["outstanding"]) for i in items] == [(1, "0.01")]


# --- R-PAY-5: direct settlement ------------------------------------------------------------------


async def test_direct_settlement_the_fund_pays_and_deducts_from_the_fund_payment(
        app: App) -> None:
    """R-PAY-5: no prepayment schedule; the fund owes the enterprise for accepted goods and
    deducts it from the institution's next fund payment."""
    p = await program(app, direct_profile())
    h = p.institution(1)
    await send(app.bootstrap, env(agreement(p, h, 30)),
               env(accepted(p, h, f"D1-{p.tag}", "300.00",
                            datetime(2023, 3, 15, tzinfo=SHANGHAI))))
    found: list[dict[str, Any]] = []

    async def check() -> None:
        found[:] = await payables(app, p.agency)
        assert len(found) == 1

    await eventually(check)
    assert (found[0]["payer"], found[0]["payer_id"]) == ("fund", p.region)
    assert await installments(app, bearer("institution", h)) == []
    assert await payables(app, bearer("institution", h)) == []  # the institution owes nothing
    r = await app.client.post(f"/v1/payables/D1-{p.tag}/payments", json={"amount": "300.00"},
                              headers={**p.agency, "Idempotency-Key": "fund-pays"})
    assert r.status_code == 201 and r.json()["status"] == "paid", r.text
    fp = await fund_payments(app, p, [(h, "2023-04-01", "1000.00")])
    (res,) = fp.json()["results"]
    assert (res["direct_settlement"], res["net_payable"]) == ("300.00", "700.00")


# --- R-PAY-6: the ledger ------------------------------------------------------------------------


async def test_ledger_refuses_in_the_transaction_and_reconciles(app: App) -> None:
    """A transfer that would drive a prepayment balance below zero is refused with the account
    and the amounts, and nothing of its batch is posted; reconcile finds every balance equal
    to its transfers, and finds a tampered one."""
    engine = make_engine(app.url)
    tag = uuid.uuid4().hex[:8]
    prepay = f"prepay:X-{tag}:1:H"
    try:
        async with engine.begin() as conn:
            await store.post(conn, [Transfer(f"t1-{tag}", prepay, "fund:R", 500, "prepaid")],
                             datetime.now(UTC))
        with pytest.raises(LedgerRefused) as refused:
            async with engine.begin() as conn:
                await store.post(conn, [
                    Transfer(f"t2-{tag}", "claims:R", f"fundpay:H{tag}", 1000,
                             "fund-payment"),
                    Transfer(f"t3-{tag}", f"fundpay:H{tag}", prepay, 501, "offset")],
                    datetime.now(UTC))
        assert (refused.value.account, refused.value.debits, refused.value.credits) == (
            prepay, 500, 0)
        async with engine.connect() as conn:
            assert await store.balance(conn, prepay) == (500, 0)
            assert (await conn.execute(select(store.transfers.c.id).where(
                store.transfers.c.id.in_([f"t2-{tag}", f"t3-{tag}"])))).all() == []
        report = await reconcile(engine)
        assert report.ok, report.lines()
        assert report.transfers > 0 and report.debits == report.credits
        async with engine.begin() as conn:
            await conn.execute(store.accounts.update().where(store.accounts.c.id == prepay)
                               .values(debits_posted=499))
        bad = await reconcile(engine)
        assert not bad.ok and [m[0] for m in bad.mismatches] == [prepay]
        async with engine.begin() as conn:
            await conn.execute(store.accounts.update().where(store.accounts.c.id == prepay)
                               .values(debits_posted=500))
    finally:
        await engine.dispose()


async def test_reconcile_command_prints_the_result(app: App) -> None:
    """``vbp payments reconcile`` prints the result and exits 0 when the ledger reconciles."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "payments", "reconcile",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "VBP_PAYMENTS_DATABASE_URL": app.url})
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert "every balance equals its transfers" in stdout.decode(), stdout + stderr
    assert process.returncode == 0


async def overdue_events(engine: Any, program_id: str) -> list[Any]:
    """The outbox rows of a program's ``PayablesOverdue`` events, in id order."""
    async with engine.connect() as conn:
        return list((await conn.execute(select(outbox_table).where(
            outbox_table.c.ce_type == PayablesOverdue.TYPE, outbox_table.c.key == program_id)
            .order_by(outbox_table.c.id))).all())


async def test_overdue_events_written_by_the_database_are_the_contracts_dump(
        app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """R-PAY-1, the set-based overdue scan (issue #14: the database flags a chunk and writes
    its payables to the outbox as ``PayablesOverdue`` events in one statement): one event per
    program and per ``OVERDUE_ITEMS_MAX`` of its payables (2 here: a program of three
    payables gives two events), keyed by the program; each payload is exactly what the
    contract dumps (decimal strings, instants in UTC, microseconds kept, non-ASCII ids), with
    an event id (UUIDv7) and span of its own in the scan's trace; each payable flagged and
    written once (its deadline leaves the queue), and the relay publishes them."""
    monkeypatch.setattr(overdue, "OVERDUE_ITEMS_MAX", 2)
    tag = uuid.uuid4().hex[:8]
    due = [datetime(2020, 5, 1, 0, 0, 0, 120, tzinfo=UTC), datetime(2020, 4, 30, 16, tzinfo=UTC)]
    programs = [f"CQ-{tag}", f"重庆-{tag}"]
    rows = [{"payable_id": f"OV{i}-{tag}", "program_id": programs[i // 3],
             "region": "重庆", "institution_id": f"医院{i}-{tag}", "enterprise_id": "企业E1",
             "distributor_id": None, "payer": "institution" if i else "fund",
             "payer_id": f"医院{i}-{tag}", "amount": D("1000.50"), "paid": D("0.25") * i,
             "accepted_at": due[i % 2], "due_at": due[i % 2], "status": "open"}
            for i in range(4)]
    engine = make_engine(app.url)
    try:
        await insert_open_payables(engine, rows)
        runtime = app.client.app.state.runtime  # type: ignore[attr-defined]
        now = datetime(2020, 6, 1, 8, 30, 15, 5, tzinfo=SHANGHAI)
        assert await overdue.scan_payables(runtime.uow, now) == 4
        assert await overdue.scan_payables(runtime.uow, now) == 0
        expected = {row["payable_id"]: OverduePayable(
            payable_id=row["payable_id"], institution_id=row["institution_id"],
            enterprise_id=row["enterprise_id"], payer=row["payer"],
            outstanding=row["amount"] - row["paid"], due_at=row["due_at"]
        ).model_dump(mode="json") for row in rows}
        events, found = [], []
        for program in programs:
            written = await overdue_events(engine, program)
            for w in written:
                assert (w.topic, w.key) == (PayablesOverdue.TOPIC, program)
                payload = json.loads(w.payload)
                assert {k: v for k, v in payload.items() if k != "items"} == {
                    "program_id": program, "detected_at": "2020-06-01T08:30:15.000005+08:00"}
                assert payload == PayablesOverdue.model_validate(payload).model_dump(mode="json")
                for item in payload["items"]:
                    assert item == expected[item["payable_id"]]
                    found.append(item["payable_id"])
                assert valid_traceparent(w.traceparent), w.traceparent
                assert str(uuid.UUID(w.event_id)) == w.event_id
                assert uuid.UUID(w.event_id).version == 7  # time-ordered (RFC 9562)
            assert sorted(len(json.loads(w.payload)["items"]) for w in written) == (
                [1, 2] if program == programs[0] else [1])
            events += written
        assert sorted(found) == sorted(expected)  # each payable once
        # one scan (one chunk), one trace; each event a span of its own, an id of its own
        assert len({e.traceparent.split("-")[1] for e in events}) == 1
        assert len({e.traceparent.split("-")[2] for e in events}) == 3
        assert len({e.event_id for e in events}) == 3
        async with engine.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(store.payable_deadlines)
                                     .where(store.payable_deadlines.c.payable_id.in_(
                                         expected))) == 0

        async def published() -> None:
            async with engine.connect() as conn:
                left = await conn.scalar(select(func.count()).select_from(outbox_table).where(
                    outbox_table.c.key.in_(programs), outbox_table.c.published_at.is_(None)))
            assert left == 0

        await eventually(published)
    finally:
        await engine.dispose()


async def test_an_overdue_event_holds_at_most_its_bound_and_stays_under_a_megabyte(
        app: App) -> None:
    """R-PAY-1: ``OVERDUE_ITEMS_MAX`` + 1 payables of one program overdue at once are two
    events, of ``OVERDUE_ITEMS_MAX`` and of one; with the longest ids the database allows
    (64 characters), each escaped to six bytes in JSON, the full event is still under 1 MB
    and Kafka takes it (the relay publishes it)."""
    tag = uuid.uuid4().hex[:8]
    program = f"CQ-{tag}"
    worst = "\x01" * 64  # a control character: ``\u0001`` in JSON
    due = datetime(2018, 5, 1, tzinfo=UTC)
    rows = [{"payable_id": "\x01" * 52 + f"{i:04d}{tag}", "program_id": program,
             "region": "R", "institution_id": worst, "enterprise_id": worst,
             "distributor_id": None, "payer": "institution", "payer_id": "H",
             "amount": D("92233720368547758.07"), "paid": D("0.00"), "accepted_at": due,
             "due_at": due, "status": "open"} for i in range(OVERDUE_ITEMS_MAX + 1)]
    engine = make_engine(app.url)
    try:
        await insert_open_payables(engine, rows)
        runtime = app.client.app.state.runtime  # type: ignore[attr-defined]
        assert await overdue.scan_payables(runtime.uow, due) == OVERDUE_ITEMS_MAX + 1
        written = await overdue_events(engine, program)
        payloads = [json.loads(w.payload) for w in written]
        assert sorted(len(p["items"]) for p in payloads) == [1, OVERDUE_ITEMS_MAX]
        assert {i["payable_id"] for p in payloads for i in p["items"]} == {
            r["payable_id"] for r in rows}
        largest = max(len(w.payload.encode()) for w in written)
        assert 550_000 < largest < 1_000_000, largest

        async def published() -> None:
            async with engine.connect() as conn:
                left = await conn.scalar(select(func.count()).select_from(outbox_table).where(
                    outbox_table.c.key == program, outbox_table.c.published_at.is_(None)))
            assert left == 0

        await eventually(published)
    finally:
        await engine.dispose()


async def test_overdue_scan_in_parallel_chunks_flags_each_payable_once(
        app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """R-PAY-1, the scan's workers take disjoint chunks (``SKIP LOCKED``): 23 passed deadlines
    in chunks of 4 by two workers are each flagged, and published to the outbox, exactly once,
    and none is left in the queue; one not yet due stays."""
    monkeypatch.setattr(overdue, "CHUNK", 4)
    tag = uuid.uuid4().hex[:8]
    due = datetime(2019, 5, 1, tzinfo=UTC)
    rows = [{"payable_id": f"PX{i}-{tag}", "program_id": f"CQ-{tag}", "region": "R",
             "institution_id": f"H-{tag}", "enterprise_id": "E1", "distributor_id": None,
             "payer": "institution", "payer_id": f"H-{tag}", "amount": D("10.00"),
             "paid": D("0.00"), "accepted_at": due, "status": "open",
             "due_at": due + timedelta(minutes=i)} for i in range(24)]
    engine = make_engine(app.url)
    try:
        await insert_open_payables(engine, rows)
        runtime = app.client.app.state.runtime  # type: ignore[attr-defined]
        now = due + timedelta(minutes=22, seconds=30)
        assert await overdue.scan_payables(runtime.uow, now) == 23
        assert await overdue.scan_payables(runtime.uow, now) == 0
        flagged = [item["payable_id"] for w in await overdue_events(engine, f"CQ-{tag}")
                   for item in json.loads(w.payload)["items"]]
        async with engine.connect() as conn:
            left = list((await conn.execute(select(store.payable_deadlines.c.payable_id).where(
                store.payable_deadlines.c.payable_id.in_([r["payable_id"] for r in rows]))
            )).scalars())
        assert sorted(flagged) == sorted(r["payable_id"] for r in rows[:23])
        assert left == [rows[23]["payable_id"]]
    finally:
        await engine.dispose()


async def test_an_agency_submits_fund_payments_of_its_own_regions_institutions_only(
        app: App) -> None:
    """An agency's org is its region: a fund payment for an institution payments knows in
    another region (its schedule is paid by that region's agency) is refused, naming the row,
    and nothing is recorded; its own agency's submission is taken (the authorisation matrix
    found another region's agency recording one)."""
    a, b = await program(app), await program(app)
    h = a.institution(1)
    await send(app.bootstrap, env(agreement(a, h, 30)))
    await scheduled(app, a, h, "24000.00")
    foreign = await fund_payments(app, b, [(b.institution(1), "2024-02-01", "5.00"),
                                           (h, "2024-02-01", "10000.00")])
    assert foreign.status_code == 422, foreign.text
    assert (foreign.json()["type"].endswith("unknown-institution"), foreign.json()["row"]) == (
        True, 2)
    own = await fund_payments(app, a, [(h, "2024-02-01", "10000.00")])
    assert own.status_code == 201, own.text
    again = await fund_payments(app, b, [(b.institution(1), "2024-02-01", "5.00")])
    assert again.json()["replayed"] == 0  # the refused request recorded nothing
