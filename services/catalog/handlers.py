"""Catalog's consumer routing table: monitoring's credit measures suspend and reinstate
listings (R-CAT-8, R-CRD-3, R-CRD-4)."""

from __future__ import annotations

from contracts.monitoring import CreditMeasureApplied, CreditMeasureLifted
from services.catalog import credit
from services.runtime.consumer import ConsumerSpec

CONSUMERS = [
    ConsumerSpec(name="credit-measures", routes={
        CreditMeasureApplied: credit.on_measure_applied,
        CreditMeasureLifted: credit.on_measure_lifted,
    }),
]
