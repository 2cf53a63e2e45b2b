"""The OpenAPI documents and the problems' details in Chinese (issue #17): every description
and summary of the five documents has its Chinese, the Chinese document is served for
``Accept-Language: zh-CN``, and the runtime's and the order path's details are translated with
their values carried over."""

from __future__ import annotations

import importlib
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

from services.orders.domain import PriceMismatch
from services.runtime import i18n
from services.runtime.glossary import FIELDS
from services.runtime.i18n import MATCHED_ZH, detail_zh, document_zh, translate, untranslated
from services.runtime.idempotency import key_required
from services.runtime.problems import internal, not_found, unavailable, validation_problem

SERVICES = ("catalog", "orders", "supply", "payments", "monitoring")


def document(service: str) -> dict[str, Any]:
    app = importlib.import_module(f"services.{service}.app").create_app()
    return app.openapi()  # type: ignore[no-any-return]


@pytest.mark.parametrize("service", SERVICES)
def test_every_description_and_summary_has_its_chinese(service: str) -> None:
    assert untranslated(document(service)) == []


def test_the_chinese_document_is_the_english_one_in_other_words() -> None:
    english = document("orders")
    chinese = document_zh(english)
    placement = chinese["paths"]["/v1/orders"]["post"]
    assert placement["summary"] == "下单" and placement["operationId"] == "place_order"
    assert english["paths"]["/v1/orders"]["post"]["summary"] == "Place Order"  # a copy
    assert chinese["components"]["schemas"]["OrderIn"]["required"] == \
        english["components"]["schemas"]["OrderIn"]["required"]


def test_the_check_names_what_has_no_chinese() -> None:
    doc = {"paths": {"/x": {"get": {"summary": "Frobnicate", "description": "Frobs a thing.",
                                    "parameters": [{"name": "program_id",
                                                    "description": FIELDS["program_id"].en}]}}}}
    assert untranslated(doc) == ["Frobnicate", "Frobs a thing."]
    zh = document_zh(doc)
    assert zh["paths"]["/x"]["get"]["parameters"][0]["description"] == FIELDS["program_id"].zh
    assert zh["paths"]["/x"]["get"]["summary"] == "Frobnicate"  # left in English


@pytest.mark.parametrize("problem", [
    not_found("order", "O-1"), unavailable(), internal("5f0c7a3e"), key_required(),
    validation_problem([{"loc": ("body", "units"), "msg": "too small"}]),
], ids=lambda p: p.type)
def test_the_runtime_details_are_in_chinese(problem: Any) -> None:
    assert problem.detail and detail_zh(problem.detail) is not None, problem.detail


def test_a_detail_keeps_its_values() -> None:
    assert detail_zh(not_found("order", "O-1").detail or "") == "订单 'O-1' 不存在或您无权查看"
    invalid = validation_problem([{"loc": ("body", "units"), "msg": "too small"},
                                  {"loc": ("query", "limit"), "msg": "too large"}])
    assert detail_zh(invalid.detail or "") == "无效字段：body.units, query.limit"
    mismatch = PriceMismatch(Decimal("849.00"), Decimal("848.00"))
    assert detail_zh(mismatch.args[0]) == \
        "单价 849.00 与挂网价格 848.00 不同：须按挂网价格下单（R-CAT-5，不得再次议价）"
    assert detail_zh("Signature has expired") == "令牌已过期"  # PyJWT's words, matched
    assert detail_zh("something nobody wrote a template for") is None


@pytest.mark.parametrize(("english", "chinese"), MATCHED_ZH)
def test_every_matched_template_carries_each_of_its_values(english: str, chinese: str) -> None:
    names = sorted(set(i18n._PLACEHOLDER.findall(english)))
    assert names == sorted(set(i18n._PLACEHOLDER.findall(chinese)))
    values = {n: f"<{n}{i}>" for i, n in enumerate(names)}
    assert detail_zh(english.format(**values)) == chinese.format(**values)


def test_translate_turns_title_and_detail() -> None:
    problem = not_found("order", "O-1")
    body = json.dumps(problem.body()).encode()
    out = httpx.Response(200, content=translate(body, problem.texts())).json()
    assert out["title"] == "未找到：订单" and out["detail"] == "订单 'O-1' 不存在或您无权查看"
