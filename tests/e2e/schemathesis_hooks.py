"""Schemathesis hooks for the stateful runs (``SCHEMATHESIS_HOOKS``), doing what every real
integrator does, so that the flows the links lead through are not refused or emptied at their
first step by made-up values (the fuzzing runs and the authorisation matrix test those):

- a caller names its own organisation where a body asks for it (a hospital places orders for
  itself): ``VBP_SCHEMATHESIS_ROLE`` and ``VBP_SCHEMATHESIS_ORG``;
- the lists a flow starts from are asked with the filters of the seeded world
  (``VBP_SCHEMATHESIS_QUERIES``: JSON, ``{"GET /v1/listings": {"program_id": "..."}}``)
  instead of the examples' made-up program or enterprise, which find nothing;
- a body states what the seeded world fixes (``VBP_SCHEMATHESIS_BODIES``: JSON,
  ``{"POST /v1/orders": {"unit_price": "730.00"}}``): an order is placed at the listing's
  price (R-CAT-5), which schemathesis would otherwise almost never guess, nor take from the
  listing it followed a link from (it takes each linked field at random)."""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis

OWN_FIELD = {"institution": "institution_id", "enterprise": "enterprise_id",
             "distributor": "distributor_id"}


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    field = OWN_FIELD.get(os.environ.get("VBP_SCHEMATHESIS_ROLE", ""))
    if field and isinstance(case.body, dict) and field in case.body:
        case.body[field] = os.environ["VBP_SCHEMATHESIS_ORG"]
    route = f"{case.method.upper()} {case.path}"
    queries = json.loads(os.environ.get("VBP_SCHEMATHESIS_QUERIES", "{}"))
    if route in queries:
        case.query = dict(queries[route])
    bodies = json.loads(os.environ.get("VBP_SCHEMATHESIS_BODIES", "{}"))
    if route in bodies and isinstance(case.body, dict):
        case.body.update(bodies[route])
