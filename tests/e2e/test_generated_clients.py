"""Issue #17: the typed Python clients ``vbp clients`` generates from the services' OpenAPI
documents (openapi-python-client) work against the running services: a read on each service,
and on orders a whole write — the required Idempotency-Key is a typed argument, an answer is a
typed model, a refusal a typed problem."""

from __future__ import annotations

import importlib
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from services import clients
from services.runtime.auth import mint_token
from tests.e2e.conftest import SECRET
from tests.e2e.world import publish_program, until

pytestmark = pytest.mark.e2e
RUN = uuid.uuid4().hex[:6]
PROGRAM = f"CQ-CLIENT-{RUN}"
HOSPITAL_ID = f"H-{RUN}"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("clients")
    assert clients.main(out) == 0
    sys.path.insert(0, str(out))
    try:
        yield out
    finally:
        sys.path.remove(str(out))


def module(service: str, path: str) -> ModuleType:
    return importlib.import_module(f"{clients.package_name(service)}.{path}")


def client(service: str, url: str, role: str, org: str) -> Any:
    token = mint_token(SECRET, role=role, org=org)
    return module(service, "client").AuthenticatedClient(base_url=url, token=token)


READS = {  # service: a list operation every regulator may call
    "catalog": "api.catalog.list_programs",
    "orders": "api.orders.list_orders",
    "supply": "api.supply.list_assignments",
    "payments": "api.payments.list_payables",
    "monitoring": "api.monitoring.list_records",
}


@pytest.mark.parametrize("service", clients.SERVICES)
def test_a_generated_client_reads_each_service(generated: Path, platform: dict[str, str],
                                               service: str) -> None:
    operation = module(service, READS[service])
    regulator = client(service, platform[service], "regulator", "BUREAU")
    answer = operation.sync_detailed(client=regulator)
    assert answer.status_code == 200, answer.content
    problem = module(service, "models.problem_details").ProblemDetails
    assert answer.parsed is not None and not isinstance(answer.parsed, problem)
    stranger = module(service, "client").Client(base_url=platform[service])
    refused = operation.sync_detailed(client=stranger)
    assert refused.status_code == 401 and isinstance(refused.parsed, problem)


def test_the_generated_orders_client_places_and_reads_an_order(
        generated: Path, platform: dict[str, str]) -> None:
    listing_id = publish_program(platform["catalog"], PROGRAM, "重庆市")
    orders = platform["orders"]
    hospital = client("orders", orders, "institution", HOSPITAL_ID)
    list_listings = module("orders", "api.orders.list_listings")
    until(lambda: list_listings.sync(client=hospital, program_id=PROGRAM).items,
          what="the listing in orders")
    order_in = module("orders", "models.order_in").OrderIn
    order_out = module("orders", "models.order_out").OrderOut
    problem = module("orders", "models.problem_details").ProblemDetails
    place = module("orders", "api.orders.place_order")

    off = place.sync(client=hospital, idempotency_key=uuid.uuid4().hex, body=order_in(
        institution_id=HOSPITAL_ID, listing_id=listing_id, units=3, unit_price="729.99"))
    assert isinstance(off, problem) and off.status == 422  # R-CAT-5: the listing price only

    key = uuid.uuid4().hex
    body = order_in(institution_id=HOSPITAL_ID, listing_id=listing_id, units=3,
                    unit_price="730.00")
    placed = place.sync(client=hospital, idempotency_key=key, body=body)
    assert isinstance(placed, order_out), placed
    again = place.sync(client=hospital, idempotency_key=key, body=body)
    assert isinstance(again, order_out) and again.order_id == placed.order_id
    read = module("orders", "api.orders.get_order").sync(placed.order_id, client=hospital)
    assert isinstance(read, order_out)
    assert (read.order_id, read.units, read.amount) == (placed.order_id, 3, "2190.00")
