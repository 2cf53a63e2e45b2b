"""Installing a Debian package the tests need (PostgreSQL, Prometheus) when it is missing."""

from __future__ import annotations

import os
import shutil
import subprocess


def apt_install(package: str, what: str) -> None:
    """``apt-get update`` then ``apt-get install -y PACKAGE``; RuntimeError naming the step
    that failed, with the end of its output."""
    if shutil.which("apt-get") is None:
        raise RuntimeError(f"{what} is not installed and apt-get is not available")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", package]):
        result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            output = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
            raise RuntimeError(
                f"installing {what} failed at `{' '.join(cmd)}` (exit {result.returncode}; "
                f"needs root and access to the Debian mirrors):\n{output}"
            )
