"""End to end, a credit record's measures across the platform, each service its own process
(R-CRD-3/4, R-CAT-8, R-SUP-4): a regulator files a record against a winning enterprise in
monitoring → catalog suspends the listing of the product involved → orders refuses an order
for it → the enterprise's repair is approved → the listing is reinstated and ordering works
again; a distributor rated dishonest is barred in supply for its level's period."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from contracts.profiles import PolicyProfile
from services.catalog.presets import CHONGQING_STENTS_2023, NATIONAL_CREDIT_2025
from tests.e2e.conftest import bearer
from tests.e2e.world import (
    CERT,
    ENTERPRISE,
    MICROPORT,
    REGULATOR,
    post,
    publish_program,
    until,
)

pytestmark = pytest.mark.e2e
RUN = uuid.uuid4().hex[:6]
PROGRAM = f"CQ-CREDIT-{RUN}"
REGION = f"重庆市-{RUN}"
HOSPITAL = bearer("institution", f"H-{RUN}")
DISTRIBUTOR_ID = f"D-{RUN}"
# the 2025 scheme (it bars distributors), repair approvable at once (the e2e clock is real)
PROFILE: PolicyProfile = CHONGQING_STENTS_2023.model_copy(update={
    "credit": NATIONAL_CREDIT_2025,
    "monitoring": CHONGQING_STENTS_2023.monitoring.model_copy(
        update={"repair_min_months": 0})})


def test_a_credit_record_suspends_ordering_and_repair_restores_it(
        platform: dict[str, str]) -> None:
    catalog, orders = platform["catalog"], platform["orders"]
    supply, monitoring = platform["supply"], platform["monitoring"]
    listing_id = publish_program(catalog, PROGRAM, REGION,
                                 profile=PROFILE.model_dump(mode="json"))

    def listing_status() -> str:
        items = httpx.get(f"{orders}/v1/listings", params={"program_id": PROGRAM},
                          headers=HOSPITAL).json()["items"]
        return str(items[0]["status"]) if items else ""

    until(lambda: listing_status() == "listed", what="the listing in orders")
    order = {"institution_id": f"H-{RUN}", "listing_id": listing_id, "units": 5,
             "unit_price": "730.00"}
    assert post(f"{orders}/v1/orders", order, HOSPITAL).status_code == 201

    # monitoring: a regulator files a 严重失信 record for the product (once monitoring has
    # the program from catalog's topic)
    def filed() -> dict[str, Any] | None:
        r = post(f"{monitoring}/v1/credit/records", {
            "subject_kind": "enterprise", "subject_id": MICROPORT, "program_id": PROGRAM,
            "level": "严重失信", "conduct": "unfilled_orders",
            "description": "多次未按协议供货", "evidence": ["渝医保函〔2026〕7号"],
            "registration_nos": [CERT], "occurred_on": "2026-02-20"}, REGULATOR)
        return dict(r.json()) if r.status_code == 201 else None

    record = until(filed, what="monitoring learning the program")
    until(lambda: listing_status() == "suspended",
          what="catalog suspending the listing and orders learning it")
    refused = post(f"{orders}/v1/orders", order, HOSPITAL)
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"].endswith("listing-suspended")
    r = httpx.get(f"{catalog}/v1/listings/{listing_id}", headers=REGULATOR)
    assert r.json()["status"] == "suspended", r.text

    # repair (R-CRD-4): the enterprise applies, the regulator approves, the measures lift
    rid = record["record_id"]
    r = post(f"{monitoring}/v1/credit/records/{rid}/repair", {"reason": "已降价并恢复供货"},
             ENTERPRISE)
    assert r.status_code == 200, r.text
    r = post(f"{monitoring}/v1/credit/records/{rid}/repair/approval", {"reason": "整改到位"},
             REGULATOR)
    assert r.status_code == 200 and r.json()["status"] == "repaired", r.text
    until(lambda: listing_status() == "listed", what="the listing reinstated in orders")
    assert post(f"{orders}/v1/orders", order, HOSPITAL).status_code == 201

    # a distributor rated 失信 loses its qualification for the level's 1 year (R-CRD-3)
    r = post(f"{supply}/v1/distributors", {"distributor_id": DISTRIBUTOR_ID, "name": "渝配送"},
             REGULATOR)
    assert r.status_code == 201, r.text
    r = post(f"{monitoring}/v1/credit/records", {
        "subject_kind": "distributor", "subject_id": DISTRIBUTOR_ID, "program_id": PROGRAM,
        "level": "失信", "conduct": "late_delivery", "description": "配送严重超时",
        "evidence": ["记录"], "occurred_on": "2026-02-21"}, REGULATOR)
    assert r.status_code == 201, r.text

    def barred() -> dict[str, Any] | None:
        d = httpx.get(f"{supply}/v1/distributors/{DISTRIBUTOR_ID}", headers=REGULATOR).json()
        return dict(d) if d.get("status") == "barred" else None

    d = until(barred, what="supply barring the distributor")
    assert d["barred_until"][:4] == str(int(d["barred_from"][:4]) + 1)
