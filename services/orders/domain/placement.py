"""Placing an order, decided with plain values (R-CAT-5, R-CAT-8, R-PRG-3, R-AGR-4/5/6).

``decide_order(context, command, earlier)`` is the whole decision, in the way cosmicpython's
``Product.allocate`` is: it reads what the store loaded for the order (:class:`PlacementContext`)
and what the orders decided before it in the same transaction add (:class:`Earlier`), and
returns a :class:`Decision` (the order's agreement month, class, amount, the units within and
beyond the agreement, and the pacing breaches of the open month), or raises a
:class:`PlacementRefused` (or :class:`~services.orders.domain.pricing.PriceMismatch`). It
writes nothing; the application layer (``services.orders.purchasing``) loads, decides,
records, and maps a refusal to its problem (``services.orders.errors``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from services.orders.domain.calendar import AgreementMonth, agreement_month
from services.orders.domain.pricing import (
    OrderClass,
    check_order_price,
    classify_order,
    order_amount,
    split_units,
)
from services.orders.domain.progress import (
    PacingThresholds,
    PacingWarning,
    month_pacing_warnings,
    remaining,
)
from services.runtime.texts import text

LISTED = "listed"
"""The listing status that may be ordered (R-CAT-8: a suspended listing may not)."""

VolumeKey = tuple[str, str, str, int]
"""(institution, program, product's certificate, agreement year): one agreement's volume."""


class OrderRequest(Protocol):
    """What placing an order asks for (``contracts.orders.OrderIn`` is one)."""

    @property
    def institution_id(self) -> str: ...

    @property
    def listing_id(self) -> str: ...

    @property
    def units(self) -> int: ...

    @property
    def unit_price(self) -> Decimal: ...


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """The command as plain values (tests, simulations)."""

    institution_id: str
    listing_id: str
    units: int
    unit_price: Decimal


@dataclass(frozen=True, slots=True)
class ListingFacts:
    """The listing ordered, as the orders service's read model of catalog holds it."""

    listing_id: str
    program_id: str
    status: str
    suspended_reason: str | None
    listing_price: Decimal
    registration_no: str
    enterprise_id: str
    winning: bool


@dataclass(frozen=True, slots=True)
class ProgramFacts:
    """The listing's program: its region, cycle (R-PRG-2) and pacing policy (R-AGR-6, None
    when the profile does not monitor pacing)."""

    program_id: str
    region: str
    execution_start: datetime
    cycle_years: int
    pacing: PacingThresholds | None


@dataclass(frozen=True, slots=True)
class AgreementVolume:
    """The institution's agreement for the product in one agreement year: its ``units``, the
    units ordered (not cancelled) per agreement month, the units committed against it
    (accepted units of closed orders, ordered units of open ones), and the last month a
    pacing warning was raised for."""

    units: int
    ordered: Mapping[int, int]
    committed: int
    last_warned_month: int | None


@dataclass(frozen=True, slots=True)
class PlacementContext:
    """What the store knows when the order is decided. ``listing`` None: not listed at all;
    ``program`` None: the listing's program is not known (yet). ``institution_region`` is the
    region the institution is registered in (None: not registered); ``region_has_register``
    whether the program's region registers its institutions at all (R-PRG-3)."""

    now: datetime
    listing: ListingFacts | None
    program: ProgramFacts | None
    institution_region: str | None
    region_has_register: bool
    volumes: Mapping[int, AgreementVolume] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Decision:
    """An order that may be placed: where it counts, its class and amount, and the pacing
    breaches of its open month (empty: none, or pacing not judged for it)."""

    key: VolumeKey
    program_id: str
    region: str
    month: AgreementMonth
    registration_no: str
    enterprise_id: str
    winning: bool
    units: int
    unit_price: Decimal
    amount: Decimal
    order_class: OrderClass
    units_within: int
    units_beyond: int
    annual_units: int | None
    pacing_warnings: tuple[PacingWarning, ...]
    monthly_orders: tuple[int, ...]
    """Units ordered per month 1..this month, this order included (what pacing judged)."""


class Earlier:
    """What the orders decided before, in the same transaction and not yet in the store, add
    to the context: units per agreement and agreement month, and the months warned for."""

    def __init__(self) -> None:
        self.units: dict[VolumeKey, dict[int, int]] = defaultdict(dict)
        self.warned: dict[VolumeKey, int] = {}

    def add(self, decision: Decision, *, warned: bool) -> None:
        """Count a placed order; ``warned``: a pacing warning was raised for its month."""
        months = self.units[decision.key]
        months[decision.month.month] = months.get(decision.month.month, 0) + decision.units
        if warned:
            self.warned[decision.key] = decision.month.month


class PlacementRefused(Exception):
    """An order that may not be placed; the message says why, for the client."""


class UnknownListing(PlacementRefused):
    def __init__(self, listing_id: str) -> None:
        self.listing_id = listing_id
        super().__init__(text("listing {listing!r} is not listed (R-CAT-5)", listing=listing_id))


class UnknownProgram(PlacementRefused):
    def __init__(self, program_id: str, listing_id: str) -> None:
        self.program_id = program_id
        self.listing_id = listing_id
        super().__init__(text("program {program!r} of listing {listing!r} is not known to the "
                              "orders service yet", program=program_id, listing=listing_id))


class ListingSuspended(PlacementRefused):
    """R-CAT-8: a suspended listing cannot be ordered."""

    def __init__(self, listing_id: str, reason: str | None) -> None:
        self.listing_id = listing_id
        self.reason = reason
        super().__init__(text("listing {listing!r} is suspended and cannot be ordered (R-CAT-8): "
                              "{reason}", listing=listing_id, reason=reason or "no reason given"))


class InstitutionNotInRegion(PlacementRefused):
    """R-PRG-3: a region with an institution register takes orders from its own only."""

    def __init__(self, institution_id: str, region: str) -> None:
        self.institution_id = institution_id
        self.region = region
        super().__init__(text("institution {institution!r} is not registered in {region!r}",
                              institution=institution_id, region=region))


class OutsideCycle(PlacementRefused):
    """R-AGR-4: orders are filled from the execution start until the cycle ends."""

    def __init__(self, program: ProgramFacts) -> None:
        self.program_id = program.program_id
        super().__init__(text("program {program!r} is executed from {start} for {years} years "
                              "(R-AGR-4: orders are filled until the cycle ends)",
                              program=program.program_id,
                              start=program.execution_start.isoformat(),
                              years=program.cycle_years))


def decide_order(context: PlacementContext, command: OrderRequest,
                 earlier: Earlier) -> Decision:
    """Decide one order placed at ``context.now`` after the ``earlier`` ones.

    Refused (in this order) when the listing is unknown, its program is not known, it is
    suspended (R-CAT-8), the price is not exactly the listing price (R-CAT-5,
    :class:`~services.orders.domain.pricing.PriceMismatch`), the institution is not
    registered in a region that registers its institutions (R-PRG-3), or no agreement year
    holds now (R-PRG-2). Otherwise classed against the agreement's remaining volume, which
    subtracts committed units and the earlier orders' units (R-AGR-4/5); and, when the
    program monitors pacing and the order is of a winning product with an agreement volume
    whose month was not warned for yet, the open month is judged with the order in it
    (R-AGR-6, :func:`~services.orders.domain.progress.month_pacing_warnings`)."""
    listing = context.listing
    if listing is None:
        raise UnknownListing(command.listing_id)
    program = context.program
    if program is None:
        raise UnknownProgram(listing.program_id, command.listing_id)
    if listing.status != LISTED:
        raise ListingSuspended(command.listing_id, listing.suspended_reason)
    check_order_price(command.unit_price, listing.listing_price)
    if context.region_has_register and context.institution_region != program.region:
        raise InstitutionNotInRegion(command.institution_id, program.region)
    month = agreement_month(context.now, program.execution_start, program.cycle_years)
    if month is None:
        raise OutsideCycle(program)
    volume = context.volumes.get(month.year)
    annual = volume.units if volume is not None else None
    per_month = dict(volume.ordered) if volume is not None else {}
    committed = volume.committed if volume is not None else 0
    key = (command.institution_id, program.program_id, listing.registration_no, month.year)
    for m, units in earlier.units.get(key, {}).items():  # placed orders: ordered = committed
        per_month[m] = per_month.get(m, 0) + units
        committed += units
    left = None if annual is None else remaining(committed, annual)
    order_class = classify_order(command.units, left, listing.winning)
    within, beyond = split_units(command.units, left) if listing.winning else (0, 0)
    warnings: tuple[PacingWarning, ...] = ()
    monthly: tuple[int, ...] = ()
    last_warned = earlier.warned.get(key, volume.last_warned_month if volume else None)
    if program.pacing is not None and annual and listing.winning \
            and last_warned != month.month:
        per_month[month.month] = per_month.get(month.month, 0) + command.units
        monthly = tuple(per_month.get(m, 0) for m in range(1, month.month + 1))
        warnings = tuple(month_pacing_warnings(annual, monthly, program.pacing,
                                               month_closed=False))
    return Decision(
        key=key, program_id=program.program_id, region=program.region, month=month,
        registration_no=listing.registration_no, enterprise_id=listing.enterprise_id,
        winning=listing.winning, units=command.units, unit_price=listing.listing_price,
        amount=order_amount(command.units, listing.listing_price), order_class=order_class,
        units_within=within, units_beyond=beyond, annual_units=annual,
        pacing_warnings=warnings, monthly_orders=monthly)
