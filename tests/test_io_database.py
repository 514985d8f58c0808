"""custodes.io: tables read from SQLite files and PostgreSQL by URI.

PostgreSQL tests need CUSTODES_TEST_POSTGRES_URL (``scripts/with-postgres``
sets it). Without it they skip, except under CI, where they fail.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from custodes import read_table
from custodes.errors import (
    DataFileError,
    MalformedTableError,
    SettingError,
    UnknownColumnError,
    UnsupportedError,
)
from custodes.io import check_columns, collect

WEIRD = 'odd "name"; drop'


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "registry.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE people (id INTEGER, name TEXT, born DATE, score REAL, note)")
        conn.executemany(
            "INSERT INTO people VALUES (?, ?, ?, ?, NULL)",
            [(i, f"n{i}", "2001-02-03", i / 2) for i in range(2500)],
        )
        conn.execute("CREATE TABLE places (city TEXT)")
        conn.execute(f'CREATE TABLE "{WEIRD.replace(chr(34), chr(34) * 2)}" (x INTEGER)')
        conn.execute('INSERT INTO "odd ""name""; drop" VALUES (7)')
        conn.commit()
    return path


def uri(path: Path, table: str = "") -> str:
    return f"sqlite:///{path}" + (f"#{table}" if table else "")


def test_sqlite_table_by_uri_fragment(db: Path) -> None:
    source = read_table(uri(db, "people"))
    assert (source.format, source.name) == ("sqlite", f"sqlite:///{db}#people")
    assert source.columns == ("id", "name", "born", "score", "note")
    assert isinstance(source.frame, pl.LazyFrame)
    frame = collect(source)
    assert frame.height == 2500
    assert frame.schema == pl.Schema(
        {"id": pl.Int64, "name": pl.String, "born": pl.Date, "score": pl.Float64, "note": pl.String}
    )
    assert frame.row(1) == (1, "n1", dt.date(2001, 2, 3), 0.5, None)


def test_sqlite_table_by_argument_and_by_file_path(db: Path) -> None:
    assert read_table(uri(db), table="places").columns == ("city",)
    source = read_table(db, table="places")
    assert (source.format, source.name) == ("sqlite", f"{db}#places")


def test_a_single_table_needs_no_name(tmp_path: Path) -> None:
    path = tmp_path / "one.sqlite"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE only_one (a TEXT)")
    assert read_table(path).columns == ("a",)


def test_lazy_projection_filter_and_head(db: Path) -> None:
    source = read_table(uri(db, "people"))
    assert collect(source, ["name"]).columns == ["name"]
    assert source.frame.filter(pl.col("id") < 3).select("id").collect()["id"].to_list() == [0, 1, 2]
    assert source.frame.head(4).collect().height == 4
    counts = source.frame.group_by("born").len().collect(engine="streaming")
    assert counts.rows() == [(dt.date(2001, 2, 3), 2500)]


def test_identifiers_are_quoted(db: Path) -> None:
    assert collect(read_table(uri(db), table=WEIRD)).rows() == [(7,)]
    with pytest.raises(SettingError, match="is not in"):
        read_table(uri(db), table="people; DROP TABLE people")
    assert read_table(uri(db, "people")).columns[0] == "id"


def test_sqlite_is_opened_read_only(db: Path) -> None:
    before = db.read_bytes()
    collect(read_table(uri(db, "people")))
    assert db.read_bytes() == before


def test_collect_reports_a_table_dropped_after_it_was_opened(db: Path) -> None:
    source = read_table(uri(db, "places"))
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("DROP TABLE places")
        conn.commit()
    with pytest.raises(DataFileError) as caught:
        collect(source)
    assert str(caught.value) == f"cannot read from 'sqlite:///{db}': no such table: places"


def test_error_for_mixed_types_beyond_the_sample(tmp_path: Path) -> None:
    path = tmp_path / "mixed.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE t (a)")
        conn.executemany("INSERT INTO t VALUES (?)", [(1,)] * 1500 + [("Zhang-Secret",)])
        conn.commit()
    source = read_table(path)
    assert source.frame.collect_schema()["a"] == pl.Int64
    with pytest.raises(MalformedTableError) as caught:
        collect(source)
    assert str(caught.value) == (
        f"table '{path}#t' could not be read: a column holds values of more than one type "
        "(SQLite allows this). Convert the column to one type, or export the table to CSV."
    )


def test_error_for_an_unknown_table(db: Path) -> None:
    with pytest.raises(SettingError) as caught:
        read_table(uri(db, "peple"))
    assert str(caught.value) == (
        f"table 'peple' is not in 'sqlite:///{db}'. Did you mean 'people'? "
        f"Its tables are: {WEIRD!r}, 'people', 'places'."
    )


def test_error_when_no_table_is_named(db: Path) -> None:
    with pytest.raises(SettingError) as caught:
        read_table(uri(db))
    assert str(caught.value) == (
        f"'sqlite:///{db}' has 3 tables; name one with table='...' (CLI: --table NAME) or as "
        f"'sqlite:///{db}#NAME'. Its tables are: {WEIRD!r}, 'people', 'places'."
    )


def test_error_when_two_tables_are_named(db: Path) -> None:
    with pytest.raises(SettingError) as caught:
        read_table(uri(db, "people"), table="places")
    assert str(caught.value) == (
        "two tables named: 'places' by table= and 'people' in the URI; name it once."
    )


def test_error_for_a_missing_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    with pytest.raises(DataFileError, match=r"^file '.*missing.db' does not exist"):
        read_table(uri(path, "people"))
    assert not path.exists()


def test_error_for_an_unsupported_scheme() -> None:
    with pytest.raises(UnsupportedError) as caught:
        read_table("mysql://root@localhost/db#people")
    assert str(caught.value) == (
        "database URI scheme 'mysql' is not supported. Supported: sqlite:///path.db, "
        "postgresql://user@host:port/database (also postgresql+psycopg://)."
    )


def test_check_columns_names_the_table(db: Path) -> None:
    with pytest.raises(UnknownColumnError, match=r"column 'nam' is not in '.*#people'. Did you"):
        check_columns(read_table(uri(db, "people")), ["nam"])


def test_password_never_appears_in_a_connection_error() -> None:
    with pytest.raises(DataFileError) as caught:
        read_table("postgresql://alice:hunter2@127.0.0.1:1/registry#people")
    message = str(caught.value)
    assert message.startswith("cannot read from 'postgresql://alice@127.0.0.1:1/registry': ")
    assert "hunter2" not in message


@pytest.mark.parametrize(
    ("uri", "options", "shown"),
    [
        ("postgresql://al:pw@h:port/db", {}, "'postgresql://al@h:port/db' is not a valid"),
        (
            "postgresql://al:pw@h/db",
            {"sheet": "S"},
            "sheet= does not apply to 'postgresql://al@h/db'",
        ),
        ("postgresql://h/db?password=pw", {"sheet": "S"}, "'postgresql://h/db?password=***'"),
    ],
)
def test_password_never_appears_in_an_option_error(
    uri: str, options: dict[str, str], shown: str
) -> None:
    with pytest.raises(SettingError) as caught:
        read_table(uri, **options)
    assert shown in str(caught.value)
    assert "pw" not in str(caught.value)


# --- PostgreSQL -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres_url() -> str:
    url = os.environ.get("CUSTODES_TEST_POSTGRES_URL")
    if url:
        return url
    reason = "CUSTODES_TEST_POSTGRES_URL is not set; run the tests through scripts/with-postgres"
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so PostgreSQL tests may not be skipped)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def pg_schema(postgres_url: str) -> Iterator[str]:
    schema = f"custodes_io_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(postgres_url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        conn.execute(
            sa.text(
                f"CREATE TABLE {schema}.people (id integer, name text, born date, "
                "fee numeric(10, 2), note text)"
            )
        )
        conn.execute(
            sa.text(
                f"INSERT INTO {schema}.people SELECT i, 'n' || i, DATE '2001-02-03', 1.25, NULL "
                "FROM generate_series(0, 119999) AS i"
            )
        )
        conn.execute(sa.text(f'CREATE TABLE {schema}."Odd ""Name""" (x integer)'))
    yield schema
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


@pytest.mark.postgres
def test_postgres_table_with_schema(postgres_url: str, pg_schema: str) -> None:
    source = read_table(f"{postgres_url}#{pg_schema}.people")
    assert (source.format, source.name) == ("postgresql", f"{postgres_url}#{pg_schema}.people")
    assert source.columns == ("id", "name", "born", "fee", "note")
    frame = collect(source, ["id", "born", "note"])
    assert frame.height == 120_000
    assert frame.schema == pl.Schema({"id": pl.Int64, "born": pl.Date, "note": pl.String})
    assert source.frame.collect_schema()["fee"] == pl.Decimal(38, 2)
    by_day = source.frame.group_by("born").len().collect(engine="streaming")
    assert by_day.rows() == [(dt.date(2001, 2, 3), 120_000)]


@pytest.mark.postgres
def test_postgres_plain_scheme_and_quoted_names(postgres_url: str, pg_schema: str) -> None:
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    source = read_table(plain, table=f'{pg_schema}.Odd "Name"')
    assert (source.columns, collect(source).height) == (("x",), 0)


@pytest.mark.postgres
def test_postgres_unknown_table(postgres_url: str, pg_schema: str) -> None:
    with pytest.raises(SettingError) as caught:
        read_table(postgres_url, table=f"{pg_schema}.peeple")
    assert str(caught.value) == (
        f"table 'peeple' is not in schema '{pg_schema}' of '{postgres_url}'. Did you mean "
        "'people'? Its tables are: 'Odd \"Name\"', 'people'."
    )


@pytest.mark.postgres
def test_postgres_password_is_not_in_the_name(postgres_url: str, pg_schema: str) -> None:
    with_password = sa.make_url(postgres_url).set(password="hunter2")
    source = read_table(
        with_password.render_as_string(hide_password=False), table=f"{pg_schema}.people"
    )
    assert "hunter2" not in source.name
    assert source.name == f"{postgres_url}#{pg_schema}.people"
