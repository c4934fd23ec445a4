"""Analysts' query path: read-only SQL on the lake's tables, with the caller's own credentials,
every query audited.

    citylake sql "SELECT district, sum(persons) FROM theme.district_population GROUP BY district"
    citylake sql --format csv --output lookup.csv "SELECT * FROM theme.entity_credit_profile WHERE ..."

Tables are named ``<layer>.<table>`` (theme.person_profile, base.population, ...). Only a single
SELECT runs (citylake/readonly_sql.py decides on the parsed statement, before anything is read).
Who asks is what the credentials prove (citylake/access.py): on the object store each role's
policy lets it read its layers only (analysts the theme layer), so a query reading more fails at
the store whatever the client does; this module refuses it first, by the same roles. The
embedded local lake is a single-user development mode: its owner reads every layer.

The default engine is delta-rs with DataFusion SQL (the ``deltalake`` package: no JVM);
``engine="spark"`` runs the same checked query through Spark SQL. Every query, refused and failed
ones too, is recorded: on the object store as a write-once object of the caller's own in the
object-locked audit bucket (before a query runs, and with its outcome), locally in ops/query_audit.
Query text, reasons and errors are stored and shown with every number-like run masked
(identity.mask_in_text).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

import pyarrow as pa

from citylake import access as citylake_access
from citylake import identity, readonly_sql, storage
from citylake.settings import Settings

AUDIT = ("ops", "query_audit")  # lake.OPS; citylake.lake would import pyspark
AUDIT_SCHEMA = pa.schema([
    ("query_id", pa.string()), ("user", pa.string()), ("role", pa.string()),
    ("queried_at", pa.timestamp("us", tz="UTC")), ("engine", pa.string()), ("tables", pa.string()),
    ("rows", pa.int64()), ("status", pa.string()), ("reason", pa.string()), ("seconds", pa.float64()),
    ("query", pa.string()),
])


class AccessDenied(PermissionError):
    pass


class QueryError(ValueError):
    pass


def mask_query(sql: str) -> str:
    """The query text with every number-like run masked (for the audit and for messages)."""
    return identity.mask_in_text(sql)


@dataclass
class Answer:
    table: pa.Table
    user: str
    role: str
    tables: list[str]
    seconds: float


def _plain(table: pa.Table) -> pa.Table:
    """DataFusion's string views as plain strings, which every writer (CSV, pandas) reads."""
    views = {pa.string_view(): pa.string(), pa.binary_view(): pa.binary()}
    return table.cast(pa.schema([field.with_type(views.get(field.type, field.type)) for field in table.schema]))


def _unreadable(layer: str, name: str, error: Exception) -> QueryError:
    text = str(error)
    refused = any(mark in text for mark in ("403", "AccessDenied", "Access Denied", "Forbidden"))
    why = "the object store refused to read it with your credentials" if refused else "no such table in the lake"
    return QueryError(f"cannot read {layer}.{name}: {why}")


def _run_datafusion(settings: Settings, checked: readonly_sql.Checked) -> pa.Table:
    from deltalake import DeltaTable, QueryBuilder

    root, options = storage.delta_rs_lake(settings)
    builder = QueryBuilder()
    for layer, name in checked.tables:
        try:
            builder = builder.register(f"{layer}__{name}", DeltaTable(f"{root}/{layer}/{name}", storage_options=options))
        except Exception as error:  # a missing or refused table: name it, not the store's message
            raise _unreadable(layer, name, error) from None
    return _plain(pa.table(builder.execute(checked.sql).read_all()))  # arro3 -> pyarrow (Arrow C stream)


def _run_spark(settings: Settings, checked: readonly_sql.Checked) -> pa.Table:
    from citylake import lake
    from citylake.spark import session

    spark = session("sql", settings)
    for layer, name in checked.tables:
        path = lake.path(settings, layer, name)
        try:
            frame = lake.read(spark, path)
        except Exception as error:
            raise _unreadable(layer, name, error) from None
        frame.createOrReplaceTempView(f"{layer}__{name}")
    return spark.sql(checked.sql).toArrow()


def audit(settings: Settings, entry: dict) -> None:
    """Appends one audit entry (AUDIT_SCHEMA's fields, the query already masked): on the object
    store a write-once object under the caller's own prefix of the audit bucket, which the store
    lets no account change or delete; locally a row of ops/query_audit."""
    if settings.s3 is None:
        from deltalake import write_deltalake

        root, _ = storage.delta_rs_lake(settings)
        write_deltalake(f"{root}/{AUDIT[0]}/{AUDIT[1]}", pa.Table.from_pylist([entry], schema=AUDIT_SCHEMA),
                        mode="append")
        return
    body = json.dumps({**entry, "queried_at": entry["queried_at"].isoformat()}, ensure_ascii=False)
    key = f"queries/{entry['user']}/{entry['queried_at']:%Y-%m-%d}/{entry['query_id']}-{entry['status']}.json"
    storage.s3_client(settings).put_object(Bucket=settings.s3.audit_bucket, Key=key, Body=body.encode("utf-8"),
                                           ContentType="application/json", IfNoneMatch="*")


def audit_entries(settings: Settings) -> list[dict]:
    """Every audit entry, oldest first. On the object store every version of every object is read,
    and the user is the one the store wrote the object for (its key's prefix), not what it says."""
    if settings.s3 is None:
        from deltalake import DeltaTable

        root, _ = storage.delta_rs_lake(settings)
        try:
            rows = DeltaTable(f"{root}/{AUDIT[0]}/{AUDIT[1]}").to_pyarrow_table().to_pylist()
        except Exception:  # no query yet
            return []
        return sorted(rows, key=lambda row: row["queried_at"])
    client = storage.s3_client(settings)
    entries = []
    for page in client.get_paginator("list_object_versions").paginate(Bucket=settings.s3.audit_bucket,
                                                                      Prefix="queries/"):
        for version in page.get("Versions", []):
            got = client.get_object(Bucket=settings.s3.audit_bucket, Key=version["Key"],
                                    VersionId=version["VersionId"])
            entry = json.loads(got["Body"].read())
            entry["user"] = version["Key"].split("/")[1]
            entries.append(entry)
    return sorted(entries, key=lambda entry: entry["queried_at"])


def query(settings: Settings, sql: str, *, engine: str = "datafusion",
          access: citylake_access.Access | None = None) -> Answer:
    """Runs ``sql`` for whoever the settings' credentials prove, if it is one read-only query
    whose tables their role reads; audits it either way. Raises AccessDenied or QueryError with a
    message naming the table or the problem, never a number from the query."""
    if engine not in readonly_sql.DIALECTS:
        raise QueryError(f"no engine {engine!r} (one of {', '.join(readonly_sql.DIALECTS)})")
    try:
        caller = citylake_access.caller(settings, access)
    except citylake_access.AccessError as error:
        raise AccessDenied(str(error)) from None
    if settings.s3 is None:
        storage.make_private(settings)
    query_id, started = uuid.uuid4().hex, time.perf_counter()
    names: list[str] = []

    def record(status: str, rows: int | None = None, reason: str | None = None) -> None:
        audit(settings, {
            "query_id": query_id, "user": caller.user, "role": caller.role,
            "queried_at": datetime.now(timezone.utc), "engine": engine, "tables": ",".join(names),
            "rows": rows, "status": status, "reason": identity.mask_in_text(reason),
            "seconds": round(time.perf_counter() - started, 3), "query": mask_query(sql)})

    try:
        checked = readonly_sql.check(sql, engine)
    except readonly_sql.Refused as refusal:
        record("refused", reason=str(refusal))
        raise QueryError(f"refused: {refusal}") from None
    names = [f"{layer}.{name}" for layer, name in checked.tables]
    forbidden = [name for (layer, _), name in zip(checked.tables, names) if layer not in caller.layers]
    if forbidden:
        reason = f"role {caller.role} may not read {', '.join(forbidden)} (it reads: {', '.join(caller.layers)})"
        record("denied", reason=reason)
        raise AccessDenied(f"{caller.user}: {reason}")
    try:
        record("started")
    except Exception as error:
        raise QueryError(f"not run: the audit record could not be written ({type(error).__name__})") from None
    try:
        table = (_run_spark if engine == "spark" else _run_datafusion)(settings, checked)
    except QueryError as error:
        record("failed", reason=str(error))
        raise
    except Exception as error:  # the engine's own message may quote the query's values
        reason = f"the query failed: {identity.mask_in_text(str(error))[:2000]}"
        record("failed", reason=reason)
        raise QueryError(reason) from None
    record("ok", rows=table.num_rows)
    return Answer(table, caller.user, caller.role, names, time.perf_counter() - started)
