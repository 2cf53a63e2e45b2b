"""A throwaway PostgreSQL cluster on 127.0.0.1 from Debian's ``postgresql`` package.

PostgreSQL refuses to run as root, so when we are root every server-side command runs as the
``postgres`` OS user (``runuser``) and the data directory is handed to that user. Clients connect
over TCP only (no Unix socket), as the ``postgres`` role, with trust authentication.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from services.devstack.apt import apt_install
from services.devstack.net import free_loopback_port

DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")
PG_OS_USER = "postgres"
SUPERUSER = "postgres"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class PostgresError(RuntimeError):
    """PostgreSQL could not be installed, started, stopped or queried."""


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.name)) or (0,)


def find_bin_dir() -> Path | None:
    """Debian's ``/usr/lib/postgresql/<version>/bin`` of the highest installed version."""
    if not DEBIAN_PG_ROOT.is_dir():
        return None
    candidates = [
        version_dir / "bin"
        for version_dir in DEBIAN_PG_ROOT.iterdir()
        if (version_dir / "bin" / "postgres").is_file()
        and (version_dir / "bin" / "initdb").is_file()
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda bin_dir: _version_key(bin_dir.parent))


def ensure_installed() -> Path:
    """The server's bin dir, installing Debian's ``postgresql`` package first if missing."""
    bin_dir = find_bin_dir()
    if bin_dir is not None:
        return bin_dir
    try:
        apt_install("postgresql", "PostgreSQL")
    except RuntimeError as exc:
        raise PostgresError(str(exc)) from exc
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise PostgresError(f"apt-get installed postgresql but no server found in {DEBIAN_PG_ROOT}")
    return bin_dir


def _is_root() -> bool:
    return os.geteuid() == 0


def _as_pg_user(cmd: list[str]) -> list[str]:
    """Run ``cmd`` as the postgres OS user when we are root (the server refuses root)."""
    return ["runuser", "-u", PG_OS_USER, "--", *cmd] if _is_root() else cmd


def _check_identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


class PostgresCluster:
    """One PostgreSQL server: cluster files in ``<data_dir>/pgdata``, log in ``postgres.log``.

    ``data_dir`` must be reachable by the ``postgres`` OS user when running as root (every parent
    directory traversable): pytest's ``tmp_path`` (under a 0700 directory) is not; a directory
    made with ``tempfile.mkdtemp()`` in /tmp is.
    """

    def __init__(self, data_dir: Path, port: int | None = None, *, fsync: bool = False) -> None:
        self.data_dir = data_dir
        self.port = port if port is not None else free_loopback_port()
        self.fsync = fsync
        self._bin_dir: Path | None = None

    # ------------------------------------------------------------------------ paths

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "postgres.log"

    @property
    def bin_dir(self) -> Path:
        if self._bin_dir is None:
            self._bin_dir = ensure_installed()
        return self._bin_dir

    def _bin(self, name: str) -> str:
        return str(self.bin_dir / name)

    def url(self, name: str) -> str:
        """Async SQLAlchemy URL of database ``name``."""
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self.port}/{name}"

    def dsn(self, name: str) -> str:
        """libpq / asyncpg DSN of database ``name``."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{name}"

    # --------------------------------------------------------------------- commands

    def _run(
        self, cmd: list[str], *, as_pg: bool = True, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        full = _as_pg_user(cmd) if as_pg else cmd
        # cwd=/ : the postgres user may not be allowed into our working directory.
        result = subprocess.run(
            full, capture_output=True, text=True, cwd="/", timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise PostgresError(
                f"`{' '.join(cmd)}` failed (exit {result.returncode}):\n"
                f"{(result.stdout + result.stderr).strip()}"
            )
        return result

    def _psql(self, sql: str, database: str = "postgres") -> str:
        cmd = [
            self._bin("psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1",
            "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, "-d", database, "-c", sql,
        ]  # fmt: skip
        return self._run(cmd).stdout.strip()

    # -------------------------------------------------------------------- lifecycle

    def _prepare_data_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not _is_root():
            return
        shutil.chown(self.data_dir, PG_OS_USER, PG_OS_USER)
        self.data_dir.chmod(0o700)
        if self.log_file.exists():
            shutil.chown(self.log_file, PG_OS_USER, PG_OS_USER)
        probe = self._run(["test", "-w", str(self.data_dir)], check=False)
        if probe.returncode != 0:
            raise PostgresError(
                f"the {PG_OS_USER} OS user cannot write {self.data_dir}: every parent directory "
                "must be traversable by it (pytest's tmp_path and subdirectories of mkdtemp() dirs "
                "are not, being 0700); use a fresh tempfile.mkdtemp() directory itself, or a "
                "directory under the repo's .cache/"
            )

    def _initdb(self) -> None:
        if (self.pgdata / "PG_VERSION").is_file():
            return
        self._run([
            self._bin("initdb"), "-D", str(self.pgdata), "-U", SUPERUSER, "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-sync",
        ])  # fmt: skip
        conf = self.pgdata / "postgresql.conf"
        with conf.open("a") as fh:
            fh.write("\n# Written on every start by services/devstack/postgres.py\n")
            fh.write("include_if_exists = 'devstack.conf'\n")

    def _write_settings(self) -> None:
        flag = "on" if self.fsync else "off"
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": "''",
            "max_connections": "200",
            "fsync": flag,
            "synchronous_commit": flag,
            "full_page_writes": flag,
            "log_min_messages": "warning",
        }
        text = "".join(f"{key} = {value}\n" for key, value in settings.items())
        target = self.pgdata / "devstack.conf"
        target.write_text(text)
        if _is_root():
            shutil.chown(target, PG_OS_USER, PG_OS_USER)

    def is_running(self) -> bool:
        if not (self.pgdata / "PG_VERSION").is_file():
            return False
        status = [self._bin("pg_ctl"), "status", "-D", str(self.pgdata)]
        return self._run(status, check=False).returncode == 0

    def is_ready(self) -> bool:
        cmd = [self._bin("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port),
               "-U", SUPERUSER, "-d", "postgres", "-t", "2"]  # fmt: skip
        return self._run(cmd, as_pg=False, check=False).returncode == 0

    def start(self, timeout: float = 60) -> None:
        """initdb on first use, start the server, return once it accepts connections."""
        self._prepare_data_dir()
        self._initdb()
        if self.is_running():
            raise PostgresError(f"PostgreSQL already running on {self.pgdata}")
        self._write_settings()
        cmd = [
            self._bin("pg_ctl"), "start", "-D", str(self.pgdata), "-l", str(self.log_file),
            "-w", "-t", str(max(1, int(timeout))),
        ]  # fmt: skip
        atexit.register(self.stop)  # pg_ctl detaches the server: stop it when we exit
        result = self._run(cmd, check=False, timeout=timeout + 30)
        if result.returncode != 0:
            raise PostgresError(
                f"pg_ctl start failed (exit {result.returncode}): {result.stdout}{result.stderr}\n"
                f"{self.log_file} ends with:\n{self._log_tail()}"
            )
        deadline = time.monotonic() + timeout
        while not self.is_ready():
            if time.monotonic() > deadline:
                raise PostgresError(
                    f"PostgreSQL not accepting connections on 127.0.0.1:{self.port} after "
                    f"{timeout:.0f}s; {self.log_file} ends with:\n{self._log_tail()}"
                )
            time.sleep(0.2)

    def stop(self, timeout: float = 60) -> None:
        """Fast shutdown (disconnects clients); immediate shutdown if that does not finish."""
        atexit.unregister(self.stop)
        if not self.is_running():
            return
        base = [self._bin("pg_ctl"), "stop", "-D", str(self.pgdata), "-w"]
        result = self._run(
            [*base, "-m", "fast", "-t", str(max(1, int(timeout)))],
            check=False,
            timeout=timeout + 30,
        )
        if result.returncode != 0 and self.is_running():
            self._run([*base, "-m", "immediate", "-t", "30"], timeout=60)

    def crash(self) -> None:
        """Stop as a crash would (``pg_ctl stop -m immediate``): clients lose their connections
        at once; ``start()`` again recovers the cluster from its WAL."""
        atexit.unregister(self.stop)
        if self.is_running():
            self._run([self._bin("pg_ctl"), "stop", "-D", str(self.pgdata), "-w", "-m",
                       "immediate", "-t", "30"], timeout=60)

    def _log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return f"<{self.log_file} not readable>"
        return "\n".join(text.splitlines()[-lines:])

    # -------------------------------------------------------------------- databases

    def create_database(self, name: str) -> str:
        """Create database ``name`` unless it exists; return its async SQLAlchemy URL."""
        _check_identifier(name)
        exists = self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
        if exists != "1":
            try:
                self._psql(f'CREATE DATABASE "{name}"')
            except PostgresError as exc:  # created concurrently by someone else
                if "already exists" not in str(exc):
                    raise
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, disconnecting its sessions."""
        _check_identifier(name)
        self._psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def __enter__(self) -> PostgresCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------- streaming replication

STANDBY_NAME = "standby"
"""The standby's ``cluster_name``, hence its walreceiver's ``application_name``, which the
primary's ``synchronous_standby_names`` waits for."""


def _kill_process_tree(pid: int) -> None:
    """SIGKILL a postmaster and every process it started, at once (a crashed machine): the
    backends would otherwise keep their client connections open for a moment."""
    try:
        if os.getpgid(pid) == pid:  # pg_ctl starts the postmaster in a session of its own
            os.killpg(pid, signal.SIGKILL)
            return
    except ProcessLookupError:
        return
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    for target in (pid, *children):
        with contextlib.suppress(ProcessLookupError):
            os.kill(target, signal.SIGKILL)


class ReplicatedPostgres(PostgresCluster):
    """A PostgreSQL server of a :class:`PostgresPair`: commits are durable once written
    (``synchronous_commit = on``, whatever ``fsync``), the primary waits for the standby named
    in ``synchronous_standby``, the standby serves reads (hot standby) under ``cluster_name``."""

    def __init__(self, data_dir: Path, port: int | None = None, *, fsync: bool = False,
                 synchronous_standby: str = "", name: str = "") -> None:
        super().__init__(data_dir, port, fsync=fsync)
        self.synchronous_standby = synchronous_standby
        self.name = name

    def _write_settings(self) -> None:
        super()._write_settings()
        extra = {
            "synchronous_commit": "on",  # the standby confirms every commit before it returns
            "wal_level": "replica",
            "max_wal_senders": "5",
            "hot_standby": "on",
            "wal_keep_size": "'256MB'",
        }
        if self.synchronous_standby:
            extra["synchronous_standby_names"] = f"'{self.synchronous_standby}'"
        if self.name:
            extra["cluster_name"] = f"'{self.name}'"
        target = self.pgdata / "devstack.conf"
        with target.open("a") as fh:
            fh.write("".join(f"{key} = {value}\n" for key, value in extra.items()))

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def kill(self) -> None:
        """SIGKILL the server and its backends (no shutdown checkpoint, no goodbye to clients)."""
        pid = self.postmaster_pid()
        if pid is not None:
            _kill_process_tree(pid)
        atexit.unregister(self.stop)

    def base_backup_from(self, primary: PostgresCluster, timeout: float = 300) -> None:
        """Make this server's data directory a copy of ``primary``'s with ``pg_basebackup -R``
        (``standby.signal`` and ``primary_conninfo`` written: it starts as its standby)."""
        self._prepare_data_dir()
        if (self.pgdata / "PG_VERSION").is_file():
            return
        self._run([
            self._bin("pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port),
            "-U", SUPERUSER, "-D", str(self.pgdata), "-R", "-X", "stream", "-c", "fast",
            "--no-sync",
        ], timeout=timeout)  # fmt: skip

    def promote(self, timeout: float = 60) -> None:
        """``pg_ctl promote``: the standby ends recovery and takes writes."""
        self._run([self._bin("pg_ctl"), "promote", "-D", str(self.pgdata), "-w",
                   "-t", str(max(1, int(timeout)))], timeout=timeout + 30)

    def in_recovery(self) -> bool:
        return self._psql("SELECT pg_is_in_recovery()") == "t"


class PostgresPair:
    """A primary and its synchronous streaming standby on 127.0.0.1 (``<data_dir>/primary``,
    ``<data_dir>/standby``). Clients use :meth:`url`, listing both servers with
    ``target_session_attrs=read-write``: they reach whichever is the primary, before and after
    :meth:`fail_over`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.primary = ReplicatedPostgres(data_dir / "primary",
                                          synchronous_standby=STANDBY_NAME, name="primary")
        self.standby = ReplicatedPostgres(data_dir / "standby", name=STANDBY_NAME)

    def start(self, timeout: float = 120) -> None:
        """Start the primary, copy it to the standby, start that, and return once the primary
        reports it as its synchronous standby."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if _is_root():
            shutil.chown(self.data_dir, PG_OS_USER, PG_OS_USER)
        self.primary.start(timeout)
        self.standby.base_backup_from(self.primary)
        self.standby.start(timeout)
        deadline = time.monotonic() + timeout
        query = "SELECT sync_state FROM pg_stat_replication WHERE application_name = "
        while self.primary._psql(f"{query}'{STANDBY_NAME}'") != "sync":
            if time.monotonic() > deadline:
                raise PostgresError(f"the standby did not become synchronous in {timeout:.0f}s")
            time.sleep(0.2)

    def url(self, name: str) -> str:
        """Async SQLAlchemy URL of database ``name`` on whichever server takes writes."""
        _check_identifier(name)
        hosts = "&".join(f"host=127.0.0.1:{s.port}" for s in (self.primary, self.standby))
        return f"postgresql+asyncpg://{SUPERUSER}@/{name}?{hosts}&target_session_attrs=read-write"

    def create_database(self, name: str) -> str:
        """Create database ``name`` on the primary (the standby follows); its multi-host URL."""
        self.primary.create_database(name)
        return self.url(name)

    def fail_over(self) -> None:
        """SIGKILL the primary, promote the standby."""
        self.primary.kill()
        self.standby.promote()

    def stop(self) -> None:
        for server in (self.standby, self.primary):
            with contextlib.suppress(PostgresError):
                server.stop()

    def __enter__(self) -> PostgresPair:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
