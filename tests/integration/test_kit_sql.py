"""kit.sql engines on a real SQLite file: WAL, the synchronous pragma, and BEGIN IMMEDIATE for writers."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from kit.sql import make_engine, normalise_url, with_engine, writing


def test_driverless_urls_get_psycopg() -> None:
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("cockroachdb://u@h/db") == "cockroachdb+psycopg://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_sqlite_gets_its_directory_wal_and_the_synchronous_asked_for(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'dir' / 'x.db'}"

    def pragmas(engine: Engine) -> tuple[str, int]:
        with engine.connect() as conn:
            return (conn.exec_driver_sql("PRAGMA journal_mode").scalar(),
                    conn.exec_driver_sql("PRAGMA synchronous").scalar())

    assert with_engine(url, pragmas) == ("wal", 2)  # FULL
    normal = make_engine(url, sqlite_synchronous="NORMAL")
    try:
        assert pragmas(normal) == ("wal", 1)
    finally:
        normal.dispose()


def test_a_writing_transaction_holds_the_write_lock_from_begin(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (n INTEGER)"))
        with engine.connect() as conn, writing(conn).begin():
            conn.execute(text("SELECT count(*) FROM t"))  # a read only, yet the lock is held
            other = sqlite3.connect(path, timeout=0.1)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("INSERT INTO t VALUES (1)")
            other.close()
        with engine.connect() as conn, conn.begin():  # a plain transaction locks nothing until it writes
            conn.execute(text("SELECT count(*) FROM t"))
            other = sqlite3.connect(path, timeout=0.1)
            other.execute("INSERT INTO t VALUES (1)")
            other.commit()
            other.close()
    finally:
        engine.dispose()
