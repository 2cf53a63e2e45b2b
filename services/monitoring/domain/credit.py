"""Credit records, ratings, measures and repair (R-CRD-1..4), from the profile's scheme table.

A record is rated at a level of its program's scheme (``CreditScheme``, a table in the policy
profile, never code). A subject's rating in a region is the worst level among its active
records there (R-CRD-2). The measures in force are those the rating's level carries
(R-CRD-3); when the rating changes, the measures are re-planned: what is no longer wanted is
lifted, what is new is applied (``plan_measures``). Repair (R-CRD-4) takes a record out of the
rating once approved, after the level's minimum period.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from contracts.monitoring import MeasureKind, Scope
from contracts.profiles import CreditLevel, CreditScheme, MonitoringPolicy
from services.monitoring import errors
from services.runtime.clock import add_months

ENTERPRISE_ONLY: frozenset[str] = frozenset({
    "restrict_listing", "suspend_listing_involved", "suspend_distribution_involved",
    "suspend_all_products_region"})
"""Measures on an enterprise's products; a distributor has none (R-CRD-3)."""
DISTRIBUTOR_ONLY: frozenset[str] = frozenset({"distributor_bar"})
"""R-CRD-3: only a distributor loses its distribution qualification (R-SUP-4)."""
SCOPE: dict[str, Scope] = {"suspend_all_products_region": "all_everywhere"}
"""R-CRD-3: the top measure suspends all the enterprise's products in the region and the
products involved in every region (catalog's scope 'all_everywhere'); every other measure is
about the products involved."""


@dataclass(frozen=True)
class Record:
    """What the rating needs of a credit record."""

    record_id: str
    level: str
    active: bool
    registration_nos: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rating:
    level: CreditLevel | None
    active_records: int
    registration_nos: tuple[str, ...]


@dataclass(frozen=True)
class Measure:
    """A measure as planned: kind, scope, products, period. ``key`` identifies it across
    re-plans (the same measure wanted again is kept, not lifted and applied anew)."""

    measure: MeasureKind
    level: str
    scope: Scope
    registration_nos: tuple[str, ...]
    effective_until: datetime | None = None

    @property
    def key(self) -> tuple[str, str, str, tuple[str, ...]]:
        return (self.measure, self.level, self.scope, self.registration_nos)


def level_of(scheme: CreditScheme, code_or_name: str) -> CreditLevel:
    """R-CRD-2: the scheme's level by code or name; refused when the scheme has no such level."""
    try:
        return scheme.level(code_or_name)
    except KeyError:
        names = ", ".join(f"{lv.code} ({lv.name})" for lv in scheme.levels)
        raise errors.unknown_level(code_or_name, scheme.scheme, names) from None


def rating(scheme: CreditScheme, records: Iterable[Record]) -> Rating:
    """R-CRD-2: the worst level among the active records (none when nothing counts); the
    products involved are those of every active record."""
    active = [r for r in records if r.active]
    if not active:
        return Rating(None, 0, ())
    worst = max(active, key=lambda r: scheme.severity(r.level))
    products = sorted({no for r in active for no in r.registration_nos})
    return Rating(scheme.level(worst.level), len(active), tuple(products))


def measures_for(rating_: Rating, subject_kind: str, effective_from: datetime
                 ) -> list[Measure]:
    """R-CRD-3: the measures the rating's level carries for this kind of subject, from the
    profile's table. A distributor's bar lasts the level's ``distributor_bar_years`` (calendar
    years in Shanghai), or until repaired when the level sets none."""
    level = rating_.level
    if level is None:
        return []
    skip = DISTRIBUTOR_ONLY if subject_kind == "enterprise" else ENTERPRISE_ONLY
    planned = []
    for kind in level.measures:
        if kind in skip:
            continue
        until = None
        if kind == "distributor_bar" and level.distributor_bar_years is not None:
            until = add_months(effective_from, 12 * level.distributor_bar_years)
        products = rating_.registration_nos if kind in ENTERPRISE_ONLY else ()
        planned.append(Measure(kind, level.name, SCOPE.get(kind, "involved"), products, until))
    return planned


@dataclass(frozen=True)
class MeasurePlan:
    apply: list[Measure]
    lift: list[str]
    """measure ids to lift"""


def plan_measures(in_force: Sequence[tuple[str, Measure]], wanted: Sequence[Measure]
                  ) -> MeasurePlan:
    """R-CRD-3/4: from the measures in force (id, measure) to the ones wanted: lift those no
    longer wanted, apply the new ones, keep the rest as they are."""
    wanted_keys = {m.key for m in wanted}
    held = {m.key for _, m in in_force}
    return MeasurePlan(apply=[m for m in wanted if m.key not in held],
                       lift=[mid for mid, m in in_force if m.key not in wanted_keys])


# --- repair (R-CRD-4) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RepairState:
    status: str
    """of the record: proposed, active, dismissed, repaired"""
    effective_from: datetime | None
    pending: bool
    last_refused_at: datetime | None


def check_repair_application(state: RepairState, policy: MonitoringPolicy, now: datetime
                             ) -> None:
    """R-CRD-4: an application needs an active record with no application pending, and not
    within ``repair_reapply_days`` of a refusal."""
    if state.status != "active":
        raise errors.record_not_repairable(state.status)
    if state.pending:
        raise errors.repair_pending()
    if state.last_refused_at is not None:
        again = state.last_refused_at + timedelta(days=policy.repair_reapply_days)
        if now < again:
            raise errors.repair_reapply_too_soon(state.last_refused_at, again,
                                                 policy.repair_reapply_days)


def repair_earliest(level: CreditLevel, policy: MonitoringPolicy, effective_from: datetime
                    ) -> datetime:
    """R-CRD-4: the earliest instant a repair can be approved: the level's minimum period (the
    policy's default when the level sets none), in calendar months from the record's effect."""
    months = level.repair_min_months
    if months is None:
        months = policy.repair_min_months
    return add_months(effective_from, months)


def check_repair_approval(state: RepairState, level: CreditLevel, policy: MonitoringPolicy,
                          now: datetime) -> None:
    """R-CRD-4: approval needs a pending application on an active record, past the minimum
    period. (A refusal needs only the pending application.)"""
    check_repair_decision(state)
    assert state.effective_from is not None
    earliest = repair_earliest(level, policy, state.effective_from)
    if now < earliest:
        raise errors.repair_too_early(level.name, earliest)


def check_repair_decision(state: RepairState) -> None:
    if state.status != "active":
        raise errors.record_not_active(state.status)
    if not state.pending:
        raise errors.repair_not_pending()


# --- proposals (R-CRD-1) ----------------------------------------------------------------------


def is_late_delivery(delivery_seconds: int, policy: MonitoringPolicy) -> bool:
    """R-CRD-1, R-SUP-3: delivered later than the profile's limit after placement."""
    return delivery_seconds > policy.late_delivery_hours * 3600


def is_unfilled(placed_at: datetime, now: datetime, policy: MonitoringPolicy) -> bool:
    """R-CRD-1: an order neither delivered nor cancelled ``unfilled_order_days`` after placing."""
    return now - placed_at >= timedelta(days=policy.unfilled_order_days)


def is_risk_left_open(opened_at: datetime, now: datetime, policy: MonitoringPolicy) -> bool:
    """R-CRD-1, R-SUP-4: a supply risk open for ``open_supply_risk_days`` or more."""
    return now - opened_at >= timedelta(days=policy.open_supply_risk_days)


def repeated_rejections(rejected_at: Sequence[datetime], now: datetime,
                        policy: MonitoringPolicy) -> bool:
    """R-CRD-1: at least ``rejections_threshold`` quality rejections within the window."""
    since = now - timedelta(days=policy.rejections_window_days)
    return sum(1 for at in rejected_at if since < at <= now) >= policy.rejections_threshold


def proposed_level(scheme: CreditScheme) -> CreditLevel:
    """What monitoring proposes: the scheme's mildest level; the regulator confirming may set
    another (R-CRD-1: proposals are the regulator's to rate)."""
    return scheme.levels[0]
