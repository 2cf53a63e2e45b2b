"""Typed Python clients for the services' HTTP APIs, generated from their OpenAPI documents
with openapi-python-client (``vbp clients --out DIR``).

Each service's document comes from its app (no server needs to run) and becomes a package
``vbp_<service>_client`` in DIR, with a function per operation named after the endpoint
(``place_order``, ``list_payables`` …), attrs models of the bodies and answers, and sync and
async variants. Routes whose body is a CSV or XLSX file (the bulk imports) are left out by the
generator; call them with any HTTP client (README of each service)."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

SERVICES = ("catalog", "orders", "supply", "payments", "monitoring")


def package_name(service: str) -> str:
    return f"vbp_{service}_client"


def openapi_document(service: str) -> dict[str, Any]:
    """The service's OpenAPI document, from its app as the running service serves it."""
    module = importlib.import_module(f"services.{service}.app")
    document: dict[str, Any] = module.create_app().openapi()
    return document


def generate(service: str, out: Path) -> Path:
    """Generate ``vbp_<service>_client`` under ``out``; its folder."""
    target = out / package_name(service)
    bin_dir = str(Path(sys.executable).parent)  # the generator formats with this venv's ruff
    with tempfile.TemporaryDirectory(prefix="vbp-openapi-") as work:
        spec = Path(work) / f"{service}.json"
        spec.write_text(json.dumps(openapi_document(service), ensure_ascii=False),
                        encoding="utf-8")
        config = Path(work) / "config.json"
        config.write_text(json.dumps({"package_name_override": package_name(service),
                                      "project_name_override": package_name(service)}),
                          encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        result = subprocess.run(
            [str(Path(bin_dir) / "openapi-python-client"), "generate", "--path", str(spec),
             "--config", str(config), "--output-path", str(target), "--meta", "none",
             "--overwrite"],
            capture_output=True, text=True,
            env={**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")})
    if result.returncode != 0 or not (target / "client.py").is_file():
        raise RuntimeError(f"generating the {service} client failed:\n{result.stdout}\n"
                           f"{result.stderr}")
    return target


def main(out: Path, services: tuple[str, ...] = SERVICES) -> int:
    out.mkdir(parents=True, exist_ok=True)
    for service in services:
        folder = generate(service, out)
        print(f"{service}: {folder} (import {package_name(service)})")
    return 0
