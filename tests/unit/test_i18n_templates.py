"""Every text a service can answer with in a problem — a refusal's detail, a bad row's reason —
is made from a template (``services.runtime.texts.text``), and every template has its Chinese
in ``i18n.DETAILS_ZH`` with the same values (issue #17). The templates are found by walking the
source of every service: a ``text("…", …)`` (or ``texts.text``) call whose template is a
literal. A template built at run time, or a refusal raised with an f-string, fails the test."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from services.runtime import i18n
from services.runtime.problems import Problem
from services.runtime.rows import RowError, as_problem_errors
from services.runtime.texts import Listed, placeholders, text

SERVICES = Path(__file__).resolve().parents[2] / "services"
REFUSING = ("errors.py", "domain/credit.py", "domain/assignments.py", "supply/domain/common.py",
            "supply/domain/deliveries.py", "supply/domain/violations.py",
            "supply/domain/distributors.py", "orders/domain/lifecycle.py",
            "orders/domain/placement.py", "orders/renewals.py",
            "orders/purchasing.py", "importing/rows.py",
            "importing/grids.py", "importing/notice_text.py", "importing/normalising.py",
            "orders/importing.py", "orders/domain/rows.py", "fund_payments.py")
"""Where refusals and row errors are composed: no detail or reason there is an f-string."""


def _text_calls(tree: ast.Module) -> list[ast.Call]:
    """The calls of ``texts.text`` in a module, under the names it imports it as."""
    names: set[str] = set()
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "services.runtime.texts":
            names |= {a.asname or a.name for a in node.names if a.name == "text"}
        elif isinstance(node, ast.ImportFrom) and node.module == "services.runtime":
            modules |= {a.asname or a.name for a in node.names if a.name == "texts"}
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call) and (
        (isinstance(node.func, ast.Name) and node.func.id in names)
        or (isinstance(node.func, ast.Attribute) and node.func.attr == "text"
            and isinstance(node.func.value, ast.Name) and node.func.value.id in modules))]


def declared_templates(root: Path = SERVICES) -> dict[str, list[str]]:
    """Every template of a ``text(...)`` call under ``root``, with where it is written; a call
    whose template is not a literal is recorded under ``"<not a literal>"``."""
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        if path.name == "texts.py":
            continue
        for node in _text_calls(ast.parse(path.read_text(encoding="utf-8"))):
            first = node.args[0] if node.args else None
            where = f"{path.relative_to(root.parent)}:{node.lineno}"
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.setdefault(first.value, []).append(where)
            else:
                found.setdefault("<not a literal>", []).append(where)
    return found


def f_string_details(root: Path = SERVICES) -> list[str]:
    """The f-strings handed to a refusal (``SOME_REFUSAL(f"…")``), a ``RowError`` or a
    ``ValueError`` in the modules where refusals and row errors are composed."""
    out = []
    for path in sorted(root.rglob("*.py")):
        rel = str(path.relative_to(root))
        if not rel.endswith(REFUSING):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else \
                func.attr if isinstance(func, ast.Attribute) else ""
            refusal = name.isupper() or name in ("RowError", "ValueError")
            if refusal and any(isinstance(a, ast.JoinedStr) for a in node.args):
                out.append(f"{rel}:{node.lineno}")
    return out


TEMPLATES = declared_templates()


def test_templates_are_found_and_all_literal() -> None:
    assert len(TEMPLATES) > 100, "the walk finds the services' templates"
    assert "<not a literal>" not in TEMPLATES, TEMPLATES.get("<not a literal>")


def test_every_template_has_its_chinese() -> None:
    chinese = dict(i18n.DETAILS_ZH)
    missing = {t: where for t, where in TEMPLATES.items() if t not in chinese}
    assert not missing, "no Chinese in i18n.DETAILS_ZH for:\n" + "\n".join(
        f"  {t!r}  ({', '.join(w)})" for t, w in missing.items())


@pytest.mark.parametrize(("english", "chinese"), i18n.DETAILS_ZH, ids=lambda t: t[:40])
def test_the_chinese_takes_the_same_values(english: str, chinese: str) -> None:
    assert sorted(placeholders(english)) == sorted(placeholders(chinese))
    if english == "{problems}":
        return  # all values: each said in Chinese
    assert any("\u4e00" <= c <= "\u9fff" for c in chinese.replace("序号", "")), chinese


def test_no_refusal_or_row_error_is_an_f_string() -> None:
    assert f_string_details() == []


def test_the_walk_can_fail(tmp_path: Path) -> None:
    (tmp_path / "errors.py").write_text(
        "from services.runtime.texts import text\n"
        "A = text('a template nobody translated {x}', x=1)\n"
        "B = text(f'{A} built at run time')\n"
        "C = SOME_REFUSAL(f'detail {A}')\n", encoding="utf-8")
    found = declared_templates(tmp_path)
    assert set(found) == {"a template nobody translated {x}", "<not a literal>"}
    assert f_string_details(tmp_path) == ["errors.py:4"]


def test_a_problem_is_said_in_chinese_from_its_templates() -> None:
    bad = [RowError(3, "units", text("{name} {value!r} is not a number", name="units",
                                     value="x"))]
    problem = Problem(422, "history-rejected", "History import rejected, nothing imported",
                      text("{count} problems in {rows} rows", count=1, rows=1),
                      errors=as_problem_errors(bad))
    body = i18n.translate(problem_json(problem), problem.texts()).decode()
    assert '"detail":"1 行中共有 1 个问题"' in body
    assert "\"reason\":\"units 'x' 不是数字\"" in body
    listed = text("{problems}", problems=Listed([text("region scope needs a region"),
                                                 text("valid_until must be after valid_from")]))
    assert str(listed) == "region scope needs a region; valid_until must be after valid_from"
    assert i18n.text_zh(listed) == "区域范围须指明地区；valid_until 须晚于 valid_from"


def problem_json(problem: Problem) -> bytes:
    import json
    return json.dumps(problem.body("/x"), ensure_ascii=False).encode()
