"""Catalog rules as plain code (R-PRG-1, R-CAT-4..8, R-CRD-3), by rule area: ``listings``
(winning and non-winning listings, corrections) and ``credit`` (a credit measure's reach).
No framework imports. Every name is importable from ``services.catalog.domain`` as before."""

from __future__ import annotations

from contracts.identity import enterprise_id as enterprise_id  # importable as before
from contracts.identity import listing_id as listing_id
from contracts.identity import named as named
from services.catalog.domain.credit import ListingRef, measure_reach
from services.catalog.domain.listings import (
    ListedProduct,
    NonWinningProduct,
    Program,
    corrections,
    list_non_winning,
    list_winning,
    listed_product,
)

__all__ = [
    "ListedProduct",
    "ListingRef",
    "NonWinningProduct",
    "Program",
    "corrections",
    "enterprise_id",
    "list_non_winning",
    "list_winning",
    "listed_product",
    "listing_id",
    "measure_reach",
    "named",
]
