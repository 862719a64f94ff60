"""A project-local PostGIS cluster, so `make run` needs no database administrator.

The cluster lives in ``<home>/pg<major>`` (``home`` defaults to ``.citygrid/`` in the checkout,
git-ignored). PostgreSQL refuses to run as root, so when invoked as root every server command
runs as an unprivileged system user (Debian's ``postgres``). The server listens on 127.0.0.1
only, with ``trust`` authentication: it is a development and test database, never a
production one (set ``DATABASE_URL`` for that).

Its port is chosen once, when the cluster is created, and kept: a `citygrid db stop` and
`db start` bring it back where a running server (and its connection pools) will find it again.
The settings CityGrid manages live in ``citygrid.conf`` in the data directory, rewritten at
every start and included last by ``postgresql.conf``, so a changed default reaches clusters
made by older versions too.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg2

DB_NAME = "citygrid"
DB_USER = "citygrid"
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    # No unix socket: its path length limit (107 bytes) breaks deep checkouts.
    "unix_socket_directories": "''",
    "max_connections": "200",
    "shared_buffers": "256MB",
    "work_mem": "32MB",
    "maintenance_work_mem": "512MB",
    "max_wal_size": "4GB",
    # A 2xx means stored on disk: every commit waits for its WAL flush. Reports that arrive
    # together share one commit (app.services.intake.reports), so this costs little.
    "synchronous_commit": "on",
    "logging_collector": "off",
    "timezone": "'UTC'",
    "jit": "off",
}


class EmbeddedError(RuntimeError):
    """The embedded cluster cannot be set up or started; the message says what to do."""


@dataclass
class Status:
    """What `citygrid db status` prints."""

    running: bool
    data_dir: Path
    port: int | None
    pid: int | None

    @property
    def url(self) -> str | None:
        return dsn(self.port) if self.running and self.port else None


def dsn(port: int, database: str = DB_NAME) -> str:
    """The SQLAlchemy URL of the embedded cluster on ``port``."""
    return f"postgresql+psycopg2://{DB_USER}@127.0.0.1:{port}/{database}"


def find_bindir() -> Path:
    """The newest PostgreSQL (>= 15) server binaries installed."""
    candidates = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "pg_ctl").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if candidates and int(candidates[-1].parent.name) >= 15:
        return candidates[-1]
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise EmbeddedError(
        "PostgreSQL server not found. Install it with:\n"
        "  sudo apt-get install -y postgresql-15 postgresql-15-postgis-3"
    )


class EmbeddedPostgres:
    """Start, stop and locate the project's own PostGIS cluster."""

    def __init__(self, home: Path, run_as: str | None = None):
        self.bindir = find_bindir()
        major = self.bindir.parent.name
        self.run_as = run_as or (
            os.environ.get("CITYGRID_PG_USER", "postgres") if os.geteuid() == 0 else None
        )
        self.home = self._usable_home(Path(home).resolve())
        self.data_dir = self.home / f"pg{major}"
        self.log_file = self.home / "postgres.log"

    # -- public -----------------------------------------------------------------------------

    def status(self) -> Status:
        """Whether the server of this data directory is running, and on which port."""
        pid, port = self._read_pid_file()
        running = pid is not None and _is_postgres(pid, self.data_dir)
        return Status(running, self.data_dir, port if running else None, pid if running else None)

    def start(self, timeout: float = 60) -> str:
        """Initialise on first use, start if stopped, ensure database and postgis; return the URL."""
        status = self.status()
        if not status.running:
            if not (self.data_dir / "PG_VERSION").exists():
                self._initdb()
            self._remove_stale_pid_file()
            self._write_settings()
            self._pg(
                "pg_ctl",
                "start",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                str(int(timeout)),
            )
            status = self.status()
            if not status.running:
                raise EmbeddedError(f"PostgreSQL did not start; see {self.log_file}")
        assert status.port is not None
        self._ensure_database(status.port)
        return dsn(status.port)

    def stop(self) -> bool:
        """Stop the server if it runs; return whether it was running."""
        if not self.status().running:
            self._remove_stale_pid_file()
            return False
        self._pg("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60")
        return True

    # -- internals --------------------------------------------------------------------------

    def _usable_home(self, home: Path) -> Path:
        """``home``, or a per-checkout folder under /var/tmp when ``run_as`` cannot reach it.

        Root's checkouts often sit under /root (mode 700), which the postgres user cannot
        traverse; the cluster then lives under /var/tmp, keyed by the checkout's path.
        """
        home.mkdir(parents=True, exist_ok=True)
        if self.run_as is None:
            return home
        user = pwd.getpwnam(self.run_as)
        os.chown(home, user.pw_uid, user.pw_gid)
        if self._as_user_ok(["test", "-w", str(home)]):
            return home
        key = hashlib.sha1(str(home).encode()).hexdigest()[:12]
        alt = Path("/var/tmp") / f"citygrid-{key}"
        alt.mkdir(mode=0o700, exist_ok=True)
        os.chown(alt, user.pw_uid, user.pw_gid)
        (home / "WHERE_IS_THE_DATABASE.txt").write_text(
            f"{self.run_as} cannot write here, so the embedded cluster lives in {alt}\n"
        )
        return alt

    def _as_user_ok(self, cmd: list[str]) -> bool:
        return subprocess.run(cmd, user=self.run_as, capture_output=True).returncode == 0

    def _pg(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / program), *args]
        proc = subprocess.run(
            cmd,
            user=self.run_as,
            capture_output=True,
            text=True,
            cwd=self.home,
            env={**os.environ, "LC_ALL": "C.UTF-8"},
        )
        if proc.returncode != 0:
            log_tail = (
                self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
            )
            raise EmbeddedError(
                f"{program} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}"
                + (f"\n--- {self.log_file} ---\n{log_tail}" if log_tail else "")
            )
        return proc

    def _initdb(self) -> None:
        self._pg(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            DB_USER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )

    @property
    def port_file(self) -> Path:
        return self.data_dir / "citygrid.port"

    def _port(self) -> int:
        """The cluster's own port: chosen once, kept; a new one only if another program has
        taken it meanwhile. It is kept in ``citygrid.port`` in the data directory."""
        try:
            port = int(self.port_file.read_text().strip())
        except (OSError, ValueError):
            port = None
        if port is None or not _port_is_free(port):
            port = _free_port()
            self.port_file.write_text(f"{port}\n")
        return port

    def _write_settings(self) -> None:
        """``citygrid.conf`` with the current settings and port, included last."""
        conf = self.data_dir / "postgresql.conf"
        include = "include_if_exists = 'citygrid.conf'"
        if include not in conf.read_text(encoding="utf-8"):
            with open(conf, "a", encoding="utf-8") as f:
                f.write(
                    f"\n# citygrid embedded cluster: its settings, rewritten at each start\n{include}\n"
                )
        settings = {**SERVER_SETTINGS, "port": str(self._port())}
        target = self.data_dir / "citygrid.conf"
        target.write_text("".join(f"{k} = {v}\n" for k, v in settings.items()), encoding="utf-8")
        if self.run_as is not None:
            user = pwd.getpwnam(self.run_as)
            for path in (target, self.port_file):
                os.chown(path, user.pw_uid, user.pw_gid)

    def _read_pid_file(self) -> tuple[int | None, int | None]:
        # postmaster.pid: line 1 pid, line 4 port (PostgreSQL's documented layout).
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            return int(lines[0]), int(lines[3])
        except (OSError, ValueError, IndexError):
            return None, None

    def _remove_stale_pid_file(self) -> None:
        """Remove a postmaster.pid left by a crash, so the next start is not refused."""
        pid, _ = self._read_pid_file()
        pid_file = self.data_dir / "postmaster.pid"
        if pid_file.exists() and (pid is None or not _is_postgres(pid, self.data_dir)):
            pid_file.unlink()

    def _ensure_database(self, port: int) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg2.connect(
                    host="127.0.0.1", port=port, user=DB_USER, dbname="postgres"
                )
                break
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{DB_NAME}"')
        conn.close()
        conn = psycopg2.connect(host="127.0.0.1", port=port, user=DB_USER, dbname=DB_NAME)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        conn.close()


def _is_postgres(pid: int, data_dir: Path) -> bool:
    """Whether ``pid`` is the postmaster of ``data_dir`` (a crashed one's pid may be reused)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(cmdline) and cmdline[0].endswith(b"postgres") and str(data_dir).encode() in cmdline


def _port_is_free(port: int) -> bool:
    """Whether the server could listen on ``port`` (it, too, sets SO_REUSEADDR: connections of
    its last run lingering in TIME_WAIT do not take the port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
