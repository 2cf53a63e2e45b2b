"""Shipment and delivery (R-SUP-3): partial steps of a routed order, and delivery-time
statistics."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from services.runtime.texts import text
from services.supply.domain.common import SupplyError, aware
from services.supply.domain.routing import OrderToRoute, Routed


class NotYourOrder(SupplyError):
    """R-SUP-3: only the distributor an order was routed to may ship or deliver it."""


class QuantityError(SupplyError):
    """A quantity that is not positive, or shipping/delivering more than allowed (R-SUP-3)."""


class TimeOrderError(SupplyError):
    """An instant before the order's placement, or a delivery before its goods were shipped."""




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
        aware(at, "at")
        if actor_distributor_id != self.routed_distributor_id:
            raise NotYourOrder(
                f"order {self.order.order_id} is routed to {self.routed_distributor_id}, "
                f"not {actor_distributor_id}"
            )
        if quantity <= 0:
            raise QuantityError(text("quantity must be positive"))
        if at < self.order.placed_at:
            raise TimeOrderError(text("a step cannot precede the order's placement"))

    def ship(self, actor_distributor_id: str, quantity: int, at: datetime) -> ShipmentState:
        self._check(actor_distributor_id, quantity, at)
        if self.shipped_quantity + quantity > self.order.quantity:
            raise QuantityError(text(
                "shipping {units} would exceed the ordered {ordered} ({shipped} already shipped)",
                units=quantity, ordered=self.order.quantity, shipped=self.shipped_quantity))
        return replace(self, shipments=(*self.shipments, Movement(quantity, at)))

    def deliver(self, actor_distributor_id: str, quantity: int, at: datetime) -> ShipmentState:
        self._check(actor_distributor_id, quantity, at)
        if self.delivered_quantity + quantity > self.shipped_quantity:
            raise QuantityError(text(
                "delivering {units} would exceed the shipped {shipped} ({delivered} already "
                "delivered)", units=quantity, shipped=self.shipped_quantity,
                delivered=self.delivered_quantity))
        deliveries = (*self.deliveries, Movement(quantity, at))
        for d in deliveries:
            shipped = sum(m.quantity for m in self.shipments if m.at <= d.at)
            delivered = sum(m.quantity for m in deliveries if m.at <= d.at)
            if delivered > shipped:
                raise TimeOrderError(text("a delivery cannot precede the shipment of its goods"))
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
    aware(placed_at, "placed_at")
    aware(delivered_at, "delivered_at")
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
