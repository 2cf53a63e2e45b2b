"""Account opening (R-SUP-2): institution–distributor pairs assigned but with no opened
account. Tracked only: never a condition of supply (R-AGR-7)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.supply.domain.assignments import Assignment, Scope, is_live


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
