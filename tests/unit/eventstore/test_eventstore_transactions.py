"""The transaction runner's retry and error translation, with a fake engine."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc

from eventstoresvc import transactions
from kit.errors import Internal, Unavailable


class FakeDriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


class FakeConnection:
    def execution_options(self, **options: Any) -> FakeConnection:
        return self

    @contextmanager
    def begin(self) -> Any:
        yield self

    def __enter__(self) -> FakeConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class FakeEngine:
    def connect(self) -> FakeConnection:
        return FakeConnection()


def db_error(kind: type[sa_exc.DBAPIError], sqlstate: str) -> sa_exc.DBAPIError:
    return kind("SELECT 1", {}, FakeDriverError(sqlstate))


def test_serialization_failures_are_retried_until_success(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transactions.time, "sleep", lambda s: None)
    attempts = []

    def work(conn: object) -> str:
        attempts.append(conn)
        if len(attempts) < 4:
            raise db_error(sa_exc.OperationalError, "40001")
        return "done"

    assert transactions.run(FakeEngine(), work) == "done"  # type: ignore[arg-type]
    assert len(attempts) == 4


@pytest.mark.parametrize(("error", "expected"), [
    (db_error(sa_exc.OperationalError, "40001"), Unavailable),
    (db_error(sa_exc.OperationalError, "08006"), Unavailable),
    (db_error(sa_exc.ProgrammingError, "42P01"), Internal),
])
def test_errors_are_translated(monkeypatch: pytest.MonkeyPatch, error: Exception, expected: type) -> None:
    monkeypatch.setattr(transactions.time, "sleep", lambda s: None)

    def work(conn: object) -> None:
        raise error

    with pytest.raises(expected):
        transactions.run(FakeEngine(), work, attempts=3)  # type: ignore[arg-type]


def test_integrity_errors_are_left_to_the_caller() -> None:
    def work(conn: object) -> None:
        raise db_error(sa_exc.IntegrityError, "23505")  # type: ignore[arg-type]

    with pytest.raises(sa_exc.IntegrityError):
        transactions.run(FakeEngine(), work)  # type: ignore[arg-type]


def test_backoff_is_bounded() -> None:
    assert all(0 <= transactions.backoff(n) <= 0.5 for n in range(30))
