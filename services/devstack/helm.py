"""Helm, for rendering and linting the chart in ``deploy/helm`` (the tests need it).

Installed with the Go toolchain (``go install``) into the git-ignored ``.cache/bin`` when it is
not on the PATH already: Go is on the machine, and the Go module proxy serves helm's source.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
HELM_MODULE = "helm.sh/helm/v3/cmd/helm"
HELM_VERSION = "v3.22.0"
CACHE_BIN = REPO_ROOT / ".cache" / "bin"
GO_FALLBACKS = (Path("/usr/local/go/bin/go"), Path("/usr/lib/go/bin/go"))


class HelmError(RuntimeError):
    pass


def find_helm() -> Path | None:
    cached = CACHE_BIN / "helm"
    if cached.is_file() and os.access(cached, os.X_OK):
        return cached
    found = shutil.which("helm")
    return Path(found) if found else None


def _go() -> str:
    found = shutil.which("go")
    if found:
        return found
    for candidate in GO_FALLBACKS:
        if candidate.is_file():
            return str(candidate)
    raise HelmError("helm is not installed and no Go toolchain was found to build it")


def ensure_helm() -> Path:
    """The helm binary, building it with ``go install`` first if missing (a few minutes the
    first time; Go's module and build caches make later installs quick)."""
    helm = find_helm()
    if helm is not None:
        return helm
    CACHE_BIN.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOBIN": str(CACHE_BIN)}
    cmd = [_go(), "install", f"{HELM_MODULE}@{HELM_VERSION}"]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
        raise HelmError(f"`{' '.join(cmd)}` failed (exit {result.returncode}):\n{tail}")
    helm = find_helm()
    if helm is None:
        raise HelmError(f"go install succeeded but no helm in {CACHE_BIN}")
    return helm
