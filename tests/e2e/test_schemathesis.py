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

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services import launcher
from services.runtime.auth import mint_token
from tests.e2e.conftest import SECRET

pytestmark = pytest.mark.e2e
CHECKS = ",".join([
    "not_a_server_error", "status_code_conformance", "response_schema_conformance",
    "content_type_conformance", "response_headers_conformance", "unsupported_method",
    "allow_header_conformance",
])
EXAMPLES = os.environ.get("VBP_SCHEMATHESIS_EXAMPLES", "8")
ROLE_EXAMPLES = os.environ.get("VBP_SCHEMATHESIS_ROLE_EXAMPLES", "2")
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
