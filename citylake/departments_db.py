"""Departments' exchange databases (前置库): PostgreSQL tables that departments fill every night.

Some departments deliver by writing their night's rows into an exchange table instead of a file;
citylake reads them over JDBC (`spark.read.format("jdbc")`, driver org.postgresql.Driver, url
`settings.departments_db.jdbc_url`). The city generator and the tests play the department's side
with `deliver`; locally the server is the one `infra/postgres.sh start` runs.

An exchange table, as `deliver` creates it:

* every delivered column is TEXT, named as the department names it (Chinese names are quoted as
  identifiers, never pasted into SQL);
* the batch column (TEXT) holds the night's run date: a night is the rows whose batch column
  equals it;
* the order column (BIGINT) is the row's position in its night, 1..n in the order the rows were
  given, unless the caller delivers its own values in `columns`;
* the primary key is (batch column, order column): a row's order value is unique and stable within
  its night (redelivering a night gives its rows the same values), which is what a reader needs for
  line numbers, and deleting or reading one night uses the key's index.

Delivering a night replaces that night (delete, then COPY, in one transaction), so it is
idempotent. Errors name the table, and the row and column where known, but never a value: rows can
hold identity numbers, and PostgreSQL's own messages (which quote values) are not passed on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

import psycopg
from psycopg import sql

from citylake.settings import Settings

CONNECT_TIMEOUT_SECONDS = 5


class DeliveryError(RuntimeError):
    """A delivery into an exchange table failed; the message names the table, never a value."""


def connect(settings: Settings, *, connect_timeout: int = CONNECT_TIMEOUT_SECONDS) -> psycopg.Connection:
    """A psycopg connection to the departments' database (settings.departments_db)."""
    return psycopg.connect(settings.departments_db.conninfo, connect_timeout=connect_timeout,
                           application_name="citylake")


def available(settings: Settings, *, connect_timeout: int = 2) -> bool:
    """Whether the departments' database accepts a connection with the configured credentials."""
    try:
        with connect(settings, connect_timeout=connect_timeout) as connection:
            connection.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def night_delivered(settings: Settings, table: str, batch_column: str, run_date: str) -> bool:
    """Whether exchange table `table` holds rows of the night `run_date` (False while the table
    does not exist yet). Reads the batch column's index, never a row's values."""
    schema, name = _split(table)
    query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE {} = %s)").format(
        sql.Identifier(schema, name), sql.Identifier(batch_column))
    with connect(settings) as connection:
        try:
            return bool(connection.execute(query, (run_date,)).fetchone()[0])
        except psycopg.errors.UndefinedTable:
            return False


def deliver(
    settings: Settings,
    table: str,
    columns: list[str],
    rows: Iterable[Sequence[str | None]],
    batch_column: str,
    run_date: str,
    order_column: str,
) -> int:
    """Replaces the night `run_date` of exchange table `table` ("schema.table", or a bare name in
    public) with `rows`, creating schema and table if missing; returns the number of rows delivered.

    Each row holds one value (text or None for NULL) per name in `columns`. The batch and order
    columns are added when they are not among `columns`: the batch column then holds `run_date` and
    the order column 1..n in the order of `rows`. When the caller delivers the batch column itself,
    every row's value must be `run_date`; when it delivers the order column, its values must be
    whole numbers unique within the night. Rows are streamed with COPY, so millions are fine.
    """
    schema, name = _split(table)
    target = sql.Identifier(schema, name)
    if len(set(columns)) != len(columns):
        raise DeliveryError(f"delivering {table}: a column name is given twice")
    own_batch, own_order = batch_column in columns, order_column in columns
    copied = [*columns, *([] if own_batch else [batch_column]), *([] if own_order else [order_column])]
    batch_at = columns.index(batch_column) if own_batch else None

    def stream() -> Iterator[Sequence[str | int | None]]:
        for number, row in enumerate(rows, start=1):
            if len(row) != len(columns):
                raise DeliveryError(f"delivering {table}: row {number} has {len(row)} values for "
                                    f"{len(columns)} columns")
            if batch_at is not None and row[batch_at] != run_date:
                raise DeliveryError(f"delivering {table}: row {number} has a {batch_column} other "
                                    f"than the night being delivered")
            if own_batch and own_order:
                yield row
                continue
            extra = (number,) if own_batch else (run_date,) if own_order else (run_date, number)
            yield (*row, *extra)

    try:
        connection = connect(settings)
    except psycopg.Error as error:  # says which server, and why; nothing of the rows
        raise DeliveryError(f"delivering {table}: cannot connect to the departments' database: "
                            f"{error}") from error
    copying = False
    try:
        # leaving the block commits, or rolls back on an error: a night is replaced whole or not at all
        with connection, connection.cursor() as cursor:
            _create(cursor, schema, name, columns, batch_column, order_column)
            cursor.execute(sql.SQL("DELETE FROM {} WHERE {} = %s").format(
                target, sql.Identifier(batch_column)), (run_date,))
            copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
                target, sql.SQL(", ").join(map(sql.Identifier, copied)))
            count, copying = 0, True
            with cursor.copy(copy_sql) as copy:
                for row in stream():
                    copy.write_row(row)
                    count += 1
        return count
    except psycopg.Error as error:
        raise DeliveryError(_describe(table, error, copying)) from None


def _split(table: str) -> tuple[str, str]:
    parts = table.split(".")
    if len(parts) == 1 and parts[0]:
        return "public", parts[0]
    if len(parts) == 2 and all(parts):
        return parts[0], parts[1]
    raise DeliveryError(f"exchange table {table!r} is not 'schema.table' or 'table'")


def _create(cursor: psycopg.Cursor, schema: str, name: str, columns: list[str], batch_column: str,
            order_column: str) -> None:
    """Schema and table if missing; data columns a department added since are added as TEXT."""
    target = sql.Identifier(schema, name)
    text = [c for c in columns if c not in (batch_column, order_column)]
    definitions = [sql.SQL("{} TEXT").format(sql.Identifier(c)) for c in text]
    definitions += [
        sql.SQL("{} TEXT NOT NULL").format(sql.Identifier(batch_column)),
        sql.SQL("{} BIGINT NOT NULL").format(sql.Identifier(order_column)),
        sql.SQL("PRIMARY KEY ({}, {})").format(sql.Identifier(batch_column), sql.Identifier(order_column)),
    ]
    cursor.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    cursor.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
        target, sql.SQL(", ").join(definitions)))
    for column in text:
        cursor.execute(sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} TEXT").format(
            target, sql.Identifier(column)))


_COPY_CONTEXT = re.compile(r"COPY [^,]*, line (\d+)(?:, column ([^:]+))?")


def _describe(table: str, error: psycopg.Error, copying: bool) -> str:
    """What failed. Before the rows are sent (DDL, the delete) the server's message holds names
    only and is kept; during COPY only the error's class, SQLSTATE and position are, because the
    message and its context quote the offending value (an invalid number, a duplicate key)."""
    state = f"{type(error).__name__}" + (f", SQLSTATE {error.sqlstate}" if error.sqlstate else "")
    if not copying:
        return f"delivering {table} failed: {state}: {error.diag.message_primary or error}"
    where = ""
    if match := _COPY_CONTEXT.search(error.diag.context or ""):
        where = f" at row {match.group(1)}" + (f", column {match.group(2)}" if match.group(2) else "")
    return f"delivering {table} failed while copying rows{where}: {state} (values withheld)"
