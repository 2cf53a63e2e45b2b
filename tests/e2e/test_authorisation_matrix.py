"""The authorisation matrix (issue #17; OWASP API1 object level, API5 function level), on every
service as its own process on the real PostgreSQL and Kafka.

A small world is seeded through the public APIs: two sides, A and B, each with its region and
program of winning stents, an institution, an enterprise, a distributor assigned by that
enterprise, an agreement, an order (routed, shipped, delivered, accepted), the payable that
acceptance opened, a credit record against the enterprise, a renewal and an account.

Then every route of every service's ``/openapi.json`` is called for each role (``ROLES``) with
the org of side A (the owning organisation: the path names side A's objects) and the org of
side B (the foreign one). ``MATRIX`` is the one table of what each route must answer: the
roles it serves, and for each served role whether it sees everything (``ALL``), only its own
organisation's objects (``OWN``: the owner is admitted, the foreign org gets 404, or for a
creation naming side A in its body, a refusal), or is served but owns no object of this kind
(``STRANGER``: 404 for both). A role not listed gets 403, no token 401. A scoped caller's
answer (lists, filters, exports, error bodies) must name none of the other side's private
identifiers. A route in an OpenAPI document without an entry here fails the test: a new route
must be given its row.

Expectations found not to hold are left in the table as they should be (nothing is skipped);
the failure lists every mismatch.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import pytest

from services.catalog.domain import enterprise_id
from tests.e2e.conftest import bearer
from tests.e2e.test_order_path import post, until

pytestmark = pytest.mark.e2e
RUN = uuid.uuid4().hex[:6]
ROLES = ("regulator", "operator", "institution", "enterprise", "distributor", "agency", "none")
Visibility = Literal["all", "own", "stranger"]
ALL: Visibility = "all"
OWN: Visibility = "own"
STRANGER: Visibility = "stranger"
OVERSEERS: dict[str, Visibility] = {"regulator": ALL, "operator": ALL}
REGULATOR_ONLY: dict[str, Visibility] = {"regulator": ALL}
EVERYONE: dict[str, Visibility] = dict.fromkeys(ROLES, ALL)
"""Public routes: also without a token."""
CATALOG_READERS: dict[str, Visibility] = {
    **OVERSEERS, "institution": ALL, "enterprise": ALL, "distributor": ALL}
PUBLISHED = "A"
"""The side whose objects the paths name; the org of side A owns them, side B's is foreign."""


@dataclass
class Side:
    """One organisation of each kind and its objects."""

    tag: str
    program: str
    region: str
    institution: str
    enterprise_name: str
    enterprise: str
    cert: str
    price: str
    distributor: str
    listing_id: str = ""
    order_id: str = ""
    assignment_id: str = ""
    agreement_id: str = ""
    record_id: str = ""
    renewal_id: str = ""
    schedule_id: str = ""

    def org(self, role: str) -> str:
        return {"regulator": f"BUREAU-{self.tag}", "operator": f"OPS-{self.tag}",
                "institution": self.institution, "enterprise": self.enterprise,
                "distributor": self.distributor, "agency": self.region}[role]

    def private(self, role: str) -> set[str]:
        """What a scoped caller of the other side must never be shown."""
        found = {self.order_id, self.institution, self.agreement_id, self.assignment_id,
                 self.record_id, self.renewal_id}
        if role == "enterprise":  # an enterprise sees only its own listings (R-CAT-*)
            found.add(self.listing_id)
        return {f for f in found if f}


def side(tag: str, name: str, cert: str, price: str) -> Side:
    return Side(tag=tag, program=f"AUTHZ-{tag}-{RUN}", region=f"重庆市-{tag}-{RUN}",
                institution=f"H-{tag}-{RUN}", enterprise_name=name,
                enterprise=enterprise_id(name), cert=cert, price=price,
                distributor=f"D-{tag}-{RUN}")


A = side("A", "上海微创医疗器械(集团)有限公司", "国械注准20163132305", "730")
B = side("B", f"渝测试医疗器械有限公司{RUN}", "国械注准20173130777", "700")
BAR = {"bar_id": ""}
UNSEEDED = "UNSEEDED-0"
"""An object of a kind the world does not hold (prepayment schedules, contingencies): every
served role gets 404 for it; the row still checks 401 and 403."""

Body = Callable[[Side], Any]


@dataclass(frozen=True)
class Access:
    """One route's expectations: who it serves and how ownership limits each role."""

    serves: Mapping[str, Visibility]
    path: Mapping[str, Callable[[Side], str]] = field(default_factory=dict)
    query: Mapping[str, Callable[[Side], str]] = field(default_factory=dict)
    body: Body | None = None
    csv: Callable[[Side], str] | None = None
    creates: bool = False
    """A POST whose body names side A (no object in the path): the foreign org is refused."""


def program(s: Side) -> str:
    return s.program


def order(s: Side) -> str:
    return s.order_id


def unseeded(_: Side) -> str:
    return UNSEEDED


def reason(_: Side) -> dict[str, str]:
    return {"reason": "authorisation matrix"}


def empty(_: Side) -> dict[str, str]:
    return {}


ORDERS_READERS: dict[str, Visibility] = {
    **OVERSEERS, "institution": OWN, "enterprise": OWN, "distributor": OWN, "agency": OWN}
PAYABLE_READERS: dict[str, Visibility] = {
    **OVERSEERS, "institution": OWN, "enterprise": OWN, "agency": OWN}
SUPPLY_READERS: dict[str, Visibility] = {
    **OVERSEERS, "institution": OWN, "enterprise": OWN, "distributor": OWN}

MATRIX: dict[str, Access] = {
    # --- every service ------------------------------------------------------------------------
    **{f"{svc} GET /healthz": Access(EVERYONE) for svc in
       ("catalog", "orders", "supply", "payments", "monitoring")},
    **{f"{svc} GET /readyz": Access(EVERYONE) for svc in
       ("catalog", "orders", "supply", "payments", "monitoring")},
    **{f"{svc} GET /v1/audit": Access(REGULATOR_ONLY) for svc in
       ("catalog", "orders", "supply", "payments", "monitoring")},
    # --- catalog ------------------------------------------------------------------------------
    "catalog GET /v1/presets": Access(CATALOG_READERS),
    "catalog POST /v1/programs": Access(REGULATOR_ONLY, body=empty),
    "catalog GET /v1/programs": Access(CATALOG_READERS),
    "catalog GET /v1/programs/{program_id}": Access(CATALOG_READERS, {"program_id": program}),
    "catalog POST /v1/programs/{program_id}/profile": Access(
        REGULATOR_ONLY, {"program_id": program}, body=empty),
    "catalog POST /v1/programs/{program_id}/winning-products": Access(
        OVERSEERS, {"program_id": program}, body=empty),
    "catalog GET /v1/listings": Access({**CATALOG_READERS, "enterprise": OWN},
                                       query={"program_id": program}),
    "catalog GET /v1/listings/{listing_id}": Access(
        {**CATALOG_READERS, "enterprise": OWN}, {"listing_id": lambda s: s.listing_id}),
    "catalog GET /v1/listings/{listing_id}/history": Access(
        {**CATALOG_READERS, "enterprise": OWN}, {"listing_id": lambda s: s.listing_id}),
    "catalog POST /v1/listings": Access(
        {**OVERSEERS, "enterprise": OWN}, creates=True, body=lambda s: {
            "program_id": s.program, "registration_no": "国械注准20193130999",
            "product_name": "非中选支架", "enterprise_name": s.enterprise_name,
            "registrant": s.enterprise_name, "price": "600"}),
    "catalog POST /v1/price-observations": Access(OVERSEERS, body=empty),
    "catalog GET /v1/price-observations": Access(OVERSEERS,
                                                 query={"registration_no": lambda s: s.cert}),
    # --- orders -------------------------------------------------------------------------------
    "orders GET /v1/listings": Access(
        {**OVERSEERS, "institution": ALL, "enterprise": OWN, "distributor": ALL, "agency": ALL},
        query={"program_id": program}),
    "orders GET /v1/programs": Access(
        {**OVERSEERS, "institution": ALL, "enterprise": ALL, "distributor": ALL,
         "agency": ALL}),
    "orders POST /v1/institutions": Access(OVERSEERS, body=empty),
    "orders GET /v1/institutions": Access(OVERSEERS),
    "orders POST /v1/programs/{program_id}/agreements": Access(
        OVERSEERS, {"program_id": program}, body=empty),
    "orders POST /v1/programs/{program_id}/history": Access(
        OVERSEERS, {"program_id": program}, body=empty),
    "orders GET /v1/agreements": Access(
        {**OVERSEERS, "institution": OWN, "enterprise": OWN}, query={"program_id": program}),
    "orders GET /v1/agreements/{agreement_id}": Access(
        {**OVERSEERS, "institution": OWN, "enterprise": OWN},
        {"agreement_id": lambda s: s.agreement_id}),
    "orders GET /v1/agreements/{agreement_id}/history": Access(
        {**OVERSEERS, "institution": OWN, "enterprise": OWN},
        {"agreement_id": lambda s: s.agreement_id}),
    "orders GET /v1/progress": Access({**OVERSEERS, "institution": OWN},
                                      query={"program_id": program}),
    "orders POST /v1/renewals": Access({"institution": OWN}, creates=True, body=lambda s: {
        "program_id": s.program, "agreement_year": 2, "institution_id": s.institution,
        "demand": [{"enterprise_id": s.enterprise, "units": 100}]}),
    "orders POST /v1/renewals/{renewal_id}/exception": Access(
        REGULATOR_ONLY, {"renewal_id": lambda s: s.renewal_id}, body=reason),
    "orders GET /v1/renewals": Access({**OVERSEERS, "institution": OWN}),
    "orders GET /v1/renewals/{renewal_id}": Access(
        {**OVERSEERS, "institution": OWN}, {"renewal_id": lambda s: s.renewal_id}),
    "orders GET /v1/renewals/{renewal_id}/history": Access(
        {**OVERSEERS, "institution": OWN}, {"renewal_id": lambda s: s.renewal_id}),
    "orders POST /v1/orders": Access({"institution": OWN}, creates=True, body=lambda s: {
        "institution_id": s.institution, "listing_id": s.listing_id, "units": 1,
        "unit_price": f"{s.price}.00"}),
    "orders GET /v1/orders": Access(ORDERS_READERS),
    "orders GET /v1/orders/{order_id}": Access(ORDERS_READERS, {"order_id": order}),
    "orders GET /v1/orders/{order_id}/history": Access(ORDERS_READERS, {"order_id": order}),
    "orders POST /v1/orders/{order_id}/cancel": Access(
        {"institution": OWN}, {"order_id": order}, body=reason),
    "orders POST /v1/orders/{order_id}/acceptance": Access(
        {"institution": OWN}, {"order_id": order}, body=lambda _: {"accepted_units": 1}),
    "orders POST /v1/orders/{order_id}/rejection": Access(
        {"institution": OWN}, {"order_id": order}, body=reason),
    "orders GET /v1/pacing-warnings": Access({**OVERSEERS, "institution": OWN}),
    "orders POST /v1/pacing/evaluations": Access(OVERSEERS, body=empty),
    # --- supply -------------------------------------------------------------------------------
    "supply POST /v1/distributors": Access(OVERSEERS, body=empty),
    "supply GET /v1/distributors": Access(CATALOG_READERS),
    "supply GET /v1/distributors/{distributor_id}": Access(
        CATALOG_READERS, {"distributor_id": lambda s: s.distributor}),
    "supply GET /v1/distributors/{distributor_id}/history": Access(
        {**OVERSEERS, "distributor": OWN}, {"distributor_id": lambda s: s.distributor}),
    "supply POST /v1/violations": Access(REGULATOR_ONLY, body=empty),
    "supply POST /v1/violations/{bar_id}/lift": Access(
        REGULATOR_ONLY, {"bar_id": lambda _: BAR["bar_id"]}, body=reason),
    "supply GET /v1/violations": Access(CATALOG_READERS),
    "supply GET /v1/violations/{bar_id}": Access(
        CATALOG_READERS, {"bar_id": lambda _: BAR["bar_id"]}),
    "supply POST /v1/assignments": Access({"enterprise": OWN}, creates=True, body=lambda s: {
        "registration_no": s.cert, "distributor_id": s.distributor, "scope": "region",
        "region": s.region, "valid_from": "2026-02-01T00:00:00+08:00",
        "reason": "authorisation matrix"}),
    "supply POST /v1/assignments/{assignment_id}/revoke": Access(
        {"enterprise": OWN}, {"assignment_id": lambda s: s.assignment_id}, body=reason),
    "supply GET /v1/assignments": Access(SUPPLY_READERS),
    "supply GET /v1/assignments/{assignment_id}": Access(
        {**SUPPLY_READERS, "institution": STRANGER},
        {"assignment_id": lambda s: s.assignment_id}),
    "supply GET /v1/assignments/{assignment_id}/history": Access(
        {**SUPPLY_READERS, "institution": STRANGER},
        {"assignment_id": lambda s: s.assignment_id}),
    "supply POST /v1/accounts": Access({"institution": ALL}, body=lambda s: {
        "distributor_id": s.distributor, "status": "opened"}),
    "supply GET /v1/accounts": Access({**OVERSEERS, "institution": OWN, "distributor": OWN}),
    "supply GET /v1/account-open-items": Access({**OVERSEERS, "institution": OWN}),
    "supply GET /v1/deliveries": Access(SUPPLY_READERS),
    "supply GET /v1/deliveries/{order_id}": Access(SUPPLY_READERS, {"order_id": order}),
    "supply POST /v1/deliveries/{order_id}/shipments": Access(
        {"distributor": OWN}, {"order_id": order}, body=lambda _: {"units": 1}),
    "supply POST /v1/deliveries/{order_id}/deliveries": Access(
        {"distributor": OWN}, {"order_id": order}, body=lambda _: {"units": 1}),
    "supply GET /v1/delivery-stats": Access(
        {**OVERSEERS, "enterprise": OWN, "distributor": OWN}),
    "supply GET /v1/supply-risks": Access({**OVERSEERS, "enterprise": OWN, "institution": OWN}),
    "supply POST /v1/pending-orders/route": Access(OVERSEERS, body=empty),
    "supply GET /v1/contingencies": Access({**OVERSEERS, "enterprise": OWN}),
    "supply GET /v1/contingencies/{contingency_id}": Access(
        {**OVERSEERS, "enterprise": OWN}, {"contingency_id": unseeded}),
    # --- payments -----------------------------------------------------------------------------
    "payments POST /v1/payables/{payable_id}/payments": Access(
        {"institution": OWN, "agency": STRANGER}, {"payable_id": order},
        body=lambda _: {"amount": "1.00"}),
    "payments GET /v1/payables": Access(PAYABLE_READERS, query={"program_id": program}),
    "payments GET /v1/payables/ageing": Access(  # the export, as CSV
        PAYABLE_READERS, query={"format": lambda _: "csv"}),
    "payments GET /v1/payables/{payable_id}": Access(PAYABLE_READERS, {"payable_id": order}),
    "payments POST /v1/schedules/{schedule_id}/installments/{seq}/disbursements": Access(
        {"agency": OWN}, {"schedule_id": lambda s: s.schedule_id, "seq": lambda _: "1"},
        body=lambda _: {"amount": "1.00"}),
    "payments GET /v1/installments": Access({**OVERSEERS, "institution": OWN, "agency": OWN}),
    "payments GET /v1/prepayments/balances": Access(
        {**OVERSEERS, "institution": OWN, "agency": OWN}, query={"format": lambda _: "csv"}),
    "payments POST /v1/fund-payments": Access({"agency": OWN}, creates=True, body=lambda s: {
        "payments": [{"institution_id": s.institution, "month": "2026-03-01",
                      "amount": "100.00"}]}),
    "payments POST /v1/fund-payments/import": Access(
        {"agency": OWN}, creates=True,
        csv=lambda s: f"institution_id,month,amount\n{s.institution},2026-03-01,100.00\n"),
    # --- monitoring ---------------------------------------------------------------------------
    "monitoring POST /v1/credit/records": Access(REGULATOR_ONLY, body=empty),
    "monitoring GET /v1/credit/records": Access(
        {**OVERSEERS, "enterprise": OWN, "distributor": OWN}),
    "monitoring GET /v1/credit/records/{record_id}": Access(
        {**OVERSEERS, "enterprise": OWN, "distributor": STRANGER},
        {"record_id": lambda s: s.record_id}),
    "monitoring POST /v1/credit/records/{record_id}/confirmation": Access(
        REGULATOR_ONLY, {"record_id": lambda s: s.record_id}, body=reason),
    "monitoring POST /v1/credit/records/{record_id}/dismissal": Access(
        REGULATOR_ONLY, {"record_id": lambda s: s.record_id}, body=reason),
    "monitoring POST /v1/credit/records/{record_id}/repair": Access(
        {"enterprise": OWN, "distributor": STRANGER}, {"record_id": lambda s: s.record_id},
        body=reason),
    "monitoring POST /v1/credit/records/{record_id}/repair/approval": Access(
        REGULATOR_ONLY, {"record_id": lambda s: s.record_id}, body=reason),
    "monitoring POST /v1/credit/records/{record_id}/repair/refusal": Access(
        REGULATOR_ONLY, {"record_id": lambda s: s.record_id}, body=reason),
    "monitoring GET /v1/credit/ratings/{subject_kind}/{subject_id}": Access(
        {**OVERSEERS, "enterprise": OWN, "distributor": STRANGER},
        {"subject_kind": lambda _: "enterprise", "subject_id": lambda s: s.enterprise}),
    "monitoring POST /v1/credit/proposals/sweep": Access(OVERSEERS, body=empty),
    "monitoring POST /v1/credit/backup-switches": Access(REGULATOR_ONLY, body=empty),
    "monitoring POST /v1/credit/emergency-supplies": Access(REGULATOR_ONLY, body=empty),
    "monitoring GET /v1/reports/monthly/{month}": Access(OVERSEERS, {"month": lambda _: "2026-03"}),
    "monitoring POST /v1/report-closings": Access(OVERSEERS, body=empty),
    "monitoring GET /v1/assessments/{program_id}/{agreement_year}/{institution_id}": Access(
        OVERSEERS, {"program_id": program, "agreement_year": lambda _: "1",
                    "institution_id": lambda s: s.institution}),
    "monitoring GET /v1/completion-risks/{program_id}": Access(
        OVERSEERS, {"program_id": program}),
    "monitoring GET /v1/public/credit-ratings": Access(EVERYONE),
    "monitoring GET /v1/public/listings": Access(EVERYONE),
    "monitoring GET /v1/public/execution/{month}": Access(
        EVERYONE, {"month": lambda _: "2026-03"}),
}


def headers_of(role: str, org: str) -> dict[str, str]:
    return {} if role == "none" else bearer(role, org)


def seed(platform: dict[str, str]) -> None:
    """The world of ``A`` and ``B``, through the public APIs."""
    catalog, orders, supply = platform["catalog"], platform["orders"], platform["supply"]
    payments, monitoring = platform["payments"], platform["monitoring"]
    regulator = bearer("regulator", "BUREAU")
    for s in (A, B):
        r = post(f"{catalog}/v1/programs", {
            "program_id": s.program, "category": "冠脉支架", "region": s.region,
            "notice_no": "渝医保办〔2023〕3号", "organiser": "national",
            "execution_start": "2026-01-31T00:00:00+08:00", "cycle_years": 3,
            "preset": "chongqing-stents-2023"}, regulator)
        assert r.status_code == 201, r.text
        r = post(f"{catalog}/v1/programs/{s.program}/winning-products", {"rows": [{
            "seq": 1, "product_name": "冠脉雷帕霉素洗脱钴基合金支架系统",
            "registration_no": s.cert, "declaring_enterprise": s.enterprise_name,
            "registrant": s.enterprise_name, "product_price": str(int(s.price) - 50),
            "service_price": "50", "winning_price": s.price}]}, regulator)
        assert r.status_code == 201, r.text
        s.listing_id = r.json()["listing_ids"][0]
        r = post(f"{supply}/v1/distributors", {"distributor_id": s.distributor,
                                               "name": f"配送{s.tag}"}, regulator)
        assert r.status_code == 201, r.text
    for s in (A, B):
        enterprise = bearer("enterprise", s.enterprise)

        def assigned(s: Side = s, enterprise: dict[str, str] = enterprise) -> str | None:
            r = post(f"{supply}/v1/assignments", {
                "registration_no": s.cert, "distributor_id": s.distributor, "scope": "region",
                "region": s.region, "valid_from": "2026-01-01T00:00:00+08:00",
                "reason": "regional distributor"}, enterprise)
            return str(r.json()["assignment_id"]) if r.status_code == 201 else None

        s.assignment_id = until(assigned, what=f"the assignment of {s.tag}")
        hospital = bearer("institution", s.institution)
        until(lambda s=s, h=hospital: httpx.get(
            f"{orders}/v1/listings", params={"program_id": s.program}, headers=h,
            timeout=30).json()["items"], what="the listing in orders")
        table = io.StringIO()
        csv.writer(table).writerows([
            ["institution_id", "institution_type", "enterprise_id", "registration_no", "units"],
            [s.institution, "public", s.enterprise, s.cert, 100]])
        r = httpx.post(f"{orders}/v1/programs/{s.program}/agreements", content=table.getvalue(),
                       params={"agreement_year": 1}, timeout=30, headers={
                           **regulator, "Content-Type": "text/csv",
                           "Idempotency-Key": uuid.uuid4().hex})
        assert r.status_code == 201, r.text
        r = httpx.get(f"{orders}/v1/agreements", params={"program_id": s.program},
                      headers=regulator, timeout=30)
        s.agreement_id = r.json()["items"][0]["agreement_id"]
        r = post(f"{orders}/v1/orders", {"institution_id": s.institution,
                                         "listing_id": s.listing_id, "units": 10,
                                         "unit_price": f"{s.price}.00"}, hospital)
        assert r.status_code == 201, r.text
        s.order_id = r.json()["order_id"]
    for s in (A, B):
        hospital = bearer("institution", s.institution)

        def status(s: Side = s, h: dict[str, str] = hospital) -> str:
            return str(httpx.get(f"{orders}/v1/orders/{s.order_id}", headers=h,
                                 timeout=30).json()["status"])

        until(lambda status=status: status() == "routed", what=f"routing {s.tag}")
        distributor = bearer("distributor", s.distributor)
        for step in ("shipments", "deliveries"):
            r = post(f"{supply}/v1/deliveries/{s.order_id}/{step}", {"units": 10}, distributor)
            assert r.status_code == 201, r.text
        until(lambda status=status: status() == "delivered", what=f"delivery {s.tag}")
        r = post(f"{orders}/v1/orders/{s.order_id}/acceptance", {"accepted_units": 10},
                 hospital)
        assert r.status_code in (200, 201), r.text
        until(lambda s=s, h=hospital: httpx.get(
            f"{payments}/v1/payables/{s.order_id}", headers=h, timeout=30).status_code == 200,
            what=f"the payable of {s.tag}")
        r = post(f"{supply}/v1/accounts", {"distributor_id": s.distributor,
                                           "status": "requested"}, hospital)
        assert r.status_code == 201, r.text
        r = post(f"{orders}/v1/renewals", {
            "program_id": s.program, "agreement_year": 2, "institution_id": s.institution,
            "demand": [{"enterprise_id": s.enterprise, "units": 100}]}, hospital)
        assert r.status_code in (201, 422), r.text
        renewals = httpx.get(f"{orders}/v1/renewals", headers=hospital, timeout=30).json()
        s.renewal_id = renewals["items"][0]["renewal_id"]

        def filed(s: Side = s) -> str | None:
            r = post(f"{monitoring}/v1/credit/records", {
                "subject_kind": "enterprise", "subject_id": s.enterprise,
                "program_id": s.program, "level": "一般", "conduct": "late_delivery",
                "description": "配送超时", "evidence": ["记录"], "registration_nos": [s.cert],
                "occurred_on": "2026-02-20"}, regulator)
            return str(r.json()["record_id"]) if r.status_code == 201 else None

        s.record_id = until(filed, what=f"monitoring learning program {s.tag}")
    barred = f"D-X-{RUN}"
    assert post(f"{supply}/v1/distributors", {"distributor_id": barred, "name": "违规配送"},
                regulator).status_code == 201
    r = post(f"{supply}/v1/violations", {"distributor_id": barred, "reason": "违规",
                                         "years": 1}, regulator)
    assert r.status_code == 201, r.text
    BAR["bar_id"] = r.json()["bar"]["bar_id"]
    for s in (A, B):  # the prepayment schedule the agreement made (R-PAY-2)
        r = httpx.get(f"{payments}/v1/installments", params={"program_id": s.program},
                      headers=regulator, timeout=30)
        s.schedule_id = r.json()["items"][0]["schedule_id"]


@dataclass
class Call:
    service: str
    method: str
    template: str
    role: str
    owner: bool
    access: Access

    @property
    def key(self) -> str:
        return f"{self.service} {self.method} {self.template}"

    @property
    def caller(self) -> Side:
        return A if self.owner else B


def expected(call: Call, url_path: str) -> tuple[str, Callable[[httpx.Response], bool]]:
    """What the call must be answered with: a description and a check of the status."""
    seen = call.access.serves.get(call.role)
    if seen is None:
        if call.role == "none":
            return "401", lambda r: r.status_code == 401
        return "403", lambda r: r.status_code == 403
    if UNSEEDED in url_path:
        return "404 (no such object)", lambda r: r.status_code == 404
    denied = seen == STRANGER or (seen == OWN and not call.owner)
    if denied and call.method == "GET" and not call.access.path:
        # a list, filter or export asked for the owner's (``query``): answered, without a
        # trace of the owner's objects (checked by the caller)
        return "200", lambda r: r.status_code == 200
    if denied and call.access.creates:
        return "refused (403/404/409/422)", lambda r: r.status_code in (403, 404, 409, 422)
    if denied:
        return "404", lambda r: r.status_code == 404
    if call.method == "GET":
        return "200", lambda r: r.status_code == 200
    return "admitted (not 401/403/404, no 5xx)", lambda r: (
        r.status_code not in (401, 403, 404) and r.status_code < 500)


def request(client: httpx.Client, base: str, call: Call) -> tuple[str, httpx.Response]:
    """The call made; the first item is what the request itself named (path, query, body):
    an answer may repeat that without leaking anything."""
    access = call.access
    params = {k: f(A) for k, f in access.path.items()}
    url_path = call.template.format(**params)
    query = {k: f(A) for k, f in access.query.items()}  # the foreign org asks for A's too
    headers = headers_of(call.role, call.caller.org(call.role) if call.role != "none" else "")
    named = url_path + json.dumps(query, ensure_ascii=False)
    if call.method == "GET":
        return named, client.get(base + url_path, params=query, headers=headers)
    headers["Idempotency-Key"] = uuid.uuid4().hex
    if access.csv is not None:
        text = access.csv(A)
        return named + text, client.post(base + url_path, params=query, content=text,
                                         headers={**headers, "Content-Type": "text/csv"})
    body = access.body(A) if access.body is not None else {}
    return named + json.dumps(body, ensure_ascii=False), client.post(
        base + url_path, params=query, json=body, headers=headers)


@pytest.mark.timeout(900)
def test_every_route_answers_each_role_and_organisation_as_the_matrix_says(
        platform: dict[str, str]) -> None:
    documented: dict[str, tuple[str, str, str]] = {}
    for service, base in platform.items():
        spec = httpx.get(f"{base}/openapi.json", timeout=30).json()
        for template, operations in spec["paths"].items():
            for method in operations:
                if method in ("get", "post", "put", "patch", "delete"):
                    key = f"{service} {method.upper()} {template}"
                    documented[key] = (service, method.upper(), template)
    missing = sorted(set(documented) - set(MATRIX))
    assert not missing, "routes without a row in MATRIX (give each its roles):\n" + "\n".join(
        missing)
    stale = sorted(set(MATRIX) - set(documented))
    assert not stale, "rows of MATRIX for routes no service documents:\n" + "\n".join(stale)

    seed(platform)
    calls = [Call(service, method, template, role, owner, MATRIX[key])
             for key, (service, method, template) in documented.items()
             for role in ROLES for owner in (True, False)]
    # reads first, then writes (a write may change what a later read sees); a foreign
    # caller's write before the owner's
    calls.sort(key=lambda c: (c.method != "GET", c.key, c.owner))
    print(f"\nauthorisation matrix: {len(documented)} routes x {len(ROLES)} roles x 2 "
          f"organisations = {len(calls)} requests")
    failures: list[str] = []
    with httpx.Client(timeout=30) as client:
        for call in calls:
            named, r = request(client, platform[call.service], call)
            url_path = r.request.url.path
            what, ok = expected(call, named)
            who = f"{call.role}:{call.caller.org(call.role) if call.role != 'none' else '-'}"
            line = f"{call.method} {call.service}{url_path} as {who}"
            if not ok(r):
                failures.append(f"{line}: expected {what}, got {r.status_code} {r.text[:300]}")
                continue
            if r.status_code >= 400 and not r.headers.get("content-type", "").startswith(
                    "application/problem+json"):
                failures.append(f"{line}: {r.status_code} is not problem+json")
            seen = call.access.serves.get(call.role)
            if seen in (OWN, STRANGER):
                other = B if call.owner else A
                leaked = sorted(t for t in other.private(call.role)
                                if t in r.text and t not in named)
                if leaked:
                    failures.append(f"{line}: the answer names the other organisation's "
                                    f"{leaked}: {r.text[:300]}")
    assert not failures, f"{len(failures)} of {len(calls)} answers differ:\n" + "\n".join(
        failures)


EXTRA_FIELDS = [  # (service, path, role, org, a valid body, the field the server owns)
    ("orders", "/v1/orders", "institution", A.institution, {
        "institution_id": A.institution, "listing_id": "L-1", "units": 1,
        "unit_price": "730.00"}, {"status": "accepted"}),
    ("orders", "/v1/orders/O-1/acceptance", "institution", A.institution,
     {"accepted_units": 1}, {"accepted_amount": "7300.00"}),
    ("payments", "/v1/payables/P-1/payments", "institution", A.institution,
     {"amount": "1.00"}, {"status": "paid"}),
    ("supply", "/v1/assignments", "enterprise", A.enterprise, {
        "registration_no": A.cert, "distributor_id": A.distributor, "scope": "region",
        "region": A.region, "valid_from": "2026-02-01T00:00:00+08:00", "reason": "x"},
     {"enterprise_id": B.enterprise}),
    ("supply", "/v1/deliveries/O-1/shipments", "distributor", A.distributor, {"units": 1},
     {"distributor_id": B.distributor}),
    ("catalog", "/v1/listings", "enterprise", A.enterprise, {
        "program_id": A.program, "registration_no": "国械注准20193130999",
        "product_name": "非中选支架", "enterprise_name": A.enterprise_name,
        "registrant": A.enterprise_name, "price": "600"}, {"listing_id": "L-MINE"}),
    ("monitoring", "/v1/credit/records/R-1/repair", "enterprise", A.enterprise,
     {"reason": "x"}, {"status": "repaired"}),
]


@pytest.mark.parametrize(("service", "path", "role", "org", "body", "extra"), EXTRA_FIELDS,
                         ids=[f"{e[0]} {e[1]} {next(iter(e[5]))}" for e in EXTRA_FIELDS])
def test_a_field_the_server_owns_is_refused_by_name(
        platform: dict[str, str], service: str, path: str, role: str, org: str,
        body: dict[str, Any], extra: dict[str, Any]) -> None:
    """OWASP API3: a request cannot set a status, amount, organisation or id by adding it to
    its body; the 422 problem names the field."""
    r = post(f"{platform[service]}{path}", {**body, **extra}, bearer(role, org))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    fields = [e["field"] for e in r.json()["errors"]]
    assert fields == [f"body.{name}" for name in extra], r.text
