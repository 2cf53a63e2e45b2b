"""The synthetic province of ``vbp simulate`` (services/sim/province.py): the same seed gives
the same province; its shape is what the simulation needs (issue #19)."""

from __future__ import annotations

from collections import Counter
from statistics import quantiles

from contracts.identity import enterprise_id
from services.sim.province import generate, winning_stents


def test_the_same_seed_gives_the_same_province_and_another_seed_another() -> None:
    a, b, c = generate(7, 300), generate(7, 300), generate(8, 300)
    assert a.agreements == b.agreements and a.institutions == b.institutions
    assert a.assignments == b.assignments and a.barred == b.barred
    assert a.agreements_csv() == b.agreements_csv()
    assert c.agreements != a.agreements


def test_the_seed_table_s_14_stents_and_more_generated_products_for_a_larger_run() -> None:
    stents = winning_stents()
    assert len(stents) == 14
    assert stents[0].registration_no == "国械注准20163132305"
    assert str(stents[0].winning_price) == "730.00"
    small, large = generate(1, 100), generate(1, 2000)
    assert small.products == stents
    assert large.products[:14] == stents and len(large.products) == 40
    regs = [p.registration_no for p in large.products]
    assert len(set(regs)) == len(regs)
    for p in large.products:  # R-CAT-1: the winning price is product plus service price
        assert p.winning_price == p.product_price + p.service_price


def test_institutions_of_several_levels_places_and_paces_around_the_even_line() -> None:
    p = generate(3, 2000)
    levels = Counter(i.level for i in p.institutions)
    assert set(levels) == {"tertiary", "secondary", "primary"}
    assert levels["primary"] > levels["secondary"] > levels["tertiary"] > 50
    assert len({i.place for i in p.institutions}) > 20
    assert any("县" in i.place for i in p.institutions)  # counties as well as city districts
    behind = sum(i.pace < 0.9 for i in p.institutions)
    ahead = sum(i.pace > 1.1 for i in p.institutions)
    assert 250 < behind < 550 and 250 < ahead < 550
    assert 150 < sum(i.late_payer for i in p.institutions) < 450
    assert 100 < sum(i.renewal_ratio < 0.9 for i in p.institutions) < 300
    ids = [i.institution_id for i in p.institutions]
    assert len(set(ids)) == len(ids)


def test_agreement_volumes_spread_by_level_and_every_assignment_is_a_known_distributor() -> None:
    p = generate(5, 2000)
    totals: dict[str, int] = Counter()
    for (inst, _reg), units in p.agreements.items():
        assert units >= 1
        totals[inst] += units
    level = {i.institution_id: i.level for i in p.institutions}
    by_level = {lv: [t for i, t in totals.items() if level[i] == lv]
                for lv in ("tertiary", "secondary", "primary")}
    medians = {lv: quantiles(v, n=2)[0] for lv, v in by_level.items()}
    assert medians["tertiary"] > 5 * medians["secondary"] > 5 * medians["primary"]
    deciles = quantiles(by_level["secondary"], n=10)
    assert deciles[-1] > 2 * deciles[0]  # a realistic spread, not one size
    known = {d.distributor_id for d in p.distributors}
    assert set(p.assignments.values()) <= known and p.barred in known
    assert set(p.backups) == {r for r, d in p.assignments.items() if d == p.barred}
    assert p.barred not in p.backups.values()
    line = p.agreements_csv().splitlines()[1].split(",")
    assert line[2] == enterprise_id(p.product(line[3]).declaring_enterprise)
