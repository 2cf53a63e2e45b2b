"""Schemathesis against every service, each its own process on the real PostgreSQL and Kafka
(issue #12): generated requests, valid and invalid, for every operation of each service's
``/openapi.json``, with a regulator's bearer token, and then with the token of each other role
the service serves (issue #17: an institution's, an enterprise's… requests take other paths
through the same routes: scoping, ownership, 403s). No answer may be a 5xx, have a status the
document does not list for its operation, or differ from the documented schema, media type or
headers; a method a path does not take must be a 405 with ``Allow``.

The number of examples per operation is bounded (``VBP_SCHEMATHESIS_EXAMPLES``, default 8, for
the regulator's run; ``VBP_SCHEMATHESIS_ROLE_EXAMPLES``, default 2, and no coverage phase for
the other roles' runs) and the seed fixed (``VBP_SCHEMATHESIS_SEED``), so a run takes a few
minutes and a failure can be replayed: the output names the request, as curl.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from services import launcher
from services.runtime.auth import mint_token
from tests.e2e.conftest import SECRET, bearer
from tests.e2e.world import (
    REGULATOR,
    assign_distributor,
    deliver_and_accept,
    listing_in_orders,
    post,
    publish_program,
    until,
)

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
CHECKS = ",".join([
    "not_a_server_error", "status_code_conformance", "response_schema_conformance",
    "content_type_conformance", "response_headers_conformance", "unsupported_method",
    "allow_header_conformance",
])
EXAMPLES = os.environ.get("VBP_SCHEMATHESIS_EXAMPLES", "8")
ROLE_EXAMPLES = os.environ.get("VBP_SCHEMATHESIS_ROLE_EXAMPLES", "2")
STATEFUL_EXAMPLES = os.environ.get("VBP_SCHEMATHESIS_STATEFUL_EXAMPLES", "50")
SERVED: dict[str, tuple[str, ...]] = {
    "catalog": ("operator", "institution", "enterprise", "distributor"),
    "orders": ("operator", "institution", "enterprise", "distributor", "agency"),
    "supply": ("operator", "institution", "enterprise", "distributor"),
    "payments": ("operator", "institution", "enterprise", "agency"),
    "monitoring": ("operator", "enterprise", "distributor"),
}
"""The roles other than regulator each service serves on some route (a role it serves on none
only ever gets 403, which the authorisation matrix checks)."""
ORGS = {"regulator": "BUREAU", "operator": "OPS", "institution": "H-SCHEMA",
        "enterprise": "E-SCHEMA", "distributor": "D-SCHEMA", "agency": "重庆市"}
RUNS = [(service, "regulator") for service in launcher.SERVICES] + [
    (service, role) for service in launcher.SERVICES for role in SERVED[service]]
SEED = os.environ.get("VBP_SCHEMATHESIS_SEED", "1")


@pytest.mark.timeout(900)
@pytest.mark.parametrize(("service", "role"), RUNS, ids=[f"{s}-{r}" for s, r in RUNS])
def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(
        platform: dict[str, str], service: str, role: str, tmp_path: Path) -> None:
    token = mint_token(SECRET, role=role, org=ORGS[role])
    full = role == "regulator"
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "run",
        f"{platform[service]}/openapi.json", "--header", f"Authorization: Bearer {token}",
        "--checks", CHECKS,
        "--phases", "examples,coverage,fuzzing" if full else "examples,fuzzing",
        "--max-examples", EXAMPLES if full else ROLE_EXAMPLES, "--seed", SEED, "--workers", "1",
        "--request-timeout", "30", "--generation-database", "none", "--no-color",
        "--report", "junit", "--report-dir", str(tmp_path),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=840, check=False,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-12000:] + done.stderr[-3000:]


STATEFUL = [("orders", "institution"), ("orders", "regulator"), ("supply", "regulator"),
            ("supply", "distributor"), ("payments", "institution"), ("catalog", "regulator"),
            ("monitoring", "regulator")]
"""Stateful runs (issue #17): schemathesis follows the documented links from one answer to the
next operation (``services.runtime.openapi.link``): the orders listed → an order placed at the
listing's price → read, cancelled, accepted, rejected; a distributor registered → read, its history;
a payable listed → read → paid."""
STATEFUL_PROGRAM = "SCHEMA-STATEFUL"
STARTS = {"GET /v1/listings": {"program_id": STATEFUL_PROGRAM}, "GET /v1/orders": {},
          "GET /v1/payables": {}, "GET /v1/distributors": {}}
"""The lists the flows start from, asked as an integrator would (tests/e2e/schemathesis_hooks.py):
the seeded program's listings, one's own orders and payables, every distributor."""
FIXED = {"POST /v1/orders": {"unit_price": "730.00"}}
"""What the seeded world fixes in a body: the listing price an order must be placed at."""
STATEFUL_REGION = "重庆市璧山区-stateful"
"""A region of its own, so that no institution register another run filled refuses the
seeded hospital's orders."""


@pytest.fixture(scope="module")
def seeded(platform: dict[str, str]) -> dict[str, str]:
    """A program with a listing in orders, a distributor of the schemathesis org assigned for
    its region, and one order of the schemathesis hospital delivered and accepted (so that
    payments holds a payable for it): something for every link to start from."""
    listing = publish_program(platform["catalog"], STATEFUL_PROGRAM, STATEFUL_REGION)
    listing_in_orders(platform["orders"], STATEFUL_PROGRAM, REGULATOR)
    assign_distributor(platform["supply"], ORGS["distributor"], STATEFUL_REGION)
    hospital = bearer("institution", ORGS["institution"])
    placed = post(f"{platform['orders']}/v1/orders", {
        "institution_id": ORGS["institution"], "listing_id": listing, "units": 2,
        "unit_price": "730.00"}, hospital)
    assert placed.status_code == 201, placed.text
    deliver_and_accept(platform, placed.json()["order_id"], 2, hospital,
                       bearer("distributor", ORGS["distributor"]))
    until(lambda: httpx.get(f"{platform['payments']}/v1/payables", headers=hospital,
                            timeout=30).json()["items"], what="the payable in payments")
    return {"listing_id": listing}


FLOWS: dict[tuple[str, str], list[tuple[str, str, int]]] = {
    ("orders", "institution"): [("POST", "/v1/orders", 201),
                                ("GET", "/v1/orders/{order_id}", 200),
                                ("GET", "/v1/orders/{order_id}/history", 200),
                                ("POST", "/v1/orders/{order_id}/cancel", 200),
                                ("POST", "/v1/orders/{order_id}/acceptance", 409)],
    ("supply", "regulator"): [("GET", "/v1/distributors/{distributor_id}", 200),
                              ("GET", "/v1/distributors/{distributor_id}/history", 200)],
    ("payments", "institution"): [("GET", "/v1/payables/{payable_id}", 200),
                                  ("POST", "/v1/payables/{payable_id}/payments", 201),
                                  ("POST", "/v1/payables/{payable_id}/payments", 409)],
}
"""For the main flows, answers only a request built from an earlier answer gets (a created or
listed object's id, which the run cannot guess): a run with none of them did not follow its
links, and fails. schemathesis takes each linked value at random (not from the seed), so which
of them a run reaches varies; one is required."""


def answers(har: Path, templates: list[str]) -> Counter[tuple[str, str, int]]:
    """(method, path template, status) of every request of a HAR report; a path matching a
    few templates is the one with the fewest parameters (``/v1/payables/ageing``)."""
    patterns = sorted((t.count("{"), t, re.compile(re.sub(r"\{[^}]+\}", "[^/]+", t) + "$"))
                       for t in templates)
    out: Counter[tuple[str, str, int]] = Counter()
    for entry in json.loads(har.read_text())["log"]["entries"]:
        path = unquote(urlsplit(entry["request"]["url"]).path)
        template = next((t for _, t, p in patterns if p.match(path)), path)
        out[(entry["request"]["method"], template, entry["response"]["status"])] += 1
    return out


@pytest.mark.timeout(900)
@pytest.mark.parametrize(("service", "role"), STATEFUL, ids=[f"{s}-{r}" for s, r in STATEFUL])
def test_stateful_runs_follow_the_links_without_a_server_error(
        platform: dict[str, str], seeded: dict[str, str], service: str, role: str,
        tmp_path: Path) -> None:
    token = mint_token(SECRET, role=role, org=ORGS[role])
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "run",
        f"{platform[service]}/openapi.json", "--header", f"Authorization: Bearer {token}",
        "--checks", CHECKS, "--phases", "stateful", "--max-examples", STATEFUL_EXAMPLES,
        "--seed", SEED, "--workers", "1", "--request-timeout", "30",
        "--generation-database", "none", "--no-color",
        "--report", "junit,har", "--report-dir", str(tmp_path),
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks",
           "PYTHONPATH": str(ROOT), "VBP_SCHEMATHESIS_ROLE": role,
           "VBP_SCHEMATHESIS_ORG": ORGS[role],
           "VBP_SCHEMATHESIS_QUERIES": json.dumps(STARTS),
           "VBP_SCHEMATHESIS_BODIES": json.dumps(FIXED)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=840, check=False,
                          cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout[-12000:] + done.stderr[-3000:]
    paths = httpx.get(f"{platform[service]}/openapi.json", timeout=30).json()["paths"]
    seen = answers(next(tmp_path.glob("har-*.json")), list(paths))
    summary = done.stdout[done.stdout.find("Stateful ("):done.stdout.find("FAILURES")
                          if "FAILURES" in done.stdout else done.stdout.find("SUMMARY")]
    print(f"{service} as {role}: {sum(seen.values())} requests;", " ".join(summary.split()))
    print(sorted(seen.items()))
    steps = FLOWS.get((service, role), [])
    assert not steps or any(seen[step] for step in steps), (steps, sorted(seen.items()))
