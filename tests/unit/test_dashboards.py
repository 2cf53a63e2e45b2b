"""Dashboards as code (issue 16): the committed JSON is what deploy/grafana generates, titles
are Chinese with the English beside them, every panel reads the provisioned Prometheus, and
every metric a dashboard or a rule reads is exported by a service (or is one of the payments,
monitoring and runtime names other changes add)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from deploy.grafana import __main__ as cli
from deploy.grafana.dashboards import DASHBOARDS, OUT_DIR, render_all
from tests.ops.metric_names import (
    ELSEWHERE,
    REPO,
    RULES_DIR,
    exported_here,
    metrics_in,
    recording_rules,
)

CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]{2,}")


def boards() -> dict[str, dict[str, Any]]:
    return {name: json.loads(text) for name, text in render_all().items()}


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in board["panels"] if p["type"] != "row"]


def test_committed_json_is_what_the_code_generates() -> None:
    assert sorted(p.name for p in OUT_DIR.glob("*.json")) == sorted(DASHBOARDS)
    for name, text in render_all().items():
        assert (OUT_DIR / name).read_text() == text, f"{name}: run `make dashboards`"
    assert cli.main(["--check"]) == 0


def test_check_fails_on_a_stale_dashboard(tmp_path: Any, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    for name, text in render_all().items():
        (tmp_path / name).write_text(text.replace("Program execution", "Program executing"))
    monkeypatch.setattr(cli, "OUT_DIR", tmp_path)
    assert cli.main(["--check"]) == 1
    assert cli.main([]) == 0 and cli.main(["--check"]) == 0


def test_the_five_dashboards_with_chinese_and_english_titles() -> None:
    found = boards()
    assert {b["uid"] for b in found.values()} == {
        "vbp-platform", "vbp-programs", "vbp-supply", "vbp-money", "vbp-credit"}
    for board in found.values():
        assert board["timezone"] == "Asia/Shanghai"
        titles = [board["title"], *(p["title"] for p in board["panels"])]
        for title in titles:
            assert CJK.search(title) and LATIN.search(title), title


def test_every_panel_reads_the_provisioned_prometheus() -> None:
    provisioning = REPO / "deploy" / "grafana" / "provisioning"
    sources = yaml.safe_load((provisioning / "datasources" / "vbp-prometheus.yaml").read_text())
    uid = sources["datasources"][0]["uid"]
    assert yaml.safe_load((provisioning / "dashboards" / "vbp.yaml").read_text())["providers"]
    for name, board in boards().items():
        for panel in panels(board):
            assert panel["datasource"]["uid"] == uid, (name, panel["title"])
            assert panel["targets"], (name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == uid and target["expr"].strip()


def test_every_metric_read_is_exported_somewhere() -> None:
    known = exported_here() | recording_rules() | ELSEWHERE
    exprs = [t["expr"] for b in boards().values() for p in panels(b) for t in p["targets"]]
    exprs += [rule["expr"] for path in RULES_DIR.glob("*.yml")
              for group in yaml.safe_load(path.read_text())["groups"]
              for rule in group["rules"]]
    unknown = {(name, expr) for expr in exprs for name in metrics_in(expr) if name not in known}
    assert not unknown, sorted(unknown)


def test_the_metric_name_check_catches_a_typo() -> None:
    known = exported_here() | recording_rules() | ELSEWHERE
    assert metrics_in('sum by (service) (rate(vbp_http_requests_total{status=~"5.."}[5m]))') \
        == {"vbp_http_requests_total"}
    assert "vbp_orders_placed_totl" not in known
    assert {"vbp_orders_placed_total", "vbp_supply_delivery_duration_seconds_bucket",
            "vbp_db_pool_checked_out_connections"} <= known
