"""Monitoring's consumers: one routing table. Every service's events feed the read models
(``intake.apply``, one chunk handler for every type: a chunk of interleaved types in one call;
projectors, then credit proposals where an event can show a failure)."""

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
from contracts.orders import (
    AgreementRecorded,
    OrderAccepted,
    OrderCancelled,
    OrderPlaced,
    OrderRejected,
    PacingWarningRaised,
)
from contracts.payments import (
    InstallmentDisbursed,
    InstallmentOverdue,
    PayableOverdue,
    PayablePaid,
    PayablesOverdue,
)
from contracts.supply import OrderDelivered, OrderRouted, SupplyRiskOpened
from services.monitoring.intake import apply
from services.runtime.consumer import ConsumerSpec

CONSUMERS = [
    ConsumerSpec(name="catalog", routes={}, chunk_routes=dict.fromkeys((
        ProgramPublished,
        ProgramProfileChanged,
        ProductListed,
        ListingPriceChanged,
        WinningProductCorrected,
        ListingSuspended,
        ListingReinstated,
    ), apply)),
    ConsumerSpec(name="orders", routes={}, chunk_routes=dict.fromkeys((
        AgreementRecorded,
        PacingWarningRaised,
        OrderPlaced,
        OrderCancelled,
        OrderAccepted,
        OrderRejected,
    ), apply)),
    ConsumerSpec(name="supply", routes={}, chunk_routes=dict.fromkeys((
        OrderRouted,
        SupplyRiskOpened,
        OrderDelivered,
    ), apply)),
    ConsumerSpec(name="payments", routes={}, chunk_routes=dict.fromkeys((
        PayablePaid,
        PayablesOverdue,
        PayableOverdue,
        InstallmentDisbursed,
        InstallmentOverdue,
    ), apply)),
]
