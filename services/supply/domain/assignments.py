"""Assignments (R-SUP-1): an enterprise's choice of distributor for a product and a place, which
one applies, and which may be recorded."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from services.runtime.texts import text
from services.supply.domain.common import aware
from services.supply.domain.distributors import Distributor, is_qualified


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
    aware(at, "at")
    if at < assignment.valid_from:
        return False
    if assignment.valid_until is not None and at >= assignment.valid_until:
        return False
    return not is_revoked(assignment, at)


def is_live(assignment: Assignment, at: datetime) -> bool:
    """In force at ``at`` or later: not revoked and not yet ended (includes future ones)."""
    aware(at, "at")
    if is_revoked(assignment, at):
        return False
    return assignment.valid_until is None or assignment.valid_until > at


def revoke(assignment: Assignment, at: datetime) -> Assignment:
    """R-SUP-4: the assignment revoked at ``at``; an earlier revocation stands (idempotent)."""
    aware(at, "at")
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
    aware(at, "at")
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
            problems.append(text("{field} is empty", field=name))
    naive = [
        name
        for name in ("valid_from", "valid_until", "revoked_at")
        if (t := getattr(new, name)) is not None and (t.tzinfo is None or t.utcoffset() is None)
    ]
    problems.extend(text("{field} must be timezone-aware", field=name) for name in naive)
    if naive:
        return problems
    if new.valid_until is not None and new.valid_until <= new.valid_from:
        problems.append(text("valid_until must be after valid_from"))
    if new.scope not in (Scope.INSTITUTION, Scope.REGION):
        problems.append(text("scope must be 'institution' or 'region', not {scope!r}",
                             scope=str(new.scope)))
    if new.scope == Scope.INSTITUTION and not new.institution_id:
        problems.append(text("institution scope needs an institution_id"))
    if new.scope == Scope.REGION:
        if not new.region:
            problems.append(text("region scope needs a region"))
        if new.institution_id is not None:
            problems.append(text("region scope cannot name an institution_id"))
    if new.revoked_at is not None:
        problems.append(text("a new assignment cannot already be revoked"))
    if distributors is not None:
        distributor = distributors.get(new.distributor_id)
        if distributor is None:
            problems.append(text("unknown distributor {distributor}",
                                 distributor=new.distributor_id))
        elif not is_qualified(distributor, new.valid_from):
            problems.append(text("distributor {distributor} is not qualified at valid_from "
                                 "(R-SUP-4)", distributor=new.distributor_id))
    for other in existing:
        if other.assignment_id == new.assignment_id:
            if other != new:
                problems.append(text("assignment id {assignment} is already used",
                                     assignment=new.assignment_id))
            continue
        if _target(other) == _target(new) and _overlap(other, new):
            problems.append(text(
                "overlaps assignment {assignment} for the same enterprise, product and "
                "{scope}; end it before the new one starts", assignment=other.assignment_id,
                scope=str(new.scope)))
    return problems


def assignment_problems(
    new: Assignment,
    existing: Iterable[Assignment],
    *,
    distributors: Mapping[str, Distributor],
    now: datetime,
) -> list[str]:
    """R-SUP-1, R-SUP-4: the problems with recording ``new`` at ``now`` (empty: record it):
    those of ``validate_assignment`` and, since a backdated assignment starts distributing
    now, a distributor not qualified when it would start."""
    problems = validate_assignment(new, existing, distributors=distributors)
    chosen = distributors.get(new.distributor_id)
    starts = max(now, new.valid_from)
    if chosen is not None and not problems and not is_qualified(chosen, starts):
        problems.append(text("distributor {distributor} is not qualified at {at} (R-SUP-4)",
                             distributor=new.distributor_id, at=starts.isoformat()))
    return problems
