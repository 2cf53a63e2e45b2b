"""The ledger's invariants (R-PAY-6), by example and as a property: random sequences of
schedules, disbursements, offsets, payments and corrections, checked after every step."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.payments.domain import postings
from services.payments.domain.ledger import Ledger, LedgerRefused, Transfer, violations

D = Decimal
SCHED = postings.schedule_account("P", 1, "H")
PREPAY = postings.prepay_account("P", 1, "H")


def test_a_transfer_with_the_same_cause_posts_once() -> None:
    ledger = Ledger()
    first = postings.scheduled("agreement-A:v1", "CQ", SCHED, D("24000.00"))
    assert ledger.post_all(first) == 1
    assert ledger.post_all(postings.scheduled("agreement-A:v1", "CQ", SCHED, D("24000.00"))) == 0
    assert ledger.accounts[SCHED].credits == 2_400_000
    assert violations(ledger) == []


def test_disbursing_beyond_the_schedule_is_refused_and_posts_nothing() -> None:
    ledger = Ledger()
    ledger.post_all(postings.scheduled("a", "CQ", SCHED, D("100.00")))
    with pytest.raises(LedgerRefused) as refused:
        ledger.post_all(postings.disbursed("d1", "CQ", SCHED, PREPAY, D("100.01")))
    assert refused.value.account == SCHED
    assert (refused.value.debits, refused.value.credits) == (0, 10_000)
    assert PREPAY not in ledger.accounts or ledger.accounts[PREPAY].debits == 0
    assert len(ledger.transfers) == 1


def test_offsetting_beyond_the_prepayment_balance_is_refused() -> None:
    """R-PAY-6: a prepayment balance never goes below zero."""
    ledger = Ledger()
    ledger.post_all(postings.scheduled("a", "CQ", SCHED, D("100.00")))
    ledger.post_all(postings.disbursed("d1", "CQ", SCHED, PREPAY, D("60.00")))
    with pytest.raises(LedgerRefused) as refused:
        ledger.post_all(postings.fund_payment("f1", "CQ", "H", D("100.00"),
                                              [(PREPAY, D("60.01"))], D(0), D("39.99")))
    assert refused.value.account == PREPAY
    assert violations(ledger) == []
    assert len(ledger.transfers) == 3


def test_a_transfer_is_positive_and_between_two_accounts() -> None:
    with pytest.raises(ValueError):
        Transfer("x", "fund:CQ", "fund:CQ", 1, "t")
    with pytest.raises(ValueError):
        Transfer("x", "fund:CQ", "cash:H", 0, "t")


amounts = st.integers(min_value=1, max_value=5_000_000).map(lambda f: D(f) / 100)
step = st.one_of(
    st.tuples(st.just("schedule"), st.integers(0, 2), amounts),
    st.tuples(st.just("reduce"), st.integers(0, 2), amounts),
    st.tuples(st.just("disburse"), st.integers(0, 2), amounts),
    st.tuples(st.just("fund_payment"), st.integers(0, 2), amounts),
    st.tuples(st.just("offset_blindly"), st.integers(0, 2), amounts),
    st.tuples(st.just("accept"), st.integers(0, 2), amounts),
    st.tuples(st.just("pay"), st.integers(0, 2), amounts),
    st.tuples(st.just("replay"), st.integers(0, 50), amounts),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(step, min_size=1, max_size=40))
def test_ledger_invariants_hold_after_every_step(steps: list[tuple[str, int, Decimal]]) -> None:
    """Whatever happens, in whatever order: total debits = total credits, every account is the
    sum of its transfers, no prepayment balance below zero, no schedule over-disbursed, no
    payable overpaid; a refused movement posts nothing; a replayed one posts nothing."""
    ledger = Ledger()
    posted: list[list[Transfer]] = []
    for n, (kind, i, amount) in enumerate(steps):
        inst = f"H{i}"
        sched = postings.schedule_account("P", 1, inst)
        prepay = postings.prepay_account("P", 1, inst)
        if kind == "schedule":
            batch = postings.scheduled(f"s{n}", "CQ", sched, amount)
        elif kind == "reduce":
            batch = postings.scheduled(f"s{n}", "CQ", sched, -amount)
        elif kind == "disburse":
            batch = postings.disbursed(f"d{n}", "CQ", sched, prepay, amount)
        elif kind == "fund_payment":
            balance = D(ledger.account(prepay).balance) / 100
            offset = min(balance, amount)
            batch = postings.fund_payment(f"f{n}", "CQ", inst, amount, [(prepay, offset)],
                                          D(0), amount - offset)
        elif kind == "offset_blindly":  # a wrong offset: more than the balance, maybe
            batch = postings.fund_payment(f"f{n}", "CQ", inst, amount * 2, [(prepay, amount)],
                                          D(0), amount)
        elif kind == "accept":
            batch = postings.payable_opened(f"o{n}", inst, "E", inst, amount, i == 2)
        elif kind == "pay":
            batch = postings.payable_paid(f"p{n}", inst, "E", amount, False)
        else:
            if not posted:
                continue
            batch = posted[i % len(posted)]
        before = dict(ledger.transfers)
        snapshot = {k: (a.debits, a.credits) for k, a in ledger.accounts.items()}
        try:
            count = ledger.post_all(batch)
            if kind == "replay":
                assert count == 0
            posted.append(batch)
        except LedgerRefused:
            assert ledger.transfers == before
            assert {k: (a.debits, a.credits) for k, a in ledger.accounts.items()
                    if k in snapshot} == snapshot
        assert violations(ledger) == []


def test_a_refusal_is_a_problem_naming_the_account_and_the_amounts() -> None:
    """R-PAY-6: problem+json with the account, the limit and the amounts in yuan."""
    from services.payments.errors import ledger_refused

    ledger = Ledger()
    ledger.post_all(postings.scheduled("a", "CQ", SCHED, D("100.00")))
    ledger.post_all(postings.disbursed("d", "CQ", SCHED, PREPAY, D("60.00")))
    with pytest.raises(LedgerRefused) as refused:
        ledger.post_all(postings.fund_payment("f", "CQ", "H", D("100.00"),
                                              [(PREPAY, D("60.01"))], D(0), D("39.99")))
    body = ledger_refused(refused.value).body("/v1/fund-payments")
    assert body["status"] == 409 and body["type"].endswith("ledger-limit")
    assert (body["account"], body["amount"], body["debits_posted"], body["credits_posted"]) == (
        PREPAY, "60.01", "60.00", "0.00")
    assert PREPAY in body["detail"]
