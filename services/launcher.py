"""Starting the five services as processes: used by ``vbp run`` and the end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from services.devstack.prometheus import PrometheusServer

SERVICES: dict[str, int] = {
    "catalog": 8101,
    "orders": 8102,
    "supply": 8103,
    "payments": 8104,
    "monitoring": 8105,
}


@dataclass
class ServiceProcess:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_service(
    name: str, port: int, env: Mapping[str, str], log_dir: Path
) -> ServiceProcess:
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", name, "--port", str(port)],
            env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return ServiceProcess(name, port, process, log)


def wait_ready(services: list[ServiceProcess], timeout: float = 90.0,
               progress: Callable[[str], None] | None = None,
               progress_every: float = 10.0) -> None:
    """Poll every service's ``/readyz`` until all answer 200; raise with what each one still
    waits for (its ``/readyz`` checks) and its log tail if one exits or the time runs out.

    A service answers ``/healthz`` once its database is migrated and keeps connecting to Kafka
    in the background (it never exits for a late broker), so while waiting its ``/readyz``
    says what it waits for; ``progress`` (e.g. ``print``) is told so every ``progress_every``
    seconds."""
    deadline = time.monotonic() + timeout
    next_report = time.monotonic() + progress_every
    pending = list(services)
    waiting: dict[str, str] = {svc.name: "not answering yet" for svc in services}
    with httpx.Client(timeout=5.0) as client:
        while pending:
            for svc in list(pending):
                if svc.process.poll() is not None:
                    raise RuntimeError(f"{svc.name} exited:\n{_tail(svc.log)}")
                try:
                    response = client.get(f"{svc.url}/readyz")
                except httpx.HTTPError:
                    continue
                if response.status_code == 200:
                    pending.remove(svc)
                else:
                    waiting[svc.name] = _checks(response)
            if pending and time.monotonic() > deadline:
                raise RuntimeError(
                    f"not ready after {timeout:.0f}s: "
                    + "; ".join(f"{s.name} ({waiting[s.name]})" for s in pending) + "\n"
                    + "\n".join(_tail(s.log) for s in pending))
            if pending and progress is not None and time.monotonic() > next_report:
                next_report = time.monotonic() + progress_every
                progress("waiting for " + "; ".join(f"{s.name} ({waiting[s.name]})"
                                                    for s in pending))
            if pending:
                time.sleep(0.25)


def _checks(response: httpx.Response) -> str:
    """What a 503 from ``/readyz`` says is missing, e.g. ``kafka: unavailable: …``."""
    try:
        checks = response.json().get("checks") or {}
    except ValueError:
        return f"HTTP {response.status_code}"
    missing = [f"{name}: {state}" for name, state in checks.items() if state != "ok"]
    return ", ".join(missing) or f"HTTP {response.status_code}"


def stop_services(services: list[ServiceProcess], timeout: float = 20.0) -> None:
    """SIGTERM (graceful: in-flight work finishes, offsets are committed), then SIGKILL."""
    for svc in services:
        if svc.process.poll() is None:
            svc.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for svc in services:
        try:
            svc.process.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            svc.process.kill()
            svc.process.wait()


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_prometheus(services: list[ServiceProcess], data_dir: Path,
                     port: int = 9090) -> PrometheusServer | None:
    """Prometheus scraping ``services`` with deploy/prometheus's rules, when it is installed
    (``python -m services.devstack prometheus-install``); None, and nothing started, if not.
    Its data is kept in ``data_dir`` between runs."""
    from services.devstack import prometheus

    if prometheus.find_binaries() is None:
        return None
    targets = [prometheus.Target(s.name, "all", f"127.0.0.1:{s.port}") for s in services]
    config = prometheus.write_config(data_dir, targets)
    server = prometheus.PrometheusServer(config, data_dir, port)
    server.start()
    return server
