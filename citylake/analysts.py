"""Analysts' query path: SQL on the lake's tables without a JVM, by role, every query audited.

    citylake sql "SELECT district, sum(persons) FROM theme.district_population GROUP BY district"
    citylake sql --format csv --output lookup.csv "SELECT * FROM theme.entity_credit_profile WHERE ..."

Tables are named ``<layer>.<table>`` (theme.person_profile, base.population, ...). Who may read
which layer is configured in access/roles.yaml: analysts read the theme layer only, where
identity numbers show as 4203**********1234 and names as 张*; engineers also read the base,
standard, raw and ops layers. A user not listed there is an analyst. A query naming a layer its
role may not read is refused before anything is read.

The default engine is delta-rs with DataFusion SQL (the ``deltalake`` package: no JVM, a point
lookup reads only the files whose statistics can hold the key); ``engine="spark"`` runs the same
query through Spark SQL for heavy work. Every query, refused ones too, is appended to
ops/query_audit: user, role, time, engine, tables, rows returned, status, and the query text with
anything shaped like an identity number masked.
"""

from __future__ import annotations

import getpass
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from citylake import identity, storage
from citylake.settings import PROJECT_ROOT, Settings

ROLES_FILE = PROJECT_ROOT / "access" / "roles.yaml"
TABLE_REFERENCE = re.compile(r"\b(raw|standard|base|theme|ops)\.([A-Za-z_][A-Za-z0-9_]*)\b")
IDENTITY_LIKE = re.compile(r"\d{6}(?:\d{8}\d{3}[\dXx]|\d{9})")
AUDIT = ("ops", "query_audit")  # lake.OPS; citylake.lake would import pyspark
AUDIT_SCHEMA = pa.schema([
    ("user", pa.string()), ("role", pa.string()), ("queried_at", pa.timestamp("us", tz="UTC")),
    ("engine", pa.string()), ("tables", pa.string()), ("rows", pa.int64()), ("status", pa.string()),
    ("reason", pa.string()), ("seconds", pa.float64()), ("query", pa.string()),
])


class AccessDenied(PermissionError):
    pass


class QueryError(ValueError):
    pass


class Role(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = ""
    layers: list[str]


class Access(BaseModel):
    model_config = ConfigDict(extra="forbid")
    default_role: str
    roles: dict[str, Role]
    users: dict[str, str] = {}

    def role_of(self, user: str) -> str:
        return self.users.get(user, self.default_role)


def load_access(path: Path = ROLES_FILE) -> Access:
    try:
        access = Access.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except ValidationError as error:
        problem = error.errors()[0]
        field = ".".join(str(part) for part in problem["loc"])
        raise QueryError(f"{path}: {field}: {problem['msg']}") from None
    unknown = sorted({access.default_role, *access.users.values()} - set(access.roles))
    if unknown:
        raise QueryError(f"{path}: users or default_role name undeclared roles: {', '.join(unknown)}")
    return access


def mask_query(sql: str) -> str:
    """The query text with anything shaped like an identity number masked (for the audit)."""
    return IDENTITY_LIKE.sub(lambda m: identity.mask(m.group(0).upper()), sql)


def tables_of(sql: str) -> list[tuple[str, str]]:
    return list(dict.fromkeys(TABLE_REFERENCE.findall(sql)))


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


def _run_datafusion(settings: Settings, sql: str, tables: list[tuple[str, str]]) -> pa.Table:
    from deltalake import DeltaTable, QueryBuilder

    root, options = storage.delta_rs_lake(settings)
    builder = QueryBuilder()
    for layer, name in tables:
        try:
            builder = builder.register(f"{layer}__{name}", DeltaTable(f"{root}/{layer}/{name}", storage_options=options))
        except Exception as error:  # a missing table: name it, not the store's message
            raise QueryError(f"no table {layer}.{name} in the lake ({type(error).__name__})") from None
    rewritten = TABLE_REFERENCE.sub(lambda m: f"{m.group(1)}__{m.group(2)}", sql)
    try:
        return _plain(pa.table(builder.execute(rewritten).read_all()))  # arro3 -> pyarrow (Arrow C stream)
    except Exception as error:
        raise QueryError(f"the query failed: {mask_query(str(error))}") from None


def _run_spark(settings: Settings, sql: str, tables: list[tuple[str, str]]) -> pa.Table:
    from citylake import lake
    from citylake.spark import session

    spark = session("sql", settings)
    for layer, name in tables:
        path = lake.path(settings, layer, name)
        if not lake.exists(spark, path):
            raise QueryError(f"no table {layer}.{name} in the lake")
        lake.read(spark, path).createOrReplaceTempView(f"{layer}__{name}")
    rewritten = TABLE_REFERENCE.sub(lambda m: f"{m.group(1)}__{m.group(2)}", sql)
    return spark.sql(rewritten).toArrow()


def audit(settings: Settings, *, user: str, role: str, engine: str, tables: list[str], rows: int | None,
          status: str, reason: str | None, seconds: float, sql: str) -> None:
    from deltalake import write_deltalake

    root, options = storage.delta_rs_lake(settings)
    row = pa.Table.from_pylist([{
        "user": user, "role": role, "queried_at": datetime.now(timezone.utc), "engine": engine,
        "tables": ",".join(tables), "rows": rows, "status": status, "reason": reason,
        "seconds": round(seconds, 3), "query": mask_query(sql)}], schema=AUDIT_SCHEMA)
    write_deltalake(f"{root}/{AUDIT[0]}/{AUDIT[1]}", row, mode="append", storage_options=options or None)


def query(settings: Settings, sql: str, *, user: str | None = None, engine: str = "datafusion",
          access: Access | None = None) -> Answer:
    """Runs ``sql`` for ``user`` (default: the login name) if their role may read every table it
    names; audits it either way. Raises AccessDenied or QueryError with a message that names the
    table or the problem (never a raw identity number)."""
    access = access or load_access()
    user = user or getpass.getuser()
    role = access.role_of(user)
    tables = tables_of(sql)
    names = [f"{layer}.{name}" for layer, name in tables]
    started = time.perf_counter()

    def record(status: str, rows: int | None = None, reason: str | None = None) -> None:
        audit(settings, user=user, role=role, engine=engine, tables=names, rows=rows, status=status,
              reason=reason, seconds=time.perf_counter() - started, sql=sql)

    if not tables:
        record("refused", reason="no table named as <layer>.<table>")
        raise QueryError("name the tables as <layer>.<table>, e.g. theme.person_profile")
    forbidden = [f"{layer}.{name}" for layer, name in tables if layer not in access.roles[role].layers]
    if forbidden:
        reason = f"role {role} may not read {', '.join(forbidden)} (allowed layers: " \
                 f"{', '.join(access.roles[role].layers)})"
        record("denied", reason=reason)
        raise AccessDenied(f"{user}: {reason}")
    try:
        run = _run_spark if engine == "spark" else _run_datafusion
        table = run(settings, sql, tables)
    except QueryError as error:
        record("failed", reason=str(error))
        raise
    record("ok", rows=table.num_rows)
    return Answer(table, user, role, names, time.perf_counter() - started)
