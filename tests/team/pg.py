"""A throwaway PostgreSQL server for the team tests and the load bench.

initdb + pg_ctl in a temp dir, listening on a free port on 127.0.0.1 and on a unix socket in the
same dir. initdb refuses to run as root: as root the server runs as the `postgres` system user
(runuser), in a dir that user owns. The superuser connects over the socket (trust); the team's
role logs in over TCP with a password (scram), as a developer's kenetic would.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

TEAM_ROLE = "kenetic_team"
TEAM_PASSWORD = "team-secret-for-tests"


def _bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                      key=lambda p: int(p.split("/")[4]))  # fmt: skip
    if not versions:
        raise RuntimeError(f"{name} not found: run tests/team/setup_postgres.sh")
    return versions[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Postgres:
    def __init__(self, fsync: bool = False) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="kenetic-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.fsync = fsync
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth-local=trust",
                  "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync")  # fmt: skip
        self._databases = 0

    def _run(self, *cmd: str) -> str:
        done = subprocess.run([*self._as, *cmd], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def start(self) -> None:
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
                f" -c max_connections=100 -c fsync={'on' if self.fsync else 'off'}")  # fmt: skip
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-o", opts,
                  "-w", "-t", "60", "start")  # fmt: skip

    def stop(self) -> None:
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):  # already stopped
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def admin(self, database: str = "postgres"):  # -> psycopg.Connection
        import psycopg

        return psycopg.connect(host=str(self.root), port=self.port, user="postgres",
                               dbname=database, autocommit=True)  # fmt: skip

    def team_database(self) -> str:
        """A new database for one team, with the least-privilege role of docs/team.md; its URL
        (no password in it: the role's password goes in PGPASSWORD)."""
        self._databases += 1
        name = f"team_{self._databases}"
        with self.admin() as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (TEAM_ROLE,))
            if exists.fetchone() is None:
                conn.execute(f"CREATE ROLE {TEAM_ROLE} LOGIN PASSWORD '{TEAM_PASSWORD}'"
                             " NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT")  # fmt: skip
            conn.execute(f"CREATE DATABASE {name}")
            conn.execute(f"REVOKE ALL ON DATABASE {name} FROM PUBLIC")
            conn.execute(f"GRANT CONNECT ON DATABASE {name} TO {TEAM_ROLE}")
        with self.admin(name) as conn:
            conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
            conn.execute(f"CREATE SCHEMA kenetic AUTHORIZATION {TEAM_ROLE}")
        return f"postgresql://{TEAM_ROLE}@127.0.0.1:{self.port}/{name}"
