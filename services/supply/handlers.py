"""Supply's consumer routing table: orders' placed and cancelled orders (routing, R-SUP-1/4/5),
monitoring's credit measures on distributors (the violation list, R-CRD-3), and catalog's
listings (which enterprise a product belongs to, and its name)."""

from __future__ import annotations

from contracts.catalog import ProductListed, WinningProductCorrected
from contracts.monitoring import CreditMeasureApplied, CreditMeasureLifted
from contracts.orders import OrderCancelled, OrderPlaced
from services.runtime.consumer import ConsumerSpec
from services.supply import products, routing, violations

CONSUMERS = [
    ConsumerSpec(name="orders", routes={
        OrderCancelled: routing.on_order_cancelled,
    }, batch_routes={
        OrderPlaced: routing.on_orders_placed,
    }),
    ConsumerSpec(name="credit-measures", routes={
        CreditMeasureApplied: violations.on_measure_applied,
        CreditMeasureLifted: violations.on_measure_lifted,
    }),
    ConsumerSpec(name="catalog-listings", routes={
        ProductListed: products.on_product_listed,
        WinningProductCorrected: products.on_product_corrected,
    }),
]
