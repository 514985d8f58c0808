"""Database tables by URI: ``sqlite:///path.db`` and ``postgresql://user@host:port/db``.

The table is named by ``table=`` or by a fragment: ``sqlite:///x.db#people``
(the fragment never reaches the server; percent-encode a ``#`` in a
password). A PostgreSQL table may be ``schema.table``. A database with one
table needs no name. SQLite files are opened read-only.

The frame is lazy: nothing is read until it is collected, and then only the
columns asked for (``SELECT "a", "b" FROM "t"``, quoted by SQLAlchemy), in
batches. Column types come from the database driver, sampled on the first
1000 rows. Names and messages never include the password.
"""

from __future__ import annotations

import re
import sqlite3
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from polars.io.plugins import register_io_source

from custodes.errors import (
    DataFileError,
    MalformedTableError,
    SettingError,
    UnsupportedError,
    closest,
)

from ._source import TableSource, missing_file

__all__ = ["read_database", "scrub"]

_BATCH = 50_000
_SECRET_KEYS = ("password", "sslpassword")
_PYTHON_TYPES: dict[type, pl.DataType] = {
    int: pl.Int64(),
    float: pl.Float64(),
    str: pl.String(),
    bool: pl.Boolean(),
    bytes: pl.Binary(),
}


def scrub(uri: str) -> str:
    """``uri`` with any password removed, for messages about URIs that do not parse."""
    return re.sub(r"(?i)(password=)[^&#]*", r"\1***", re.sub(r"(://[^/@:]*):[^/]*@", r"\1@", uri))


def _parse(uri: str) -> tuple[sa.URL, str, str | None]:
    """The SQLAlchemy URL, the password-free name, and the fragment's table."""
    base, _, fragment = uri.partition("#")
    try:
        url = sa.make_url(base)
    except (sa.exc.ArgumentError, ValueError):
        raise SettingError(
            f"{scrub(base)!r} is not a valid database URI; write sqlite:///path.db or "
            "postgresql://user@host:port/database (percent-encode special characters)."
        ) from None
    query = {k: v for k, v in url.query.items() if k.lower() not in _SECRET_KEYS}
    shown = sa.URL.create(
        url.drivername, url.username, None, url.host, url.port, url.database, query
    ).render_as_string(hide_password=False)
    table = urllib.parse.unquote(fragment) or None
    if url.drivername in ("sqlite", "sqlite+pysqlite"):
        return url, shown, table
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        return url.set(drivername="postgresql+psycopg"), shown, table
    raise UnsupportedError(
        f"database URI scheme {url.drivername!r} is not supported. Supported: "
        "sqlite:///path.db, postgresql://user@host:port/database "
        "(also postgresql+psycopg://)."
    )


def _engine(url: sa.URL, shown: str) -> sa.Engine:
    if not url.drivername.startswith("sqlite"):
        return sa.create_engine(url, poolclass=sa.NullPool)
    if not url.database:
        raise SettingError(f"{shown!r} names no SQLite file; write sqlite:///path/to/file.db.")
    path = Path(url.database)
    if not path.is_file():
        raise missing_file(path, url.database)
    target = "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro"
    return sa.create_engine(
        "sqlite://",
        creator=lambda: sqlite3.connect(target, uri=True, check_same_thread=False),
        poolclass=sa.NullPool,
    )


def _secrets(url: sa.URL) -> list[str]:
    """The password, from the URI's user part or its query string."""
    found = [str(url.password)] if url.password else []
    for key in _SECRET_KEYS:
        value = url.query.get(key, ())
        found.extend([value] if isinstance(value, str) else value)
    return [secret for secret in found if secret]


def _connect_error(exc: sa.exc.SQLAlchemyError, url: sa.URL, shown: str) -> DataFileError:
    detail = str(getattr(exc, "orig", None) or type(exc).__name__).strip().splitlines()
    reason = detail[0] if detail else type(exc).__name__
    for secret in _secrets(url):
        reason = reason.replace(secret, "***")
    return DataFileError(f"cannot read from {shown!r}: {reason}")


def _choose(wanted: str | None, tables: list[str], where: str, shown: str) -> str:
    """The table to read among ``tables`` of ``where`` (a quoted URI, or schema of one)."""
    listed = ", ".join(repr(t) for t in tables[:50]) + (" ..." if len(tables) > 50 else "")
    if not tables:
        raise MalformedTableError(f"{where} has no tables.")
    if wanted is None:
        if len(tables) == 1:
            return tables[0]
        uri_hint = f" or as {shown + '#NAME'!r}" if "://" in shown else ""
        raise SettingError(
            f"{where} has {len(tables)} tables; name one with table='...' "
            f"(CLI: --table NAME){uri_hint}. Its tables are: {listed}."
        )
    if wanted in tables:
        return wanted
    hint = closest(wanted, tables)
    suggestion = f" Did you mean {hint!r}?" if hint else ""
    raise SettingError(f"table {wanted!r} is not in {where}.{suggestion} Its tables are: {listed}.")


def _reflect(engine: sa.Engine, wanted: str | None, shown: str) -> sa.Table:
    """The table named ``wanted`` (or ``schema.table``), with its columns."""
    inspector = sa.inspect(engine)
    tables = sorted(inspector.get_table_names() + inspector.get_view_names())
    schema: str | None = None
    if wanted is not None and wanted not in tables and "." in wanted:
        prefix, _, rest = wanted.partition(".")
        if prefix in inspector.get_schema_names():
            schema, wanted = prefix, rest
            tables = sorted(inspector.get_table_names(schema) + inspector.get_view_names(schema))
    where = f"{shown!r}" if schema is None else f"schema {schema!r} of {shown!r}"
    name = _choose(wanted, tables, where, shown)
    return sa.Table(name, sa.MetaData(), schema=schema, autoload_with=engine)


def _schema(engine: sa.Engine, table: sa.Table, where: str) -> dict[str, pl.DataType]:
    """Column types sampled from the first rows; all-null columns by SQL type."""
    with engine.connect() as conn:
        try:
            sample = pl.read_database(sa.select(table).limit(1000), conn, infer_schema_length=None)
        except pl.exceptions.PolarsError:
            raise _mixed(where) from None
    schema: dict[str, pl.DataType] = {}
    for name, dtype in sample.schema.items():
        if dtype == pl.Null:
            try:
                python_type: type | None = table.c[name].type.python_type
            except NotImplementedError:
                python_type = None
            dtype = _PYTHON_TYPES.get(python_type, pl.String()) if python_type else pl.String()
        schema[name] = dtype
    return schema


def _mixed(name: str) -> MalformedTableError:
    return MalformedTableError(
        f"table {name!r} could not be read: a column holds values of more than one type "
        "(SQLite allows this). Convert the column to one type, or export the table to CSV."
    )


def read_database(uri: str, *, table: str | None, path: str | None = None) -> TableSource:
    """Open one table of a database by URI (or SQLite file ``path``) as a lazy frame."""
    url, shown, from_fragment = _parse(uri)
    shown = path or shown
    if table is not None and from_fragment is not None and table != from_fragment:
        raise SettingError(
            f"two tables named: {table!r} by table= and {from_fragment!r} in the URI; name it once."
        )
    engine = _engine(url, shown)
    try:
        reflected = _reflect(engine, table or from_fragment, shown)
        name = f"{shown}#{reflected.fullname}"
        schema = _schema(engine, reflected, name)
    except sa.exc.SQLAlchemyError as exc:
        raise _connect_error(exc, url, shown) from None

    def batches(
        with_columns: list[str] | None,
        predicate: pl.Expr | None,
        n_rows: int | None,
        batch_size: int | None,
    ) -> Iterator[pl.DataFrame]:
        columns = with_columns if with_columns is not None else list(schema)
        query = sa.select(*(reflected.c[c] for c in columns))
        if n_rows is not None:
            query = query.limit(n_rows)
        wanted = {c: schema[c] for c in columns}
        try:
            with engine.connect() as conn:
                for batch in pl.read_database(
                    query,
                    conn,
                    iter_batches=True,
                    batch_size=batch_size or _BATCH,
                    infer_schema_length=None,
                ):
                    frame = batch.cast(pl.Schema(wanted))
                    yield frame if predicate is None else frame.filter(predicate)
        except sa.exc.SQLAlchemyError as exc:
            raise _connect_error(exc, url, shown) from None
        except pl.exceptions.PolarsError:
            raise _mixed(name) from None

    frame = register_io_source(batches, schema=schema, explain_name="custodes.database")
    return TableSource(frame, name, url.get_backend_name(), None, None, tuple(schema))
