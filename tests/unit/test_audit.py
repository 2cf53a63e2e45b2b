"""The dependency audit's decisions (scripts/audit.py), with plain values: PyPI's project JSON
speaks of the latest release only, so an installed latest is judged exactly, an older one is
"not checkable" unless the latest still carries an advisory that reaches back to it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


def _load() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "scripts" / "audit.py"
    spec = importlib.util.spec_from_file_location("vbp_audit", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["vbp_audit"] = module
    spec.loader.exec_module(module)
    return module


audit = _load()
ADVISORY = {"id": "GHSA-xxxx-yyyy-zzzz", "aliases": ["CVE-2026-0001"], "fixed_in": ["2.1.0"]}


def project(latest: str, *vulnerabilities: dict[str, Any]) -> dict[str, Any]:
    return {"info": {"version": latest}, "vulnerabilities": list(vulnerabilities)}


@pytest.mark.parametrize(("installed", "answer", "status"), [
    ("2.0.0", project("2.0.0"), audit.CLEAN),
    ("2.0.0", project("2.0.0", {**ADVISORY, "fixed_in": []}), audit.VULNERABLE),
    ("2.0.0", project("2.0.0", ADVISORY), audit.VULNERABLE),
    ("1.9.0", project("2.0.0"), audit.NOT_CHECKABLE),
    ("1.9.0", project("2.0.0", ADVISORY), audit.VULNERABLE),  # the latest's fix is above ours
    ("1.9.0", project("2.0.0", {**ADVISORY, "fixed_in": ["1.8.0"]}), audit.NOT_CHECKABLE),
    ("3.0.0rc1", project("2.0.0"), audit.NOT_CHECKABLE),
    ("0.1.0", None, audit.NOT_CHECKABLE),
], ids=["latest-clean", "latest-unfixed", "latest-fixed-later", "older", "older-reached",
        "older-fixed-before", "newer", "not-on-pypi"])
def test_the_verdict(installed: str, answer: dict[str, Any] | None, status: str) -> None:
    assert audit.judge("pkg", installed, answer).status == status


def test_a_vulnerable_verdict_names_the_advisory_and_the_table_shows_it() -> None:
    verdict = audit.judge("pkg", "2.0.0", project("2.0.0", ADVISORY))
    assert verdict.status == audit.VULNERABLE
    assert str(verdict.advisories[0]) == \
        "GHSA-xxxx-yyyy-zzzz (CVE-2026-0001) fixed in 2.1.0"
    shown = audit.table([verdict, audit.judge("old", "1.0", project("1.1"))])
    assert "GHSA-xxxx-yyyy-zzzz (CVE-2026-0001) fixed in 2.1.0" in shown
    assert "not checkable here: installed 1.0, latest 1.1" in shown
    assert audit.counts([verdict]) == {"checked": 1, "clean": 0, "not checkable": 0,
                                       "vulnerable": 1}


def test_names_are_pep_503() -> None:
    assert audit.normalise("Python_JSON.logger") == "python-json-logger"


def test_pypi_out_of_reach_fails_with_a_clear_message(capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    audit.ATTEMPTS = 1
    code = audit.main(["--index", "http://127.0.0.1:9/pypi", "--jobs", "2"])
    assert code == 2
    assert "PyPI cannot be asked" in capsys.readouterr().err
