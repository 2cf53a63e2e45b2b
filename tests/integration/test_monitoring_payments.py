"""Monitoring reads the payments service's events on the real PostgreSQL and Kafka: the monthly
report's repayment and disbursement columns (R-MON-1, R-PAY-1, R-PAY-7) by event time in
Shanghai months, a past month unchanged by later events, the assessment's repayment part with
the profile's weight (R-MON-2), and the rebuild replaying the payments topics.

The payments events are put on the broker as payments' relay would (``Bus``); the monitoring
app runs in-process with its real lifespan and a fixed clock (``test_monitoring.world``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from contracts.payments import (
    InstallmentDisbursed,
    InstallmentOverdue,
    OverduePayable,
    PayableOverdue,
    PayablePaid,
    PayablesOverdue,
    Payer,
)
from services.payments.domain.deadlines import settlement_due
from services.runtime.clock import SHANGHAI
from tests.integration.test_monitoring import (
    OPERATOR,
    START,
    World,
    agreement,
    line,
    report,
    uid,
    world,
)
from tests.integration.test_supply_service import dump, eventually

pytestmark = pytest.mark.integration
AMOUNT = Decimal("7300.00")


def paid(w: World, payable: str, institution: str, enterprise: str, *, accepted: datetime,
         at: datetime, amount: Decimal = AMOUNT, outstanding: Decimal = Decimal("0.00"),
         payer: Payer = "institution") -> PayablePaid:
    due = settlement_due(accepted)
    return PayablePaid(payment_id=uid("PM"), payable_id=payable, program_id=w.program_id,
                       institution_id=institution, enterprise_id=enterprise, payer=payer,
                       amount=amount, paid_total=AMOUNT - outstanding, outstanding=outstanding,
                       due_at=due, on_time=at < due, paid_by=f"{payer}:{institution}/u",
                       paid_at=at)


def overdue_item(payable: str, institution: str, enterprise: str, *,
                 accepted: datetime) -> OverduePayable:
    return OverduePayable(payable_id=payable, institution_id=institution,
                          enterprise_id=enterprise, payer="institution", outstanding=AMOUNT,
                          due_at=settlement_due(accepted))


def overdue(w: World, payable: str, institution: str, enterprise: str, *,
            accepted: datetime, also: Sequence[OverduePayable] = ()) -> PayablesOverdue:
    """Payments' batch of overdue payables of the program (R-PAY-1): this one, and ``also``."""
    first = overdue_item(payable, institution, enterprise, accepted=accepted)
    return PayablesOverdue(program_id=w.program_id, items=[first, *also],
                           detected_at=first.due_at.replace(minute=1))


def disbursed(w: World, schedule: str, institution: str, seq: int, *, due: datetime,
              at: datetime, total: Decimal, of: Decimal) -> InstallmentDisbursed:
    return InstallmentDisbursed(
        disbursement_id=uid("DB"), schedule_id=schedule, program_id=w.program_id,
        agreement_year=1, institution_id=institution, agency_id=w.region, seq=seq,
        amount=total, disbursed_total=total, installment_amount=of, due_at=due,
        on_time=at < due, disbursed_by=f"agency:{w.region}/u", disbursed_at=at)


def columns(rep: dict[str, Any], dimension: str, key: str) -> tuple[int, int, int, int]:
    ln = line(rep, dimension, key)
    return (ln["settlements_on_time"], ln["settlements_overdue"],
            ln["disbursements_on_time"], ln["disbursements_late"])


async def test_r_mon_1_repayment_and_disbursement_columns_from_payments_events(
        database_url: str, bootstrap: str) -> None:
    from services.monitoring.rebuild import rebuild
    from services.runtime.db import make_engine

    ent, h1, h2 = uid("E"), uid("H"), uid("H")
    march = datetime(2025, 3, 10, 10, tzinfo=SHANGHAI)  # accepted: due 2025-05-01 00:00
    async with world(database_url, bootstrap,
                     now=datetime(2025, 6, 2, 10, tzinfo=SHANGHAI)) as w:
        await w.bus.send(agreement(w, h1, ent, 100, recorded_at=START))
        a, b, c = uid("O"), uid("O"), uid("O")
        # A: paid in two parts, completed on time in April (the part payment settles nothing)
        await w.bus.send(paid(w, a, h1, ent, accepted=march, amount=Decimal("3000.00"),
                              outstanding=Decimal("4300.00"),
                              at=datetime(2025, 3, 20, tzinfo=SHANGHAI)))
        await w.bus.send(paid(w, a, h1, ent, accepted=march, amount=Decimal("4300.00"),
                              at=datetime(2025, 4, 10, tzinfo=SHANGHAI)))
        # B: unpaid at its deadline: overdue from 2025-05-01 00:00, May; in the same batch
        # F of h3 (another enterprise's); G of h3 in an event of the per-payable kind
        # published before the batches (still read)
        h3, ent2 = uid("H"), uid("E")
        await w.bus.send(overdue(w, b, h1, ent, accepted=march, also=[
            overdue_item(uid("O"), h3, ent2, accepted=march)]))
        g = overdue_item(uid("O"), h3, ent2, accepted=march)
        await w.bus.send(PayableOverdue(
            program_id=w.program_id, detected_at=g.due_at, **g.model_dump()))
        # C: paid on time by the fund (direct settlement, R-PAY-5): in h2's report line
        await w.bus.send(paid(w, c, h2, ent, accepted=march, payer="fund",
                              at=datetime(2025, 4, 28, tzinfo=SHANGHAI)))
        # h1's prepayment: installment 1 disbursed on time in February, installment 2 late
        schedule = uid("S")
        await w.bus.send(disbursed(w, schedule, h1, 1, due=datetime(2025, 3, 1, tzinfo=SHANGHAI),
                                   at=datetime(2025, 2, 20, tzinfo=SHANGHAI),
                                   total=Decimal("36500.00"), of=Decimal("36500.00")))
        await w.bus.send(InstallmentOverdue(
            schedule_id=schedule, program_id=w.program_id, agreement_year=1,
            institution_id=h1, agency_id=w.region, seq=2,
            due_at=datetime(2025, 5, 31, tzinfo=SHANGHAI), outstanding=Decimal("36500.00"),
            detected_at=datetime(2025, 5, 31, 0, 1, tzinfo=SHANGHAI)))

        async def may_seen() -> dict[str, Any]:
            rep = await report(w, "2025-05")
            assert columns(rep, "institution", h1) == (0, 1, 0, 1), rep
            assert columns(rep, "institution", h3) == (0, 2, 0, 0), rep
            return rep

        may = await eventually(may_seen)
        april = await report(w, "2025-04")
        assert columns(april, "institution", h1) == (1, 0, 0, 0)
        assert columns(april, "institution", h2) == (1, 0, 0, 0)
        assert columns(april, "enterprise", ent) == (2, 0, 0, 0)
        assert columns(april, "region", w.region) == (2, 0, 0, 0)
        assert columns(may, "enterprise", ent) == (0, 1, 0, 0)  # the installment: no enterprise
        feb = await report(w, "2025-02")
        assert columns(feb, "institution", h1) == (0, 0, 1, 0)
        assert columns(feb, "enterprise", ent) == (0, 0, 0, 0)
        march_report = await report(w, "2025-03")
        assert columns(march_report, "institution", h1) == (0, 0, 0, 0)  # A's first part

        # later events: B paid late (the same overdue fact, counted once, still in May) and
        # D paid on time in June: April and May do not move; a late event of April lands in
        # April, not in the month it arrived
        d, e = uid("O"), uid("O")
        await w.bus.send(paid(w, b, h1, ent, accepted=march,
                              at=datetime(2025, 5, 20, tzinfo=SHANGHAI)))
        await w.bus.send(paid(w, d, h1, ent, accepted=datetime(2025, 5, 5, tzinfo=SHANGHAI),
                              at=datetime(2025, 6, 1, 9, tzinfo=SHANGHAI)))

        async def june_seen() -> None:
            assert columns(await report(w, "2025-06"), "institution", h1) == (1, 0, 0, 0)

        await eventually(june_seen)
        assert await report(w, "2025-04") == april
        assert await report(w, "2025-05") == may
        await w.bus.send(paid(w, e, h1, ent, accepted=march,
                              at=datetime(2025, 4, 30, 23, 59, tzinfo=SHANGHAI)))

        async def late_in_april() -> dict[str, Any]:
            rep = await report(w, "2025-04")
            assert columns(rep, "institution", h1) == (2, 0, 0, 0), rep
            return rep

        april_after = await eventually(late_in_april)
        assert columns(await report(w, "2025-06"), "institution", h1) == (1, 0, 0, 0)
        assert await report(w, "2025-05") == may

        # the file: Chinese headings, the figures
        r = await w.client.get("/v1/reports/monthly/2025-05", headers=OPERATOR,
                               params={"region": w.region, "format": "csv",
                                       "dimension": "institution"})
        rows = [row.split(",") for row in r.content.decode("utf-8-sig").splitlines()]
        assert rows[0][-4:] == ["按时回款笔数", "逾期回款笔数", "医保基金按时拨付笔数",
                                "医保基金逾期拨付笔数"]
        assert [row[-4:] for row in rows[1:] if row[2] == h1] == [["0", "1", "0", "1"]]

        # the assessment (R-MON-2): h1's own settlements in agreement year 1 as of now —
        # A and E on time, B overdue (D's deadline is to come but it is paid: on time)
        r = await w.client.get(f"/v1/assessments/{w.program_id}/1/{h1}", headers=OPERATOR)
        assert r.status_code == 200, dump(r)
        parts = {p["name"]: p for p in r.json()["parts"]}
        rep = parts["repayment"]
        assert (rep["value"], rep["weight"], rep["applied_weight"]) == (
            "0.7500", "0.3", "0.3000")
        assert rep["explanation"] == ("3 of 4 settlements paid on time, 1 overdue; "
                                      "weight 0.3: 22.50 points")
        assert parts["progress"]["applied_weight"] == "0.5000"  # no weight spread
        # 100 × (0.5 × 0 accepted + 0.2 × 5 of 5 months + 0.3 × 0.75)
        assert r.json()["score"] == "42.50"
        # h2's only settlement was the fund's: its repayment is not measured, and said so
        r = await w.client.get(f"/v1/assessments/{w.program_id}/1/{h2}", headers=OPERATOR)
        rep2 = {p["name"]: p for p in r.json()["parts"]}["repayment"]
        assert rep2["value"] is None and "no settlement came due" in rep2["explanation"]

        # rebuild from the topics (the payments topics among them): the same figures
        engine = make_engine(database_url)
        try:
            await rebuild(engine, bootstrap)
        finally:
            await engine.dispose()
        assert await report(w, "2025-04") == april_after
        assert await report(w, "2025-05") == may
        assert await report(w, "2025-02") == feb
