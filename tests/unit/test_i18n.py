"""Problems in Chinese or English (issue #17): negotiation, translation, the middleware."""

from __future__ import annotations

import json

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.runtime.i18n import EN, ZH, Localise, language, title_zh, translate


@pytest.mark.parametrize(("header", "expected"), [
    (None, EN), ("", EN), ("en", EN), ("zh-CN", ZH), ("zh", ZH), ("zh-Hans-CN", ZH),
    ("en-US,en;q=0.9,zh-CN;q=0.8", EN), ("zh-CN,zh;q=0.9,en;q=0.8", ZH),
    ("en;q=0.5, zh;q=0.7", ZH), ("fr", EN), ("zh;q=0", EN), ("*;q=0.9, zh;q=0.95", ZH),
    ("zh;q=abc", EN),
])
def test_the_language_follows_the_weights_of_accept_language(header: str | None,
                                                              expected: str) -> None:
    assert language(header) == expected


def test_titles_built_from_a_value_are_translated_around_it() -> None:
    assert title_zh("payable not found") == "未找到：应付款"
    assert title_zh("gadget not found") == "未找到：gadget"
    assert title_zh("Order is shipped") == "订单状态为 shipped"
    assert title_zh("Something nobody wrote down") is None


def test_translate_keeps_everything_but_the_title() -> None:
    body = {"type": "urn:vbp:problem:price-mismatch", "title": "Unit price is not the listing "
            "price", "status": 422, "detail": "'unit_price' 729.99 is not 730.00"}
    out = json.loads(translate(json.dumps(body).encode()))
    assert out == {**body, "title": "单价不是挂网价格"}
    assert translate(b"not json") == b"not json"


async def test_the_middleware_translates_problems_only() -> None:
    async def refused(request: Request) -> JSONResponse:
        return JSONResponse({"type": "urn:vbp:problem:rate-limited", "title": "Too many requests",
                             "status": 429}, status_code=429,
                            media_type="application/problem+json", headers={"Retry-After": "1"})

    async def fine(request: Request) -> JSONResponse:
        return JSONResponse({"title": "Too many requests"})

    app = Localise(Starlette(routes=[Route("/refused", refused), Route("/fine", fine)]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        zh = await client.get("/refused", headers={"Accept-Language": "zh-CN"})
        assert zh.status_code == 429 and zh.json()["title"] == "请求过于频繁"
        assert zh.headers["content-language"] == "zh-CN"
        assert zh.headers["retry-after"] == "1"
        assert int(zh.headers["content-length"]) == len(zh.content)
        en = await client.get("/refused")
        assert en.json()["title"] == "Too many requests" and "content-language" not in en.headers
        untouched = await client.get("/fine", headers={"Accept-Language": "zh"})
        assert untouched.json() == {"title": "Too many requests"}
