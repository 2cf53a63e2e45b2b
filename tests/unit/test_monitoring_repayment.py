"""Repayment and fund-disbursement timeliness in monitoring, with plain values: the outcome of
a payable (R-PAY-1) or a prepayment installment (R-PAY-7) from the payments service's events,
the month it counts in (Shanghai, R-MON-1), the report's columns, and the assessment's
repayment part with the profile's weight (R-MON-2)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from contracts.profiles import AssessmentWeights
from services.monitoring.domain import assessment, repayment, reports
from services.monitoring.domain.reports import Figures, Grain, Month
from services.payments.domain.deadlines import settlement_due
from services.runtime.clock import SHANGHAI

ACCEPTED = datetime(2023, 3, 15, 10, tzinfo=SHANGHAI)
DUE = datetime(2023, 5, 1, tzinfo=SHANGHAI)  # EXAMPLES.md, R-PAY-1 first row


# --- outcomes of payables (R-PAY-1) -------------------------------------------------------------


def test_r_pay_1_paid_in_full_before_the_deadline_is_on_time_in_the_payments_month() -> None:
    assert settlement_due(ACCEPTED) == DUE
    paid_at = datetime(2023, 4, 30, 23, 59, tzinfo=SHANGHAI)
    out = repayment.payable_paid("O1", outstanding=Decimal("0.00"), on_time=True,
                                 paid_at=paid_at, due_at=DUE)
    assert out == repayment.Outcome("payable:O1", "settled_on_time", paid_at)
    assert str(Month.of(out.at)) == "2023-04"


def test_r_pay_1_a_part_payment_settles_nothing_yet() -> None:
    assert repayment.payable_paid("O1", outstanding=Decimal("4300.00"), on_time=True,
                                  paid_at=ACCEPTED, due_at=DUE) is None


def test_r_pay_1_overdue_counts_from_the_deadline_however_payments_says_it() -> None:
    flagged = repayment.payable_overdue("O1", due_at=DUE)
    paid_late = repayment.payable_paid("O1", outstanding=Decimal("0.00"), on_time=False,
                                       paid_at=datetime(2023, 6, 20, tzinfo=SHANGHAI),
                                       due_at=DUE)
    # the scheduler's event and the late payment are the same fact: it counts once, in May
    assert flagged == paid_late == repayment.Outcome("payable:O1", "settled_overdue", DUE)
    assert str(Month.of(flagged.at)) == "2023-05"


def test_r_pay_1_the_deadline_month_is_shanghais() -> None:
    # 2023-03-31T20:00Z is April 1 in Shanghai: due 2023-06-01 00:00, overdue in June
    due = settlement_due(datetime(2023, 3, 31, 20, tzinfo=UTC))
    out = repayment.payable_overdue("O2", due_at=due)
    assert out.at == datetime(2023, 6, 1, tzinfo=SHANGHAI)
    assert str(Month.of(out.at)) == "2023-06"


# --- outcomes of installments (R-PAY-7) ---------------------------------------------------------


def test_r_pay_7_installment_disbursed_on_time_late_or_overdue() -> None:
    due = datetime(2023, 3, 1, tzinfo=SHANGHAI)  # Chongqing installment 1 of a 2023-01-31 start
    part = repayment.installment_disbursed(
        "S1", 1, disbursed_total=Decimal("6000.00"), installment_amount=Decimal("12000.00"),
        on_time=True, disbursed_at=datetime(2023, 2, 10, tzinfo=SHANGHAI), due_at=due)
    assert part is None  # half of it: not disbursed yet
    done_at = datetime(2023, 2, 27, tzinfo=SHANGHAI)
    whole = repayment.installment_disbursed(
        "S1", 1, disbursed_total=Decimal("12000.00"), installment_amount=Decimal("12000.00"),
        on_time=True, disbursed_at=done_at, due_at=due)
    assert whole == repayment.Outcome("installment:S1:1", "disbursed_on_time", done_at)
    late = repayment.installment_disbursed(
        "S1", 2, disbursed_total=Decimal("12000.00"), installment_amount=Decimal("12000.00"),
        on_time=False, disbursed_at=datetime(2023, 8, 5, tzinfo=SHANGHAI),
        due_at=datetime(2023, 7, 31, tzinfo=SHANGHAI))
    flagged = repayment.installment_overdue("S1", 2, due_at=datetime(2023, 7, 31,
                                                                      tzinfo=SHANGHAI))
    assert late == flagged and flagged.kind == "disbursed_late"
    assert str(Month.of(flagged.at)) == "2023-07"  # 2023-07-31 00:00: still July


# --- the report's columns (R-MON-1) -------------------------------------------------------------


def test_r_mon_1_repayment_and_disbursement_columns_roll_up() -> None:
    grains = [
        Grain("P1", "重庆市", "H1", "E1", "N1", "D1", Figures(accepted_units=10)),
        Grain("P1", "重庆市", "H1", "E1", None, None,
              Figures(settlements_on_time=2, settlements_overdue=1)),
        Grain("P1", "重庆市", "H2", "E1", None, None, Figures(settlements_overdue=1)),
        Grain("P1", "重庆市", "H2", "E2", None, None, Figures(settlements_on_time=1)),
        Grain("P1", "重庆市", "H1", None, None, None,
              Figures(disbursements_on_time=1, disbursements_late=1)),
    ]
    lines = reports.report_lines(Month(2025, 3), grains)
    by = {(ln["dimension"], ln["key"]): ln for ln in lines}

    def cols(dimension: str, key: str) -> tuple[object, ...]:
        ln = by[(dimension, key)]
        return (ln["settlements_on_time"], ln["settlements_overdue"],
                ln["disbursements_on_time"], ln["disbursements_late"])

    assert cols("institution", "H1") == (2, 1, 1, 1)
    assert cols("institution", "H2") == (1, 1, 0, 0)
    assert cols("enterprise", "E1") == (2, 2, 0, 0)  # installments name no enterprise
    assert cols("enterprise", "E2") == (1, 0, 0, 0)
    assert cols("region", "重庆市") == (3, 2, 1, 1)
    assert cols("distributor", "D1") == (0, 0, 0, 0)
    assert [k for k in by if k[0] == "enterprise"] == [("enterprise", "E1"),
                                                        ("enterprise", "E2")]
    headings = {c.name: c.heading for c in reports.COLUMNS}
    assert headings["settlements_overdue"] == "逾期回款笔数"
    assert headings["disbursements_late"] == "医保基金逾期拨付笔数"
    assert list(by[("region", "重庆市")]) == [c.name for c in reports.COLUMNS]
    assert reports.totals(grains)["settlements_on_time"] == "3"


# --- the assessment's repayment part (R-MON-2) --------------------------------------------------


def test_r_mon_2_repayment_keeps_the_profiles_weight_when_measured() -> None:
    weights = AssessmentWeights()  # 0.5 / 0.2 / 0.3
    a = assessment.assess(weights, accepted_units=80, agreement_units=100, warned_months=0,
                          elapsed_months=12, settlements_on_time=3, settlements_due=4)
    parts = {p.name: p for p in a.parts}
    rep = parts["repayment"]
    assert rep.value == Decimal("0.7500")
    assert rep.weight == rep.applied_weight == Decimal("0.3")
    assert rep.points == Decimal("22.50")
    assert rep.explanation == ("3 of 4 settlements paid on time, 1 overdue; "
                               "weight 0.3: 22.50 points")
    assert parts["progress"].applied_weight == Decimal("0.5")  # nothing spread
    assert "scaled" not in parts["progress"].explanation
    # 100 × (0.5 × 0.8 + 0.2 × 1 + 0.3 × 0.75) = 82.5
    assert a.score == Decimal("82.50")


def test_r_mon_2_no_settlement_due_spreads_the_repayment_weight_and_says_so() -> None:
    a = assessment.assess(AssessmentWeights(), accepted_units=80, agreement_units=100,
                          warned_months=0, elapsed_months=12, settlements_on_time=0,
                          settlements_due=0)
    parts = {p.name: p for p in a.parts}
    assert parts["repayment"].value is None and parts["repayment"].applied_weight == 0
    assert "no settlement came due" in parts["repayment"].explanation
    assert parts["progress"].applied_weight == Decimal("0.7143")  # 0.5 / 0.7
    assert "scaled to 0.7143" in parts["progress"].explanation
    # 100 × (0.5 × 0.8 + 0.2 × 1) / 0.7
    assert a.score == Decimal("85.71")


def test_r_mon_2_all_overdue_scores_repayment_zero() -> None:
    a = assessment.assess(AssessmentWeights(), accepted_units=100, agreement_units=100,
                          warned_months=0, elapsed_months=12, settlements_on_time=0,
                          settlements_due=2)
    rep = {p.name: p for p in a.parts}["repayment"]
    assert (rep.value, rep.points) == (Decimal("0.0000"), Decimal("0.00"))
    assert a.score == Decimal("70.00")
