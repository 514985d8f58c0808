"""The store: a SQLAlchemy engine on SQLite (WAL) or PostgreSQL, migrated by Alembic.

Write transactions are serialized where the ledger needs it: on SQLite every
transaction starts with ``BEGIN IMMEDIATE`` (the database's write lock, taken
up front, so two appenders never both read the same ledger size); on
PostgreSQL the ledger locks its state row (``SELECT ... FOR UPDATE``).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from custodes.errors import DataFileError, SettingError

__all__ = ["HEAD_REVISION", "Store"]

_OPEN: weakref.WeakSet[Store] = weakref.WeakSet()

HEAD_REVISION = "0011"
"""The newest migration; a store at another revision must be migrated (``custodes init``)."""


def _shown(url: str) -> str:
    """The URL without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a database URL)"


class Store:
    """One database: the ledger and, later, the catalog and requests."""

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise SettingError(
                "store_url is not a database URL; give e.g. sqlite:///path/custodes.db or "
                "postgresql+psycopg://user@host/db."
            ) from None
        self.url = url
        self.shown = _shown(url)
        self.dialect = parsed.get_backend_name()
        options: dict[str, Any] = {}
        if self.dialect == "sqlite":
            options["connect_args"] = {"timeout": 60, "check_same_thread": False}
        try:
            self.engine: Engine = create_engine(url, **options)
        except (NoSuchModuleError, ImportError):
            raise SettingError(
                f"no database driver for {self.shown}; use sqlite:/// or postgresql+psycopg://."
            ) from None
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        _OPEN.add(self)
        # A store dropped without dispose() still closes its connections.
        weakref.finalize(self, self.engine.dispose)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits together at the end, or not at all."""
        try:
            with self._sessions.begin() as session:
                yield session
        except OperationalError as exc:
            raise DataFileError(
                f"the store {self.shown} failed: {type(exc.orig).__name__}; check that the "
                "database is reachable and was set up with `custodes init`."
            ) from None

    def migrate(self) -> None:
        """Bring the schema to the newest revision (harmless when it is already there)."""
        from alembic import command  # only migrations need Alembic (slow to import)
        from alembic.config import Config

        config = Config()
        location = resources.files("custodes.store").joinpath("migrations")
        config.set_main_option("script_location", str(location))
        try:
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except OperationalError as exc:
            raise DataFileError(
                f"cannot set up the store {self.shown}: {type(exc.orig).__name__}; check the "
                "URL and that the server is running."
            ) from None

    def revision(self) -> str | None:
        """The schema's migration revision (None: not set up)."""
        try:
            with self.engine.connect() as connection:
                from alembic.runtime.migration import MigrationContext

                return MigrationContext.configure(connection).get_current_revision()
        except OperationalError as exc:
            raise DataFileError(
                f"cannot open the store {self.shown}: {type(exc.orig).__name__}."
            ) from None

    def check(self) -> None:
        """Fail unless the schema is set up and current."""
        found = self.revision()
        if found != HEAD_REVISION:
            state = "is not set up" if found is None else f"is at revision {found}"
            raise SettingError(
                f"the store {self.shown} {state}; run `custodes init` to set it up or migrate it."
            )

    def dispose(self) -> None:
        """Close every connection."""
        self.engine.dispose()

    @staticmethod
    def dispose_all() -> None:
        """Close the connections of every store opened in this process."""
        for store in list(_OPEN):
            store.dispose()


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")
