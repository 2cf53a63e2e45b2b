"""Routing several orders at once (the batch of OrderPlaced): every order is decided exactly as
``route`` decides it alone (R-SUP-1, R-SUP-4, R-SUP-5, R-AGR-4)."""

from __future__ import annotations

from datetime import timedelta

from services.supply.domain import RiskReason, Routed, SupplyRisk, route, route_each
from tests.unit.test_supply_domain import (
    DISTRIBUTORS,
    ENT,
    ENT2,
    H1,
    H2,
    NOW,
    STENT,
    STENT2,
    assign,
    barred,
    order,
    regional,
)


def test_r_sup_1_each_order_is_decided_from_its_own_product_and_place() -> None:
    pool = [
        assign("A-1", "D-1", institution=H1),                      # ENT/STENT for H1
        regional("A-2", "D-2"),                                    # ENT/STENT in the region
        assign("A-3", "D-3", institution=H2, product=STENT2),      # ENT/STENT2 for H2 only
        regional("A-4", "D-3", enterprise=ENT2),                   # another enterprise
        regional("A-5", "D-1", region="四川"),                      # another region
        regional("A-6", "D-1", valid_until=NOW - timedelta(days=1)),  # expired
    ]
    orders = [
        order("O-1"),                                   # H1: its own assignment wins
        order("O-2", institution=H2),                   # H2: the region's
        order("O-3", product=STENT2),                   # H1 has none for STENT2
        order("O-4", institution=H2, product=STENT2),
        order("O-5", enterprise=ENT2, institution=H2),
        order("O-6", region="四川", institution="H-SC"),
        order("O-7", region="西藏", institution="H-XZ"),
        order("O-8", quantity=10_000),                  # far beyond any agreement (R-SUP-5)
    ]
    decided = route_each(orders, pool, DISTRIBUTORS, NOW)
    assert decided == [route(o, pool, DISTRIBUTORS, NOW) for o in orders]
    assert decided == [
        Routed("D-1", "A-1"), Routed("D-2", "A-2"),
        SupplyRisk(ENT, STENT2, H1, RiskReason.NO_VALID_ASSIGNMENT),
        Routed("D-3", "A-3"), Routed("D-3", "A-4"), Routed("D-1", "A-5"),
        SupplyRisk(ENT, STENT, "H-XZ", RiskReason.NO_VALID_ASSIGNMENT), Routed("D-1", "A-1"),
    ]


def test_r_sup_4_a_barred_distributor_routes_no_order_of_the_batch() -> None:
    pool = [assign("A-1", "D-1", institution=H1), regional("A-2", "D-2"),
            assign("A-3", "D-2", institution=H2, product=STENT2)]
    distributors = barred("D-2", NOW + timedelta(days=365))
    orders = [order("O-1"), order("O-2", institution=H2),
              order("O-3", institution=H2, product=STENT2)]
    assert route_each(orders, pool, distributors, NOW) == [
        Routed("D-1", "A-1"),
        SupplyRisk(ENT, STENT, H2, RiskReason.DISTRIBUTOR_NOT_QUALIFIED),
        SupplyRisk(ENT, STENT2, H2, RiskReason.DISTRIBUTOR_NOT_QUALIFIED),
    ]


def test_no_orders_no_decisions() -> None:
    assert route_each([], [regional("A-1", "D-1")], DISTRIBUTORS, NOW) == []
