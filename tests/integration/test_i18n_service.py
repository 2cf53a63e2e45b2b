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
