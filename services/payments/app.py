"""Payments wiring (shell)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.payments import store
from services.runtime.app import ServiceSpec
from services.runtime.app import create_app as build
from services.runtime.settings import Settings

SPEC = ServiceSpec(
    name="payments",
    title="VBP payments: prepayments, offsets, settlements",
    metadata=store.metadata,
    migrations=Path(__file__).parent / "migrations",
    publishes=["vbp.payments.prepayments.v1", "vbp.payments.settlements.v1"],
)


def create_app(settings: Settings | None = None) -> FastAPI:
    return build(SPEC, settings)
