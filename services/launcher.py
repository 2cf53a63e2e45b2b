"""Starting the five services as processes: used by ``vbp run`` and the end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
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


def wait_ready(services: list[ServiceProcess], timeout: float = 90.0) -> None:
    """Poll every service's ``/readyz`` until all answer 200; raise with the log tail if one
    exits or the time runs out."""
    deadline = time.monotonic() + timeout
    pending = list(services)
    with httpx.Client(timeout=2.0) as client:
        while pending:
            for svc in list(pending):
                if svc.process.poll() is not None:
                    raise RuntimeError(f"{svc.name} exited:\n{_tail(svc.log)}")
                try:
                    if client.get(f"{svc.url}/readyz").status_code == 200:
                        pending.remove(svc)
                except httpx.HTTPError:
                    pass
            if pending and time.monotonic() > deadline:
                names = ", ".join(s.name for s in pending)
                raise RuntimeError(f"not ready after {timeout}s: {names}\n"
                                   + "\n".join(_tail(s.log) for s in pending))
            if pending:
                time.sleep(0.25)


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
