"""Orders' consumer routing table: catalog's programs and listings (the read models orders are
placed against, ``programs``, ``listings``) and supply's routing and delivery events moving the
order lifecycle (``lifecycle``, R-AGR-8)."""

from __future__ import annotations

from contracts.catalog import (
    ListingPriceChanged,
    ListingReinstated,
    ListingSuspended,
    ProductListed,
    ProgramProfileChanged,
    ProgramPublished,
    WinningProductCorrected,
)
from contracts.supply import OrderDelivered, OrderRouted, OrderShipped, SupplyRiskOpened
from services.orders import lifecycle, listings, programs
from services.runtime.consumer import ConsumerSpec

CONSUMERS = [
    ConsumerSpec(name="catalog", routes={
        ProgramPublished: programs.on_program_published,
        ProgramProfileChanged: programs.on_profile_changed,
        ProductListed: listings.on_product_listed,
        ListingPriceChanged: listings.on_price_changed,
        WinningProductCorrected: listings.on_corrected,
        ListingSuspended: listings.on_suspended,
        ListingReinstated: listings.on_reinstated,
    }),
    ConsumerSpec(name="supply", routes={}, chunk_routes={
        OrderRouted: lifecycle.on_supply_events,
        OrderShipped: lifecycle.on_supply_events,
        OrderDelivered: lifecycle.on_supply_events,
        SupplyRiskOpened: lifecycle.on_supply_events,
    }),
]
