"""Payments rules as plain functions and values (no FastAPI, SQLAlchemy or Kafka imports):
deadlines (R-PAY-1), prepayment schedules (R-PAY-2/3), offsets (R-PAY-4), ageing, and the
double-entry ledger (R-PAY-6)."""
