"""Credit-measure rules as plain code: which listings a suspending measure reaches (R-CAT-8,
R-CRD-3). No framework imports."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ListingRef:
    """What deciding a credit measure's reach needs to know of a listing."""

    listing_id: str
    enterprise_id: str
    registration_no: str
    region: str


def measure_reach(
    *, subject_id: str, region: str, scope: str, registration_nos: frozenset[str],
    listings: list[ListingRef],
) -> list[str]:
    """R-CAT-8 / R-CRD-3: the listings a suspending credit measure suspends.

    ``involved``: the enterprise's listings of the products involved, in the region;
    ``all_in_region``: all its listings in the region; ``all_everywhere``: all its listings
    (the top level also suspends the products involved in every region; with no products
    named that is everything)."""
    reached = []
    for ref in listings:
        if ref.enterprise_id != subject_id:
            continue
        in_region = ref.region == region
        involved = ref.registration_no in registration_nos
        if (scope == "involved" and in_region and involved) or (
            scope == "all_in_region" and in_region
        ) or (scope == "all_everywhere" and (in_region or involved or not registration_nos)):
            reached.append(ref.listing_id)
    return sorted(reached)
