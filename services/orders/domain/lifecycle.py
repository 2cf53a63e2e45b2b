"""R-AGR-8: the order lifecycle (statuses, actions, legal moves), acceptance and rejection."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from services.runtime.texts import text


class OrderStatus(StrEnum):
    """R-AGR-8: placed → routed (to a distributor) → shipped → delivered → accepted /
    partially_accepted / rejected; cancelled before shipping. The last four are final."""

    PLACED = "placed"
    ROUTED = "routed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    ACCEPTED = "accepted"
    PARTIALLY_ACCEPTED = "partially_accepted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class OrderAction(StrEnum):
    """What can happen to an order (R-AGR-8). ``route`` from ``routed`` is a re-route (R-SUP-4:
    the distributor was put on the violation list before shipping)."""

    ROUTE = "route"
    SHIP = "ship"
    DELIVER = "deliver"
    ACCEPT = "accept"
    ACCEPT_PARTIALLY = "accept_partially"
    REJECT = "reject"
    CANCEL = "cancel"


TRANSITIONS: Mapping[tuple[OrderStatus, OrderAction], OrderStatus] = MappingProxyType(
    {
        (OrderStatus.PLACED, OrderAction.ROUTE): OrderStatus.ROUTED,
        (OrderStatus.ROUTED, OrderAction.ROUTE): OrderStatus.ROUTED,
        (OrderStatus.ROUTED, OrderAction.SHIP): OrderStatus.SHIPPED,
        (OrderStatus.SHIPPED, OrderAction.DELIVER): OrderStatus.DELIVERED,
        (OrderStatus.DELIVERED, OrderAction.ACCEPT): OrderStatus.ACCEPTED,
        (OrderStatus.DELIVERED, OrderAction.ACCEPT_PARTIALLY): OrderStatus.PARTIALLY_ACCEPTED,
        (OrderStatus.DELIVERED, OrderAction.REJECT): OrderStatus.REJECTED,
        (OrderStatus.PLACED, OrderAction.CANCEL): OrderStatus.CANCELLED,
        (OrderStatus.ROUTED, OrderAction.CANCEL): OrderStatus.CANCELLED,
    }
)
"""Every legal move (R-AGR-8); anything else is an :class:`IllegalTransition`."""

FINAL_STATUSES: frozenset[OrderStatus] = frozenset(
    {
        OrderStatus.ACCEPTED,
        OrderStatus.PARTIALLY_ACCEPTED,
        OrderStatus.REJECTED,
        OrderStatus.CANCELLED,
    }
)

COUNTS_TOWARD_PROGRESS: frozenset[OrderStatus] = frozenset(
    {OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_ACCEPTED}
)
"""R-AGR-8: only acceptance counts toward progress and starts the settlement clock."""

COMMITS_NOTHING: frozenset[OrderStatus] = FINAL_STATUSES - COUNTS_TOWARD_PROGRESS
"""R-AGR-4: closed orders that hold nothing of the agreement volume (cancelled, rejected). An
open order holds its ordered units, an accepted one its accepted units."""

NOT_ORDERED: frozenset[OrderStatus] = frozenset({OrderStatus.CANCELLED})
"""R-AGR-6: the statuses whose units pacing does not count as ordered ("orders" are ordered
units not cancelled)."""


def committed_units(status: OrderStatus | str, units: int, accepted_units: int | None) -> int:
    """R-AGR-4: the units an order holds of its agreement's remaining volume: accepted units
    once accepted (:data:`COUNTS_TOWARD_PROGRESS`), nothing once cancelled or rejected
    (:data:`COMMITS_NOTHING`), its ordered units while open. (``store`` builds the same rule
    in SQL from these constants.)"""
    status = OrderStatus(status)
    if status in COUNTS_TOWARD_PROGRESS:
        return accepted_units or 0
    if status in COMMITS_NOTHING:
        return 0
    return units


def ordered_units(status: OrderStatus | str, units: int) -> int:
    """R-AGR-6: the units an order counts as ordered for pacing (none once cancelled)."""
    return 0 if OrderStatus(status) in NOT_ORDERED else units


class IllegalTransition(Exception):
    """An action that the order's status does not allow (R-AGR-8)."""

    def __init__(self, current: OrderStatus, action: OrderAction) -> None:
        self.current = current
        self.action = action
        allowed = sorted(s.value for (s, a) in TRANSITIONS if a == action)
        if current in FINAL_STATUSES:
            super().__init__(text("cannot {action} an order that is {status}: the order is "
                                  "already {final}, which is final", action=action.value,
                                  status=current.value, final=current.value))
        else:
            super().__init__(text("cannot {action} an order that is {status}: {again} is "
                                  "allowed only when the order is {allowed}",
                                  action=action.value, status=current.value,
                                  again=action.value, allowed=" or ".join(allowed)))


def transition(current: OrderStatus, action: OrderAction) -> OrderStatus:
    """R-AGR-8: the order's status after ``action``, or :class:`IllegalTransition`.

    Cancel only before shipping (placed, routed); accept, accept partially or reject only once
    delivered; final statuses allow nothing. Values may be given as their strings.
    """
    current, action = OrderStatus(current), OrderAction(action)
    new = TRANSITIONS.get((current, action))
    if new is None:
        raise IllegalTransition(current, action)
    return new


class InvalidAcceptance(ValueError):
    """Acceptance quantities that cannot be (R-AGR-8)."""


@dataclass(frozen=True)
class Acceptance:
    """An institution's acceptance of a delivered order (R-AGR-8).

    ``accepted_units`` count toward progress and are settled; ``refused_units`` (delivered, not
    accepted) go back; ``undelivered_units`` were never delivered. A partial acceptance closes
    the order: the rest is not owed under it, the institution orders again if it needs more.
    """

    status: OrderStatus
    action: OrderAction
    ordered_units: int
    delivered_units: int
    accepted_units: int

    @property
    def refused_units(self) -> int:
        return self.delivered_units - self.accepted_units

    @property
    def undelivered_units(self) -> int:
        return self.ordered_units - self.delivered_units


def accept(ordered_units: int, delivered_units: int, accepted_units: int) -> Acceptance:
    """R-AGR-8: validate an acceptance, ``0 < accepted ≤ delivered ≤ ordered``.

    All ordered units accepted → ``accepted``; fewer (some refused, or a short delivery) →
    ``partially_accepted``. Accepting none is not an acceptance: reject the order with a
    reason (:func:`rejection_reason`). Apply the result with
    ``transition(status, acceptance.action)``.
    """
    for name, value in (
        ("ordered_units", ordered_units),
        ("delivered_units", delivered_units),
        ("accepted_units", accepted_units),
    ):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidAcceptance(text("{name} must be a whole number, got {value!r}",
                                         name=name, value=value))
    if ordered_units < 1:
        raise InvalidAcceptance(text("an order has at least 1 unit, got {units}",
                                     units=ordered_units))
    if not 0 <= delivered_units <= ordered_units:
        raise InvalidAcceptance(text(
            "delivered units {delivered} must be between 0 and the {ordered} ordered",
            delivered=delivered_units, ordered=ordered_units))
    if accepted_units < 1:
        raise InvalidAcceptance(text(
            "accepted units must be at least 1, got {accepted}: to accept nothing, reject the "
            "order with a reason", accepted=accepted_units))
    if accepted_units > delivered_units:
        raise InvalidAcceptance(text("accepted units {accepted} exceed the {delivered} delivered",
                                     accepted=accepted_units, delivered=delivered_units))
    full = accepted_units == ordered_units
    return Acceptance(
        status=OrderStatus.ACCEPTED if full else OrderStatus.PARTIALLY_ACCEPTED,
        action=OrderAction.ACCEPT if full else OrderAction.ACCEPT_PARTIALLY,
        ordered_units=ordered_units,
        delivered_units=delivered_units,
        accepted_units=accepted_units,
    )


def rejection_reason(reason: str | None) -> str:
    """R-AGR-8: a rejection carries a reason; returns it trimmed, or ``InvalidAcceptance``."""
    trimmed = (reason or "").strip()
    if not trimmed:
        raise InvalidAcceptance(text("a rejection needs a reason"))
    return trimmed
