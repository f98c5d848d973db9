"""A throwaway database for the benchmarks: created on the PostgreSQL server at
``BANDHUB_TEST_DATABASE_URL`` (default 127.0.0.1:5432), migrated, dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from bandhub.db import migrate

SERVER = os.environ.get(
    "BANDHUB_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def throwaway_db(keep: bool = False, migrated: bool = True) -> Iterator[str]:
    """A fresh database on SERVER (migrated unless told not to), dropped afterwards."""
    name = f"bandhub_scale_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = psycopg.conninfo.make_conninfo(SERVER, dbname=name)
    try:
        if migrated:
            migrate(url)
        yield url
    finally:
        if not keep:
            with psycopg.connect(SERVER, autocommit=True) as admin:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
