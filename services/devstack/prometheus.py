"""A throwaway Prometheus on 127.0.0.1 from Debian's ``prometheus`` package (which also brings
``promtool``), run from its binary with our own config and a temporary data directory; the
package's system service is not used.

The config is ``deploy/prometheus/prometheus.yml`` with its rule files, the scrape targets of
the running platform in place of ``targets/*.yml``, and optionally a shorter scrape interval
(tests scrape every second).
"""

from __future__ import annotations

import atexit
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from services.devstack.apt import apt_install
from services.devstack.net import free_loopback_port

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "deploy" / "prometheus"
CONFIG = DEPLOY_DIR / "prometheus.yml"


class PrometheusError(RuntimeError):
    """Prometheus could not be installed, configured or started."""


@dataclass(frozen=True)
class Target:
    """One process to scrape: its service, its role (all, api, worker) and host:port."""

    service: str
    role: str
    address: str


def find_binaries() -> tuple[str, str] | None:
    """Paths of ``prometheus`` and ``promtool``, or None when either is missing."""
    server, tool = shutil.which("prometheus"), shutil.which("promtool")
    return (server, tool) if server and tool else None


def ensure_installed() -> tuple[str, str]:
    """``prometheus`` and ``promtool``, installing Debian's ``prometheus`` package if missing."""
    found = find_binaries()
    if found is not None:
        return found
    try:
        apt_install("prometheus", "Prometheus")
    except RuntimeError as exc:
        raise PrometheusError(str(exc)) from exc
    found = find_binaries()
    if found is None:
        raise PrometheusError("apt-get installed prometheus but prometheus/promtool not on PATH")
    return found


def local_targets() -> list[Target]:
    """``deploy/prometheus/targets/local.yml``: the five services as ``make run`` starts them."""
    groups = yaml.safe_load((DEPLOY_DIR / "targets" / "local.yml").read_text())
    return [Target(g["labels"]["service"], g["labels"]["role"], address)
            for g in groups for address in g["targets"]]


def write_config(directory: Path, targets: Iterable[Target], *,
                 scrape_interval: str | None = None,
                 evaluation_interval: str | None = None) -> Path:
    """``deploy/prometheus/prometheus.yml`` for ``targets``, written into ``directory``: rule
    files by absolute path, the targets in ``directory/targets.yml``. Returns the config path."""
    directory.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = yaml.safe_load(CONFIG.read_text())
    if scrape_interval:
        config["global"]["scrape_interval"] = scrape_interval
        config["global"]["scrape_timeout"] = scrape_interval
    if evaluation_interval:  # every group, also those with an interval of their own
        config["global"]["evaluation_interval"] = evaluation_interval
        rules_dir = directory / "rules"
        rules_dir.mkdir(exist_ok=True)
        copies = []
        for rule in config["rule_files"]:
            rules = yaml.safe_load((DEPLOY_DIR / rule).read_text())
            for group in rules["groups"]:
                group["interval"] = evaluation_interval
            copy = rules_dir / Path(rule).name
            copy.write_text(yaml.safe_dump(rules, allow_unicode=True, sort_keys=False))
            copies.append(str(copy))
        config["rule_files"] = copies
    else:
        config["rule_files"] = [str(DEPLOY_DIR / rule) for rule in config["rule_files"]]
    groups: list[dict[str, Any]] = []
    for target in targets:
        groups.append({"targets": [target.address],
                       "labels": {"service": target.service, "role": target.role}})
    targets_file = directory / "targets.yml"
    targets_file.write_text(yaml.safe_dump(groups, allow_unicode=True, sort_keys=False))
    for job in config["scrape_configs"]:
        for sd in job.get("file_sd_configs", []):
            sd["files"] = [str(targets_file)]
            sd["refresh_interval"] = "5s"
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    return path


class PrometheusServer:
    """The ``prometheus`` binary on 127.0.0.1:``port`` with ``config``, its TSDB and log in
    ``data_dir``."""

    def __init__(self, config: Path, data_dir: Path, port: int | None = None) -> None:
        self.config = config
        self.data_dir = data_dir
        self.port = port if port is not None else free_loopback_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "prometheus.log"

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 60) -> None:
        """Start the server; return once ``/-/ready`` answers."""
        server, _ = ensure_installed()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [server, f"--config.file={self.config}",
               f"--storage.tsdb.path={self.data_dir / 'tsdb'}",
               f"--web.listen-address=127.0.0.1:{self.port}",
               "--web.enable-lifecycle", "--log.level=warn"]
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                             start_new_session=True)
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise PrometheusError(f"prometheus exited ({self._process.returncode}):\n"
                                      f"{self._log_tail()}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise PrometheusError(f"prometheus not ready on {self.url} after {timeout:.0f}s"
                                      f":\n{self._log_tail()}")
            time.sleep(0.2)

    def stop(self, timeout: float = 20) -> None:
        atexit.unregister(self.stop)
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return f"<{self.log_file} not readable>"

    def __enter__(self) -> PrometheusServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
