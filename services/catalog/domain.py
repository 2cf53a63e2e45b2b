"""Catalog rules as plain code (R-PRG-1, R-CAT-4, R-CAT-5). No framework imports."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from contracts.catalog import ProductListed
from services.catalog.importing import WinningRow, enterprise_key


def _short_hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def listing_id(program_id: str, registration_no: str) -> str:
    """A winning product's listing id: stable, so importing the same table again is a no-op
    (R-CAT-4: one certificate wins once per program)."""
    return f"L-{_short_hash(program_id, registration_no)}"


def enterprise_id(enterprise_name: str) -> str:
    """An enterprise's id from its normalised name (brackets' width and spaces folded)."""
    return f"E-{_short_hash(enterprise_key(enterprise_name))}"


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
