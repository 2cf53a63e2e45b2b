"""Problems in Chinese on a real service (catalog, in-process, on the real PostgreSQL and
Kafka): a missing token, an invalid body and the rate limiter's 429 all answer with a Chinese
title when the request prefers Chinese, and in English otherwise (issue #17)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from services.catalog.app import SPEC
from services.runtime.app import create_app
from services.runtime.settings import Settings
from tests.integration.apps import bearer, running

pytestmark = pytest.mark.integration
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}


def catalog(settings: Settings) -> FastAPI:
    return create_app(SPEC, settings, configure_logging=False)


async def test_problems_speak_the_language_the_request_prefers(database_url: str,
                                                                bootstrap: str) -> None:
    async with running(catalog, "catalog", database_url, bootstrap,
                       rate_limit_writes_per_s=0.001, rate_limit_writes_burst=2) as c:
        anonymous = await c.get("/v1/programs", headers=ZH)
        assert anonymous.status_code == 401
        assert anonymous.json()["title"] == "需要身份认证"
        assert anonymous.headers["content-language"] == "zh-CN"
        assert anonymous.headers["content-type"].startswith("application/problem+json")
        english = await c.get("/v1/programs")
        assert english.json()["title"] == "Authentication required"

        regulator: dict[str, Any] = {**bearer("regulator", "BUREAU"), **ZH}
        invalid = await c.post("/v1/programs", json={"program_id": "X"}, headers=regulator)
        assert invalid.status_code == 422 and invalid.json()["title"] == "请求无效"
        assert any(e["field"].endswith("category") for e in invalid.json()["errors"])
        for _ in range(2):  # the burst of 2 writes is spent; the next one waits 1,000 s
            limited = await c.post("/v1/programs", json={"program_id": "X"}, headers=regulator)
        assert limited.status_code == 429, limited.text
        assert limited.json()["title"] == "请求过于频繁" and "retry-after" in limited.headers
        assert limited.json()["detail"].startswith("贵机构在 catalog 上此类请求的限额")


async def test_details_and_the_openapi_document_in_chinese(database_url: str,
                                                           bootstrap: str) -> None:
    async with running(catalog, "catalog", database_url, bootstrap) as c:
        regulator: dict[str, Any] = bearer("regulator", "BUREAU")
        missing = await c.get("/v1/programs/NO-SUCH", headers={**regulator, **ZH})
        assert missing.status_code == 404
        assert missing.json()["title"] == "未找到：项目"
        assert missing.json()["detail"] == "项目 'NO-SUCH' 不存在或您无权查看"
        english = await c.get("/v1/programs/NO-SUCH", headers=regulator)
        assert english.json()["detail"] == "no program 'NO-SUCH' visible to you"

        # the runtime's own texts are templates too: a role that may not do this
        forbidden = await c.post("/v1/programs", json={}, headers={
            **bearer("enterprise", "E1"), **ZH})
        assert forbidden.status_code == 403, forbidden.text
        assert forbidden.json()["detail"].startswith(
            "角色 'enterprise' 无权执行此操作；允许的角色：")
        # pydantic's messages by error type: a missing field, a too long string
        invalid = await c.post("/v1/programs", json={"program_id": "P" * 65},
                               headers={**regulator, **ZH})
        assert invalid.status_code == 422
        said = {e["field"]: e["message"] for e in invalid.json()["errors"]}
        assert said["body.program_id"] == "字符串最多应有 64 个字符"
        assert said["body.category"] == "缺少必填字段"
        english = await c.post("/v1/programs", json={"program_id": "P" * 65}, headers=regulator)
        said = {e["field"]: e["message"] for e in english.json()["errors"]}
        assert said["body.program_id"] == "String should have at most 64 characters"
        assert said["body.category"] == "Field required"

        zh = await c.get("/openapi.json", headers=ZH)
        assert zh.status_code == 200 and zh.headers["content-language"] == "zh-CN"
        publish = zh.json()["paths"]["/v1/programs"]["post"]
        assert publish["summary"] == "发布项目"
        assert publish["description"].startswith("发布一个项目")
        schema = zh.json()["components"]["schemas"]["ProgramIn"]["properties"]["region"]
        assert schema["description"] == "地区（省或直辖市）"
        en = await c.get("/openapi.json")
        assert "content-language" not in en.headers
        assert en.json()["paths"]["/v1/programs"]["post"]["summary"] == "Publish Program"
        assert en.headers["vary"] == "Accept-Language"


async def test_an_import_row_error_in_chinese(database_url: str, bootstrap: str) -> None:
    """Each bad row's reason is said in Chinese from its template, its values carried over."""
    table = ("序号,产品名称,注册证编号,申报企业,医疗器械注册人,"
             "产品价格(元),伴随服务价格(元),中选价格(元)\n"
             "1,支架,国械注准20163132305,甲公司,甲公司,800.00,48.00,850.00\n")
    async with running(catalog, "catalog", database_url, bootstrap) as c:
        headers: dict[str, Any] = {**bearer("regulator", "BUREAU"), "Content-Type": "text/csv",
                                   "Idempotency-Key": "i18n-rows-1"}
        zh = await c.post("/v1/programs/P-I18N/winning-products", content=table.encode(),
                          headers={**headers, **ZH})
        assert zh.status_code == 422, zh.text
        assert zh.json()["title"] == "表格被拒绝，未导入任何内容"
        assert zh.json()["detail"] == "1 个问题"
        assert zh.json()["errors"] == [{
            "row": 1, "field": "winning_price",
            "reason": "中选价格 850.00 不等于产品价格 800.00 + 服务价格 48.00 = 848.00"}]
        en = await c.post("/v1/programs/P-I18N/winning-products", content=table.encode(),
                          headers={**headers, "Idempotency-Key": "i18n-rows-2"})
        assert en.json()["errors"][0]["reason"] == (
            "winning price 850.00 does not equal product price 800.00 + service price 48.00 "
            "= 848.00")


async def test_an_assignment_refusal_in_chinese(database_url: str, bootstrap: str) -> None:
    """Supply's assignment checks (R-SUP-1, R-SUP-4): every problem said in Chinese, in the
    detail and in the problem's ``errors``."""
    from services.supply.app import create_app as supply

    body = {"registration_no": "国械注准20163132305", "distributor_id": "D-NOBODY",
            "scope": "region", "region": "四川", "valid_from": "2025-03-01T00:00:00+08:00",
            "valid_until": "2025-02-01T00:00:00+08:00", "reason": "测试"}
    async with running(supply, "supply", database_url, bootstrap) as c:
        headers = {**bearer("enterprise", "E-1"), "Idempotency-Key": "i18n-assign-1", **ZH}
        r = await c.post("/v1/assignments", json=body, headers=headers)
        assert r.status_code == 422, r.text
        problem = r.json()
        assert problem["title"] == "配送关系无效"
        assert problem["detail"] == "valid_until 须晚于 valid_from；未知的配送企业 D-NOBODY"
        assert [e["message"] for e in problem["errors"]] == [
            "valid_until 须晚于 valid_from", "未知的配送企业 D-NOBODY"]
        assert [e["field"] for e in problem["errors"]] == ["body.valid_until",
                                                            "body.distributor_id"]


async def test_a_monitoring_refusal_in_chinese(database_url: str, bootstrap: str) -> None:
    """Monitoring's refusals are runtime ``Refusal`` problems like every service's: Chinese
    title, detail and field message."""
    from services.monitoring.app import create_app as monitoring

    async with running(monitoring, "monitoring", database_url, bootstrap) as c:
        regulator: dict[str, Any] = bearer("regulator", "BUREAU")
        zh = await c.get("/v1/reports/monthly/2023-13", headers={**regulator, **ZH})
        assert zh.status_code == 422, zh.text
        assert zh.json()["type"].endswith("bad-month")
        assert zh.json()["title"] == "不是可报告的月份"
        assert zh.json()["detail"] == "'2023-13' 不是月份（YYYY-MM）"
        assert zh.json()["errors"] == [{"field": "path.month",
                                        "message": "'2023-13' 不是月份（YYYY-MM）"}]
        en = await c.get("/v1/reports/monthly/2023-13", headers=regulator)
        assert en.json()["detail"] == "'2023-13' is not a month (YYYY-MM)"
