"""Monitoring's business gauges (names agreed with operations; labels bounded: region, level,
measure kind, program — never an enterprise or institution id)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Gauge
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.monitoring import store

RECORDS_ACTIVE = Gauge("vbp_monitoring_credit_records_active",
                       "Active credit records (R-CRD-2)", ["region", "level"])
MEASURES_IN_FORCE = Gauge("vbp_monitoring_credit_measures_in_force",
                          "Credit measures in force (R-CRD-3)", ["region", "measure"])
PROPOSALS_OPEN = Gauge("vbp_monitoring_credit_proposals_open",
                       "Proposed credit records awaiting a regulator (R-CRD-1)")
COMPLETION_RISK = Gauge("vbp_monitoring_completion_risk_items",
                        "Institution x product pairs projected below the completion threshold",
                        ["program"])


def _set(gauge: Gauge, counts: Iterable[tuple[tuple[str, ...], int]]) -> None:
    gauge.clear()
    for labels, n in counts:
        gauge.labels(*labels).set(n)


async def refresh_credit(conn: AsyncConnection) -> None:
    """Set the credit gauges from the tables (a few grouped counts)."""
    R, M = store.records, store.measures
    active = await conn.execute(select(R.c.region, R.c.level, func.count())
                                .where(R.c.status == "active").group_by(R.c.region, R.c.level))
    _set(RECORDS_ACTIVE, (((r, lv), n) for r, lv, n in active))
    in_force = await conn.execute(select(M.c.region, M.c.measure, func.count())
                                  .where(M.c.lifted_at.is_(None))
                                  .group_by(M.c.region, M.c.measure))
    _set(MEASURES_IN_FORCE, (((r, m), n) for r, m, n in in_force))
    PROPOSALS_OPEN.set(await conn.scalar(select(func.count()).select_from(R)
                                         .where(R.c.status == "proposed")) or 0)


def set_completion_risk(program_id: str, items: int) -> None:
    COMPLETION_RISK.labels(program_id).set(items)
