"""Routing (R-SUP-1, R-SUP-3, R-SUP-5, R-AGR-4, R-AGR-7): which distributor an order goes to, or
why none may take it (a supply risk)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.supply.domain.assignments import Assignment, Scope, is_revoked, resolve_assignment
from services.supply.domain.distributors import Distributor


@dataclass(frozen=True)
class OrderToRoute:
    """What routing needs of a placed order. Deliberately nothing about agreement volume or
    account opening: neither may change where an order goes (R-SUP-5, R-AGR-4, R-AGR-7)."""

    order_id: str
    enterprise_id: str
    registration_no: str
    institution_id: str
    region: str
    quantity: int
    placed_at: datetime


@dataclass(frozen=True)
class Routed:
    distributor_id: str
    assignment_id: str


class RiskReason(StrEnum):
    NO_VALID_ASSIGNMENT = "no_valid_assignment"
    """No assignment for the enterprise, product and institution/region is valid now."""
    ASSIGNMENT_REVOKED = "assignment_revoked"
    """The assignments that would apply were revoked: contingency plan pending (R-SUP-4)."""
    DISTRIBUTOR_NOT_QUALIFIED = "distributor_not_qualified"
    """Assignments are in force, but every assigned distributor is barred or unqualified."""


@dataclass(frozen=True)
class SupplyRisk:
    """R-SUP-4: an order (or product) nobody may distribute now; open until reassigned."""

    enterprise_id: str
    registration_no: str
    institution_id: str | None
    reason: RiskReason


def _applies_to(a: Assignment, order: OrderToRoute) -> bool:
    if a.enterprise_id != order.enterprise_id or a.registration_no != order.registration_no:
        return False
    if a.scope == Scope.INSTITUTION:
        return a.institution_id == order.institution_id
    return a.region == order.region


def _risk_reason(
    order: OrderToRoute, assignments: Iterable[Assignment], at: datetime
) -> RiskReason:
    windowed = [
        a
        for a in assignments
        if _applies_to(a, order)
        and a.valid_from <= at
        and (a.valid_until is None or at < a.valid_until)
    ]
    if any(not is_revoked(a, at) for a in windowed):
        return RiskReason.DISTRIBUTOR_NOT_QUALIFIED
    if windowed:
        return RiskReason.ASSIGNMENT_REVOKED
    return RiskReason.NO_VALID_ASSIGNMENT


def route(
    order: OrderToRoute,
    assignments: Iterable[Assignment],
    distributors: Mapping[str, Distributor],
    at: datetime,
) -> Routed | SupplyRisk:
    """R-SUP-1/R-SUP-3: send the order to the distributor the enterprise assigned, as resolved
    at ``at``; with none, the order is a supply risk (R-SUP-4) rather than refused.

    Orders beyond the agreement volume, or from institutions with none, route like any other
    (R-SUP-5, R-AGR-4): ``OrderToRoute`` has no field that could say otherwise. Account opening
    is not consulted (R-SUP-2, R-AGR-7).
    """
    pool = list(assignments)
    chosen = resolve_assignment(
        pool,
        enterprise_id=order.enterprise_id,
        registration_no=order.registration_no,
        institution_id=order.institution_id,
        region=order.region,
        at=at,
        distributors=distributors,
    )
    if chosen is not None:
        return Routed(chosen.distributor_id, chosen.assignment_id)
    return SupplyRisk(
        order.enterprise_id, order.registration_no, order.institution_id,
        _risk_reason(order, pool, at),
    )


def route_each(
    orders: Iterable[OrderToRoute],
    assignments: Iterable[Assignment],
    distributors: Mapping[str, Distributor],
    at: datetime,
) -> list[Routed | SupplyRisk]:
    """``route`` for several orders at once (R-SUP-1, R-SUP-4), in their order: each order is
    decided on its own, from the assignments of its own enterprise and product only, exactly
    as ``route`` would decide it alone."""
    by_product: dict[tuple[str, str], list[Assignment]] = {}
    for a in assignments:
        by_product.setdefault((a.enterprise_id, a.registration_no), []).append(a)
    return [route(o, by_product.get((o.enterprise_id, o.registration_no), ()), distributors, at)
            for o in orders]
