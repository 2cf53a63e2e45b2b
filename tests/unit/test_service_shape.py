"""Issue #13: every service has the same shape, and its README's problem types are the ones its
``errors.py`` declares."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

from services.runtime.consumer import ConsumerSpec
from services.runtime.problems import Refusal, refusals_of

ROOT = Path(__file__).parents[2]
SERVICES = ("catalog", "orders", "supply", "payments", "monitoring")
MODULES = ("api.py", "app.py", "errors.py", "handlers.py", "store.py", "README.md")
ROW = re.compile(r"^\|\s*(\d{3})\s*\|\s*`([a-z0-9-]+)`\s*\|\s*(.+?)\s*\|\s*$")


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_same_modules(service: str) -> None:
    folder = ROOT / "services" / service
    missing = [m for m in MODULES if not (folder / m).is_file()]
    assert not missing, f"services/{service} lacks {missing}"
    assert (folder / "domain" / "__init__.py").is_file(), "rules live in a domain/ package"
    assert (folder / "migrations").is_dir()


@pytest.mark.parametrize("service", SERVICES)
def test_handlers_holds_only_the_consumer_routing_table(service: str) -> None:
    module = importlib.import_module(f"services.{service}.handlers")
    own = [name for name, value in vars(module).items()
           if (inspect.isfunction(value) or inspect.isclass(value))
           and value.__module__ == module.__name__]
    assert own == [], f"services/{service}/handlers.py defines {own}: move them to a use case"
    assert isinstance(module.CONSUMERS, list)
    assert all(isinstance(spec, ConsumerSpec) for spec in module.CONSUMERS)


def readme_problem_types(service: str) -> set[Refusal]:
    text = (ROOT / "services" / service / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Problem types\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"services/{service}/README.md has no '## Problem types' section"
    rows = [ROW.match(line) for line in match.group(1).splitlines()]
    return {Refusal(int(m.group(1)), m.group(2), m.group(3)) for m in rows if m}


@pytest.mark.parametrize("service", SERVICES)
def test_the_readmes_problem_types_are_the_services_refusals(service: str) -> None:
    declared = set(refusals_of(importlib.import_module(f"services.{service}.errors")))
    assert declared, f"services/{service}/errors.py declares no refusal"
    documented = readme_problem_types(service)
    assert documented == declared, (
        f"README lists but errors.py lacks: {sorted(documented - declared, key=str)}; "
        f"errors.py declares but README lacks: {sorted(declared - documented, key=str)}")


def test_a_slug_means_one_status_within_a_service() -> None:
    """A client branches on the type: one slug is one status (its title may name a state, as
    supply's ``order-not-open`` does)."""
    for service in SERVICES:
        try:
            module = importlib.import_module(f"services.{service}.errors")
        except ModuleNotFoundError:
            continue
        statuses: dict[str, set[int]] = {}
        for refusal in refusals_of(module):
            statuses.setdefault(refusal.slug, set()).add(refusal.status)
        assert {s: v for s, v in statuses.items() if len(v) > 1} == {}, service


@pytest.mark.parametrize("service", SERVICES)
def test_every_refusal_has_a_chinese_title(service: str) -> None:
    """Issue #17: a request preferring Chinese gets every title in Chinese (runtime/i18n.py)."""
    from services.runtime.i18n import title_zh

    refusals = refusals_of(importlib.import_module(f"services.{service}.errors"))
    missing = sorted({r.title for r in refusals if title_zh(r.title) is None})
    assert missing == [], f"services/runtime/i18n.py TITLES_ZH lacks {missing}"
