"""Orders in one shape (issue #13): its refusals are listed once (``errors.py``) and its README
says exactly those; the statuses that count toward progress and pacing live in the domain and
the SQL is built from them (item 4)."""

from __future__ import annotations

import ast
import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, select

from services.orders import domain, errors, store
from services.orders.domain import (
    COMMITS_NOTHING,
    COUNTS_TOWARD_PROGRESS,
    NOT_ORDERED,
    OrderStatus,
)
from services.runtime.clock import SHANGHAI
from services.runtime.problems import refusals_of

ORDERS = Path(store.__file__).parent


def readme_problem_types() -> set[tuple[int, str, str]]:
    text = (ORDERS / "README.md").read_text()
    section = text.split("## Problem types", 1)[1].split("\n## ", 1)[0]
    lines = [line.strip() for line in section.splitlines() if line.strip().startswith("|")]
    assert lines[0] == "| status | type | title |"
    rows = set()
    for line in lines[2:]:
        status, slug, title = (cell.strip() for cell in line.strip("|").split("|"))
        match = re.fullmatch(r"`([a-z-]+)`", slug)
        assert match, line
        rows.add((int(status), match.group(1), title))
    return rows


def test_the_readme_lists_exactly_the_refusals_of_errors_py() -> None:
    declared = {(r.status, r.slug, r.title) for r in refusals_of(errors)}
    assert len(declared) == len(refusals_of(errors)), "a refusal is declared twice"
    assert readme_problem_types() == declared


def test_no_service_specific_problem_is_built_outside_errors_py() -> None:
    """Routes, commands and handlers raise the refusals of ``errors.py``."""
    for path in sorted(ORDERS.rglob("*.py")):
        if path.name == "errors.py" or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Problem":
                pytest.fail(f"{path.relative_to(ORDERS)}:{node.lineno} builds a Problem")


def test_no_order_status_is_spelled_out_in_the_sql_modules() -> None:
    """Item 4: the SQL of progress and pacing takes the statuses from the domain: no status
    compared with, or listed, as a literal (``status == "cancelled"``, ``("accepted", …)``)."""
    statuses = {s.value for s in OrderStatus}
    for name in ("store.py", "pacing.py", "telemetry.py"):
        for node in ast.walk(ast.parse((ORDERS / name).read_text())):
            if isinstance(node, ast.Compare):
                operands = [node.left, *node.comparators]
            elif isinstance(node, ast.Tuple | ast.List | ast.Set):
                operands = list(node.elts)
            else:
                continue
            for operand in operands:
                if isinstance(operand, ast.Constant) and operand.value in statuses:
                    pytest.fail(f"{name}:{operand.lineno} spells the status {operand.value!r}")


def test_every_final_status_is_either_counted_or_commits_nothing() -> None:
    """R-AGR-8: a closed order holds its accepted units or nothing."""
    assert COUNTS_TOWARD_PROGRESS | COMMITS_NOTHING == domain.FINAL_STATUSES
    assert not COUNTS_TOWARD_PROGRESS & COMMITS_NOTHING
    assert NOT_ORDERED <= COMMITS_NOTHING


def _sql_units(**built: frozenset[OrderStatus]) -> dict[str, tuple[int, int]]:
    """Per status, (committed, ordered) as the SQL built by ``store`` computes them for an
    order of 10 units with 7 accepted (when accepted), on an in-memory SQLite."""
    engine = create_engine("sqlite://")
    store.orders.create(engine)
    at = datetime(2023, 1, 31, tzinfo=SHANGHAI)
    counted = built.get("counted", COUNTS_TOWARD_PROGRESS)
    with engine.begin() as conn:
        conn.execute(insert(store.orders), [{
            "order_id": f"O-{status.value}", "program_id": "P", "region": "R",
            "agreement_year": 1, "agreement_month": 1, "institution_id": "H",
            "listing_id": "L", "registration_no": "C", "enterprise_id": "E", "winning": True,
            "units": 10, "unit_price": Decimal("1.00"), "amount": Decimal("10.00"),
            "order_class": "within_agreement", "status": status.value,
            "accepted_units": 7 if status in counted else None,
            "placed_by": "x", "placed_at": at, "updated_at": at, "version": 1,
        } for status in OrderStatus])
        rows = conn.execute(select(store.orders.c.status, store.committed_units(**{
            k: v for k, v in built.items() if k in ("counted", "nothing")}),
            store.ordered_units(**{k: v for k, v in built.items() if k == "withdrawn"}))).all()
    return {status: (int(committed), int(ordered)) for status, committed, ordered in rows}


def test_the_sql_counts_every_status_as_the_domain_does() -> None:
    """R-AGR-4 (committed units) and R-AGR-6 (ordered units), status by status."""
    assert _sql_units() == {
        s.value: (domain.committed_units(s, 10, 7 if s in COUNTS_TOWARD_PROGRESS else None),
                  domain.ordered_units(s, 10))
        for s in OrderStatus}


def test_the_sql_follows_a_status_added_to_the_domains_sets() -> None:
    """A status newly counted toward progress is counted by the SQL built from the set (so it
    cannot silently miscount)."""
    counted = COUNTS_TOWARD_PROGRESS | {OrderStatus.DELIVERED}
    withdrawn = NOT_ORDERED | {OrderStatus.REJECTED}
    units = _sql_units(counted=counted, nothing=COMMITS_NOTHING, withdrawn=withdrawn)
    assert units[OrderStatus.DELIVERED.value] == (7, 10)
    assert units[OrderStatus.REJECTED.value] == (0, 0)
    assert units[OrderStatus.SHIPPED.value] == (10, 10)
