"""The metric names dashboards and rules may use, and where each comes from (issue 16)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "deploy" / "prometheus" / "rules"

PAYMENTS = {
    "vbp_payments_payables_opened_total", "vbp_payments_payables_paid_total",
    "vbp_payments_payables_outstanding_fen", "vbp_payments_payables_overdue",
    "vbp_payments_prepayment_scheduled_fen", "vbp_payments_prepayment_disbursed_fen_total",
    "vbp_payments_prepayment_installments_overdue",
}
MONITORING = {
    "vbp_monitoring_credit_records_active", "vbp_monitoring_credit_measures_in_force",
    "vbp_monitoring_credit_proposals_open", "vbp_monitoring_completion_risk_items",
}
RUNTIME_PENDING = {"vbp_consumer_last_poll_timestamp_seconds"}
"""Being added to services/runtime/metrics.py by another change (consumer last-poll time)."""
ELSEWHERE = PAYMENTS | MONITORING | RUNTIME_PENDING
"""Exported by code that is not merged here yet: queries on them may return nothing."""

_METRIC = re.compile(r"\b((?:vbp|process|up)[a-z0-9_]*|[a-z_]+:[a-z0-9_]+:[a-z0-9_]+)\b")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_SUFFIXES = ("_bucket", "_count", "_sum")


def exported_here() -> set[str]:
    """Every sample name this codebase's services export (runtime, catalog, orders, supply)."""
    import services.catalog.telemetry
    import services.orders.telemetry
    import services.runtime.metrics
    import services.supply.telemetry  # noqa: F401  (registers the metrics)

    names = {"up", "process_cpu_seconds_total", "process_resident_memory_bytes",
             "process_start_time_seconds"}
    for collector in list(REGISTRY._collector_to_names):  # what each collector describes
        for family in getattr(collector, "describe", lambda: [])() or collector.collect():
            names.add(family.name)
            kind = family.type
            if kind == "counter":
                names.add(family.name + "_total")
            if kind == "histogram":
                names.update(family.name + suffix for suffix in _SUFFIXES)
    return names


def recording_rules() -> set[str]:
    return {rule["record"] for path in RULES_DIR.glob("*.yml")
            for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"] if "record" in rule}


def metrics_in(expr: str) -> set[str]:
    """Metric and recording-rule names an expression reads (not functions or label names)."""
    found = set()
    expr = _STRING.sub('""', expr)  # label values are not names
    for match in _METRIC.finditer(expr):
        name = match.group(1)
        after = expr[match.end():match.end() + 1]
        if after == "=" or (after == "(" and not name.startswith(("vbp_", "process_"))):
            continue  # a label matcher or a function
        found.add(name)
    return found
