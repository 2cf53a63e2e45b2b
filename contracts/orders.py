"""Events and API models owned by the orders service."""

from __future__ import annotations

AGREEMENTS_TOPIC = "vbp.orders.agreements.v1"
ORDERS_TOPIC = "vbp.orders.orders.v1"

