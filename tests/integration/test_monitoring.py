"""The monitoring service on the real PostgreSQL and Kafka: credit records, ratings and
measures from the profile's scheme (R-CRD-1..4), proposals confirmed and dismissed, repair
approved and refused; the monthly report as of event time (R-MON-1), its files and its
closing; the annual assessment (R-MON-2) and completion risk.

The app runs in-process with its real lifespan and an injectable clock; the other services'
events are put on the broker as their relays would. Topics are shared by the session: every
test uses its own program, region and subjects.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from contracts.catalog import ProgramPublished
from contracts.monitoring import CREDIT_TOPIC, REPORTS_TOPIC
from contracts.orders import AgreementRecorded, OrderAccepted, OrderPlaced, PacingWarningRaised
from contracts.profiles import PolicyProfile
from contracts.supply import OrderDelivered
from services.catalog.presets import CHONGQING_STENTS_2023, NATIONAL_CREDIT_2025
from services.runtime.clock import SHANGHAI, FixedClock
from tests.integration.apps import bearer, running
from tests.integration.test_supply_service import Bus, dump, eventually, of_type, published

pytestmark = pytest.mark.integration

REGULATOR = bearer("regulator", "BUREAU")
OPERATOR = bearer("operator", "OPS")
START = datetime(2025, 1, 1, tzinfo=SHANGHAI)


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class World:
    """One test's program, region, clock and client."""

    def __init__(self, client: httpx.AsyncClient, clock: FixedClock, bus: Bus,
                 bootstrap: str, program_id: str, region: str) -> None:
        self.client, self.clock, self.bus, self.bootstrap = client, clock, bus, bootstrap
        self.program_id, self.region = program_id, region

    async def post(self, path: str, body: dict[str, Any], headers: dict[str, str],
                   key: str | None = None) -> httpx.Response:
        return await self.client.post(path, json=body, headers={
            **headers, "Idempotency-Key": key or uuid.uuid4().hex})

    async def file(self, subject: str, level: str, products: list[str], *,
                   kind: str = "enterprise", expect: int = 201) -> dict[str, Any]:
        r = await self.post("/v1/credit/records", {
            "subject_kind": kind, "subject_id": subject, "program_id": self.program_id,
            "level": level, "conduct": "late_delivery", "description": "未按约定配送",
            "evidence": ["渝医保函〔2025〕1号"], "registration_nos": products,
            "occurred_on": "2025-02-20"}, REGULATOR)
        assert r.status_code == expect, dump(r)
        return dict(r.json())

    async def rating(self, subject: str, kind: str = "enterprise") -> dict[str, Any]:
        r = await self.client.get(f"/v1/credit/ratings/{kind}/{subject}", headers=REGULATOR)
        assert r.status_code == 200, dump(r)
        found = [x for x in r.json() if x["region"] == self.region]
        assert len(found) == 1, r.json()
        return dict(found[0])


@asynccontextmanager
async def world(database_url: str, bootstrap: str, *, profile: PolicyProfile | None = None,
                now: datetime = datetime(2025, 3, 1, 10, tzinfo=SHANGHAI)
                ) -> AsyncIterator[World]:
    from services.monitoring.app import create_app

    clock = FixedClock(now)
    program_id, region = uid("CQ-MON"), uid("重庆")
    async with Bus(bootstrap) as bus, running(lambda s: create_app(s, clock=clock),
                                              "monitoring", database_url, bootstrap) as client:
        await bus.send(ProgramPublished(
            program_id=program_id, category="冠脉支架", region=region,
            notice_no="渝医保办〔2023〕3号", organiser="national", execution_start=START,
            cycle_years=3, profile=profile or CHONGQING_STENTS_2023, published_by="test"))
        w = World(client, clock, bus, bootstrap, program_id, region)

        async def known() -> None:
            r = await client.get("/v1/completion-risks/" + program_id, headers=OPERATOR)
            assert r.status_code == 200, dump(r)

        await eventually(known)
        yield w


def measures(rating: dict[str, Any]) -> list[str]:
    return sorted(m["measure"] for m in rating["measures"])


def subject(s: str) -> Callable[[Any], bool]:
    return lambda ce: ce.subject == s


# --- credit (R-CRD-1..4) -----------------------------------------------------------------------


async def test_r_crd_2_3_worst_record_rates_and_measures_follow_2020(database_url: str,
                                                                    bootstrap: str) -> None:
    ent = uid("E")
    async with world(database_url, bootstrap) as w:
        await w.file(ent, "一般", ["国械注准20163132305"])
        r = await w.rating(ent)
        assert (r["level"], measures(r)) == ("一般", ["reminder"])
        serious = await w.file(ent, "serious", ["国械注准20163132306"])
        assert serious["level"] == "严重" and serious["status"] == "active"
        r = await w.rating(ent)
        assert r["level"] == "严重" and r["active_records"] == 2  # the worst active record
        assert measures(r) == ["public_disclosure", "restrict_listing",
                               "suspend_distribution_involved", "suspend_listing_involved",
                               "warning"]
        suspend = next(m for m in r["measures"] if m["measure"] == "suspend_listing_involved")
        assert suspend["registration_nos"] == ["国械注准20163132305", "国械注准20163132306"]

        events = await published(bootstrap, CREDIT_TOPIC, subject(ent), expect=8)
        applied = [ce for ce in events if ce.type.endswith("measure-applied.v1")]
        lifted = [ce for ce in events if ce.type.endswith("measure-lifted.v1")]
        assert sorted(ce.data["measure"] for ce in applied) == sorted(["reminder", *measures(r)])
        assert len(lifted) == 1  # the reminder: 严重 carries none
        ratings = [ce.data["level"] for ce in events if ce.type.endswith("rating-changed.v1")]
        assert ratings == ["一般", "严重"]
        assert next(ce for ce in applied if ce.data["measure"] == "suspend_listing_involved"
                    ).data["scope"] == "involved"

        # bad input: a level the program's scheme does not have; nothing changes
        r2 = await w.post("/v1/credit/records", {
            "subject_kind": "enterprise", "subject_id": ent, "program_id": w.program_id,
            "level": "严重失信", "conduct": "other", "description": "x", "evidence": ["y"],
            "occurred_on": "2025-02-20"}, REGULATOR)
        assert r2.status_code == 422, dump(r2)
        assert r2.headers["content-type"] == "application/problem+json"
        assert r2.json()["errors"][0]["field"] == "body.level"
        assert (await w.rating(ent))["active_records"] == 2


async def test_r_crd_3_distributor_bar_for_the_2025_levels_period(database_url: str,
                                                                  bootstrap: str) -> None:
    dist = uid("D")
    profile = CHONGQING_STENTS_2023.model_copy(update={"credit": NATIONAL_CREDIT_2025})
    async with world(database_url, bootstrap, profile=profile) as w:
        await w.file(dist, "严重失信", [], kind="distributor")
        r = await w.rating(dist, "distributor")
        assert measures(r) == ["distributor_bar", "public_disclosure", "warning"]
        events = await published(bootstrap, CREDIT_TOPIC,
                                 of_type("vbp.monitoring.credit.measure-applied.v1",
                                         subject_id=dist, measure="distributor_bar"), expect=1)
        bar = events[0].data
        assert bar["subject_kind"] == "distributor" and bar["level"] == "严重失信"
        assert datetime.fromisoformat(bar["effective_until"]) == datetime(
            2028, 3, 1, 10, tzinfo=SHANGHAI)  # 3 years (the 2025 rules)


async def test_r_crd_4_repair_refused_then_approved_lifts_the_measures(database_url: str,
                                                                       bootstrap: str) -> None:
    ent = uid("E")
    own, other = bearer("enterprise", ent), bearer("enterprise", uid("E"))
    async with world(database_url, bootstrap) as w:
        await w.file(ent, "一般", [])
        record = await w.file(ent, "严重", ["国械注准20163132305"])
        rid = record["record_id"]
        r = await w.post(f"/v1/credit/records/{rid}/repair", {"reason": "已降价整改"}, other)
        assert r.status_code == 404, dump(r)  # another enterprise's record: not found
        r = await w.post(f"/v1/credit/records/{rid}/repair",
                         {"reason": "已降价整改", "evidence": ["price cut"]}, own)
        assert r.status_code == 200 and r.json()["repair"] == "pending", dump(r)
        r = await w.post(f"/v1/credit/records/{rid}/repair/approval", {"reason": "ok"},
                         REGULATOR)
        assert r.status_code == 409 and r.json()["type"].endswith("repair-too-early"), dump(r)
        w.clock.advance(timedelta(days=92))  # the policy's 3 months
        r = await w.post(f"/v1/credit/records/{rid}/repair/refusal",
                         {"reason": "整改不到位"}, REGULATOR)
        assert r.status_code == 200 and r.json()["repair"] == "refused", dump(r)
        assert (await w.rating(ent))["level"] == "严重"  # still counts
        r = await w.post(f"/v1/credit/records/{rid}/repair", {"reason": "again"}, own)
        assert r.status_code == 409, dump(r)  # within repair_reapply_days of the refusal
        w.clock.advance(timedelta(days=31))
        r = await w.post(f"/v1/credit/records/{rid}/repair", {"reason": "再次申请"}, own)
        assert r.status_code == 200, dump(r)
        r = await w.post(f"/v1/credit/records/{rid}/repair/approval",
                         {"reason": "整改到位"}, REGULATOR)
        assert r.status_code == 200, dump(r)
        body = r.json()
        assert body["status"] == "repaired"
        assert [(s["step"], s["actor"].split(":")[0]) for s in body["history"]] == [
            ("filed", "regulator"), ("repair_applied", "enterprise"),
            ("repair_refused", "regulator"), ("repair_applied", "enterprise"),
            ("repair_approved", "regulator")]
        assert body["history"][2]["reason"] == "整改不到位"
        r2 = await w.rating(ent)
        assert (r2["level"], measures(r2), r2["active_records"]) == ("一般", ["reminder"], 1)
        lifted = await published(bootstrap, CREDIT_TOPIC, of_type(
            "vbp.monitoring.credit.measure-lifted.v1", subject_id=ent), expect=6)
        assert all("repaired" in ce.data["reason"] for ce in lifted[1:])
        # the enterprise sees its own record
        r = await w.client.get(f"/v1/credit/records/{rid}", headers=own)
        assert r.status_code == 200
        assert (await w.client.get(f"/v1/credit/records/{rid}", headers=other)).status_code == 404


def placed(w: World, order_id: str, institution: str, enterprise: str, at: datetime,
           units: int = 10, product: str = "国械注准20163132305") -> OrderPlaced:
    price = Decimal("730.00")
    return OrderPlaced(order_id=order_id, program_id=w.program_id, institution_id=institution,
                       region=w.region, listing_id=f"L-{product}", registration_no=product,
                       enterprise_id=enterprise, units=units, unit_price=price,
                       amount=price * units, order_class="within_agreement",
                       placed_by="institution:x/u", placed_at=at)


def delivered(order_id: str, enterprise: str, at: datetime, hours: int,
              distributor: str = "D1", units: int = 10) -> OrderDelivered:
    return OrderDelivered(order_id=order_id, distributor_id=distributor,
                          enterprise_id=enterprise, units=units, delivered_at=at,
                          delivery_seconds=hours * 3600, recorded_by="distributor:D1/u")


def accepted(w: World, order_id: str, institution: str, enterprise: str, at: datetime,
             units: int = 10, product: str = "国械注准20163132305") -> OrderAccepted:
    price = Decimal("730.00")
    return OrderAccepted(order_id=order_id, program_id=w.program_id, institution_id=institution,
                         enterprise_id=enterprise, listing_id=f"L-{product}",
                         registration_no=product, distributor_id="D1", accepted_units=units,
                         unit_price=price, amount=price * units, accepted_by="institution:x/u",
                         accepted_at=at)


async def proposals_of(w: World, ent: str, n: int) -> list[dict[str, Any]]:
    async def check() -> list[dict[str, Any]]:
        r = await w.client.get("/v1/credit/records", headers=REGULATOR,
                               params={"status": "proposed", "subject_id": ent})
        items = list(r.json()["items"])
        assert len(items) >= n, items
        return items
    found: list[dict[str, Any]] = await eventually(check)
    return found


async def test_r_crd_1_late_deliveries_proposed_one_confirmed_one_dismissed(
        database_url: str, bootstrap: str) -> None:
    ent, hosp = uid("E"), uid("H")
    async with world(database_url, bootstrap) as w:
        t = datetime(2025, 2, 3, 9, tzinfo=SHANGHAI)
        o1, o2, o3 = uid("O"), uid("O"), uid("O")
        for o in (o1, o3):
            await w.bus.send(placed(w, o, hosp, ent, t))
        await w.bus.send(delivered(o1, ent, t + timedelta(hours=80), 80))
        await w.bus.send(delivered(o2, ent, t + timedelta(hours=100), 100))
        await w.bus.send(delivered(o3, ent, t + timedelta(hours=20), 20))  # in time
        # o2's placement arrives after its delivery (another topic): judged when it does
        await proposals_of(w, ent, 1)
        await w.bus.send(placed(w, o2, hosp, ent, t))
        found = await proposals_of(w, ent, 2)
        assert len(found) == 2 and {p["level"] for p in found} == {"一般"}
        assert all(p["conduct"] == "late_delivery" for p in found)
        assert (await w.client.get(f"/v1/credit/ratings/enterprise/{ent}",
                                   headers=REGULATOR)).json() == []  # proposals do not count
        first, second = found
        r = await w.post(f"/v1/credit/records/{first['record_id']}/confirmation",
                         {"reason": "核实属实", "level": "中等"}, REGULATOR)
        assert r.status_code == 200 and r.json()["status"] == "active", dump(r)
        r = await w.post(f"/v1/credit/records/{second['record_id']}/dismissal",
                         {"reason": "不可抗力"}, REGULATOR)
        assert r.status_code == 200 and r.json()["status"] == "dismissed", dump(r)
        assert r.json()["history"][-1]["reason"] == "不可抗力"
        rating = await w.rating(ent)
        assert (rating["level"], rating["active_records"]) == ("中等", 1)
        r = await w.post(f"/v1/credit/records/{second['record_id']}/confirmation",
                         {"reason": "again"}, REGULATOR)
        assert r.status_code == 409, dump(r)

        # an order left unfilled: proposed by the sweep once its days are over
        o4 = uid("O")
        await w.bus.send(placed(w, o4, hosp, ent, datetime(2025, 2, 1, tzinfo=SHANGHAI)))

        async def swept() -> None:
            r = await w.client.post("/v1/credit/proposals/sweep", headers=OPERATOR)
            assert r.status_code == 200 and r.json()["unfilled"] == 1, dump(r)

        await eventually(swept)
        r = await w.client.post("/v1/credit/proposals/sweep", headers=OPERATOR)
        assert r.json()["unfilled"] == 0  # once per finding


# --- monthly report (R-MON-1), assessment (R-MON-2), completion risk ----------------------------


def agreement(w: World, institution: str, enterprise: str, units: int, *,
              recorded_at: datetime, version: int = 1) -> AgreementRecorded:
    price = Decimal("730.00")
    return AgreementRecorded(
        agreement_id=f"A-{w.program_id}-{institution}", program_id=w.program_id,
        agreement_year=1, year_start=START, year_end=datetime(2026, 1, 1, tzinfo=SHANGHAI),
        institution_id=institution, institution_type="public", enterprise_id=enterprise,
        registration_no="国械注准20163132305", listing_id="L-1", units=units,
        winning_price=price, amount=price * units, recorded_by="operator:OPS/u",
        recorded_at=recorded_at, reason="import", version=version)


async def report(w: World, month: str, **params: str) -> dict[str, Any]:
    r = await w.client.get(f"/v1/reports/monthly/{month}", headers=OPERATOR,
                           params={"region": w.region, **params})
    assert r.status_code == 200, dump(r)
    return dict(r.json())


def line(rep: dict[str, Any], dimension: str, key: str) -> dict[str, Any]:
    return dict(next(ln for ln in rep["lines"]
                     if ln["dimension"] == dimension and ln["key"] == key))


async def test_r_mon_1_past_month_is_as_of_event_time(database_url: str,
                                                      bootstrap: str) -> None:
    ent, h1, h2 = uid("E"), uid("H"), uid("H")
    async with world(database_url, bootstrap,
                     now=datetime(2025, 4, 2, 10, tzinfo=SHANGHAI)) as w:
        feb = datetime(2025, 2, 10, 9, tzinfo=SHANGHAI)
        mar = datetime(2025, 3, 12, 9, tzinfo=SHANGHAI)
        await w.bus.send(agreement(w, h1, ent, 120, recorded_at=START))
        await w.bus.send(agreement(w, h2, ent, 240, recorded_at=START))
        o1, o2 = uid("O"), uid("O")
        await w.bus.send(placed(w, o1, h1, ent, feb, units=10))
        await w.bus.send(delivered(o1, ent, feb + timedelta(hours=30), 30))
        await w.bus.send(accepted(w, o1, h1, ent, feb + timedelta(hours=40), units=10))
        await w.bus.send(placed(w, o2, h2, ent, mar, units=20))

        async def march_seen() -> dict[str, Any]:
            rep = await report(w, "2025-03")
            assert line(rep, "institution", h2)["ordered_units"] == 20, rep
            return rep

        async def february_seen() -> dict[str, Any]:
            # o1's delivery and acceptance are on other partitions (or topics) than o2's
            # placement: seeing March does not mean they have arrived
            rep = await report(w, "2025-02")
            e = line(rep, "enterprise", ent)
            assert (e["accepted_units"], e["orders_delivered"]) == (10, 1), rep
            return rep

        march = await eventually(march_seen)
        feb_report = await eventually(february_seen)
        e = line(feb_report, "enterprise", ent)
        assert (e["agreement_units"], e["ordered_units"], e["accepted_units"]) == (360, 10, 10)
        assert e["orders_delivered"] == 1 and e["mean_delivery_hours"] == "30.00"
        assert e["progress"] == "0.0278"  # 10 / 360
        assert (e["settlements_on_time"], e["settlements_overdue"]) == (0, 0)
        assert line(feb_report, "distributor", "D1")["orders_delivered"] == 1
        assert line(feb_report, "region", w.region)["accepted_amount"] == "7300.00"

        # later events: April's acceptance and a new agreement version do not move February
        # or March; a late event of March (arriving now) lands in March, not April
        await w.bus.send(agreement(w, h1, ent, 999, recorded_at=datetime(
            2025, 4, 1, 9, tzinfo=SHANGHAI), version=2))
        apr = datetime(2025, 4, 1, 11, tzinfo=SHANGHAI)
        await w.bus.send(accepted(w, o2, h2, ent, apr, units=5))
        late = uid("O")
        await w.bus.send(placed(w, late, h1, ent, datetime(2025, 3, 31, 23, 30,
                                                           tzinfo=SHANGHAI), units=7))

        async def april_seen() -> None:
            rep = await report(w, "2025-04")
            assert line(rep, "institution", h2)["accepted_units"] == 5, rep
            assert line(rep, "institution", h1)["agreement_units"] == 999

        await eventually(april_seen)

        async def late_in_march() -> dict[str, Any]:
            rep = await report(w, "2025-03")
            assert line(rep, "institution", h1)["ordered_units"] == 7, rep
            return rep

        march_after = await eventually(late_in_march)
        assert await report(w, "2025-02") == feb_report
        before, after = line(march, "institution", h2), line(march_after, "institution", h2)
        assert before == after  # h2's March is untouched by April's events
        assert line(march_after, "institution", h1)["agreement_units"] == 120  # as of March
        april = await report(w, "2025-04")
        assert line(april, "institution", h1)["ordered_units"] == 0  # the late order: March

        # files with Chinese headings
        r = await w.client.get("/v1/reports/monthly/2025-02", headers=OPERATOR,
                               params={"region": w.region, "format": "csv"})
        text = r.content.decode("utf-8-sig")
        assert r.status_code == 200 and text.splitlines()[0].startswith("月份,维度,对象,协议采购量")
        assert "按时回款笔数,逾期回款笔数,医保基金按时拨付笔数,医保基金逾期拨付笔数" in text
        r = await w.client.get("/v1/reports/monthly/2025-02", headers=OPERATOR,
                               params={"region": w.region, "format": "xlsx"})
        sheet = load_workbook(io.BytesIO(r.content)).active
        assert sheet is not None and sheet.cell(1, 4).value == "协议采购量"

        # closing a month publishes its report event; the open month cannot be closed
        r = await w.post("/v1/report-closings", {"month": "2025-02",
                                                          "region": w.region}, OPERATOR)
        assert r.status_code == 201, dump(r)
        closed = r.json()
        assert closed["totals"]["accepted_units"] == "10"
        events = await published(bootstrap, REPORTS_TOPIC, lambda ce: ce.subject == (
            f"2025-02:{w.region}"), expect=1)
        assert events[0].data["sha256"] == closed["sha256"]
        r = await w.post("/v1/report-closings", {"month": "2025-04",
                                                          "region": w.region}, OPERATOR)
        assert r.status_code == 422 and r.json()["type"].endswith("bad-month"), dump(r)
        r = await w.client.get("/v1/reports/monthly/2025-13", headers=OPERATOR)
        assert r.status_code == 422, dump(r)


async def test_r_mon_2_assessment_and_completion_risk(database_url: str,
                                                      bootstrap: str) -> None:
    ent, h1, h2 = uid("E"), uid("H"), uid("H")
    async with world(database_url, bootstrap,
                     now=datetime(2025, 7, 2, 0, tzinfo=SHANGHAI)) as w:
        await w.bus.send(agreement(w, h1, ent, 100, recorded_at=START))
        await w.bus.send(agreement(w, h2, ent, 100, recorded_at=START))
        o1, o2 = uid("O"), uid("O")
        await w.bus.send(placed(w, o1, h1, ent, datetime(2025, 2, 1, tzinfo=SHANGHAI), 60))
        await w.bus.send(accepted(w, o1, h1, ent, datetime(2025, 2, 5, tzinfo=SHANGHAI), 60))
        await w.bus.send(placed(w, o2, h2, ent, datetime(2025, 3, 1, tzinfo=SHANGHAI), 20))
        await w.bus.send(PacingWarningRaised(
            warning_id=uid("W"), program_id=w.program_id, agreement_year=1, institution_id=h1,
            registration_no="国械注准20163132305", month=datetime(2025, 2, 1).date(),
            reason="bunching", raised_at=datetime(2025, 3, 1, tzinfo=SHANGHAI)))

        async def risks() -> dict[str, Any]:
            r = await w.client.get(f"/v1/completion-risks/{w.program_id}", headers=OPERATOR)
            body = dict(r.json())
            assert body["pairs"] == 2 and [i["institution_id"] for i in body["items"]] == [h2]
            return body

        body = await eventually(risks)
        assert Decimal(body["items"][0]["projected_progress"]) < Decimal("0.8")  # 20 at mid-year
        metrics = (await w.client.get("/metrics")).text
        assert f'vbp_monitoring_completion_risk_items{{program="{w.program_id}"}} 1.0' in metrics

        async def assessed() -> dict[str, Any]:
            r = await w.client.get(f"/v1/assessments/{w.program_id}/1/{h1}", headers=OPERATOR)
            a = dict(r.json())
            assert a["parts"][1]["value"] not in (None, "1.0000"), a  # the warning arrived
            assert a["parts"][0]["value"] != "0.0000", a  # and the acceptance
            return a

        a = await eventually(assessed)
        parts = {p["name"]: p for p in a["parts"]}
        assert parts["progress"]["value"] == "0.6000"  # 60 of 100
        assert parts["pacing"]["value"] == "0.8333"  # 5 of 6 months without a warning
        assert parts["repayment"]["value"] is None
        # 100 × (0.5 × 0.6 + 0.2 × 0.8333) / 0.7
        assert a["score"] == "66.67"
        assert "scaled" in parts["progress"]["explanation"]


# --- public disclosure ---------------------------------------------------------------------------


async def test_public_feed_unauthenticated_paginated_cacheable_and_private_free(
        database_url: str, bootstrap: str) -> None:
    mild, serious, other = uid("E"), uid("E"), uid("E")
    async with world(database_url, bootstrap,
                     now=datetime(2025, 4, 2, tzinfo=SHANGHAI)) as w:
        await w.file(mild, "一般", [])
        await w.file(serious, "严重", ["国械注准20163132305"])
        await w.file(other, "特别严重", [])
        r = await w.client.get("/v1/public/credit-ratings", params={"limit": 1})
        assert r.status_code == 200, dump(r)  # no token
        assert r.headers["cache-control"].startswith("public")
        first = r.json()
        assert len(first["items"]) == 1 and first["next_cursor"]
        r2 = await w.client.get("/v1/public/credit-ratings",
                                params={"limit": 1, "cursor": first["next_cursor"]})
        subjects = {first["items"][0]["subject_id"], r2.json()["items"][0]["subject_id"]}
        assert subjects == {serious, other}  # 一般 carries no public disclosure
        assert r2.json()["next_cursor"] is None
        tag = r.headers["etag"]
        again = await w.client.get("/v1/public/credit-ratings", params={"limit": 1},
                                   headers={"If-None-Match": tag})
        assert again.status_code == 304 and again.content == b""

        # execution by region and product: a product bought by 3 institutions is shown,
        # one bought by a single institution is withheld (its figures would be its own)
        hospitals = [uid("H") for _ in range(3)]
        mar = datetime(2025, 3, 5, tzinfo=SHANGHAI)
        for i, h in enumerate(hospitals):
            await w.bus.send(placed(w, uid("O"), h, serious, mar, units=i + 1))
        await w.bus.send(placed(w, uid("O"), hospitals[0], serious, mar, units=9,
                                product="国械注准20163132399"))

        async def shown() -> dict[str, Any]:
            r = await w.client.get("/v1/public/execution/2025-03",
                                   params={"region": w.region})
            body = dict(r.json())
            assert body["items"] and body["items"][0]["ordered_units"] == 6, body
            assert body["withheld"] == 1, body
            return body

        body = await eventually(shown)
        assert body["items"][0]["institutions"] == 3
        text = (await w.client.get("/v1/public/execution/2025-03",
                                   params={"region": w.region})).text
        assert not any(h in text for h in hospitals)


# --- rebuild -------------------------------------------------------------------------------------


async def test_rebuild_from_the_topics_gives_the_live_figures(database_url: str,
                                                             bootstrap: str) -> None:
    from services.monitoring.rebuild import rebuild
    from services.runtime.db import make_engine

    ent, h1, h2 = uid("E"), uid("H"), uid("H")
    async with world(database_url, bootstrap,
                     now=datetime(2025, 4, 2, tzinfo=SHANGHAI)) as w:
        await w.bus.send(agreement(w, h1, ent, 120, recorded_at=START))
        await w.bus.send(agreement(w, h2, ent, 60, recorded_at=START))
        mar = datetime(2025, 3, 3, 9, tzinfo=SHANGHAI)
        orders = [uid("O") for _ in range(4)]
        sent = [await w.bus.send(placed(w, o, (h1, h2)[i % 2], ent, mar + timedelta(days=i),
                                        i + 1)) for i, o in enumerate(orders)]
        d = await w.bus.send(delivered(orders[0], ent, mar + timedelta(hours=90), 90))
        await w.bus.send(accepted(w, orders[0], h1, ent, mar + timedelta(days=4), 1))
        # redelivered (at least once): the same events again, counted once live and rebuilt
        await w.bus.send(placed(w, orders[1], h2, ent, mar + timedelta(days=1), 2),
                         ce_id=sent[1].id)
        await w.bus.send(delivered(orders[0], ent, mar + timedelta(hours=90), 90), ce_id=d.id)

        async def live() -> dict[str, Any]:
            rep = await report(w, "2025-03")
            e = line(rep, "enterprise", ent)
            assert (e["ordered_units"], e["accepted_units"], e["orders_delivered"],
                    e["agreement_units"]) == (10, 1, 1, 180), e
            return rep

        before = await eventually(live)
        risks_before = (await w.client.get(f"/v1/completion-risks/{w.program_id}",
                                           headers=OPERATOR)).json()
        engine = make_engine(database_url)
        seen: list[tuple[int, int]] = []
        try:
            result = await rebuild(engine, bootstrap,
                                   progress=lambda d, t, s: seen.append((d, t)))
        finally:
            await engine.dispose()
        assert result.events >= 8 and seen and seen[-1][0] == seen[-1][1]
        assert await report(w, "2025-03") == before
        risks_after = (await w.client.get(f"/v1/completion-risks/{w.program_id}",
                                          headers=OPERATOR)).json()
        assert risks_after == risks_before
        # the live consumers keep writing into the swapped-in tables
        late = uid("O")
        await w.bus.send(placed(w, late, h1, ent, mar, 5))

        async def still_live() -> None:
            e = line(await report(w, "2025-03"), "enterprise", ent)
            assert e["ordered_units"] == 15, e

        await eventually(still_live)


# --- R-CRD-5 -------------------------------------------------------------------------------------


async def test_r_crd_5_backup_switch_and_emergency_supply_are_published(
        database_url: str, bootstrap: str) -> None:
    ent, hosp = uid("E"), uid("H")
    async with world(database_url, bootstrap) as w:
        r = await w.post("/v1/credit/backup-switches", {
            "program_id": w.program_id, "institution_id": hosp, "enterprise_id": ent,
            "registration_no": "国械注准20163132305",
            "backup_registration_no": "国械注准20163132306", "reason": "质量不合格"}, REGULATOR)
        assert r.status_code == 201, dump(r)
        assert r.json()["region"] == w.region
        r = await w.post("/v1/credit/emergency-supplies", {
            "program_id": w.program_id, "enterprise_id": ent,
            "registration_no": "国械注准20163132305", "reason": "断供"}, OPERATOR)
        assert r.status_code == 403, dump(r)  # a regulator's decision
        r = await w.post("/v1/credit/emergency-supplies", {
            "program_id": w.program_id, "enterprise_id": ent,
            "registration_no": "国械注准20163132305", "reason": "断供"}, REGULATOR)
        assert r.status_code == 201, dump(r)
        events = await published(bootstrap, CREDIT_TOPIC, subject(ent), expect=2)
        assert sorted(ce.type for ce in events) == [
            "vbp.monitoring.credit.backup-switched.v1",
            "vbp.monitoring.credit.emergency-supply.v1"]
        assert all(ce.data["decided_by"].startswith("regulator:") for ce in events)
