"""The supply service's refusals, in one place: each a ``Refusal`` (status, stable slug, title)
that the use cases and routes raise and the runtime renders as problem+json. The README's
"Problem types" table lists exactly these. Slugs and titles are part of the contract: clients
match on them.

Not here: the runtime's generic ``not-found`` (``services.runtime.problems.not_found``; an
object of another organisation is answered the same way) and request validation."""

from __future__ import annotations

from datetime import datetime

from services.runtime.problems import Problem, Refusal
from services.runtime.texts import Listed, text

# --- distributors and accounts ---------------------------------------------------------------

DISTRIBUTOR_EXISTS = Refusal(409, "distributor-exists", "Distributor already registered")
UNKNOWN_DISTRIBUTOR = Refusal(422, "unknown-distributor", "Unknown distributor")
ACCOUNT_ALREADY_OPEN = Refusal(409, "account-already-open", "Account already opened")

# --- assignments (R-SUP-1) -------------------------------------------------------------------

NOT_YOUR_PRODUCT = Refusal(422, "not-your-product", "Product belongs to another enterprise")
ASSIGNMENT_OVERLAPS = Refusal(409, "assignment-overlaps", "Assignment overlaps another")
ASSIGNMENT_REJECTED = Refusal(422, "assignment-rejected", "Assignment is not valid")
ASSIGNMENT_NOT_LIVE = Refusal(409, "assignment-not-live", "Assignment already ended")

# --- shipment and delivery (R-SUP-3) ---------------------------------------------------------

IN_THE_FUTURE = Refusal(422, "in-the-future", "Instant is in the future")
ORDER_PENDING = Refusal(409, "order-not-open", "Order is pending")
ORDER_DELIVERED = Refusal(409, "order-not-open", "Order is delivered")
ORDER_CANCELLED = Refusal(409, "order-not-open", "Order is cancelled")
QUANTITY = Refusal(422, "quantity", "Quantity not allowed")
TIME_ORDER = Refusal(422, "time-order", "Instant not allowed")
ORDER_NOT_KNOWN_YET = Refusal(404, "order-not-known-yet", "Order not known to supply yet")
"""Answered with ``Retry-After`` (``waiting.OrderNotKnownYet``)."""
INVALID_QUERY = Refusal(422, "validation", "Request is not valid")

# --- the violation list (R-SUP-4, R-CRD-3) ---------------------------------------------------

BAR_PERIOD = Refusal(422, "bar-period", "A bar must end after it starts")
BAR_REJECTED = Refusal(422, "bar-rejected", "Bar not valid")
ALREADY_LIFTED = Refusal(409, "already-lifted", "Bar already lifted")


def _field(name: str, message: str) -> list[dict[str, str]]:
    return [{"field": name, "message": message}]


def distributor_exists(distributor_id: str) -> Problem:
    return DISTRIBUTOR_EXISTS(text("distributor {distributor!r} is already registered",
                                   distributor=distributor_id))


def unknown_distributor(distributor_id: str) -> Problem:
    return UNKNOWN_DISTRIBUTOR(text("distributor {distributor!r} is not registered",
                                    distributor=distributor_id),
                               errors=_field("body.distributor_id", "not registered"))


def account_already_open(distributor_id: str, opened_at: datetime) -> Problem:
    return ACCOUNT_ALREADY_OPEN(text("the account for {distributor} was opened at {at}",
                                     distributor=distributor_id, at=opened_at.isoformat()))


def not_your_product(registration_no: str, enterprise_id: str, name: str | None) -> Problem:
    """R-SUP-1: an enterprise assigns distributors for its own products only."""
    return NOT_YOUR_PRODUCT(
        text("{registration_no} is not a product of enterprise {enterprise} ({name})",
             registration_no=registration_no, enterprise=enterprise_id, name=name)
        if name else text("{registration_no} is not a product of enterprise {enterprise}",
                          registration_no=registration_no, enterprise=enterprise_id),
        errors=_field("body.registration_no", "listed for another enterprise"))


_FIELD_HINTS = (("valid_until", "valid_until"), ("institution_id", "institution_id"),
                ("needs a region", "region"), ("distributor", "distributor_id"),
                ("overlaps", "valid_from"), ("valid_from", "valid_from"))


def _problem_field(message: str) -> str:
    for needle, field in _FIELD_HINTS:
        if needle in message:
            return f"body.{field}"
    return "body"


def assignment_refused(problems: list[str]) -> Problem:
    """409 when the only problems are overlaps with live assignments, else 422; each problem
    names its field."""
    overlap_only = all(p.startswith("overlaps") for p in problems)
    refusal = ASSIGNMENT_OVERLAPS if overlap_only else ASSIGNMENT_REJECTED
    return refusal(text("{problems}", problems=Listed(problems)),
                   errors=[{"field": _problem_field(p), "message": p} for p in problems])


def assignment_not_live(assignment_id: str, status: str) -> Problem:
    return ASSIGNMENT_NOT_LIVE(text("assignment {assignment} is {status}",
                                    assignment=assignment_id, status=status))


def in_the_future(field: str, at: datetime) -> Problem:
    return IN_THE_FUTURE(text("{field} {at} is after now", field=field, at=at.isoformat()),
                         errors=_field(f"body.{field}", "in the future"))


_NOT_OPEN = {"pending": ORDER_PENDING, "delivered": ORDER_DELIVERED,
             "cancelled": ORDER_CANCELLED}


def order_not_open(order_id: str, status: str) -> Problem:
    """Nothing more to ship or deliver: the order is pending, delivered or cancelled."""
    return _NOT_OPEN[status](text("order {order} is {status}: nothing more to ship or deliver",
                                  order=order_id, status=status))


def quantity(message: str) -> Problem:
    return QUANTITY(message, errors=_field("body.units", message))


def time_order(field: str, message: str) -> Problem:
    return TIME_ORDER(message, errors=_field(f"body.{field}", message))


def query_needs_offset(name: str) -> Problem:
    return INVALID_QUERY(text("invalid fields: {fields}", fields=name),
                         errors=_field(f"query.{name}", "needs an offset"))


def bar_period(until: datetime, at: datetime) -> Problem:
    return BAR_PERIOD(text("until {until} is not after {at}", until=until.isoformat(),
                           at=at.isoformat()),
                      errors=_field("body.until", "not after now"))


def already_lifted(bar_id: str, lifted_at: datetime) -> Problem:
    return ALREADY_LIFTED(text("bar {bar} was lifted at {at}", bar=bar_id,
                               at=lifted_at.isoformat()))
