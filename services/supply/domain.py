"""Supply rules as plain code (R-SUP-1..5, R-AGR-7, R-CRD-3). No framework imports.

Everything here is a value or a pure function: it takes instants, assignments, distributors and
orders as arguments and returns decisions. Storing them, publishing events and reading the clock
belong to the service around it.

Instants are timezone-aware (naive ones are refused); validity windows are half-open
``[valid_from, valid_until)`` and a revocation or a bar takes effect at its own instant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction

from services.runtime.clock import add_months

# --------------------------------------------------------------------------------------------
# errors


class SupplyError(ValueError):
    """A step the supply rules refuse."""


class NotYourOrder(SupplyError):
    """R-SUP-3: only the distributor an order was routed to may ship or deliver it."""


class QuantityError(SupplyError):
    """A quantity that is not positive, or shipping/delivering more than allowed (R-SUP-3)."""


class TimeOrderError(SupplyError):
    """An instant before the order's placement, or a delivery before its goods were shipped."""


def _aware(instant: datetime, what: str = "instant") -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return instant


# --------------------------------------------------------------------------------------------
# distributors and bars (R-SUP-4, R-CRD-3)


@dataclass(frozen=True)
class Distributor:
    """A distribution company (配送企业).

    ``qualified`` is its standing qualification, set by operators and untouched by bars. A bar
    (violation list, R-SUP-4) is the window ``[barred_from, barred_until)``; ``barred_from`` of
    ``None`` means barred at every instant before ``barred_until``.
    """

    distributor_id: str
    name: str
    qualified: bool = True
    barred_until: datetime | None = None
    barred_from: datetime | None = None


def is_barred(distributor: Distributor, at: datetime) -> bool:
    """R-SUP-4: on the violation list at ``at``; the bar ends at ``barred_until`` (exclusive)."""
    _aware(at, "at")
    if distributor.barred_until is None or at >= distributor.barred_until:
        return False
    return distributor.barred_from is None or at >= distributor.barred_from


def is_qualified(distributor: Distributor, at: datetime) -> bool:
    """R-SUP-4: a distributor may distribute at ``at`` when qualified and not barred then.

    A barred distributor is unqualified until its bar ends (or is lifted: ``lift_bar``).
    """
    return distributor.qualified and not is_barred(distributor, at)


@dataclass(frozen=True)
class Bar:
    """One violation-list entry: the distributor loses its qualification on
    ``[barred_at, until)`` (R-SUP-4)."""

    distributor_id: str
    barred_at: datetime
    until: datetime
    reason: str


def apply_bar(distributor: Distributor, bar: Bar) -> Distributor:
    """The distributor with the bar recorded (R-SUP-4).

    If it is already barred at ``bar.barred_at`` the bars merge: the earlier start is kept and
    the later end wins, so applying the same bar twice changes nothing.
    """
    if bar.distributor_id != distributor.distributor_id:
        raise ValueError("the bar is for another distributor")
    if is_barred(distributor, bar.barred_at):
        assert distributor.barred_until is not None
        return replace(distributor, barred_until=max(distributor.barred_until, bar.until))
    return replace(distributor, barred_from=bar.barred_at, barred_until=bar.until)


def lift_bar(distributor: Distributor, at: datetime) -> Distributor:
    """R-SUP-4: lifting a bar restores qualification from ``at`` on.

    The bar's history is kept (it now ends at ``at``); a bar that has not started yet is
    dropped; lifting a distributor that is not barred changes nothing. It does NOT restore the
    assignments revoked by the bar: the enterprise assigns again (R-SUP-1). ``qualified``
    (standing qualification) is not touched.
    """
    _aware(at, "at")
    if is_barred(distributor, at):
        return replace(distributor, barred_until=at)
    if (
        distributor.barred_from is not None
        and distributor.barred_until is not None
        and distributor.barred_from > at
    ):
        return replace(distributor, barred_from=None, barred_until=None)
    return distributor


BAR_YEARS_2025: Mapping[str, int] = {"失信": 1, "严重失信": 3, "特别严重失信": 5}
"""R-CRD-3, the 2025 rules: years a distributor rated at each level loses its qualification."""


@dataclass(frozen=True)
class CalendarYears:
    """A period of whole calendar years, counted in Asia/Shanghai (R-PRG-4)."""

    years: int

    def after(self, instant: datetime) -> datetime:
        """The same Shanghai wall-clock time ``years`` later (29 February → 28 February), in
        UTC."""
        return add_months(_aware(instant), 12 * self.years).astimezone(UTC)


def bar_period_for_level(level: str, table: Mapping[str, int] = BAR_YEARS_2025) -> CalendarYears:
    """R-CRD-3: how long a distributor rated at ``level`` loses its qualification.

    The table is a profile parameter (default: the 2025 rules, 1/3/5 years). A level missing
    from the table is refused rather than read as "no bar", so a misspelt level cannot
    silently let a dishonest distributor keep distributing; a table may map a level to 0.
    """
    if level not in table:
        raise ValueError(f"credit level {level!r} has no bar period in the profile table")
    years = table[level]
    if years < 0:
        raise ValueError(f"bar period for {level!r} is negative")
    return CalendarYears(years)


def credit_bar_until(
    level: str, at: datetime, table: Mapping[str, int] = BAR_YEARS_2025
) -> datetime:
    """R-CRD-3: the end (exclusive) of a credit-driven bar starting at ``at``."""
    return bar_period_for_level(level, table).after(at)


# --------------------------------------------------------------------------------------------
# assignments (R-SUP-1)


class Scope(StrEnum):
    INSTITUTION = "institution"
    REGION = "region"


@dataclass(frozen=True)
class Assignment:
    """R-SUP-1: an enterprise's choice of distributor for one product, for one institution or
    one region, on ``[valid_from, valid_until)`` (``valid_until`` None: open-ended).

    Institution scope names ``institution_id``; its ``region`` is optional and, when given, is
    the institution's region (used to see whether a regional assignment still covers it).
    Region scope names ``region`` and no institution. ``revoked_at``: revoked from then on.
    """

    assignment_id: str
    enterprise_id: str
    registration_no: str
    distributor_id: str
    scope: Scope
    institution_id: str | None
    region: str | None
    valid_from: datetime
    valid_until: datetime | None = None
    revoked_at: datetime | None = None


def is_revoked(assignment: Assignment, at: datetime) -> bool:
    return assignment.revoked_at is not None and assignment.revoked_at <= at


def is_in_force(assignment: Assignment, at: datetime) -> bool:
    """Valid at ``at`` (``valid_from <= at < valid_until``) and not revoked by then."""
    _aware(at, "at")
    if at < assignment.valid_from:
        return False
    if assignment.valid_until is not None and at >= assignment.valid_until:
        return False
    return not is_revoked(assignment, at)


def is_live(assignment: Assignment, at: datetime) -> bool:
    """In force at ``at`` or later: not revoked and not yet ended (includes future ones)."""
    _aware(at, "at")
    if is_revoked(assignment, at):
        return False
    return assignment.valid_until is None or assignment.valid_until > at


def revoke(assignment: Assignment, at: datetime) -> Assignment:
    """R-SUP-4: the assignment revoked at ``at``; an earlier revocation stands (idempotent)."""
    _aware(at, "at")
    if assignment.revoked_at is not None and assignment.revoked_at <= at:
        return assignment
    return replace(assignment, revoked_at=at)


def _newest(candidates: Sequence[Assignment]) -> Assignment | None:
    """Tie-break among candidates at the same level: the latest ``valid_from``, then the
    greatest ``assignment_id`` (with time-ordered ids: the one recorded last)."""
    if not candidates:
        return None
    return max(candidates, key=lambda a: (a.valid_from, a.assignment_id))


def resolve_assignment(
    assignments: Iterable[Assignment],
    *,
    enterprise_id: str,
    registration_no: str,
    institution_id: str | None,
    region: str | None,
    at: datetime,
    distributors: Mapping[str, Distributor],
) -> Assignment | None:
    """R-SUP-1: the assignment that decides who distributes this product to this institution.

    Candidates are in force at ``at`` (valid, not revoked) and their distributor is qualified
    at ``at`` (R-SUP-4; a distributor missing from ``distributors`` counts as unqualified). An
    institution-specific candidate wins over a regional one; a filtered-out institution
    assignment does not shadow the regional one, so orders fall back to the region's
    distributor. Several candidates at one level: latest ``valid_from``, then greatest id.
    ``institution_id=None`` looks at regional assignments only; ``region=None`` at
    institution assignments only.
    """
    _aware(at, "at")
    own: list[Assignment] = []
    regional: list[Assignment] = []
    for a in assignments:  # cheap comparisons first: this runs for every order re-routed
        if a.enterprise_id != enterprise_id or a.registration_no != registration_no:
            continue
        if a.scope == Scope.INSTITUTION:
            if institution_id is None or a.institution_id != institution_id:
                continue
            level = own
        elif a.scope == Scope.REGION:
            if region is None or a.region != region:
                continue
            level = regional
        else:
            continue
        if not is_in_force(a, at):
            continue
        distributor = distributors.get(a.distributor_id)
        if distributor is None or not is_qualified(distributor, at):
            continue
        level.append(a)
    return _newest(own) or _newest(regional)


def _target(a: Assignment) -> tuple[str, str, Scope, str | None]:
    place = a.institution_id if a.scope == Scope.INSTITUTION else a.region
    return (a.enterprise_id, a.registration_no, a.scope, place)


def _effective_end(a: Assignment) -> datetime | None:
    ends = [t for t in (a.valid_until, a.revoked_at) if t is not None]
    return min(ends) if ends else None


def _overlap(a: Assignment, b: Assignment) -> bool:
    a_end, b_end = _effective_end(a), _effective_end(b)
    return (b_end is None or a.valid_from < b_end) and (a_end is None or b.valid_from < a_end)


def validate_assignment(
    new: Assignment,
    existing: Iterable[Assignment],
    *,
    distributors: Mapping[str, Distributor] | None = None,
) -> list[str]:
    """R-SUP-1: the problems with recording ``new`` next to ``existing`` (empty: acceptable).

    - instants are timezone-aware and ``valid_until`` (if any) is after ``valid_from``;
    - institution scope names an institution; region scope names a region and no institution;
    - a new assignment is not already revoked;
    - an id is used once; the identical assignment again is a replay and has no problems;
    - overlaps are refused: one enterprise + product + institution (or region) has at most one
      assignment in force at any instant, so the enterprise ends the old one before the new
      one starts (a revoked assignment counts only up to its revocation);
    - with ``distributors``: the distributor is known and qualified at ``valid_from``.
    """
    problems: list[str] = []
    for name in ("assignment_id", "enterprise_id", "registration_no", "distributor_id"):
        if not getattr(new, name):
            problems.append(f"{name} is empty")
    naive = [
        name
        for name in ("valid_from", "valid_until", "revoked_at")
        if (t := getattr(new, name)) is not None and (t.tzinfo is None or t.utcoffset() is None)
    ]
    problems.extend(f"{name} must be timezone-aware" for name in naive)
    if naive:
        return problems
    if new.valid_until is not None and new.valid_until <= new.valid_from:
        problems.append("valid_until must be after valid_from")
    if new.scope not in (Scope.INSTITUTION, Scope.REGION):
        problems.append(f"scope must be 'institution' or 'region', not {new.scope!r}")
    if new.scope == Scope.INSTITUTION and not new.institution_id:
        problems.append("institution scope needs an institution_id")
    if new.scope == Scope.REGION:
        if not new.region:
            problems.append("region scope needs a region")
        if new.institution_id is not None:
            problems.append("region scope cannot name an institution_id")
    if new.revoked_at is not None:
        problems.append("a new assignment cannot already be revoked")
    if distributors is not None:
        distributor = distributors.get(new.distributor_id)
        if distributor is None:
            problems.append(f"unknown distributor {new.distributor_id}")
        elif not is_qualified(distributor, new.valid_from):
            problems.append(
                f"distributor {new.distributor_id} is not qualified at valid_from (R-SUP-4)"
            )
    for other in existing:
        if other.assignment_id == new.assignment_id:
            if other != new:
                problems.append(f"assignment id {new.assignment_id} is already used")
            continue
        if _target(other) == _target(new) and _overlap(other, new):
            problems.append(
                f"overlaps assignment {other.assignment_id} for the same enterprise, product "
                f"and {new.scope}; end it before the new one starts"
            )
    return problems


# --------------------------------------------------------------------------------------------
# routing (R-SUP-1, R-SUP-3, R-SUP-5, R-AGR-4, R-AGR-7)


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


# --------------------------------------------------------------------------------------------
# shipment and delivery (R-SUP-3)


@dataclass(frozen=True)
class Movement:
    quantity: int
    at: datetime


@dataclass(frozen=True)
class DeliveredOrder:
    """One fully delivered order, as delivery-time statistics need it (R-SUP-3)."""

    distributor_id: str
    enterprise_id: str
    placed_at: datetime
    delivered_at: datetime


@dataclass(frozen=True)
class ShipmentState:
    """R-SUP-3: shipment and delivery of one routed order; each step returns a new state.

    Quantities accumulate over partial shipments and deliveries: shipped ≤ ordered, and at
    every instant delivered ≤ shipped by then (so nothing is delivered before it was shipped,
    even when steps are reported out of order); no step is before the order was placed.
    """

    order: OrderToRoute
    routed_distributor_id: str
    assignment_id: str
    shipments: tuple[Movement, ...] = ()
    deliveries: tuple[Movement, ...] = ()

    @classmethod
    def for_routed(cls, order: OrderToRoute, routed: Routed) -> ShipmentState:
        return cls(order, routed.distributor_id, routed.assignment_id)

    @property
    def shipped_quantity(self) -> int:
        return sum(m.quantity for m in self.shipments)

    @property
    def delivered_quantity(self) -> int:
        return sum(m.quantity for m in self.deliveries)

    @property
    def is_shipped(self) -> bool:
        """Anything shipped: the order stays with its distributor when barred (R-SUP-4)."""
        return self.shipped_quantity > 0

    @property
    def delivered_at(self) -> datetime | None:
        """When the last unit arrived; None until the ordered quantity is delivered."""
        if self.delivered_quantity < self.order.quantity:
            return None
        return max(m.at for m in self.deliveries)

    def _check(self, actor_distributor_id: str, quantity: int, at: datetime) -> None:
        _aware(at, "at")
        if actor_distributor_id != self.routed_distributor_id:
            raise NotYourOrder(
                f"order {self.order.order_id} is routed to {self.routed_distributor_id}, "
                f"not {actor_distributor_id}"
            )
        if quantity <= 0:
            raise QuantityError("quantity must be positive")
        if at < self.order.placed_at:
            raise TimeOrderError("a step cannot precede the order's placement")

    def ship(self, actor_distributor_id: str, quantity: int, at: datetime) -> ShipmentState:
        self._check(actor_distributor_id, quantity, at)
        if self.shipped_quantity + quantity > self.order.quantity:
            raise QuantityError(
                f"shipping {quantity} would exceed the ordered {self.order.quantity} "
                f"({self.shipped_quantity} already shipped)"
            )
        return replace(self, shipments=(*self.shipments, Movement(quantity, at)))

    def deliver(self, actor_distributor_id: str, quantity: int, at: datetime) -> ShipmentState:
        self._check(actor_distributor_id, quantity, at)
        if self.delivered_quantity + quantity > self.shipped_quantity:
            raise QuantityError(
                f"delivering {quantity} would exceed the shipped {self.shipped_quantity} "
                f"({self.delivered_quantity} already delivered)"
            )
        deliveries = (*self.deliveries, Movement(quantity, at))
        for d in deliveries:
            shipped = sum(m.quantity for m in self.shipments if m.at <= d.at)
            delivered = sum(m.quantity for m in deliveries if m.at <= d.at)
            if delivered > shipped:
                raise TimeOrderError("a delivery cannot precede the shipment of its goods")
        return replace(self, deliveries=deliveries)

    def delivered(self) -> DeliveredOrder | None:
        """The record for delivery-time statistics, once fully delivered."""
        at = self.delivered_at
        if at is None:
            return None
        return DeliveredOrder(
            self.routed_distributor_id, self.order.enterprise_id, self.order.placed_at, at
        )


def delivery_time(placed_at: datetime, delivered_at: datetime) -> timedelta:
    """R-SUP-3: time from order to (complete) delivery."""
    _aware(placed_at, "placed_at")
    _aware(delivered_at, "delivered_at")
    if delivered_at < placed_at:
        raise TimeOrderError("delivered before the order was placed")
    return delivered_at - placed_at


_HOUR = timedelta(hours=1) // timedelta(microseconds=1)


def hours(span: timedelta) -> Fraction:
    """A duration in hours, exactly (microsecond resolution)."""
    return Fraction(span // timedelta(microseconds=1), _HOUR)


def to_decimal(value: Fraction, places: int = 2) -> Decimal:
    """An exact value rounded for display (half up)."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class DeliveryStats:
    """R-SUP-3: delivery times of one distributor for one enterprise, in hours, exact.

    ``p90_hours`` is the nearest-rank 90th percentile: the ⌈0.9 n⌉-th smallest delivery time,
    always an observed value (no interpolation).
    """

    distributor_id: str
    enterprise_id: str
    count: int
    mean_hours: Fraction
    p90_hours: Fraction


def delivery_stats(
    records: Iterable[DeliveredOrder],
) -> dict[tuple[str, str], DeliveryStats]:
    """R-SUP-3: aggregate delivery times per (distributor_id, enterprise_id)."""
    groups: dict[tuple[str, str], list[Fraction]] = {}
    for r in records:
        span = hours(delivery_time(r.placed_at, r.delivered_at))
        groups.setdefault((r.distributor_id, r.enterprise_id), []).append(span)
    stats: dict[tuple[str, str], DeliveryStats] = {}
    for key in sorted(groups):
        spans = sorted(groups[key])
        n = len(spans)
        stats[key] = DeliveryStats(key[0], key[1], n, sum(spans, Fraction(0)) / n,
                                   spans[p90_rank(n) - 1])
    return stats


def p90_rank(n: int) -> int:
    """The nearest-rank 90th percentile of ``n`` sorted values is the ⌈0.9 n⌉-th (1-based)."""
    if n <= 0:
        raise ValueError("no values")
    return (9 * n + 9) // 10  # ceil(0.9 n) in integers


def stats_from_totals(
    distributor_id: str, enterprise_id: str, count: int, total_us: int, p90_us: int
) -> DeliveryStats:
    """R-SUP-3 from aggregates computed elsewhere (in the database, over any number of
    orders): the count, the sum of the delivery times and the ``p90_rank``-th smallest one,
    in microseconds. Same result as ``delivery_stats`` over the same records."""
    if count <= 0:
        raise ValueError("no delivered orders")
    return DeliveryStats(
        distributor_id, enterprise_id, count,
        hours(timedelta(microseconds=total_us)) / count, hours(timedelta(microseconds=p90_us)),
    )


# --------------------------------------------------------------------------------------------
# violation list (R-SUP-4, R-CRD-3)


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
    _aware(at, "at")
    _aware(until, "until")
    if until <= at:
        raise ValueError("a bar must end after it starts")
    if not reason.strip():
        raise ValueError("a bar needs a reason")
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


# --------------------------------------------------------------------------------------------
# account opening (R-SUP-2)


class AccountStatus(StrEnum):
    REQUESTED = "requested"
    OPENED = "opened"


@dataclass(frozen=True)
class DistributorAccount:
    """R-SUP-2: an institution's account for a distributor the enterprise designated."""

    institution_id: str
    distributor_id: str
    status: AccountStatus


@dataclass(frozen=True, order=True)
class OpenAccountItem:
    """An institution–distributor pair that is assigned but has no opened account.

    ``status`` None: not even requested. Tracked for follow-up only; never blocks routing or
    supply (R-SUP-2, R-AGR-7).
    """

    institution_id: str
    distributor_id: str
    status: AccountStatus | None


def open_items(
    accounts: Iterable[DistributorAccount],
    assignments: Iterable[Assignment],
    *,
    at: datetime | None = None,
    institution_regions: Mapping[str, str] | None = None,
) -> list[OpenAccountItem]:
    """R-SUP-2: assigned institution–distributor pairs whose account is not opened, sorted.

    Counted: unrevoked assignments (with ``at``: those live at ``at``, including ones that
    start later, since accounts should be open before supply starts). Institution assignments
    give their pair directly; regional ones give a pair for each institution of that region in
    ``institution_regions`` (institution id → region), except where the institution has its own
    assignment for the same enterprise and product. Without ``institution_regions``, regional
    assignments name no institution and give no pairs.
    """
    pool = [
        a
        for a in assignments
        if (is_live(a, at) if at is not None else a.revoked_at is None)
    ]
    own = {
        (a.enterprise_id, a.registration_no, a.institution_id)
        for a in pool
        if a.scope == Scope.INSTITUTION
    }
    pairs: set[tuple[str, str]] = set()
    for a in pool:
        if a.scope == Scope.INSTITUTION:
            if a.institution_id:
                pairs.add((a.institution_id, a.distributor_id))
        elif institution_regions is not None:
            for institution_id, region in institution_regions.items():
                if region == a.region and (
                    (a.enterprise_id, a.registration_no, institution_id) not in own
                ):
                    pairs.add((institution_id, a.distributor_id))
    status: dict[tuple[str, str], AccountStatus] = {}
    for account in accounts:
        key = (account.institution_id, account.distributor_id)
        if status.get(key) is not AccountStatus.OPENED:
            status[key] = account.status
    items = [OpenAccountItem(*pair, status.get(pair)) for pair in pairs]
    return sorted(item for item in items if item.status is not AccountStatus.OPENED)
