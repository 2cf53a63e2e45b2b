"""Listing rules as plain code: a winning product listed at its winning price (R-CAT-5), a
corrected table told apart from a re-import (R-CAT-4), a non-winning product listed at no more
than the national lowest price (R-CAT-6). No framework imports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from contracts.catalog import ProductListed
from contracts.identity import enterprise_id, enterprise_key, listing_id
from services.catalog.importing import WinningRow


@dataclass(frozen=True)
class Program:
    program_id: str
    category: str
    region: str


@dataclass(frozen=True)
class ListedProduct:
    """What a listing holds of a winning product; compared to tell a re-import from a change."""

    registration_no: str
    product_name: str
    enterprise_name: str
    registrant: str
    product_price: Decimal
    service_price: Decimal
    listing_price: Decimal


def listed_product(row: WinningRow) -> ListedProduct:
    """R-CAT-5: a winning product is listed at its winning price (green channel)."""
    return ListedProduct(
        registration_no=row.registration_no,
        product_name=row.product_name,
        enterprise_name=row.declaring_enterprise,
        registrant=row.registrant,
        product_price=row.product_price,
        service_price=row.service_price,
        listing_price=row.winning_price,
    )


def list_winning(program: Program, row: WinningRow, *, now: datetime, actor: str) -> ProductListed:
    product = listed_product(row)
    return ProductListed(
        listing_id=listing_id(program.program_id, row.registration_no),
        program_id=program.program_id,
        category=program.category,
        registration_no=product.registration_no,
        product_name=product.product_name,
        enterprise_id=enterprise_id(product.enterprise_name),
        enterprise_name=product.enterprise_name,
        registrant=product.registrant,
        product_price=product.product_price,
        service_price=product.service_price,
        listing_price=product.listing_price,
        winning=True,
        listed_at=now,
        listed_by=actor,
    )


def corrections(current: ListedProduct, new: ListedProduct) -> dict[str, tuple[str, str]]:
    """What a corrected table changes in a listed winning product: field → (old, new).

    Names are compared on the normalised enterprise key, so a re-publication that only
    changes bracket width or spacing is not a change."""
    changes: dict[str, tuple[str, str]] = {}
    for name in ("product_name", "registrant", "product_price", "service_price",
                 "listing_price"):
        old, value = getattr(current, name), getattr(new, name)
        if old != value:
            changes[name] = (_shown(old), _shown(value))
    if enterprise_key(current.enterprise_name) != enterprise_key(new.enterprise_name):
        changes["enterprise_name"] = (current.enterprise_name, new.enterprise_name)
    return changes


def _shown(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, Decimal) else str(value)


def list_non_winning(
    program: Program, product: NonWinningProduct, *, price: Decimal,
    national_lowest: Decimal | None, now: datetime, actor: str,
) -> ProductListed:
    """R-CAT-6: a non-winning product of the category, listed at no more than the national
    lowest price; its payment standard is kept as it was (R-CAT-7), so none is set here."""
    return ProductListed(
        listing_id=listing_id(program.program_id, product.registration_no),
        program_id=program.program_id,
        category=program.category,
        registration_no=product.registration_no,
        product_name=product.product_name,
        enterprise_id=enterprise_id(product.enterprise_name),
        enterprise_name=product.enterprise_name,
        registrant=product.registrant,
        product_price=price,
        service_price=Decimal("0.00"),
        listing_price=price,
        winning=False,
        national_lowest=national_lowest,
        listed_at=now,
        listed_by=actor,
    )


class NonWinningProduct(Protocol):
    registration_no: str
    product_name: str
    enterprise_name: str
    registrant: str
