"""Monitoring: credit ratings, monthly monitoring, dashboards (R-CRD-*, R-MON-*). App shell."""
