"""Payments' consumer routing table: catalog's programs (profile and mode), orders'
agreements (prepayment schedules, R-PAY-2/3) and acceptances (payables, R-PAY-1/5)."""

from __future__ import annotations

from contracts.catalog import ProgramProfileChanged, ProgramPublished
from contracts.orders import AgreementRecorded, OrderAccepted
from services.payments import prepayments, programs, settlements
from services.runtime.consumer import ConsumerSpec

CONSUMERS = [
    ConsumerSpec(name="catalog", routes={
        ProgramPublished: programs.on_program_published,
        ProgramProfileChanged: programs.on_profile_changed,
    }),
    ConsumerSpec(name="orders", routes={
        AgreementRecorded: prepayments.on_agreement_recorded,
    }, batch_routes={
        OrderAccepted: settlements.on_orders_accepted,
    }),
]
