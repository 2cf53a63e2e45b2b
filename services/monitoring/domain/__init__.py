"""Monitoring's rules as plain functions and values (no FastAPI, SQLAlchemy or Kafka):
``credit`` (R-CRD-1..5), ``reports`` (R-MON-1), ``assessment`` (R-MON-2), ``risk`` (completion
risk, R-AGR-3), ``repayment`` (settlement and disbursement timeliness, R-PAY-1, R-PAY-7)."""
