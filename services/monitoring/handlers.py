"""Monitoring's consumers: one routing table. Every service's events feed the read models
(``intake.handler``: projector, then credit proposals where the event can show a failure)."""

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
)
from contracts.supply import OrderDelivered, OrderRouted, SupplyRiskOpened
from services.monitoring.intake import handler
from services.runtime.consumer import ConsumerSpec

CONSUMERS = [
    ConsumerSpec(name="catalog", routes={}, batch_routes={
        ProgramPublished: handler(ProgramPublished),
        ProgramProfileChanged: handler(ProgramProfileChanged),
        ProductListed: handler(ProductListed),
        ListingPriceChanged: handler(ListingPriceChanged),
        WinningProductCorrected: handler(WinningProductCorrected),
        ListingSuspended: handler(ListingSuspended),
        ListingReinstated: handler(ListingReinstated),
    }),
    ConsumerSpec(name="orders", routes={}, batch_routes={
        AgreementRecorded: handler(AgreementRecorded),
        PacingWarningRaised: handler(PacingWarningRaised),
        OrderPlaced: handler(OrderPlaced),
        OrderCancelled: handler(OrderCancelled),
        OrderAccepted: handler(OrderAccepted),
        OrderRejected: handler(OrderRejected),
    }),
    ConsumerSpec(name="supply", routes={}, batch_routes={
        OrderRouted: handler(OrderRouted),
        SupplyRiskOpened: handler(SupplyRiskOpened),
        OrderDelivered: handler(OrderDelivered),
    }),
    ConsumerSpec(name="payments", routes={}, batch_routes={
        PayablePaid: handler(PayablePaid),
        PayableOverdue: handler(PayableOverdue),
        InstallmentDisbursed: handler(InstallmentDisbursed),
        InstallmentOverdue: handler(InstallmentOverdue),
    }),
]
