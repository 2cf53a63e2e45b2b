"""Payments business metrics (names agreed with operations; labels bounded: program and age
bucket only, never institution or order ids). Gauges are refreshed by the scheduler from the
database (``overdue.refresh_gauges``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

PAYABLES_OPENED = Counter("vbp_payments_payables_opened_total",
                          "Payables opened for accepted goods (R-PAY-1)", ["program"])
PAYABLES_PAID = Counter("vbp_payments_payables_paid_total",
                        "Payables paid in full (R-PAY-1)", ["program"])
PAYABLES_OUTSTANDING = Gauge(
    "vbp_payments_payables_outstanding_fen",
    "Unpaid payables in fen by age (not_due, 0-30, 31-60, 61-90, 90+ days overdue)",
    ["program", "age_bucket"])
PAYABLES_OVERDUE = Gauge("vbp_payments_payables_overdue",
                         "Payables unpaid after their deadline (R-PAY-1)", ["program"])
PREPAYMENT_SCHEDULED = Gauge("vbp_payments_prepayment_scheduled_fen",
                             "Prepayment scheduled, in fen (R-PAY-2/3)", ["program"])
PREPAYMENT_DISBURSED = Counter("vbp_payments_prepayment_disbursed_fen_total",
                               "Prepayment disbursed by the paying agencies, in fen",
                               ["program"])
INSTALLMENTS_OVERDUE = Gauge("vbp_payments_prepayment_installments_overdue",
                             "Installments not disbursed by their due date (R-PAY-7)",
                             ["program"])
