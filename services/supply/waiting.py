"""An order supply has not seen yet is not an order that is not yours (issue 12, item 15).

Supply learns of an order from orders' ``OrderPlaced`` event, a moment after the hospital's
``POST /v1/orders`` answered 201 (the outbox relay, Kafka, supply's consumer: usually well
under a second). Until then supply cannot tell whose the order is, so it cannot refuse it as
another organisation's either. Its order routes therefore answer:

* an order id it has **not seen**: 404 ``order-not-known-yet`` with ``Retry-After: 1`` and a
  detail saying why. Nothing about any organisation is in it: supply knows nothing of the
  order. (Order ids carry 48 random bits, so "not known yet" versus "not found" tells a
  guesser nothing usable either.)
* an order it has seen that the caller may not see (another institution's, enterprise's, or
  one routed to another distributor): the plain 404 ``not-found``, exactly as for any object
  of another organisation.

How a client waits: on ``order-not-known-yet``, retry after ``Retry-After`` seconds, backing
off (1, 2, 4 … s); give up after about a minute (``WAIT_HINT_S``): an id still unknown then
was mistyped, or the order was never placed. A ``not-found`` is final: do not retry it.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.runtime.problems import Problem, problem_response
from services.supply.errors import ORDER_NOT_KNOWN_YET

RETRY_AFTER_S = 1
WAIT_HINT_S = 60


class OrderNotKnownYet(Problem):
    """404 ``order-not-known-yet``: answered with ``Retry-After`` (see the module)."""

    def __init__(self, order_id: str) -> None:
        super().__init__(
            ORDER_NOT_KNOWN_YET.status, ORDER_NOT_KNOWN_YET.slug, ORDER_NOT_KNOWN_YET.title,
            f"supply has not received order {order_id!r} yet: orders reach supply from the "
            f"orders service a moment after they are placed (eventual consistency). Retry "
            f"after {RETRY_AFTER_S} s, backing off; an id still unknown after about "
            f"{WAIT_HINT_S} s was never placed",
            order_id=order_id, retry_after_s=RETRY_AFTER_S)


async def _on_not_known_yet(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OrderNotKnownYet)
    response = problem_response(exc, request)
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def install(app: FastAPI) -> None:
    """Answer ``OrderNotKnownYet`` with its ``Retry-After`` (more specific than ``Problem``'s
    handler, so Starlette picks it for this subclass)."""
    app.add_exception_handler(OrderNotKnownYet, _on_not_known_yet)
