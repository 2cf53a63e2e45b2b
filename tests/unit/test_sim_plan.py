"""What ``vbp simulate`` plans for the year (services/sim/simulate.py), and the invariant
checker's routing rule (services/sim/invariants.py), without a platform (issue #19)."""

from __future__ import annotations

import functools
from collections import Counter
from datetime import timedelta

from contracts.orders import ORDERS_TOPIC, OrderPlaced
from contracts.supply import DELIVERIES_TOPIC, OrderRouted, SupplyRiskOpened
from services.runtime.clock import add_months
from services.sim.invariants import Record, _routed_once
from services.sim.province import generate
from services.sim.simulate import Driver, Order, default_rate, make_clock


def planned(days: int = 365) -> tuple[Driver, list[Order]]:
    p = generate(11, 400)
    driver = Driver(p, {}, make_clock(p, 1000.0, 0.0), "secret", days=days, progress=False)
    driver.plan()
    orders = [step.args[0] for _, _, step in driver._queue
              if isinstance(step, functools.partial) and isinstance(step.args[0], Order)]
    return driver, orders


def test_orders_follow_each_institution_s_pace_around_the_even_line() -> None:
    driver, orders = planned()
    units: Counter[str] = Counter()
    for o in orders:
        units[o.institution.institution_id] += o.units
    annual: Counter[str] = Counter()
    for (inst, _), n in driver.p.agreements.items():
        annual[inst] += n
    for inst in driver.p.institutions:
        expected = sum(round(n * inst.pace) for (i, _), n in driver.p.agreements.items()
                       if i == inst.institution_id)
        assert abs(units[inst.institution_id] - expected) <= 1 + 0.01 * expected
    behind = [i for i in driver.p.institutions if i.pace < 0.9]
    ahead = [i for i in driver.p.institutions if i.pace > 1.1]
    assert behind and ahead
    # (an agreement of one unit stays one unit either way: compare the groups' sums)
    assert all(units[i.institution_id] <= annual[i.institution_id] for i in behind)
    assert all(units[i.institution_id] >= annual[i.institution_id] for i in ahead)
    assert sum(units[i.institution_id] for i in behind) < 0.9 * sum(
        annual[i.institution_id] for i in behind)
    assert sum(units[i.institution_id] for i in ahead) > 1.1 * sum(
        annual[i.institution_id] for i in ahead)


def test_the_year_s_events_fall_inside_it() -> None:
    driver, orders = planned()
    steps = {when: getattr(s, "func", s).__name__ for when, _, s in driver._queue}
    inside = sorted(when for when, name in steps.items() if name != "month_end")
    assert inside[0] >= driver.start and inside[-1] <= driver.end
    month_ends = sorted(when for when, name in steps.items() if name == "month_end")
    # the year's last month closed just after it, and the month after it (its offsets)
    assert month_ends[-2] - driver.end == timedelta(hours=6)
    assert month_ends[-1] == add_months(driver.end, 1) + timedelta(hours=6)
    counts = Counter(getattr(step, "func", step).__name__ for _, _, step in driver._queue)
    assert counts["month_end"] == 13 and counts["bar"] == 1 and counts["renewals"] == 1
    assert counts["place"] == len(orders) > 400
    first_half = sum(1 for when, _, s in driver._queue
                     if getattr(s, "func", s).__name__ == "place"
                     and when < driver.start + timedelta(days=182))
    assert 0.4 < first_half / len(orders) < 0.6  # paced through the year, not bunched


def test_the_rate_makes_the_days_last_the_minutes() -> None:
    assert default_rate(365, 12) == 365 * 86_400 / 720


def rec(topic: str, key: str, ce_type: str, event_id: str, **data: object) -> Record:
    return Record(topic, 0, 0, key, event_id, ce_type, dict(data), {})


def test_every_order_placed_is_routed_once_or_a_supply_risk() -> None:
    records = [rec(ORDERS_TOPIC, f"O{n}", OrderPlaced.TYPE, f"p{n}") for n in range(4)]
    records += [rec(DELIVERIES_TOPIC, "O0", OrderRouted.TYPE, "r0"),
                rec(DELIVERIES_TOPIC, "O0", OrderRouted.TYPE, "r0"),  # a re-sent copy
                rec(DELIVERIES_TOPIC, "O1", SupplyRiskOpened.TYPE, "k1"),
                rec(DELIVERIES_TOPIC, "O1", OrderRouted.TYPE, "r1b", rerouted_from="D9"),
                rec(DELIVERIES_TOPIC, "O2", OrderRouted.TYPE, "r2")]
    missing = _routed_once(records)
    assert not missing.ok and missing.problems == ["order O3 neither routed nor a supply risk"]
    records.append(rec(DELIVERIES_TOPIC, "O3", OrderRouted.TYPE, "r3"))
    good = _routed_once(records)
    assert good.ok and good.counts["routed once"] == 3 and good.counts["supply risks"] == 1
    records.append(rec(DELIVERIES_TOPIC, "O3", OrderRouted.TYPE, "r3-again"))
    twice = _routed_once(records)
    assert not twice.ok and twice.problems == ["order O3 routed 2 times"]


def test_each_month_end_pays_its_own_month_whenever_it_runs() -> None:
    """The fund payments' month comes from the step's plan, not the clock when it runs: two
    steps run late in one calendar month paid it twice (the same ids at once, which payments
    answered 500) and skipped the month before."""
    driver, _ = planned()
    ends = sorted((when, step.args) for when, _, step in driver._queue
                  if getattr(step, "func", None) is not None
                  and step.func.__name__ == "month_end")
    months = [last for _, (_, last) in ends]
    assert len(set(months)) == len(months) == 13
    index = [d.year * 12 + d.month for d in months]
    assert index == list(range(index[0], index[0] + 13))  # consecutive, none skipped
