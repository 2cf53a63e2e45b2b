"""Payments: prepayments, offsets, settlements (R-PAY-*). App shell for now."""
