"""The payments service on its embedded default, SQLite (one machine, no setup), with the real
Kafka broker: the main paths once (ON CONFLICT, RETURNING and the ledger take another path
there; the scheduler leads without an advisory lock)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from services.payments.app import create_app
from services.runtime.clock import SHANGHAI, FixedClock
from tests.integration.apps import running
from tests.integration.test_payments import (
    App,
    test_agreement_change_after_a_disbursement_adjusts_with_history,
    test_direct_settlement_the_fund_pays_and_deducts_from_the_fund_payment,
    test_offset_over_several_months_examples,
    test_partial_payments_retries_and_overdue_by_the_clock,
    test_payables_due_by_the_end_of_the_next_shanghai_month,
)

pytestmark = pytest.mark.integration

__all__ = [
    "test_agreement_change_after_a_disbursement_adjusts_with_history",
    "test_direct_settlement_the_fund_pays_and_deducts_from_the_fund_payment",
    "test_offset_over_several_months_examples",
    "test_partial_payments_retries_and_overdue_by_the_clock",
    "test_payables_due_by_the_end_of_the_next_shanghai_month",
]


@pytest.fixture(scope="module")
async def app(bootstrap: str) -> AsyncIterator[App]:
    folder = Path(tempfile.mkdtemp(prefix="vbp-payments-sqlite-"))
    url = f"sqlite+aiosqlite:///{folder / 'payments.db'}"
    clock = FixedClock(datetime(2023, 2, 10, 10, tzinfo=SHANGHAI))
    try:
        async with running(lambda s: create_app(s, clock=clock), "payments", url,
                           bootstrap) as client:
            yield App(client, clock, bootstrap, url)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def _clock_early_2023(app: App) -> None:
    app.clock.set(datetime(2023, 2, 10, 10, tzinfo=SHANGHAI))
