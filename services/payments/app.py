"""Payments wiring: tables, migrations, routes, consumers and the clock-driven jobs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from services.payments import overdue, store
from services.payments.api import router
from services.payments.handlers import CONSUMERS
from services.runtime.app import ServiceSpec
from services.runtime.app import create_app as build
from services.runtime.clock import Clock
from services.runtime.scheduler import ScheduledJob
from services.runtime.settings import Settings

SPEC = ServiceSpec(
    name="payments",
    title="VBP payments: prepayments, offsets, settlements",
    metadata=store.metadata,
    migrations=Path(__file__).parent / "migrations",
    routers=[router],
    consumers=CONSUMERS,
    publishes=["vbp.payments.prepayments.v1", "vbp.payments.settlements.v1"],
    schedules=[
        ScheduledJob("payables-overdue", overdue.scan_payables, timedelta(minutes=1)),
        ScheduledJob("installments-overdue", overdue.scan_installments, timedelta(minutes=1)),
        ScheduledJob("gauges", overdue.refresh_gauges, timedelta(minutes=1)),
    ],
)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    return build(SPEC, settings, clock=clock)
