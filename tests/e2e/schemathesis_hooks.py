"""Schemathesis hooks for the stateful runs (``SCHEMATHESIS_HOOKS``): a caller names its own
organisation where a body asks for it (a hospital places orders for itself), as every real
integrator does, so that a flow the links lead through is not refused at its first step for
naming another organisation (the authorisation matrix tests those refusals)."""

from __future__ import annotations

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
