"""pydantic's validation messages in Chinese, by error type and ctx (issue #17)."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, Field, ValidationError, field_validator

from services.runtime.i18n import PYDANTIC_ZH, translate
from services.runtime.problems import PYDANTIC_TEMPLATES, validation_problem
from services.runtime.texts import placeholders, text


def test_every_pydantic_error_type_has_chinese_with_the_same_placeholders() -> None:
    assert set(PYDANTIC_TEMPLATES) - set(PYDANTIC_ZH) == set()
    for kind, english in PYDANTIC_TEMPLATES.items():
        wanted = set(placeholders(english)) - {"expected_plural"}  # no plural in Chinese
        assert set(placeholders(PYDANTIC_ZH[kind])) == wanted, kind


class _Row(BaseModel, extra="forbid"):
    count: int = Field(gt=0)
    name: str = Field(max_length=3)
    day: str = "x"

    @field_validator("day")
    @classmethod
    def _day(cls, value: str) -> str:
        raise ValueError(text("{month!r} is not a month (YYYY-MM)", month=value))


def _zh(data: dict[str, object]) -> tuple[list[str], list[str]]:
    with pytest.raises(ValidationError) as caught:
        _Row.model_validate(data)
    problem = validation_problem(caught.value.errors())
    english = [e["message"] for e in problem.body()["errors"]]
    said = json.loads(translate(json.dumps(problem.body()).encode(), problem.texts()))
    return english, [e["message"] for e in said["errors"]]


def test_messages_are_said_in_chinese_with_their_values_and_english_is_unchanged() -> None:
    english, chinese = _zh({"count": "many", "name": "abcdef", "other": 1})
    assert english == ["Input should be a valid integer, unable to parse string as an integer",
                       "String should have at most 3 characters",
                       "Extra inputs are not permitted"]
    assert chinese == ["输入应为有效的整数，无法将字符串解析为整数", "字符串最多应有 3 个字符",
                       "不允许额外的字段"]
    assert _zh({"count": 0})[1] == ["输入应大于 0", "缺少必填字段"]


def test_a_value_error_of_our_validator_carries_its_template() -> None:
    english, chinese = _zh({"count": 1, "name": "a", "day": "May"})
    assert english == ["Value error, 'May' is not a month (YYYY-MM)"]
    assert chinese == ["取值错误：'May' 不是月份（YYYY-MM）"]


def test_a_fund_payment_rows_reasons_from_pydantic_are_said_in_chinese() -> None:
    from services.payments.fund_payments import FileRejected, rows_from

    with pytest.raises(FileRejected) as caught:
        rows_from([["institution_id", "month", "amount"], ["H" * 65, "2024-13", "1.00"]])
    problem = caught.value.problem()
    body = problem.body()
    said = json.loads(translate(json.dumps(body).encode(), problem.texts()))
    assert body["errors"][0]["reason"] == "String should have at most 64 characters"
    assert said["errors"][0]["reason"] == "字符串最多应有 64 个字符"
    assert said["errors"][1]["reason"].startswith("输入应为有效的日期或日期时间，")


def test_the_runtime_words_its_own_texts_as_templates_and_matches_only_libraries() -> None:
    from services.runtime.i18n import MATCHED_ZH
    from tests.unit.test_i18n_templates import declared_templates

    declared = declared_templates()
    for english in ("at most {limit} bytes", "send 'Authorization: Bearer <token>'",
                    "role {role!r} may not do this; allowed: {allowed}",
                    "unknown signing key {kid!r}",
                    "token needs a known 'role', an 'org' and a 'sub'",
                    "key {key!r} was first used with another body or route; send this request "
                    "with a new Idempotency-Key (a key replays only the identical request)",
                    "not answered within {timeout:g} s; its work was cancelled"):
        assert english in declared, english
    assert not [english for english, _ in MATCHED_ZH if english in declared]
    assert len(MATCHED_ZH) <= 7  # PyJWT's words (and payments' "invalid 'cursor'")


def test_the_runtimes_error_messages_are_templates_too() -> None:
    from services.runtime.idempotency import key_required
    from services.runtime.problems import Problem, nul_in_parameters

    for problem in (key_required(), nul_in_parameters("/v1/x", b"q=%00")):
        assert isinstance(problem, Problem)
        said = json.loads(translate(json.dumps(problem.body()).encode(), problem.texts()))
        assert all(not e["message"].isascii() for e in said["errors"]), said
        assert said["detail"] != problem.body()["detail"]
