"""Catalog on the real PostgreSQL and Kafka: the notice import in every format and every
rejection, corrections, payment standards, non-winning listings at the national lowest price,
credit-measure suspensions, history, search, and who may see what (R-PRG-*, R-CAT-*)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import httpx
import openpyxl
import pytest

from contracts.identity import enterprise_id
from contracts.monitoring import CreditMeasureApplied, CreditMeasureLifted
from tests.conftest import SHARED
from tests.integration.apps import bearer, eventually, publish

pytestmark = pytest.mark.integration
REGULATOR = bearer("regulator", "BUREAU")
OPERATOR = bearer("operator", "OPS")
HOSPITAL = bearer("institution", "H0001")
SEED = (SHARED / "seeds" / "000_7fa77ec0ebae0095.txt").read_text(encoding="utf-8")
CSV_TEXT = (SHARED / "data" / "chongqing-stents-2023-winning.csv").read_text(encoding="utf-8")
EXPECTED = list(csv.DictReader(io.StringIO(CSV_TEXT)))
MEDTRONIC = enterprise_id("美敦力（上海）管理有限公司")
MICROPORT = enterprise_id("上海微创医疗器械(集团)有限公司")


def program(program_id: str = "CQ-STENT-2023", preset: str = "chongqing-stents-2023",
            region: str = "重庆市") -> dict[str, Any]:
    return {"program_id": program_id, "category": "冠脉支架", "region": region,
            "notice_no": "渝医保办〔2023〕3号", "organiser": "national",
            "execution_start": "2023-01-31T00:00:00+08:00", "cycle_years": 3,
            "preset": preset}


async def publish_program(client: httpx.AsyncClient, **kw: Any) -> str:
    body = program(**kw)
    r = await client.post("/v1/programs", json=body, headers=REGULATOR)
    assert r.status_code == 201, r.text
    return str(body["program_id"])


async def upload(client: httpx.AsyncClient, program_id: str, content: bytes | str,
                 content_type: str, **params: str) -> httpx.Response:
    data = content.encode() if isinstance(content, str) else content
    return await client.post(f"/v1/programs/{program_id}/winning-products", content=data,
                             headers={**REGULATOR, "Content-Type": content_type},
                             params=params)


async def all_listings(client: httpx.AsyncClient, headers: dict[str, str] = REGULATOR,
                       **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 5, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/listings", params=query, headers=headers)).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def as_rows(items: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    return sorted((i["registration_no"], i["product_name"], i["enterprise_name"],
                   i["registrant"], i["listing_price"]) for i in items)


EXPECTED_ROWS = sorted((r["registration_no"], r["product_name"], r["declaring_enterprise"],
                        r["registrant"], f"{int(r['winning_price'])}.00") for r in EXPECTED)


@pytest.mark.parametrize("fmt", ["notice-text", "csv", "xlsx"])
async def test_r_cat_1_seed_table_imports_exactly_the_14_products(
        client: httpx.AsyncClient, fmt: str) -> None:
    pid = await publish_program(client)
    if fmt == "notice-text":
        r = await upload(client, pid, SEED, "text/plain; charset=utf-8")
    elif fmt == "csv":
        r = await upload(client, pid, CSV_TEXT, "text/csv")
    else:
        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(list(EXPECTED[0].keys()))
        for row in EXPECTED:
            sheet.append([int(v) if k in ("seq",) or k.endswith("price") else v
                          for k, v in row.items()])
        out = io.BytesIO()
        book.save(out)
        r = await upload(client, pid, out.getvalue(),
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert r.status_code == 201, r.text
    assert r.json()["imported"] == 14
    items = await all_listings(client, program_id=pid)
    assert as_rows(items) == EXPECTED_ROWS
    # R-CAT-5: listed at once at the winning price; R-CAT-7: payment standard = winning price
    assert all(i["status"] == "listed" and i["winning"] for i in items)
    assert all(i["payment_standard"] == i["listing_price"] for i in items)
    assert {i["coverage"] for i in items} == {"full"}
    # R-CAT-4: one enterprise, several winning products (上海微创 has 3)
    assert sum(1 for i in items if i["enterprise_id"] == MICROPORT) == 3


async def test_r_cat_1_reimport_is_a_no_op(client: httpx.AsyncClient) -> None:
    pid = await publish_program(client)
    assert (await upload(client, pid, SEED, "text/plain")).json()["imported"] == 14
    again = (await upload(client, pid, SEED, "text/plain")).json()
    assert (again["imported"], again["corrected"], again["unchanged"]) == (0, 0, 14)


async def test_every_bad_row_is_reported_and_nothing_is_imported(
        client: httpx.AsyncClient) -> None:
    pid = await publish_program(client)
    lines = CSV_TEXT.splitlines()
    lines[1] = lines[1].replace("国械注准20163132305", "国械注准2016313230")  # R-CAT-2
    lines[2] = lines[2].replace(",779", ",779.01")  # R-CAT-3: one fen off
    lines[4] = lines[4].replace("国械注准20193131802", "国械注准20163131174")  # R-CAT-4 dup
    lines[6] = lines[6].replace("Medtronic Inc.", "")  # missing cell
    r = await upload(client, pid, "\n".join(lines), "text/csv")
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    errors = {(e["row"], e["field"]) for e in r.json()["errors"]}
    assert errors == {(1, "registration_no"), (2, "winning_price"), (4, "registration_no"),
                      (6, "registrant")}
    assert await all_listings(client, program_id=pid) == []


async def test_unknown_format_and_unknown_program(client: httpx.AsyncClient) -> None:
    pid = await publish_program(client)
    r = await upload(client, pid, b"%PDF-1.4", "application/pdf")
    assert r.status_code == 415
    r = await upload(client, "NO-SUCH", CSV_TEXT, "text/csv")
    assert r.status_code == 404


async def test_corrections_are_explicit_versioned_events(client: httpx.AsyncClient) -> None:
    pid = await publish_program(client)
    await upload(client, pid, CSV_TEXT, "text/csv")
    corrected = CSV_TEXT.replace("747,48,795", "746,48,794")
    r = await upload(client, pid, corrected, "text/csv")
    assert r.status_code == 409
    assert r.json()["errors"][0]["changes"]["listing_price"] == {"old": "795.00",
                                                                 "new": "794.00"}
    assert (await all_listings(client, registration_no="国械注准20163131174"))[0][
        "listing_price"] == "795.00"  # nothing changed silently
    r = await upload(client, pid, corrected, "text/csv",
                     corrections_reason="勘误: notice correction 2023-02-01")
    assert r.status_code == 201, r.text
    assert (r.json()["corrected"], r.json()["unchanged"]) == (1, 13)
    listing = (await all_listings(client, registration_no="国械注准20163131174"))[0]
    assert (listing["listing_price"], listing["version"]) == ("794.00", 2)
    history = (await client.get(f"/v1/listings/{listing['listing_id']}/history",
                                headers=REGULATOR)).json()
    assert [h["change"] for h in history] == ["listed", "corrected"]
    assert history[1]["reason"] == "勘误: notice correction 2023-02-01"
    assert history[1]["actor"].startswith("regulator:BUREAU")


async def test_r_cat_7_category_cap_sets_the_payment_standard(
        client: httpx.AsyncClient) -> None:
    pid = await publish_program(client, program_id="LN-GW-2021",
                                preset="liaoning-guide-wires-2021", region="辽宁省")
    rows = [{"seq": 1, "product_name": "导引导丝A", "registration_no": "国械注进20163130001",
             "declaring_enterprise": "甲公司", "registrant": "甲公司", "product_price": "700",
             "service_price": "30", "winning_price": "730"},
            {"seq": 2, "product_name": "导引导丝B", "registration_no": "国械注准20163130002",
             "declaring_enterprise": "乙公司", "registrant": "乙公司", "product_price": "660",
             "service_price": "30", "winning_price": "690"}]
    r = await client.post(f"/v1/programs/{pid}/winning-products", json={"rows": rows},
                          headers=REGULATOR)
    assert r.status_code == 201, r.text
    items = {i["registration_no"]: i for i in await all_listings(client, program_id=pid)}
    capped, full = items["国械注进20163130001"], items["国械注准20163130002"]
    assert (capped["listing_price"], capped["payment_standard"], capped["coverage"]) == (
        "730.00", "720.00", "capped")
    assert (full["payment_standard"], full["coverage"]) == ("690.00", "full")


async def test_r_cat_6_non_winning_listing_follows_the_national_lowest_price(
        client: httpx.AsyncClient) -> None:
    pid = await publish_program(client)
    firm = bearer("enterprise", enterprise_id("丙医疗有限公司"))
    product = {"program_id": pid, "registration_no": "国械注准20183130099",
               "product_name": "药物洗脱支架系统X", "enterprise_name": "丙医疗有限公司",
               "registrant": "丙医疗有限公司", "price": "990.00"}
    r = await client.post("/v1/listings", json=product, headers=firm)
    assert (r.status_code, r.json()["type"]) == (422, "urn:vbp:problem:no-national-lowest-price")
    for platform, price, source in [("A省平台", "1000.00", "platform"),
                                    ("企业自报", "950.00", "self_reported"),
                                    ("B省平台", "980.00", "platform"),
                                    ("备案", "960.00", "filing")]:
        r = await client.post("/v1/price-observations", headers=OPERATOR, json={
            "registration_no": "国械注准20183130099", "platform": platform, "price": price,
            "observed_on": "2023-02-01", "source_type": source})
        assert r.status_code == 201, r.text
    assert r.json()["national_lowest"] == "980.00"
    r = await client.post("/v1/listings", json=product, headers=firm)
    assert (r.status_code, r.json()["national_lowest"]) == (422, "980.00")
    r = await client.post("/v1/listings", json={**product, "price": "980.00"}, headers=firm)
    assert r.status_code == 201, r.text
    lid = r.json()["listing_id"]
    r = await client.post("/v1/price-observations", headers=OPERATOR, json={
        "registration_no": "国械注准20183130099", "platform": "C省平台", "price": "970.00",
        "observed_on": "2023-03-01", "source_type": "platform"})
    assert r.json()["lowered_listings"] == [lid]
    listing = (await client.get(f"/v1/listings/{lid}", headers=HOSPITAL)).json()
    assert (listing["listing_price"], listing["national_lowest"], listing["winning"]) == (
        "970.00", "970.00", False)
    history = (await client.get(f"/v1/listings/{lid}/history", headers=firm)).json()
    assert [h["change"] for h in history] == ["listed", "price_changed"]
    assert "C省平台" in history[1]["reason"]
    observed = (await client.get("/v1/price-observations",
                                 params={"registration_no": "国械注准20183130099"},
                                 headers=REGULATOR)).json()
    assert len(observed["items"]) == 5 and observed["next_cursor"] is None
    # a page at a time, by the day observed: the same five, then no cursor
    pages, cursor = [], None
    for _ in range(4):
        page = (await client.get("/v1/price-observations", headers=REGULATOR, params={
            "registration_no": "国械注准20183130099", "limit": 2,
            **({"cursor": cursor} if cursor else {})})).json()
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [o for p in pages for o in p] == observed["items"]
    assert [o["observed_on"] for o in observed["items"]] == sorted(
        o["observed_on"] for o in observed["items"])
    bad = await client.get("/v1/price-observations", headers=REGULATOR, params={
        "registration_no": "国械注准20183130099", "cursor": "yesterday"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.cursor"
    # an enterprise cannot list a product in another enterprise's name
    other = bearer("enterprise", MEDTRONIC)
    r = await client.post("/v1/listings", headers=other,
                          json={**product, "registration_no": "国械注准20183130098"})
    assert r.status_code == 403


async def test_r_cat_8_credit_measure_suspends_and_lifting_reinstates(
        client: httpx.AsyncClient, bootstrap: str) -> None:
    pid = await publish_program(client)
    await upload(client, pid, CSV_TEXT, "text/csv")
    measure = CreditMeasureApplied(
        measure_id=f"M-{pid}-1", subject_id=MEDTRONIC, subject_kind="enterprise",
        region="重庆市", level="严重", measure="suspend_listing_involved", scope="involved",
        registration_nos=["国械注进20163130682"], effective_from=datetime.now(UTC),
        reason="unfilled orders", decided_by="regulator:BUREAU/u1")
    await publish(bootstrap, measure)

    async def suspended() -> None:
        items = await all_listings(client, registration_no="国械注进20163130682")
        assert items[0]["status"] == "suspended"
        assert "unfilled orders" in items[0]["suspended_reason"]

    await eventually(suspended)
    assert len(await all_listings(client, program_id=pid, status="suspended")) == 1
    await publish(bootstrap, measure)  # a duplicate delivery changes nothing
    await publish(bootstrap, CreditMeasureLifted(
        measure_id=measure.measure_id, subject_id=MEDTRONIC, subject_kind="enterprise",
        reason="credit repaired", lifted_by="regulator:BUREAU/u1",
        lifted_at=datetime.now(UTC)))

    async def reinstated() -> None:
        items = await all_listings(client, registration_no="国械注进20163130682")
        assert items[0]["status"] == "listed"

    await eventually(reinstated)
    lid = (await all_listings(client, registration_no="国械注进20163130682"))[0]["listing_id"]
    history = (await client.get(f"/v1/listings/{lid}/history", headers=REGULATOR)).json()
    assert [h["change"] for h in history] == ["listed", "suspended", "reinstated"]


async def test_search_filters_and_stable_pages(client: httpx.AsyncClient) -> None:
    pid = await publish_program(client)
    await upload(client, pid, CSV_TEXT, "text/csv")
    pages = await all_listings(client, program_id=pid)
    assert [i["listing_id"] for i in pages] == sorted(i["listing_id"] for i in pages)
    assert len(pages) == len({i["listing_id"] for i in pages}) == 14
    by_name = await all_listings(client, q="依维莫司")
    assert {i["registration_no"] for i in by_name} == {"国械注进20153130608",
                                                       "国械注进20163132140"}
    assert len(await all_listings(client, enterprise_id=MICROPORT)) == 3
    assert len(await all_listings(client, q="Boston")) == 0  # registrant is not searched
    assert len(await all_listings(client, q="%")) == 0  # LIKE wildcards are literal
    r = await client.get("/v1/listings", params={"limit": 501}, headers=REGULATOR)
    assert r.status_code == 422


async def test_enterprises_see_only_their_own(client: httpx.AsyncClient) -> None:
    pid = await publish_program(client)
    await upload(client, pid, CSV_TEXT, "text/csv")
    medtronic = bearer("enterprise", MEDTRONIC)
    own = await all_listings(client, medtronic)
    assert [i["registration_no"] for i in own] == ["国械注进20163130682"]
    assert await all_listings(client, medtronic, enterprise_id=MICROPORT) == []
    theirs = (await all_listings(client, enterprise_id=MICROPORT))[0]["listing_id"]
    for path in (f"/v1/listings/{theirs}", f"/v1/listings/{theirs}/history"):
        assert (await client.get(path, headers=medtronic)).status_code == 404
        assert (await client.get(path, headers=HOSPITAL)).status_code == 200


ROUTES = [
    ("POST", "/v1/programs", {"regulator"}),
    ("POST", "/v1/programs/P/profile", {"regulator"}),
    ("POST", "/v1/programs/P/winning-products", {"regulator", "operator"}),
    ("POST", "/v1/price-observations", {"regulator", "operator"}),
    ("GET", "/v1/price-observations?registration_no=x", {"regulator", "operator"}),
    ("POST", "/v1/listings", {"regulator", "operator", "enterprise"}),
    ("GET", "/v1/listings", "all"),
    ("GET", "/v1/listings/L", "all"),
    ("GET", "/v1/listings/L/history", "all"),
    ("GET", "/v1/programs", "all"),
    ("GET", "/v1/programs/P", "all"),
    ("GET", "/v1/presets", "all"),
]


@pytest.mark.parametrize(("method", "path", "allowed"), ROUTES)
async def test_every_route_checks_the_token_and_the_role(
        client: httpx.AsyncClient, method: str, path: str, allowed: set[str] | str) -> None:
    r = await client.request(method, path, json={})
    assert r.status_code == 401
    for role in ("regulator", "operator", "institution", "enterprise", "distributor"):
        r = await client.request(method, path, json={}, headers=bearer(role, "X1"))
        if allowed == "all" or role in allowed:
            assert r.status_code != 403, (role, r.text)
        else:
            assert r.status_code == 403, (role, r.text)


async def test_profiles_are_versioned_never_edited(client: httpx.AsyncClient) -> None:
    pid = await publish_program(client)
    first = (await client.get(f"/v1/programs/{pid}", headers=HOSPITAL)).json()
    assert first["profile_version"] == 1
    assert first["profile"]["renewal"]["total_min_ratio"] == "0.95"
    profile = {**first["profile"]}
    profile["renewal"] = {**profile["renewal"], "total_min_ratio": "0.9"}
    r = await client.post(f"/v1/programs/{pid}/profile", headers=REGULATOR,
                          json={"profile": profile, "reason": "bureau decision 2024-01"})
    assert r.status_code == 201, r.text
    now = (await client.get(f"/v1/programs/{pid}", headers=HOSPITAL)).json()
    assert (now["profile_version"], now["profile"]["version"]) == (2, 2)
    assert now["profile"]["renewal"]["total_min_ratio"] == "0.9"
    bad = {**profile, "renewal": {**profile["renewal"], "total_min_ratio": "1.5"}}
    r = await client.post(f"/v1/programs/{pid}/profile", headers=REGULATOR,
                          json={"profile": bad, "reason": "x"})
    assert r.status_code == 422
    assert any("total_min_ratio" in e["field"] for e in r.json()["errors"])


# --- views: the price split and enterprises by name (issue #12, item 14) ---------------------


async def test_listing_views_carry_the_price_split_and_the_enterprise_name(
        client: httpx.AsyncClient) -> None:
    pid = await publish_program(client)
    await upload(client, pid, CSV_TEXT, "text/csv")
    expected = {r["registration_no"]: r for r in EXPECTED}
    items = await all_listings(client, program_id=pid)
    assert len(items) == 14
    for item in items:  # R-CAT-3: winning price = product price + service price, as imported
        row = expected[item["registration_no"]]
        assert (item["product_price"], item["service_price"], item["listing_price"]) == (
            f"{row['product_price']}.00", f"{row['service_price']}.00",
            f"{row['winning_price']}.00")
        assert (item["enterprise_id"], item["enterprise_name"]) == (
            enterprise_id(row["declaring_enterprise"]), row["declaring_enterprise"])
    one = (await client.get(f"/v1/listings/{items[0]['listing_id']}", headers=HOSPITAL)).json()
    assert {k: v for k, v in one.items() if k != "listed_at"} == {
        k: v for k, v in items[0].items() if k != "listed_at"}  # (same instant, Z or +00:00)


async def test_refusals_name_the_enterprise_beside_its_id(client: httpx.AsyncClient) -> None:
    pid = await publish_program(client)
    await upload(client, pid, CSV_TEXT, "text/csv")
    r = await client.post("/v1/listings", headers=bearer("enterprise", MEDTRONIC), json={
        "program_id": pid, "registration_no": "国械注准20183130099",
        "product_name": "药物洗脱支架系统X", "enterprise_name": "丙医疗有限公司",
        "registrant": "丙医疗有限公司", "price": "990.00"})
    assert r.status_code == 403
    detail = r.json()["detail"]
    assert f"美敦力（上海）管理有限公司 ({MEDTRONIC})" in detail
    assert f"丙医疗有限公司 ({enterprise_id('丙医疗有限公司')})" in detail


async def test_one_problem_is_one_problem(client: httpx.AsyncClient) -> None:
    pid = await publish_program(client)
    one_bad = CSV_TEXT.replace(",779", ",779.01")
    r = await upload(client, pid, one_bad, "text/csv")
    assert (r.status_code, r.json()["detail"]) == (422, "1 problem")
    two_bad = one_bad.replace(",747,48,795", ",747,48,795.01")
    assert (await upload(client, pid, two_bad, "text/csv")).json()["detail"] == "2 problems"


# --- the notice's text with page-break noise between rows (issue #12, item 6) -----------------


async def test_r_cat_1_noise_between_rows_is_skipped_and_every_row_imported(
        client: httpx.AsyncClient) -> None:
    from tests.unit.test_catalog_importing import HEADER, PAGE_BREAK_NOISE, seed_with

    pid = await publish_program(client)
    text, where = seed_with(PAGE_BREAK_NOISE)
    r = await upload(client, pid, text, "text/plain; charset=utf-8")
    assert r.status_code == 201, r.text
    result = r.json()
    assert (result["imported"], result["skipped"]) == (14, 11)
    skipped = {s["text"]: s for s in result["skipped_lines"]}
    assert skipped["— 3 —"] == {"line": where["— 3 —"], "text": "— 3 —",
                                "reason": "a page number"}
    assert skipped[HEADER]["reason"] == "the table's header, repeated"
    assert skipped["重庆市医疗保障局办公室"]["line"] == where["重庆市医疗保障局办公室"]
    assert skipped["2023年1月18日印发"]["line"] == where["2023年1月18日印发"]
    assert as_rows(await all_listings(client, program_id=pid)) == EXPECTED_ROWS


async def test_r_cat_1_a_table_with_a_missing_seq_is_refused_naming_the_gap(
        client: httpx.AsyncClient) -> None:
    from tests.unit.test_catalog_importing import seed_with

    pid = await publish_program(client)
    text, where = seed_with({7: ["— 3 —"]}, drop=8)
    r = await upload(client, pid, text, "text/plain")
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == "1 problem"
    [error] = r.json()["errors"]
    assert (error["row"], error["field"]) == (8, "seq")
    assert error["reason"].startswith(
        f"序号 8 missing between row 7 (line {where['7']}) and row 9 (line {where['9']})")
    assert "rows 1-7 and 9-14" in error["reason"]
    assert await all_listings(client, program_id=pid) == []


async def test_r_cat_1_a_line_that_looks_like_a_broken_row_is_refused(
        client: httpx.AsyncClient) -> None:
    from tests.unit.test_catalog_importing import seed_with

    pid = await publish_program(client)
    seed_row_9 = next(line for line in SEED.splitlines() if line.startswith("9\t"))
    text, where = seed_with({8: ["— 3 —"]}, replace={9: seed_row_9.replace("\t", " ")})
    r = await upload(client, pid, text, "text/plain")
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["row"] == 9
    assert error["reason"].startswith(f"line {where['9']} '9 钴铬合金")
    assert await all_listings(client, program_id=pid) == []
