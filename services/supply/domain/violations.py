"""The violation list (R-SUP-4, R-CRD-3): what barring a distributor decides for its
assignments, its open orders and the enterprises that lose it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from services.runtime.texts import text
from services.supply.domain.assignments import (
    Assignment,
    Scope,
    is_live,
    resolve_assignment,
    revoke,
)
from services.supply.domain.common import aware
from services.supply.domain.deliveries import ShipmentState
from services.supply.domain.distributors import Bar, Distributor, apply_bar
from services.supply.domain.routing import Routed, SupplyRisk, route


@dataclass(frozen=True)
class Reroute:
    """R-SUP-4: where a taken-back order goes now."""

    order_id: str
    decision: Routed | SupplyRisk


@dataclass(frozen=True, order=True)
class Gap:
    """A product and place that no valid assignment covers after a bar (R-SUP-4)."""

    registration_no: str
    scope: Scope
    place: str


@dataclass(frozen=True)
class Contingency:
    """R-SUP-4: an enterprise that lost assignments must start its contingency plan and assign
    another distributor; ``gaps`` are where supply is at risk until it does."""

    enterprise_id: str
    gaps: tuple[Gap, ...] = ()

    @property
    def registration_nos(self) -> tuple[str, ...]:
        """The products lacking a valid assignment somewhere."""
        return tuple(sorted({g.registration_no for g in self.gaps}))


@dataclass(frozen=True)
class BarOutcome:
    """Everything a bar decides (R-SUP-4); the service applies it in one transaction."""

    bar: Bar
    revoked: tuple[Assignment, ...] = ()
    taken_back: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    reroutes: tuple[Reroute, ...] = ()
    contingencies: tuple[Contingency, ...] = ()

    @property
    def changes_nothing(self) -> bool:
        """True when applying it again after it was applied once (idempotent replay)."""
        return not (self.revoked or self.taken_back or self.reroutes or self.contingencies)

    def apply_to(self, assignments: Iterable[Assignment]) -> list[Assignment]:
        """The assignments with this outcome's revocations in place."""
        by_id = {a.assignment_id: a for a in self.revoked}
        return [by_id.get(a.assignment_id, a) for a in assignments]


def bar_distributor(
    distributor_id: str,
    at: datetime,
    until: datetime,
    reason: str,
    assignments: Iterable[Assignment],
    open_orders: Iterable[ShipmentState],
    *,
    distributors: Mapping[str, Distributor],
) -> BarOutcome:
    """R-SUP-4: put a distributor on the violation list at ``at`` until ``until``.

    - revoked: every live assignment of the distributor (in force now or starting later;
      expired or already revoked ones stay as they are), revoked at ``at``;
    - taken back: its routed orders with nothing shipped; an order with any shipment stays with
      it (``kept``), so goods on the road have one owner;
    - each taken-back order is re-routed at ``at`` over the remaining assignments and the other
      distributors (next valid assignment, else a supply risk);
    - contingencies: one per enterprise that lost an assignment or an order, with the gaps
      (product and institution/region) that no other assignment covers.

    Pure and idempotent: after the outcome is applied, barring again yields nothing new.
    ``distributors`` (not just the barred one) is needed to judge the replacements.
    """
    aware(at, "at")
    aware(until, "until")
    if until <= at:
        raise ValueError(text("a bar must end after it starts"))
    if not reason.strip():
        raise ValueError(text("a bar needs a reason"))
    bar = Bar(distributor_id, at, until, reason)

    pool = list(assignments)
    revoked = tuple(
        revoke(a, at) for a in pool if a.distributor_id == distributor_id and is_live(a, at)
    )
    remaining = BarOutcome(bar, revoked).apply_to(pool)
    by_product: dict[tuple[str, str], list[Assignment]] = {}
    for a in remaining:  # each order or gap only ever looks at its own product's
        by_product.setdefault((a.enterprise_id, a.registration_no), []).append(a)
    others = dict(distributors)
    if distributor_id in others:
        others[distributor_id] = apply_bar(others[distributor_id], bar)

    taken_back: list[str] = []
    kept: list[str] = []
    reroutes: list[Reroute] = []
    gaps: dict[str, set[Gap]] = {a.enterprise_id: set() for a in revoked}
    for state in open_orders:
        if state.routed_distributor_id != distributor_id:
            continue
        if state.delivered_at is not None:
            continue
        if state.is_shipped:
            kept.append(state.order.order_id)
            continue
        taken_back.append(state.order.order_id)
        product = (state.order.enterprise_id, state.order.registration_no)
        decision = route(state.order, by_product.get(product, ()), others, at)
        reroutes.append(Reroute(state.order.order_id, decision))
        enterprise = gaps.setdefault(state.order.enterprise_id, set())
        if isinstance(decision, SupplyRisk):
            enterprise.add(
                Gap(state.order.registration_no, Scope.INSTITUTION, state.order.institution_id)
            )

    for a in revoked:
        check_at = max(at, a.valid_from)
        covered = resolve_assignment(
            by_product.get((a.enterprise_id, a.registration_no), ()),
            enterprise_id=a.enterprise_id,
            registration_no=a.registration_no,
            institution_id=a.institution_id if a.scope == Scope.INSTITUTION else None,
            region=a.region,
            at=check_at,
            distributors=others,
        )
        if covered is None:
            place = a.institution_id if a.scope == Scope.INSTITUTION else a.region
            gaps[a.enterprise_id].add(Gap(a.registration_no, a.scope, place or ""))

    return BarOutcome(
        bar=bar,
        revoked=revoked,
        taken_back=tuple(taken_back),
        kept=tuple(kept),
        reroutes=tuple(reroutes),
        contingencies=tuple(
            Contingency(enterprise_id, tuple(sorted(gaps[enterprise_id])))
            for enterprise_id in sorted(gaps)
        ),
    )
